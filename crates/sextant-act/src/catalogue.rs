//! Which operations to offer the model for a request: words shared with what the operation
//! is about (its name, summary, description, parameter names), plus the cosine similarity of
//! their embeddings, which breaks ties and finds an operation named in other words. Used by
//! `sextant act` over connectors and by `sextant eval tools --pool` over BFCL functions.

/// Words that say nothing of which operation or parameter a request needs.
pub const STOP: &[&str] = &[
    "the", "and", "for", "with", "that", "this", "these", "those", "are", "was", "were", "which",
    "what", "who", "from", "have", "has", "had", "all", "any", "into", "its", "our", "your", "you",
    "please", "can", "could", "would", "will", "there", "their", "them", "they", "not", "only",
    "one", "two", "four", "six", "per", "each", "other", "than", "then", "also", "does",
];

/// Words of three letters or more, lower case, stop words left out.
pub fn words(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    // camelCase ids count as their words: getAircraftFeatures -> get aircraft features.
    let mut spaced = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && c.is_uppercase() {
            spaced.push(' ');
        }
        spaced.push(c);
    }
    for w in spaced.split(|c: char| !c.is_alphanumeric()) {
        if w.chars().count() >= 3 && !STOP.contains(&w.to_lowercase().as_str()) {
            let w = w.to_lowercase();
            // Plural and singular alike: "aircraft"/"cities" vs "city".
            let w = w
                .strip_suffix("ies")
                .map(|s| format!("{s}y"))
                .unwrap_or_else(|| w.trim_end_matches('s').to_string());
            out.push(w);
        }
    }
    out
}

/// Cosine similarity of two vectors (0 when either is zero).
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let n = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
    let d = n(a) * n(b);
    if d > 0.0 {
        dot / d
    } else {
        0.0
    }
}

/// How well an operation described by `text` fits a request of words `asked`: the request's
/// words it shares, plus `similarity` (a cosine, below 1, so words decide and embeddings
/// order the ties).
pub fn score(asked: &[String], text: &str, similarity: f32) -> f32 {
    let mine = words(text);
    asked.iter().filter(|w| mine.contains(w)).count() as f32 + similarity
}

/// Whether a call on an operation about `about` (its name, summary, description) may stand for
/// a request of words `asked`: it shares a word with the request, or its embedding similarity
/// reaches `floor`. Small models call some function even when none fits (BFCL irrelevance);
/// such a call shares no word with the request and sits far from it.
pub fn relevant(asked: &[String], about: &str, similarity: f32, floor: f32) -> bool {
    similarity >= floor || {
        let mine = words(about);
        asked.iter().any(|w| mine.contains(w))
    }
}

/// The indices of the `k` highest `scores`, best first (ties in order).
pub fn top(scores: &[f32], k: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
    order.truncate(k);
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_and_scores() {
        assert_eq!(words("getAircraftFeatures"), ["get", "aircraft", "feature"]);
        assert_eq!(words("Which cities are there?"), ["city"]);
        let asked = words("Which aircraft were near Paris?");
        assert_eq!(
            score(&asked, "getAircraftFeatures Aircraft positions", 0.25),
            1.25
        );
        assert_eq!(top(&[0.5, 2.0, 2.0, 1.0], 3), [1, 2, 3]);
        let asked = words("Calculate the area of a triangle with base 10 and height 5");
        let bmi = "determine_body_mass_index Calculate body mass index given weight and height";
        assert!(relevant(&asked, bmi, 0.1, 0.3), "shares calculate, height");
        let asked = words("What is the capital of Mongolia?");
        assert!(!relevant(&asked, bmi, 0.1, 0.3));
        assert!(relevant(&asked, bmi, 0.35, 0.3));
    }
}
