//! Follow-up questions become standalone retrieval queries. "What about its population?"
//! after "What is the capital of Mongolia?" retrieves nothing useful on its own; the rewrite
//! carries the earlier question's content words that the follow-up leaves implicit.
//!
//! Deterministic on purpose: a 135M model rewrites unreliably, and retrieval only needs the
//! right terms, not a fluent sentence.

use sextant_models::generate::ChatMessage;

use crate::words::{content_words, words};

/// Words that point back into the conversation.
const REFERRING: &[&str] = &[
    "he", "her", "hers", "him", "his", "it", "its", "same", "she", "that", "their", "them",
    "there", "these", "they", "this", "those",
];

/// The retrieval query for `question` given the earlier turns.
pub fn standalone_query(question: &str, history: &[ChatMessage]) -> String {
    let Some(previous) = history.iter().rev().find(|m| m.role == "user") else {
        return question.trim().to_string();
    };
    let q_words = words(question);
    let refers = q_words
        .iter()
        .any(|w| REFERRING.binary_search(&w.as_str()).is_ok());
    let own = content_words(question);
    if !refers && own.len() >= 3 {
        return question.trim().to_string();
    }
    let mut carried: Vec<String> = Vec::new();
    for w in crate::words::words(&previous.content) {
        if crate::words::is_stopword(&w) || REFERRING.binary_search(&w.as_str()).is_ok() {
            continue;
        }
        let folded = crate::words::fold(&w);
        if own.contains(&folded) || carried.iter().any(|c| crate::words::fold(c) == folded) {
            continue;
        }
        carried.push(original_case(&previous.content, &w));
    }
    if carried.is_empty() {
        return question.trim().to_string();
    }
    format!("{} ({})", question.trim(), carried.join(" "))
}

/// `lower` as it is written in `text` (so proper nouns keep their capitals).
fn original_case(text: &str, lower: &str) -> String {
    text.split(|c: char| !c.is_alphanumeric())
        .find(|w| w.to_lowercase() == lower)
        .unwrap_or(lower)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn referring_words_are_sorted() {
        let mut s = REFERRING.to_vec();
        s.sort_unstable();
        assert_eq!(s, REFERRING);
    }

    #[test]
    fn follow_ups_carry_the_earlier_subject() {
        let history = vec![
            ChatMessage::user("What is the capital of Mongolia?"),
            ChatMessage::assistant("Ulaanbaatar [1]."),
        ];
        assert_eq!(
            standalone_query("What about its population?", &history),
            "What about its population? (capital Mongolia)"
        );
        // A question that stands on its own is left alone.
        assert_eq!(
            standalone_query("What is the population of Chad today?", &history),
            "What is the population of Chad today?"
        );
        assert_eq!(standalone_query("Where is it?", &[]), "Where is it?");
    }
}
