//! The reader: the chat model copies the answer out of the best source statements, under a
//! constraint that only lets it write verbatim spans of those statements (or "NO ANSWER").
//! The answer is therefore located in its evidence by construction; what remains to check is
//! whether it answers the question ([`crate::judge`]).

use serde::Serialize;
use sextant_models::generate::{ChatMessage, ChatModel, SpanConstraint};

use crate::evidence::Scored;
use crate::question::AnswerType;
use crate::Result;

/// What the model writes when no statement answers.
pub const NO_ANSWER: &str = "NO ANSWER";

/// Longest span the reader may copy, bytes.
const MAX_SPAN_BYTES: usize = 400;
/// Tokens the reader may write.
const MAX_SPAN_TOKENS: usize = 64;

/// The reader's result.
#[derive(Debug, Clone, Serialize)]
pub struct Read {
    /// The copied span (empty when the model wrote NO ANSWER).
    pub span: String,
    /// Index into the candidate statements the span was copied from.
    pub candidate: Option<usize>,
    /// Character offsets of the span inside that statement's chunk text.
    pub start: usize,
    pub end: usize,
    /// Log-probability of the span under the unconstrained model (how much it wanted it).
    pub logprob: f32,
    /// Probability the model gave "NO ANSWER" at its first step, among what it was allowed.
    pub p_none: f32,
    pub prompt_tokens: usize,
    pub completion_tokens: usize,
    pub prefill_ms: f64,
    pub generate_ms: f64,
}

impl Read {
    pub fn found(&self) -> bool {
        self.candidate.is_some()
    }
}

/// What to ask the reader for, by answer type.
fn ask_for(t: AnswerType) -> &'static str {
    match t {
        AnswerType::Person => "the name of the person",
        AnswerType::Date => "the date or year",
        AnswerType::Number => "the number, with its unit",
        AnswerType::Place => "the name of the place",
        AnswerType::Entity => "the words that answer it (a name or a short phrase)",
        AnswerType::Description | AnswerType::Comparison => "the sentence that answers it",
    }
}

const SYSTEM: &str =
    "You answer questions by copying the exact words of the answer from the numbered sources. \
Copy only what answers the question, word for word. \
If no source answers the question, reply: NO ANSWER";

/// The numbered listing the reader sees: `[n] context: statement`.
pub fn listing(candidates: &[&Scored]) -> String {
    let mut s = String::new();
    for (i, c) in candidates.iter().enumerate() {
        s.push_str(&format!(
            "[{}] {}: {}\n",
            i + 1,
            c.sentence.context,
            c.sentence.text
        ));
    }
    s
}

/// Asks `model` to copy the answer to `question` out of `candidates`.
pub fn read(
    model: &ChatModel,
    question: &str,
    answer_type: AnswerType,
    candidates: &[&Scored],
) -> Result<Read> {
    let texts: Vec<String> = candidates.iter().map(|c| c.sentence.text.clone()).collect();
    let messages = vec![
        ChatMessage::system(SYSTEM),
        ChatMessage::user(format!(
            "Sources:\n{}\nQuestion: {question}\nCopy {} from the sources, or reply NO ANSWER.",
            listing(candidates),
            ask_for(answer_type)
        )),
    ];
    let constraint = SpanConstraint::new(&texts, &[NO_ANSWER.to_string()], MAX_SPAN_BYTES);
    let out = model.constrained(messages, Box::new(constraint), MAX_SPAN_TOKENS)?;
    let span = out.text.trim().to_string();
    // First tokens that begin "NO ANSWER" and no candidate statement.
    let p_none = out
        .first_choices
        .iter()
        .filter(|(id, _)| {
            model.prompter().decode(&[*id]).is_ok_and(|t| {
                !t.is_empty()
                    && NO_ANSWER.starts_with(t.as_str())
                    && !texts.iter().any(|x| x.starts_with(t.as_str()))
            })
        })
        .map(|(_, p)| p)
        .sum();
    let mut read = Read {
        span: String::new(),
        candidate: None,
        start: 0,
        end: 0,
        logprob: out.logprob,
        p_none,
        prompt_tokens: out.prompt_tokens,
        completion_tokens: out.completion_tokens,
        prefill_ms: out.prefill_ms,
        generate_ms: out.generate_ms,
    };
    if span.is_empty() || span == NO_ANSWER {
        return Ok(read);
    }
    // The first candidate (best first) holding the span at a word start.
    for (i, c) in candidates.iter().enumerate() {
        if let Some(at) = find_word_start(&c.sentence.text, &span) {
            let before = c.sentence.text[..at].chars().count();
            let len = span.chars().count();
            read.span = span;
            read.candidate = Some(i);
            read.start = c.sentence.start + before;
            read.end = c.sentence.start + before + len;
            return Ok(read);
        }
    }
    // Cannot happen under the constraint; treat as no answer rather than guess.
    tracing::warn!(span = %span, "reader span not found in its candidates");
    Ok(read)
}

/// Byte offset of `needle` in `hay` at a word start.
fn find_word_start(hay: &str, needle: &str) -> Option<usize> {
    hay.match_indices(needle).map(|(i, _)| i).find(|&i| {
        i == 0
            || !hay[..i]
                .chars()
                .next_back()
                .is_some_and(char::is_alphanumeric)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_are_found_at_word_starts() {
        assert_eq!(find_word_start("Name: Nairobi", "Nairobi"), Some(6));
        assert_eq!(find_word_start("aNairobi Nairobi", "Nairobi"), Some(9));
        assert_eq!(find_word_start("xyz", "Nairobi"), None);
    }
}
