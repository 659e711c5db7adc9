//! Verification by meaning: does a quote (with its document title and headings) support a
//! claim, or answer a question with a given answer?
//!
//! Two stages. First, deterministic reversal checks that word overlap cannot see and a small
//! model sees unreliably: numbers that differ, a negation present on one side only, a view the
//! quote *attributes* to someone ("One section of our country believes slavery is right")
//! stated as fact, antonyms ("increased" / "decreased"), names in the claim that the source
//! never mentions (another country's fact). Any of these rejects. Second, what is left goes to
//! the chat model as a constrained yes/no question, and the probability it gives "yes"
//! (renormalised over yes/no) is compared with a threshold measured on the claim set
//! (`docs/answers.md`).

use std::collections::HashSet;

use serde::Serialize;
use sextant_models::generate::{ChatMessage, ChatModel};

use crate::words::{content_words, fold, words};
use crate::Result;

/// Why a claim was rejected before asking the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reversal {
    /// A number in the claim that the source does not state.
    Number,
    /// "not", "never", "no" on one side only.
    Negation,
    /// The source reports someone's view; the claim states it as fact or as another's.
    Attribution,
    /// An antonym of a source word, without the word itself.
    Polarity,
    /// A name in the claim that neither the source nor its headings mention.
    Name,
    /// Too little of the claim is in the source at all.
    Unrelated,
}

const NEGATIONS: &[&str] = &[
    "neither", "never", "no", "nobody", "none", "nor", "not", "nothing", "nowhere", "without",
];

/// Verbs of holding or reporting a view: a clause after them is someone's view, not a fact.
const VIEW_VERBS: &[&str] = &[
    "allege",
    "alleged",
    "alleges",
    "allegedly",
    "argue",
    "argued",
    "argues",
    "assert",
    "asserted",
    "asserts",
    "believe",
    "believed",
    "believes",
    "claim",
    "claimed",
    "claims",
    "contend",
    "contended",
    "contends",
    "fear",
    "feared",
    "fears",
    "hold",
    "holds",
    "insist",
    "insisted",
    "insists",
    "maintain",
    "maintained",
    "maintains",
    "predicted",
    "predicts",
    "reportedly",
    "rumored",
    "rumoured",
    "say",
    "says",
    "suggest",
    "suggested",
    "suggests",
    "supposed",
    "think",
    "thinks",
    "thought",
];

/// Verbs a claim uses to attribute a statement.
const CLAIM_VIEW_VERBS: &[&str] = &[
    "according",
    "alleged",
    "allegedly",
    "argued",
    "argues",
    "asserted",
    "believe",
    "believed",
    "believes",
    "claimed",
    "claims",
    "contended",
    "feared",
    "fears",
    "held",
    "holds",
    "reportedly",
    "said",
    "say",
    "says",
    "stated",
    "states",
    "suggested",
    "thinks",
    "thought",
    "view",
    "views",
];

const ANTONYMS: &[(&str, &str)] = &[
    ("above", "below"),
    ("after", "before"),
    ("approve", "reject"),
    ("approved", "rejected"),
    ("best", "worst"),
    ("decline", "growth"),
    ("decrease", "increase"),
    ("decreased", "increased"),
    ("east", "west"),
    ("eastern", "western"),
    ("export", "import"),
    ("exports", "imports"),
    ("fall", "rise"),
    ("fell", "rose"),
    ("first", "last"),
    ("gain", "loss"),
    ("higher", "lower"),
    ("highest", "lowest"),
    ("large", "small"),
    ("larger", "smaller"),
    ("largest", "smallest"),
    ("least", "most"),
    ("less", "more"),
    ("lost", "won"),
    ("majority", "minority"),
    ("maximum", "minimum"),
    ("north", "south"),
    ("northern", "southern"),
    ("oppose", "support"),
    ("opposed", "supported"),
    ("peace", "war"),
    ("strong", "weak"),
    ("stronger", "weaker"),
    ("surplus", "deficit"),
    ("worse", "better"),
];

fn numbers(text: &str) -> HashSet<String> {
    // "1,284,000" and "1284000" are one number; "12.5%" keeps its decimals.
    let mut out = HashSet::new();
    let mut cur = String::new();
    let chars: Vec<char> = text.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        let digit_follows = chars.get(i + 1).is_some_and(|d| d.is_ascii_digit());
        if c.is_ascii_digit() || (!cur.is_empty() && (c == ',' || c == '.') && digit_follows) {
            if c != ',' {
                cur.push(c);
            }
        } else if !cur.is_empty() {
            out.insert(std::mem::take(&mut cur));
        }
    }
    if !cur.is_empty() {
        out.insert(cur);
    }
    out
}

fn negated(ws: &[String]) -> bool {
    ws.iter()
        .any(|w| NEGATIONS.contains(&w.as_str()) || w.ends_with("n't") || w == "nt")
}

/// Names (capitalised words not at a sentence start, and all-caps words) in `text`, folded.
fn names(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut sentence_start = true;
    for tok in text.split_whitespace() {
        let t: String = tok.trim_matches(|c: char| !c.is_alphanumeric()).to_string();
        let starts_upper = t.chars().next().is_some_and(|c| c.is_uppercase());
        if starts_upper && !sentence_start && t.chars().count() > 1 {
            let w = fold(&t.to_lowercase());
            if !crate::words::is_stopword(&w) {
                out.push(w);
            }
        }
        sentence_start = tok.ends_with(['.', '!', '?', ':']);
    }
    out
}

/// The clause of `quote` (cut at punctuation and at "while", "but", "whereas") sharing the
/// most content words with `claim`.
fn closest_clause<'a>(claim: &str, quote: &'a str) -> &'a str {
    let cset: HashSet<String> = content_words(claim).into_iter().collect();
    let mut cuts = vec![0];
    for (i, c) in quote.char_indices() {
        if matches!(c, ',' | ';' | ':' | '(' | ')') {
            cuts.push(i + 1);
        }
    }
    for w in [" while ", " but ", " whereas ", " although ", " though "] {
        for (i, _) in quote.match_indices(w) {
            cuts.push(i + 1);
        }
    }
    cuts.push(quote.len());
    cuts.sort_unstable();
    cuts.dedup();
    cuts.windows(2)
        .map(|w| &quote[w[0]..w[1]])
        .max_by_key(|clause| {
            content_words(clause)
                .iter()
                .filter(|w| cset.contains(*w))
                .count()
        })
        .unwrap_or(quote)
}

/// The deterministic reversal checks: `Some(reason)` rejects the claim outright.
pub fn reversal(claim: &str, context: &str, quote: &str) -> Option<Reversal> {
    let source = format!("{context}\n{quote}");
    let cw = words(claim);
    let qw = words(quote);
    let sw: HashSet<String> = words(&source).into_iter().collect();
    let sfold: HashSet<String> = content_words(&source).into_iter().collect();

    // Numbers: every number in the claim is stated by the source (years and amounts alike).
    let source_numbers = numbers(&source);
    if numbers(claim).iter().any(|n| !source_numbers.contains(n)) {
        return Some(Reversal::Number);
    }
    // Negation on one side only, in the part of the quote the claim restates (a quote may
    // negate one clause and affirm another).
    if negated(&cw) != negated(&words(closest_clause(claim, quote))) {
        return Some(Reversal::Negation);
    }
    // Attribution: the quote reports a view; the claim must attribute it too, to the same
    // holder (one of the holder's words appears in the claim).
    if let Some(v) = qw.iter().position(|w| VIEW_VERBS.contains(&w.as_str())) {
        let holder: Vec<String> = qw[v.saturating_sub(4)..v]
            .iter()
            .filter(|w| !crate::words::is_stopword(w) && !VIEW_VERBS.contains(&w.as_str()))
            .map(|w| fold(w))
            .collect();
        let attributed = cw.iter().any(|w| CLAIM_VIEW_VERBS.contains(&w.as_str()));
        let cfold: HashSet<String> = cw.iter().map(|w| fold(w)).collect();
        let same_holder = holder.is_empty() || holder.iter().any(|h| cfold.contains(h));
        if !attributed || !same_holder {
            return Some(Reversal::Attribution);
        }
    }
    // Antonyms: the claim uses one side of a pair, the source only the other.
    for (a, b) in ANTONYMS {
        for (x, y) in [(a, b), (b, a)] {
            if cw.iter().any(|w| w == x) && !sw.contains(*x) && sw.contains(*y) {
                return Some(Reversal::Polarity);
            }
        }
    }
    // Names the source never mentions (another country's fact, a swapped person).
    if names(claim).iter().any(|n| !sfold.contains(n)) {
        return Some(Reversal::Name);
    }
    // Most of the claim's content must be in the source at all.
    let claim_words = content_words(claim);
    if !claim_words.is_empty() {
        let inside = claim_words.iter().filter(|w| sfold.contains(*w)).count();
        if (inside as f32) / (claim_words.len() as f32) < 0.5 {
            return Some(Reversal::Unrelated);
        }
    }
    None
}

/// A verdict on one claim (or one answer) against one quote.
#[derive(Debug, Clone, Serialize)]
pub struct Verdict {
    pub supported: bool,
    /// What the deterministic checks found, if anything.
    pub reversal: Option<Reversal>,
    /// P(yes) from the model (absent when a reversal decided).
    pub p_yes: Option<f32>,
}

const JUDGE_SYSTEM: &str = "You check statements against a source text. Answer only yes or no.";

fn p_yes(model: &ChatModel, user: String) -> Result<f32> {
    let lp = model.score_next(
        vec![ChatMessage::system(JUDGE_SYSTEM), ChatMessage::user(user)],
        String::new(),
        vec!["yes".into(), "Yes".into(), "no".into(), "No".into()],
    )?;
    let yes = lp[0].exp() + lp[1].exp();
    let no = lp[2].exp() + lp[3].exp();
    Ok(if yes + no > 0.0 {
        yes / (yes + no)
    } else {
        0.0
    })
}

/// Whether `quote` (under `context`: title and headings) supports `claim`.
pub fn entails(
    model: &ChatModel,
    claim: &str,
    context: &str,
    quote: &str,
    threshold: f32,
) -> Result<Verdict> {
    if let Some(r) = reversal(claim, context, quote) {
        return Ok(Verdict {
            supported: false,
            reversal: Some(r),
            p_yes: None,
        });
    }
    let p = p_yes(
        model,
        format!(
            "Source ({context}): {quote}\n\nStatement: {claim}\n\nDoes the source say exactly what the statement says? Answer yes or no."
        ),
    )?;
    Ok(Verdict {
        supported: p >= threshold,
        reversal: None,
        p_yes: Some(p),
    })
}

/// Whether `answer`, copied from `quote`, answers `question` according to the source.
pub fn answers(
    model: &ChatModel,
    question: &str,
    answer: &str,
    context: &str,
    quote: &str,
    threshold: f32,
) -> Result<Verdict> {
    let p = p_yes(
        model,
        format!(
            "Source ({context}): {quote}\n\nQuestion: {question}\nProposed answer: {answer}\n\nDoes the source show that the proposed answer is the answer to the question? Answer yes or no."
        ),
    )?;
    Ok(Verdict {
        supported: p >= threshold,
        reversal: None,
        p_yes: Some(p),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(claim: &str, context: &str, quote: &str, want: Option<Reversal>) {
        assert_eq!(reversal(claim, context, quote), want, "{claim} <- {quote}");
    }

    #[test]
    fn reversals_are_caught() {
        let ke = "Kenya > Government > Capital";
        check(
            "The capital of Kenya is Nairobi.",
            ke,
            "Name: Nairobi",
            None,
        );
        check(
            "The capital of Uganda is Nairobi.",
            ke,
            "Name: Nairobi",
            Some(Reversal::Name),
        );
        check(
            "Kenya's population is 45,925,302.",
            "Kenya > People and Society > Population",
            "45,925,301",
            Some(Reversal::Number),
        );
        check(
            "Lincoln said that slavery was right and ought to be extended.",
            "1862 Abraham Lincoln State of the Union",
            "One section of our country believes slavery is right and ought to be extended, while the other believes it is wrong and ought not to be extended.",
            Some(Reversal::Attribution),
        );
        check(
            "Lincoln said one section of the country believes slavery is right and ought to be extended.",
            "1862 Abraham Lincoln State of the Union",
            "One section of our country believes slavery is right and ought to be extended, while the other believes it is wrong and ought not to be extended.",
            None,
        );
        check(
            "Exports decreased in 2014.",
            "Vardania > Economy",
            "Exports increased in 2014.",
            Some(Reversal::Polarity),
        );
        check(
            "Vardania has ratified the treaty.",
            "Vardania > Treaties",
            "Vardania has not ratified the treaty.",
            Some(Reversal::Negation),
        );
    }

    #[test]
    fn numbers_ignore_thousands_separators() {
        let n = numbers("45,925,301 people, 12.5% urban, in 2015.");
        assert!(n.contains("45925301") && n.contains("12.5") && n.contains("2015"));
    }
}
