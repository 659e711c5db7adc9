//! An API response as cited sources, and the answer relayed from it.
//!
//! A response is cut into records (each element of its main array of objects — a GeoJSON
//! FeatureCollection's features, a search's hits — or the whole object), each quoted as
//! `key: value` pairs with the JSON path of every value. The answer is written from the
//! records themselves, so every name and number in it is a value of the response by
//! construction, and each line cites the record it quotes. A large response is relayed from
//! its records most relevant to the request only.

use serde::Serialize;
use serde_json::Value;

/// Records relayed at most.
pub const MAX_RECORDS: usize = 10;

/// Values quoted per record at most.
const MAX_FIELDS: usize = 8;

/// Characters of one quoted value at most.
const MAX_VALUE_CHARS: usize = 120;

/// One quoted record of a response.
#[derive(Debug, Clone, Serialize)]
pub struct Record {
    /// JSON path of the record in the response (`$.features[3]`).
    pub path: String,
    /// `key: value; …` as relayed.
    pub quote: String,
    /// JSON path of each quoted value.
    pub paths: Vec<String>,
    /// The record's own classification marking, when it carries one (a partner Sextant's
    /// hits do): the caller shows the record only to those who may see it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub marking: Option<String>,
}

/// What was relayed from one response.
#[derive(Debug, Clone, Serialize)]
pub struct Relay {
    pub answer: String,
    pub records: Vec<Record>,
    /// Records in the response in all.
    pub total: usize,
}

/// The array of objects that holds a response's records, with its path.
fn main_array(body: &Value) -> Option<(String, &Vec<Value>)> {
    match body {
        Value::Array(a) => Some(("$".into(), a)),
        Value::Object(m) => m
            .iter()
            .filter(|(k, _)| k.as_str() != "links")
            .filter_map(|(k, v)| v.as_array().map(|a| (k, a)))
            // An empty `features` is still where the records would be.
            .filter(|(_, a)| a.iter().all(Value::is_object))
            .max_by_key(|(_, a)| a.len())
            .map(|(k, a)| (format!("$.{k}"), a)),
        _ => None,
    }
}

/// The scalar values of `v` (nested objects flattened, GeoJSON point coordinates kept), with
/// their paths and the last key of each.
fn leaves(v: &Value, path: &str, key: &str, out: &mut Vec<(String, String, String)>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                // Links and styling say nothing a reader asked about.
                if matches!(k.as_str(), "links" | "type" | "stac_version" | "style") {
                    continue;
                }
                leaves(x, &format!("{path}.{k}"), k, out);
            }
        }
        Value::Array(a) if key == "coordinates" && a.iter().all(Value::is_number) => {
            let s: Vec<String> = a.iter().map(|x| x.to_string()).collect();
            out.push((path.into(), key.into(), s.join(", ")));
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate().take(MAX_FIELDS) {
                leaves(x, &format!("{path}[{i}]"), key, out);
            }
        }
        Value::Null => {}
        Value::String(s) => {
            let s: String = s.chars().take(MAX_VALUE_CHARS).collect();
            out.push((path.into(), key.into(), s));
        }
        v => out.push((path.into(), key.into(), v.to_string())),
    }
}

fn record(v: &Value, path: String) -> Record {
    let mut l = Vec::new();
    leaves(v, &path, "", &mut l);
    let marking = l
        .iter()
        .find(|(_, k, _)| k == "marking" || k == "classification")
        .map(|(_, _, m)| m.clone());
    l.truncate(MAX_FIELDS);
    Record {
        marking,
        quote: l
            .iter()
            .map(|(_, k, v)| format!("{k}: {v}"))
            .collect::<Vec<_>>()
            .join("; "),
        paths: l.into_iter().map(|(p, _, _)| p).collect(),
        path,
    }
}

/// Lower-case words of three letters or more.
fn words(s: &str) -> Vec<String> {
    s.split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() >= 3)
        .map(str::to_lowercase)
        .collect()
}

/// The records of `body` to relay for `request`: all of them when few, else those sharing
/// the most words with the request (ties in the response's order).
pub fn records(body: &Value, request: &str) -> (Vec<Record>, usize) {
    let Some((base, items)) = main_array(body) else {
        return match body {
            Value::Object(_) => (vec![record(body, "$".into())], 1),
            Value::String(s) if s.trim().is_empty() => (Vec::new(), 0),
            v => (vec![record(v, "$".into())], 1),
        };
    };
    let mut all: Vec<Record> = items
        .iter()
        .enumerate()
        .map(|(i, v)| record(v, format!("{base}[{i}]")))
        .collect();
    let total = all.len();
    if total > MAX_RECORDS {
        let asked = words(request);
        let score = |r: &Record| words(&r.quote).iter().filter(|w| asked.contains(w)).count();
        let mut order: Vec<usize> = (0..total).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(score(&all[i])));
        let mut keep: Vec<usize> = order.into_iter().take(MAX_RECORDS).collect();
        keep.sort_unstable();
        all = keep.into_iter().map(|i| all[i].clone()).collect();
    }
    (all, total)
}

/// The relayed answer for a response of `system` (`connector operation`), from the records
/// `keep` lets through (by their own marking): the others are neither quoted nor counted.
pub fn relay(
    system: &str,
    status: u16,
    body: &Value,
    request: &str,
    keep: impl Fn(&Record) -> bool,
) -> Relay {
    let (mut records, mut total) = records(body, request);
    let before = records.len();
    records.retain(|r| keep(r));
    total -= before - records.len();
    if !(200..300).contains(&status) {
        let answer = format!(
            "{system} answered with status {status}{}.",
            if records.is_empty() { "" } else { " [1]" }
        );
        return Relay {
            answer,
            records: records.into_iter().take(1).collect(),
            total,
        };
    }
    let mut answer = match (total, records.len()) {
        (0, _) => format!("{system} returned no records."),
        (1, _) => format!("{system} returned 1 record:"),
        (t, n) if n < t => format!("{system} returned {t} records; the {n} most relevant:"),
        (t, _) => format!("{system} returned {t} records:"),
    };
    for (i, r) in records.iter().enumerate() {
        answer.push_str(&format!("\n- {} [{}]", r.quote, i + 1));
    }
    Relay {
        answer,
        records,
        total,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn features_become_cited_records_with_paths() {
        let body = json!({"type": "FeatureCollection", "numberMatched": 2, "features": [
            {"type": "Feature", "id": "a1", "geometry": {"type": "Point", "coordinates": [2.3, 48.9]},
             "properties": {"callsign": "AFR090", "altitude": 2050}},
            {"type": "Feature", "id": "b2", "properties": {"callsign": "VLJ681N", "altitude": null}}
        ]});
        let r = relay(
            "geo getAircraftFeatures",
            200,
            &body,
            "aircraft near Paris",
            |_| true,
        );
        assert_eq!(r.total, 2);
        assert!(r.answer.contains("callsign: AFR090"), "{}", r.answer);
        assert!(r.answer.contains("[2]"));
        assert_eq!(r.records[0].path, "$.features[0]");
        assert!(r.records[0]
            .paths
            .contains(&"$.features[0].properties.altitude".to_string()));
        assert!(r.records[0].quote.contains("coordinates: 2.3, 48.9"));
    }

    #[test]
    fn large_responses_are_relayed_from_their_relevant_records() {
        let items: Vec<Value> = (0..50)
            .map(
                |i| json!({"name": if i == 37 { "Lyon".to_string() } else { format!("Town {i}") }}),
            )
            .collect();
        let (rs, total) = records(&json!({ "items": items }), "population of Lyon");
        assert_eq!(total, 50);
        assert_eq!(rs.len(), MAX_RECORDS);
        assert!(rs.iter().any(|r| r.quote == "name: Lyon"));
    }
}
