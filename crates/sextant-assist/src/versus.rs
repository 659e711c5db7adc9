//! Comparisons between two named things ("Chad or Niger, which is larger?"): each side's value
//! is read from a statement of its own document, both are parsed as numbers, and the answer is
//! decided by arithmetic — never by a model — and cites both statements.

use serde::Serialize;
use sextant_types::Hit;

use crate::evidence::{statement_context, statements};
use crate::question::{Direction, Question};
use crate::verify::{Support, Verified};
use crate::words::content_words;
use crate::Trace;

/// One side of a comparison: the name, and the statement giving its value (when found).
#[derive(Debug, Clone, Serialize)]
pub struct Side {
    pub name: String,
    pub value: Option<Value>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Value {
    /// The number, scaled ("1.284 million" -> 1_284_000).
    pub amount: f64,
    /// The value as written ("1.284 million sq km").
    pub text: String,
    /// The chunk of the statement it was read from (offsets in chunk characters).
    #[serde(skip)]
    pub chunk: sextant_types::ChunkId,
    pub start: usize,
    pub end: usize,
    pub quote: String,
}

/// The first number in `text` with its scale word and unit, up to a clause boundary:
/// "Total: 1.284 million sq km" -> (1284000, "1.284 million sq km").
pub fn parse_value(text: &str) -> Option<(f64, String)> {
    let bytes = text.as_bytes();
    let start = bytes.iter().position(|b| b.is_ascii_digit())?;
    // A digit inside a word ("UTC+3", "H2O") is not a value.
    if start > 0 && bytes[start - 1].is_ascii_alphabetic() {
        return None;
    }
    let mut end = start;
    while end < bytes.len()
        && (bytes[end].is_ascii_digit()
            || ((bytes[end] == b',' || bytes[end] == b'.')
                && bytes.get(end + 1).is_some_and(u8::is_ascii_digit)))
    {
        end += 1;
    }
    let mut amount: f64 = text[start..end].replace(',', "").parse().ok()?;
    let rest = &text[end..];
    let mut shown_end = end;
    for (word, scale) in [
        (" thousand", 1e3),
        (" million", 1e6),
        (" billion", 1e9),
        (" trillion", 1e12),
    ] {
        if rest.starts_with(word) {
            amount *= scale;
            shown_end = end + word.len();
            break;
        }
    }
    // The unit: what follows, up to a parenthesis, semicolon or end.
    let tail = &text[shown_end..];
    let mut unit_len = tail.find(['(', ';', ',', '\n']).unwrap_or(tail.len());
    // Units are lowercase words ("sq km", "years"); the next label ("Land: …") is not one.
    if let Some((at, _)) = tail[..unit_len]
        .match_indices(char::is_whitespace)
        .find(|(at, _)| {
            tail[at + 1..unit_len]
                .split_whitespace()
                .next()
                .is_some_and(|w| w.contains(':') || w.starts_with(char::is_uppercase))
        })
    {
        unit_len = at;
    }
    let shown = text[start..shown_end + unit_len].trim_end().to_string();
    // A leading currency sign belongs to the value.
    let shown = if start > 0 && bytes[start - 1] == b'$' {
        format!("${shown}")
    } else {
        shown
    };
    Some((amount, shown))
}

/// The statement of `hits` (one side's document) that best states `attribute`, and its value.
pub fn side(name: &str, attribute: &str, hits: &[Hit]) -> Side {
    let want: Vec<String> = content_words(attribute);
    let mut best: Option<(f32, Value)> = None;
    for hit in hits {
        for st in statements(hit) {
            let ctx = statement_context(hit, &st);
            let bag: Vec<String> = content_words(&format!("{ctx} {}", st.text));
            let covered =
                want.iter().filter(|w| bag.contains(w)).count() as f32 / want.len().max(1) as f32;
            if covered < 1.0 {
                continue;
            }
            let Some((amount, text)) = parse_value(st.text) else {
                continue;
            };
            // Prefer a total ("Total: …") and earlier statements of better hits.
            let lower = st.text.to_lowercase();
            let score = covered + if lower.starts_with("total") { 0.5 } else { 0.0 }
                - 0.01 * best.as_ref().map_or(0.0, |_| 1.0);
            if best.as_ref().is_none_or(|(b, _)| score > *b) {
                best = Some((
                    score,
                    Value {
                        amount,
                        text,
                        chunk: hit.chunk_id,
                        start: st.start,
                        end: st.end,
                        quote: st.text.to_string(),
                    },
                ));
            }
        }
    }
    Side {
        name: name.to_string(),
        value: best.map(|(_, v)| v),
    }
}

/// The comparison's answer, citing both values, or `None` (abstain) when either side's value
/// was not found.
pub fn answer(
    question: &Question,
    sides: &[Side],
    hits: &[Hit],
    trace: &mut Trace,
) -> Option<Verified> {
    let c = question.comparison.as_ref()?;
    if sides.len() != 2 {
        trace.checks.push(format!(
            "compare: {} of 2 sides have a document",
            sides.len()
        ));
        return None;
    }
    let (Some(a), Some(b)) = (&sides[0].value, &sides[1].value) else {
        trace.checks.push(format!(
            "compare: no {} value for {}",
            c.attribute,
            sides
                .iter()
                .filter(|s| s.value.is_none())
                .map(|s| s.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
        return None;
    };
    trace.checks.push(format!(
        "compare: {} {} ({}) vs {} {} ({})",
        sides[0].name, a.amount, a.text, sides[1].name, b.amount, b.text
    ));
    if a.amount == b.amount {
        trace.checks.push("compare: equal values".into());
        return None;
    }
    let a_wins = match c.direction {
        Direction::Most => a.amount > b.amount,
        Direction::Least => a.amount < b.amount,
    };
    let (win, lose) = if a_wins { (0, 1) } else { (1, 0) };
    let (wv, lv) = (
        sides[win].value.as_ref().expect("checked"),
        sides[lose].value.as_ref().expect("checked"),
    );
    let index = |v: &Value| hits.iter().position(|h| h.chunk_id == v.chunk);
    let (Some(wi), Some(li)) = (index(wv), index(lv)) else {
        trace
            .checks
            .push("compare: a side's statement is not among the hits".into());
        return None;
    };
    let text = format!(
        "{}: {} [1], against {} for {} [2].",
        sides[win].name, wv.text, lv.text, sides[lose].name
    );
    Some(Verified {
        text,
        supports: vec![
            Support {
                hit: wi,
                start: wv.start,
                end: wv.end,
                quote: wv.quote.clone(),
            },
            Support {
                hit: li,
                start: lv.start,
                end: lv.end,
                quote: lv.quote.clone(),
            },
        ],
        claims: 1,
        supported: 1,
        invalid_markers: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_parse_with_scale_and_unit() {
        let check = |t: &str, amount: f64, shown: &str| {
            let (a, s) = parse_value(t).unwrap();
            assert!((a - amount).abs() < 1e-6, "{t}: {a}");
            assert_eq!(s, shown);
        };
        check(
            "Total: 1.284 million sq km",
            1_284_000.0,
            "1.284 million sq km",
        );
        check("Total: 1,267,000 sq km", 1_267_000.0, "1,267,000 sq km");
        check(
            "Total: 1.284 million sq km Land: 1,259,200 sq km",
            1_284_000.0,
            "1.284 million sq km",
        );
        check("45,925,301 (July 2015 est.)", 45_925_301.0, "45,925,301");
        check("$3,100 (2014 est.)", 3100.0, "$3,100");
        assert!(parse_value("UTC+3").is_none() || parse_value("UTC+3").unwrap().0 == 3.0);
        assert!(parse_value("no number").is_none());
    }
}
