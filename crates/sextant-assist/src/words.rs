//! Word-level text handling shared by evidence scoring and citation checks: content words
//! (lowercased, without stopwords or citation markers) and light plural folding.

/// Function words that say nothing about whether a span supports a claim.
const STOPWORDS: &[&str] = &[
    "a",
    "about",
    "according",
    "after",
    "all",
    "also",
    "an",
    "and",
    "answer",
    "any",
    "are",
    "as",
    "at",
    "be",
    "been",
    "but",
    "by",
    "called",
    "can",
    "could",
    "did",
    "do",
    "document",
    "documents",
    "does",
    "for",
    "from",
    "had",
    "has",
    "have",
    "he",
    "her",
    "his",
    "how",
    "i",
    "if",
    "in",
    "into",
    "is",
    "it",
    "its",
    "itself",
    "many",
    "me",
    "much",
    "my",
    "name",
    "named",
    "no",
    "not",
    "of",
    "on",
    "one",
    "or",
    "our",
    "please",
    "question",
    "she",
    "so",
    "source",
    "sources",
    "such",
    "tell",
    "than",
    "that",
    "the",
    "their",
    "them",
    "then",
    "there",
    "these",
    "they",
    "this",
    "those",
    "to",
    "us",
    "was",
    "we",
    "were",
    "what",
    "when",
    "where",
    "which",
    "while",
    "who",
    "whom",
    "whose",
    "why",
    "will",
    "with",
    "would",
    "yes",
    "you",
    "your",
];

pub fn is_stopword(w: &str) -> bool {
    STOPWORDS.binary_search(&w).is_ok()
}

/// Lowercased alphanumeric words, in order.
pub fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| w.to_lowercase())
        .collect()
}

/// A crude plural/possessive fold so "provinces" meets "province" and "Mongolia's" "Mongolia";
/// units written out meet their abbreviations ("square kilometres" / "sq km").
pub fn fold(w: &str) -> String {
    let w = w.strip_suffix("'s").unwrap_or(w);
    match w {
        "kilometre" | "kilometres" | "kilometer" | "kilometers" => return "km".into(),
        "metre" | "metres" | "meter" | "meters" => return "m".into(),
        "square" => return "sq".into(),
        "percent" => return "%".into(),
        _ => {}
    }
    if w.len() > 4 && w.ends_with("ies") {
        format!("{}y", &w[..w.len() - 3])
    } else if w.len() > 3 && w.ends_with('s') && !w.ends_with("ss") && !w.ends_with("us") {
        w[..w.len() - 1].to_string()
    } else {
        w.to_string()
    }
}

/// Folded content words (no stopwords), in order, duplicates kept.
pub fn content_words(text: &str) -> Vec<String> {
    words(text)
        .into_iter()
        // Single letters are contraction debris ("Mongolia's" -> "s") or initials.
        .filter(|w| !is_stopword(w) && (w.chars().count() > 1 || w.chars().all(|c| c.is_numeric())))
        .map(|w| fold(&w))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stopwords_are_sorted_for_binary_search() {
        let mut sorted = STOPWORDS.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted, STOPWORDS);
    }

    #[test]
    fn content_words_fold_plurals() {
        assert_eq!(
            content_words("What are the provinces of Mongolia's cities?"),
            vec!["province", "mongolia", "city"]
        );
    }
}
