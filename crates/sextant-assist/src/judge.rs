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

/// Least share of a claim's content words that its source must hold: 0.9, measured on the
/// claim set (`docs/answers.md`: 0.8 accepts four times the reversals for a third more
/// recall). Precision first: a paraphrase that cannot be checked is not accepted.
const MIN_CLAIM_COVERAGE: f32 = 0.9;

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

/// Numbers with the unit written right after them ("2 billion", "6%", "3,776 m"): the unit is
/// a class (scale, percent, length), empty when none is written.
fn quantities(text: &str) -> Vec<(String, &'static str)> {
    let ws: Vec<&str> = text
        .split(|c: char| c.is_whitespace() || matches!(c, '(' | ')' | ';' | ','))
        .filter(|w| !w.is_empty())
        .collect();
    let mut out = Vec::new();
    for (i, w) in ws.iter().enumerate() {
        let core: String = w
            .trim_start_matches(['$', '~', '+', '-'])
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == ',')
            .filter(|c| *c != ',')
            .collect();
        let core = core.trim_end_matches('.').to_string();
        if core.is_empty() || !core.chars().next().is_some_and(|c| c.is_ascii_digit()) {
            continue;
        }
        let rest = w
            .trim_start_matches(['$', '~', '+', '-'])
            .trim_start_matches(|c: char| c.is_ascii_digit() || c == '.' || c == ',');
        let next = ws.get(i + 1).map(|n| n.to_lowercase()).unwrap_or_default();
        let next = next.trim_end_matches(['.', ':']);
        let unit = if rest.starts_with('%')
            || next == "percent"
            || next == "per"
                && ws
                    .get(i + 2)
                    .is_some_and(|x| x.eq_ignore_ascii_case("cent"))
        {
            "%"
        } else {
            match next {
                "thousand" => "thousand",
                "million" => "million",
                "billion" => "billion",
                "trillion" => "trillion",
                "m" | "metre" | "metres" | "meter" | "meters" => "m",
                "km" | "kilometre" | "kilometres" | "kilometer" | "kilometers" => "km",
                "ft" | "feet" | "foot" => "ft",
                "mi" | "mile" | "miles" => "mi",
                _ => "",
            }
        };
        out.push((core, unit));
    }
    out
}

/// Qualifiers that change who a name refers to ("Deputy President William RUTO").
const QUALIFIERS: &[&str] = &["acting", "assistant", "deputy", "former", "interim", "vice"];

/// Pieces of a list-like quote ("Hindu 79.8%, Muslim 14.2%"; "President A (since …);
/// Deputy President B (since …)").
fn segments(quote: &str) -> Vec<&str> {
    // ", " and ";" separate items; a comma inside a number ("3,776") does not.
    quote
        .split("; ")
        .flat_map(|s| s.split(", "))
        .flat_map(|s| s.split(';'))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect()
}

/// A number of the claim bound to the wrong thing: in the quote it sits in a piece that names
/// none of the claim's names, while one of those names sits in a piece with another number
/// ("14.2% of Indians are Hindu" against "Hindu 79.8%, Muslim 14.2%"); or a name the quote
/// qualifies ("Deputy President William RUTO") stated without its qualifier.
fn misbound(claim: &str, quote: &str) -> bool {
    let segs = segments(quote);
    if segs.len() < 2 {
        return false;
    }
    let claim_names: Vec<String> = names(&format!(". {claim}"));
    let claim_words: HashSet<String> = words(claim).into_iter().collect();
    let seg_words: Vec<HashSet<String>> = segs
        .iter()
        .map(|s| words(s).into_iter().map(|w| fold(&w)).collect())
        .collect();
    let seg_numbers: Vec<HashSet<String>> = segs.iter().map(|s| numbers(s)).collect();
    let seg_units: Vec<Vec<(String, &'static str)>> = segs.iter().map(|s| quantities(s)).collect();
    let claim_units = quantities(claim);
    for n in numbers(claim) {
        let unit = claim_units
            .iter()
            .find(|(m, _)| *m == n)
            .map_or("", |(_, u)| *u);
        let holding: Vec<usize> = (0..segs.len())
            .filter(|&i| seg_numbers[i].contains(&n))
            .collect();
        if holding.is_empty() {
            continue;
        }
        let names_here = claim_names
            .iter()
            .any(|c| holding.iter().any(|&i| seg_words[i].contains(c)));
        // Only list items ("Hindu 79.8%"), short pieces that label a number, bind names.
        let item = |i: usize| !seg_numbers[i].is_empty() && is_item(segs[i]);
        let names_elsewhere = claim_names.iter().any(|c| {
            (0..segs.len()).any(|i| !holding.contains(&i) && item(i) && seg_words[i].contains(c))
        });
        if !names_here && names_elsewhere {
            return true;
        }
        // A word of the claim that sits only in another piece with another number
        // ("steelmaking capacity by 40 percent" against "… power supply by 40 percent, and …
        // steelmaking capacity by 15 percent").
        let content: Vec<String> = content_words(claim)
            .into_iter()
            .filter(|w| !w.chars().any(|c| c.is_ascii_digit()))
            .collect();
        // Pieces parallel to the number's own: list items, or pieces with a number of the
        // same unit ("15 percent" beside "40 percent").
        let parallel = |i: usize| {
            !holding.contains(&i)
                && (item(i) || (!unit.is_empty() && seg_units[i].iter().any(|(_, u)| *u == unit)))
        };
        let only_elsewhere = content.iter().any(|w| {
            !holding.iter().any(|&i| seg_words[i].contains(w))
                && (0..segs.len()).any(|i| parallel(i) && seg_words[i].contains(w))
        });
        if only_elsewhere {
            return true;
        }
    }
    for c in &claim_names {
        let holding: Vec<usize> = (0..segs.len())
            .filter(|&i| seg_words[i].contains(c))
            .collect();
        if holding.len() != 1 {
            continue;
        }
        let seg = segs[holding[0]].to_lowercase();
        let before = &seg[..seg.find(c.as_str()).unwrap_or(0)];
        if QUALIFIERS
            .iter()
            .any(|q| words(before).iter().any(|w| w == q) && !claim_words.contains(*q))
        {
            return true;
        }
    }
    false
}

/// A list item or a field ("Hindu 79.8%", "Head of government: Prime Minister Malcolm
/// TURNBULL (since 15 September 2015)"), not a clause of a sentence: few lowercase words
/// outside parentheses.
fn is_item(seg: &str) -> bool {
    let mut depth = 0;
    let mut outside = String::new();
    for c in seg.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            _ if depth == 0 => outside.push(c),
            _ => {}
        }
    }
    let lower = outside
        .split_whitespace()
        .filter(|w| w.chars().next().is_some_and(char::is_lowercase))
        .filter(|w| !crate::words::is_stopword(&w.to_lowercase()))
        .count();
    seg.split_whitespace().count() <= 12 && lower <= 5
}

/// A claim that joins what an annotated list keeps apart: in "Sao Paulo 21.066 million; …;
/// BRASILIA (capital) 4.155 million" the claim "The capital of Brazil is Sao Paulo" takes
/// "capital" from one item and "Sao Paulo" from another. Items are annotated when they carry a
/// number or a parenthesis; words of the headings (`context`) are left out.
fn spread(claim: &str, context: &str, quote: &str) -> bool {
    let segs = segments(quote);
    let annotated: Vec<usize> = (0..segs.len())
        .filter(|&i| {
            (segs[i].contains('(') || segs[i].chars().any(|c| c.is_ascii_digit()))
                && is_item(segs[i])
        })
        .collect();
    if annotated.is_empty() || segs.len() < 2 {
        return false;
    }
    let ctx: HashSet<String> = content_words(context).into_iter().collect();
    let seg_words: Vec<HashSet<String>> = segs
        .iter()
        .map(|s| content_words(s).into_iter().collect())
        .collect();
    // The segment each claim word comes from, when it comes from exactly one.
    let mut used: HashSet<usize> = HashSet::new();
    for w in content_words(claim) {
        if ctx.contains(&w) {
            continue;
        }
        let holders: Vec<usize> = (0..segs.len())
            .filter(|&i| seg_words[i].contains(&w))
            .collect();
        if holders.len() == 1 {
            used.insert(holders[0]);
        }
    }
    // Joining two items is a reversal when one of them is annotated (a plain list such as
    // "tea, coffee, fish" may be summarised in one claim).
    used.len() > 1
        && used.iter().any(|i| annotated.contains(i))
        && used.iter().all(|&i| is_item(segs[i]))
        && { true }
}

/// A claim word that the quote negates or qualifies wherever it says it ("does not exercise",
/// "not ratified", "fourth-largest", "Deputy Prime Minister") stated plainly by the claim (or
/// the reverse: the claim negates what the quote states plainly).
fn qualified_differently(claim: &str, quote: &str) -> bool {
    const ORDINALS: &[&str] = &[
        "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth",
    ];
    let cw = words(claim);
    let qw = words(quote);
    let marked = |ws: &[String], i: usize, list: &[&str]| {
        ws[i.saturating_sub(3)..i]
            .iter()
            .any(|w| list.contains(&w.as_str()))
    };
    let negated = |ws: &[String], i: usize| {
        ws[i.saturating_sub(3)..i]
            .iter()
            .any(|w| NEGATIONS.contains(&w.as_str()) || w == "nt" || w.ends_with("n't"))
    };
    let qualified = |ws: &[String], i: usize| {
        i > 0
            && (QUALIFIERS.contains(&ws[i - 1].as_str()) || ORDINALS.contains(&ws[i - 1].as_str()))
    };
    for (ci, w) in cw.iter().enumerate() {
        if crate::words::is_stopword(w) || w.len() < 3 {
            continue;
        }
        let occurrences: Vec<usize> = (0..qw.len()).filter(|&j| fold(&qw[j]) == fold(w)).collect();
        if occurrences.is_empty() {
            continue;
        }
        let c_neg = negated(&cw, ci);
        if occurrences.iter().all(|&j| negated(&qw, j) != c_neg) {
            return true;
        }
        let c_qual = qualified(&cw, ci);
        if !c_qual && occurrences.iter().all(|&j| qualified(&qw, j)) {
            return true;
        }
        let _ = marked;
    }
    false
}

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

/// Names in `text`, folded: capitalised words (a sentence's first word too, unless it is a
/// function word such as "The" or "According").
fn names(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut sentence_start = true;
    for tok in text.split_whitespace() {
        let t: String = tok.trim_matches(|c: char| !c.is_alphanumeric()).to_string();
        let t = t.strip_suffix("'s").unwrap_or(&t).to_string();
        let starts_upper = t.chars().next().is_some_and(|c| c.is_uppercase());
        if starts_upper && t.chars().count() > 1 {
            let w = fold(&t.to_lowercase());
            let function_word = crate::words::is_stopword(&w)
                || (sentence_start && SENTENCE_OPENERS.contains(&w.as_str()));
            if !function_word {
                out.push(w);
            }
        }
        sentence_start = tok.ends_with(['.', '!', '?', ':']);
    }
    out
}

/// Capitalised only because they open a sentence.
const SENTENCE_OPENERS: &[&str] = &[
    "about", "after", "almost", "along", "although", "among", "around", "because", "before",
    "both", "during", "each", "every", "however", "in", "more", "most", "nearly", "only", "over",
    "since", "some", "under", "until", "unlike", "whereas",
];

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

    // Numbers: every number in the claim is stated by the source (years and amounts alike),
    // with the same unit where both write one ("$6 billion" is not "6%", "3,776 feet" is not
    // "3,776 m"), and bound to the same thing.
    let source_numbers = numbers(&source);
    if numbers(claim).iter().any(|n| !source_numbers.contains(n)) {
        return Some(Reversal::Number);
    }
    let source_q = quantities(&source);
    for (n, unit) in quantities(claim) {
        let same = source_q
            .iter()
            .any(|(m, u)| *m == n && (unit.is_empty() || u.is_empty() || *u == unit));
        if !same {
            return Some(Reversal::Number);
        }
    }
    if misbound(claim, quote) {
        return Some(Reversal::Number);
    }
    if qualified_differently(claim, quote) {
        return Some(Reversal::Negation);
    }
    if spread(claim, context, quote) {
        return Some(Reversal::Name);
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
        // "It is asserted that …" has no holder: the claim must keep the hedge itself, not
        // put the view in someone's mouth ("McKinley stated that …").
        let same_holder = if holder.is_empty() {
            cw.iter().any(|w| VIEW_VERBS.contains(&w.as_str()))
        } else {
            holder.iter().any(|h| cfold.contains(h))
        };
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
    // Names the source never mentions (another country's fact, a swapped person). A demonym
    // meets its country ("Indians" / "India").
    let known = |n: &String| {
        sfold.contains(n)
            || sfold.iter().any(|w| {
                w.len() >= 4
                    && n.len() > w.len()
                    && n.starts_with(w.as_str())
                    && n.len() - w.len() <= 3
            })
    };
    if names(claim).iter().any(|n| !known(n)) {
        return Some(Reversal::Name);
    }
    // Nearly all of the claim's content must be in the source (a demonym meets its country):
    // a claim that adds what the source does not say ("largest", "main") is not supported.
    // The attribution verb counts too: "Bush said X" must find nearly all of it in the quote
    // and its title (excluding "said" let misbound claims through on the held-out pairs).
    let claim_words = content_words(claim);
    if !claim_words.is_empty() {
        let inside = claim_words.iter().filter(|w| known(w)).count();
        if (inside as f32) / (claim_words.len() as f32) < MIN_CLAIM_COVERAGE {
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
            "One section of our country believes slavery is right and ought to be extended.",
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
    fn numbers_keep_their_units_and_their_places() {
        let fuji = "Japan > Geography > Elevation extremes";
        // Rules accept a claim only when nearly all its words are in the quote or its heading
        // path (a paraphrase is left to the model judge).
        check(
            "The highest point, Mount Fuji, is 3,776 m.",
            fuji,
            "Highest point: Mount Fuji 3,776 m",
            None,
        );
        check(
            "The highest point, Mount Fuji, is 3,776 feet.",
            fuji,
            "Highest point: Mount Fuji 3,776 m",
            Some(Reversal::Number),
        );
        let bond = "Kenya > Economy > Economy - overview";
        let quote = "Kenya issued its first sovereign bond offering in mid-2014, generating $2 billion at 6% interest.";
        check(
            "Kenya's first sovereign bond offering was generating $6 billion at 2% interest.",
            bond,
            quote,
            Some(Reversal::Number),
        );
        check(
            "Kenya's first sovereign bond offering was generating $2 billion at 6% interest.",
            bond,
            quote,
            None,
        );
        let rel = "India > People and Society > Religions";
        let quote = "Hindu 79.8%, Muslim 14.2%, Christian 2.3%, Sikh 1.7%, other and unspecified 2% (2011 est.)";
        check(
            "About 14.2% of Indians are Hindu.",
            rel,
            quote,
            Some(Reversal::Number),
        );
        check("About 14.2% of Indians are Muslim.", rel, quote, None);
        let exec = "Kenya > Government > Executive branch";
        let quote = "Chief of state: President Uhuru KENYATTA (since 9 April 2013); Deputy President William RUTO (since 9 April 2013)";
        check(
            "The president of Kenya is William Ruto.",
            exec,
            quote,
            Some(Reversal::Number),
        );
        check(
            "The president of Kenya is Uhuru Kenyatta.",
            exec,
            quote,
            None,
        );
    }

    #[test]
    fn items_of_an_annotated_list_are_not_joined() {
        let ctx = "Egypt > People and Society > Languages";
        let quote = "Arabic (official), English and French widely understood by educated classes";
        check(
            "English is an official language of Egypt.",
            ctx,
            quote,
            Some(Reversal::Name),
        );
        check(
            "Arabic is the official language of Egypt.",
            ctx,
            quote,
            None,
        );
        let ctx = "Brazil > People and Society > Major urban areas - population";
        let quote = "Sao Paulo 21.066 million; Rio de Janeiro 12.902 million; BRASILIA (capital) 4.155 million";
        check(
            "The capital of Brazil is Sao Paulo.",
            ctx,
            quote,
            Some(Reversal::Name),
        );
    }

    #[test]
    fn numbers_ignore_thousands_separators() {
        let n = numbers("45,925,301 people, 12.5% urban, in 2015.");
        assert!(n.contains("45925301") && n.contains("12.5") && n.contains("2015"));
    }
}
