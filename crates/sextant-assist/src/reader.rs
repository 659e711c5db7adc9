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

const EXAMPLE_USER: &str = "Sources:\n[1] (Vardania, Exports - commodities) timber, wool, fish\n[2] (Vardania, Capital) Name: Kelmport\n[3] (Vardania, Population) 2,310,400 (July 2015 est.)\n\nQuestion: How many people live in Vardania?\nCopy the number, with its unit from the sources, or reply NO ANSWER.";
const EXAMPLE_ANSWER: &str = "2,310,400";

const SYSTEM: &str =
    "You answer questions by copying the exact words of the answer from the numbered sources. \
Copy only what answers the question, word for word. \
If no source answers the question, reply: NO ANSWER";

/// Longest part of a statement shown to the reader, bytes: the prompt is what a question's
/// latency is made of.
const SHOWN_BYTES: usize = 240;

/// The part of a statement the reader sees (and may copy from): its start, cut at a word
/// boundary.
fn shown(text: &str) -> &str {
    if text.len() <= SHOWN_BYTES {
        return text;
    }
    let mut cut = SHOWN_BYTES;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    match text[..cut].rfind(' ') {
        Some(i) => &text[..i],
        None => &text[..cut],
    }
}

/// The numbered listing the reader sees: `[n] (title, nearest heading) statement`. The full
/// heading path is left out: a chunk's path names where the chunk starts, which misleads a
/// small model about statements further down.
pub fn listing(candidates: &[&Scored]) -> String {
    let mut s = String::new();
    for (i, c) in candidates.iter().enumerate() {
        let parts: Vec<&str> = c.sentence.context.split(" > ").collect();
        let label = match parts.as_slice() {
            [] => String::new(),
            [only] => only.to_string(),
            [first, .., last] => format!("{first}, {last}"),
        };
        s.push_str(&format!(
            "[{}] ({label}) {}\n",
            i + 1,
            shown(&c.sentence.text)
        ));
    }
    s
}

/// Asks `model` to copy the answer to `question` out of `candidates`.
/// `none_threshold`: the reader declines when it gives "NO ANSWER" at least this probability
/// at its first step, and otherwise copies its best span.
pub fn read(
    model: &ChatModel,
    question: &str,
    answer_type: AnswerType,
    candidates: &[&Scored],
    none_threshold: f32,
) -> Result<Read> {
    let texts: Vec<String> = candidates
        .iter()
        .map(|c| shown(&c.sentence.text).to_string())
        .collect();
    let messages = vec![
        ChatMessage::system(SYSTEM),
        // One worked example of the format (small models follow an example better than rules).
        ChatMessage::user(EXAMPLE_USER),
        ChatMessage::assistant(EXAMPLE_ANSWER),
        ChatMessage::user(format!(
            "Sources:\n{}\nQuestion: {question}\nCopy {} from the sources, or reply NO ANSWER.",
            listing(candidates),
            ask_for(answer_type)
        )),
    ];
    let constraint = SpanConstraint::new(&texts, &[NO_ANSWER.to_string()], MAX_SPAN_BYTES);
    let out = model.constrained(
        messages,
        Box::new(constraint),
        MAX_SPAN_TOKENS,
        none_threshold,
    )?;
    let span = out.text.trim().to_string();
    let p_none = out.literal_mass;
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

/// The value a copied span belongs to, in its statement: "1948" in "Independence: 4 February
/// 1948 (from the UK)" is "4 February 1948"; "61.71" in "Total population: 61.71 years Male:
/// …" is "61.71 years"; a single item of a list answers a question about several
/// ("What are the main exports …") with the whole list. The value runs from the label's colon
/// (or a semicolon) to a parenthesis, semicolon, sentence end or the next label; it replaces
/// the span only when it is short (`max` bytes) — a whole sentence is not a value.
/// Byte offsets into `statement`.
pub fn value_around(statement: &str, start: usize, end: usize, max: usize) -> (usize, usize) {
    let before = &statement[..start];
    let left = [
        before.rfind(": ").map(|i| i + 2),
        before.rfind("; ").map(|i| i + 2),
    ]
    .into_iter()
    .flatten()
    .max()
    .unwrap_or(0);
    let after = &statement[end..];
    let mut right = after.len();
    for stop in [" (", ";", ". "] {
        if let Some(i) = after.find(stop) {
            right = right.min(i);
        }
    }
    // The next "Label:" (a capitalised word and a colon).
    if let Some(colon) = after[..right].find(':') {
        let head = &after[..colon];
        let label_start = head.rfind(' ').map(|i| i + 1).unwrap_or(0);
        if head[label_start..].starts_with(|c: char| c.is_uppercase()) {
            right = right.min(head[..label_start].trim_end().len());
        }
    }
    let (vs, ve) = (left, end + right);
    let value = statement[vs..ve].trim();
    if value.is_empty() || value.len() > max || vs > start {
        return (start, end);
    }
    let vs = vs + (statement[vs..ve].len() - statement[vs..ve].trim_start().len());
    (vs, vs + value.len())
}

/// Whether `text` is a list of short items ("tea, horticultural products, coffee"), not a
/// sentence.
pub fn is_list(text: &str) -> bool {
    let items: Vec<&str> = text.split([',', ';']).collect();
    items.len() >= 2
        && items
            .iter()
            .all(|i| (1..=5).contains(&i.split_whitespace().count()))
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
    fn spans_grow_to_their_values() {
        let check = |st: &str, span: &str, max: usize, want: &str| {
            let s = st.find(span).unwrap();
            let (a, b) = value_around(st, s, s + span.len(), max);
            assert_eq!(&st[a..b], want, "{span} in {st}");
        };
        check(
            "Independence: 4 February 1948 (from the UK)",
            "1948",
            60,
            "4 February 1948",
        );
        check(
            "Total population: 61.71 years Male: 60.34 years Female: 63.13 years",
            "61.71",
            60,
            "61.71 years",
        );
        check(
            "petroleum, natural gas, fish, salt",
            "natural gas",
            200,
            "petroleum, natural gas, fish, salt",
        );
        check("Name: Nairobi", "Nairobi", 60, "Nairobi");
        check(
            "Founding president Jomo KENYATTA led Kenya from independence in 1963 until his death in 1978, when President Daniel MOI took power.",
            "1963",
            60,
            "1963",
        );
    }

    #[test]
    fn spans_are_found_at_word_starts() {
        assert_eq!(find_word_start("Name: Nairobi", "Nairobi"), Some(6));
        assert_eq!(find_word_start("aNairobi Nairobi", "Nairobi"), Some(9));
        assert_eq!(find_word_start("xyz", "Nairobi"), None);
    }
}
