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
    /// `[lon, lat]` of a GeoJSON feature whose geometry is a point.
    #[serde(skip)]
    pub point: Option<[f64; 2]>,
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
    let point = match (
        v["geometry"]["type"].as_str(),
        &v["geometry"]["coordinates"],
    ) {
        (Some("Point"), Value::Array(c)) if c.len() >= 2 => {
            c[0].as_f64().zip(c[1].as_f64()).map(|(x, y)| [x, y])
        }
        _ => None,
    };
    Record {
        marking,
        point,
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

/// The records of `body` that `keep` lets through, to relay for `request`: all of them when
/// few, else those sharing the most words with the request (ties in the response's order);
/// with how many `keep` let through in all (the others are neither quoted nor counted).
pub fn records(
    body: &Value,
    request: &str,
    keep: impl Fn(&Record) -> bool,
) -> (Vec<Record>, usize) {
    let Some((base, items)) = main_array(body) else {
        let one = match body {
            Value::String(s) if s.trim().is_empty() => None,
            v => Some(record(v, "$".into())),
        };
        let one: Vec<Record> = one.into_iter().filter(|r| keep(r)).collect();
        let n = one.len();
        return (one, n);
    };
    let mut all: Vec<Record> = items
        .iter()
        .enumerate()
        .map(|(i, v)| record(v, format!("{base}[{i}]")))
        .filter(|r| keep(r))
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
    let (records, total) = records(body, request, keep);
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
    // A page of a larger result says so (OGC API numberMatched, a search's total) — unless
    // records carry markings of their own, when the system's count may include ones the
    // reader may not see.
    let returned = main_array(body).map_or(0, |(_, a)| a.len());
    let matched = ["numberMatched", "total", "totalResults", "total_count"]
        .iter()
        .find_map(|k| body.get(k).and_then(Value::as_u64));
    if let Some(m) = matched {
        let own_markings = records.iter().any(|r| r.marking.is_some());
        if m as usize > returned && !own_markings {
            answer.push_str(&format!(
                "\n(The system matched {m} records in all and returned the first {returned}; a narrower request, or one asking for more, relays others.)"
            ));
        }
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
        assert_eq!(r.records[0].point, Some([2.3, 48.9]));
        assert!(!r.answer.contains("matched"), "{}", r.answer);
        let mut page = body.clone();
        page["numberMatched"] = json!(1283);
        let r = relay("geo items", 200, &page, "aircraft", |_| true);
        assert!(
            r.answer
                .contains("matched 1283 records in all and returned the first 2"),
            "{}",
            r.answer
        );
        assert_eq!(r.records[1].point, None);
    }

    #[test]
    fn large_responses_are_relayed_from_their_relevant_records() {
        let items: Vec<Value> = (0..50)
            .map(
                |i| json!({"name": if i == 37 { "Lyon".to_string() } else { format!("Town {i}") }}),
            )
            .collect();
        let (rs, total) = records(&json!({ "items": items }), "population of Lyon", |_| true);
        assert_eq!(total, 50);
        assert_eq!(rs.len(), MAX_RECORDS);
        assert!(rs.iter().any(|r| r.quote == "name: Lyon"));
    }

    /// Records held back (above the reader, outside the area asked about) are neither quoted
    /// nor counted, wherever they are in a large response.
    #[test]
    fn records_held_back_are_not_counted() {
        let items: Vec<Value> = (0..40)
            .map(|i| json!({"name": format!("Hit {i}"), "marking": if i % 4 == 0 { "SECRET" } else { "UNCLASSIFIED" }}))
            .collect();
        let body = json!({ "hits": items });
        let r = relay("partner search", 200, &body, "hits", |r| {
            r.marking.as_deref() != Some("SECRET")
        });
        assert_eq!(r.total, 30);
        assert!(r.answer.contains("returned 30 records"), "{}", r.answer);
        assert!(!r.answer.contains("SECRET"));
    }
}
