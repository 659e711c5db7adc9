//! Citation verification: every sentence of a generated answer is checked against the source it
//! cites (or, uncited, against every source); supported sentences keep a citation to the exact
//! supporting span, unsupported ones are dropped, and citation numbers are renumbered so that
//! only existing, verified citations are ever emitted.

use std::collections::{HashMap, HashSet};

use sextant_types::Hit;
use unicode_segmentation::UnicodeSegmentation;

use crate::evidence::{sentences, statement_context, statements, QuestionTerms};
use crate::words::content_words;

/// Minimum share of a claim's content words that the supporting span and its context must
/// contain.
pub const MIN_SUPPORT: f32 = 0.75;

/// A numbered source as shown to the model: `hits[hit]`.
#[derive(Debug, Clone)]
pub struct Source {
    pub hit: usize,
}

/// A verified span: the part of `hits[hit]` that supports one or more answer sentences.
#[derive(Debug, Clone, PartialEq)]
pub struct Support {
    pub hit: usize,
    /// Character offsets inside the chunk's text.
    pub start: usize,
    pub end: usize,
    pub quote: String,
}

#[derive(Debug, Clone, Default)]
pub struct Verified {
    /// The answer with only supported sentences, citing `supports` as [1], [2], … in order.
    pub text: String,
    pub supports: Vec<Support>,
    /// Sentences in the generated text that make a claim.
    pub claims: usize,
    /// Of those, how many were supported.
    pub supported: usize,
    /// Citation markers the model wrote that named no source.
    pub invalid_markers: usize,
}

impl Verified {
    pub fn supported_share(&self) -> f32 {
        if self.claims == 0 {
            0.0
        } else {
            self.supported as f32 / self.claims as f32
        }
    }
}

/// Splits `text` into (claim without markers, cited numbers) per sentence.
pub fn claims(text: &str) -> Vec<(String, Vec<usize>)> {
    let mut out: Vec<(String, Vec<usize>)> = Vec::new();
    for sentence in text.split_sentence_bounds() {
        let (claim, nums) = strip_markers(sentence);
        let claim = claim.split_whitespace().collect::<Vec<_>>().join(" ");
        let claim = claim.replace(" .", ".").replace(" ,", ",");
        if content_words(&claim).is_empty() {
            // "[2]" on its own belongs to the sentence before it.
            if let Some(last) = out.last_mut() {
                last.1.extend(nums);
            }
            continue;
        }
        // A long run-on "sentence" (a model echoing a list of fields) is checked clause by
        // clause, so its true parts survive on their own.
        for (_, _, part) in sentences(&claim) {
            if !content_words(part).is_empty() {
                out.push((part.trim().to_string(), nums.clone()));
            }
        }
    }
    out
}

/// Removes `[n]`, `[n, m]` and `[n][m]` markers; returns the text and the numbers.
fn strip_markers(s: &str) -> (String, Vec<usize>) {
    let mut text = String::with_capacity(s.len());
    let mut nums = Vec::new();
    let mut rest = s;
    while let Some(open) = rest.find('[') {
        let Some(close) = rest[open..].find(']') else {
            break;
        };
        let inner = &rest[open + 1..open + close];
        let parsed: Option<Vec<usize>> = inner
            .split(|c| c == ',' || c == ';')
            .map(|p| p.trim().trim_start_matches("Source").trim().parse().ok())
            .collect();
        text.push_str(&rest[..open]);
        match parsed {
            Some(ns) if !ns.is_empty() => nums.extend(ns),
            _ => text.push_str(&rest[open..open + close + 1]),
        }
        rest = &rest[open + close + 1..];
    }
    text.push_str(rest);
    (text, nums)
}

/// The best span of `hit` for `claim`: its support score and the span. A span supports a claim
/// when it carries the claim's new words (those not in the question) and, with the claim and its
/// headings, covers at least `min_relevance` of the question: true but beside-the-point
/// sentences (a model echoing its sources) are not answers.
pub fn best_span(
    claim: &str,
    terms: &QuestionTerms,
    min_relevance: f32,
    hit: &Hit,
    hit_idx: usize,
) -> (f32, Support) {
    let question_terms = terms.set();
    let claim_words: HashSet<String> = content_words(claim).into_iter().collect();
    let new: HashSet<String> = claim_words
        .iter()
        .filter(|w| !question_terms.contains(*w))
        .cloned()
        .collect();
    let mut best = (
        0.0f32,
        Support {
            hit: hit_idx,
            start: 0,
            end: 0,
            quote: String::new(),
        },
    );
    for st in statements(hit) {
        let (s, e, text) = (st.start, st.end, st.text);
        let ctx: HashSet<String> = content_words(&statement_context(hit, &st))
            .into_iter()
            .collect();
        let own: HashSet<String> = content_words(text).into_iter().collect();
        let bag: HashSet<String> = own.union(&ctx).cloned().collect();
        let score = if new.is_empty() || terms.coverage(&bag) < min_relevance {
            // Says nothing new, or the span is not about what was asked.
            0.0
        } else if !new.iter().any(|w| own.contains(w)) {
            // The span itself must carry part of the claim, not just its headings.
            0.0
        } else if claim_words
            .iter()
            .any(|w| w.chars().any(|c| c.is_ascii_digit()) && !bag.contains(w))
        {
            // A number the source does not state is never approximately right.
            0.0
        } else {
            // Every word of the claim counts, the question's too: "the capital of Vardania is
            // Brenhal" is not supported by "Its capital is Brenhal" in the Ostrel article.
            claim_words.iter().filter(|w| bag.contains(*w)).count() as f32
                / claim_words.len() as f32
        };
        if score > best.0 {
            best = (
                score,
                Support {
                    hit: hit_idx,
                    start: s,
                    end: e,
                    quote: text.to_string(),
                },
            );
        }
    }
    best
}

/// Whether `quote` (with its document's `title`) still supports `claim` on its own: at least
/// [`MIN_SUPPORT`] of the claim's content words, and every number it states. For text a person
/// wrote: their citations are kept only where this holds.
pub fn supports(claim: &str, quote: &str, title: &str) -> bool {
    let words: HashSet<String> = content_words(claim).into_iter().collect();
    if words.is_empty() {
        return false;
    }
    let bag: HashSet<String> = content_words(&format!("{title} {quote}"))
        .into_iter()
        .collect();
    if words
        .iter()
        .any(|w| w.chars().any(|c| c.is_ascii_digit()) && !bag.contains(w))
    {
        return false;
    }
    words.iter().filter(|w| bag.contains(*w)).count() as f32 / words.len() as f32 >= MIN_SUPPORT
}

/// Verifies `generated` against `sources` (numbered from 1).
pub fn verify(
    generated: &str,
    terms: &QuestionTerms,
    min_relevance: f32,
    hits: &[Hit],
    sources: &[Source],
) -> Verified {
    let mut v = Verified::default();
    let mut numbering: HashMap<(usize, usize, usize), usize> = HashMap::new();
    let mut parts = Vec::new();
    for (claim, cited) in claims(generated) {
        v.claims += 1;
        let valid: Vec<usize> = cited
            .iter()
            .copied()
            .filter(|n| (1..=sources.len()).contains(n))
            .collect();
        v.invalid_markers += cited.len() - valid.len();
        // Uncited (or wrongly cited) claims are checked against every source.
        let candidates: Vec<usize> = if valid.is_empty() {
            (0..sources.len()).collect()
        } else {
            valid.iter().map(|n| n - 1).collect()
        };
        let mut backing: Vec<Support> = Vec::new();
        for c in candidates {
            let hit = sources[c].hit;
            let (score, span) = best_span(&claim, terms, min_relevance, &hits[hit], hit);
            if score >= MIN_SUPPORT {
                backing.push(span);
            }
        }
        if backing.is_empty() && !valid.is_empty() {
            // Miscited but true elsewhere: cite where it is actually supported.
            for (c, source) in sources.iter().enumerate() {
                if valid.contains(&(c + 1)) {
                    continue;
                }
                let (score, span) =
                    best_span(&claim, terms, min_relevance, &hits[source.hit], source.hit);
                if score >= MIN_SUPPORT {
                    backing.push(span);
                    break;
                }
            }
        }
        if backing.is_empty() {
            continue;
        }
        v.supported += 1;
        let mut marks = Vec::new();
        for span in backing.into_iter().take(2) {
            let key = (span.hit, span.start, span.end);
            let n = *numbering.entry(key).or_insert_with(|| {
                v.supports.push(span);
                v.supports.len()
            });
            if !marks.contains(&n) {
                marks.push(n);
            }
        }
        let marks: Vec<String> = marks.iter().map(|n| format!("[{n}]")).collect();
        let (body, end) = match claim.chars().last() {
            Some(c @ ('.' | '!' | '?')) => (&claim[..claim.len() - c.len_utf8()], c.to_string()),
            _ => (claim.as_str(), ".".to_string()),
        };
        parts.push(format!("{} {}{}", body.trim_end(), marks.join(""), end));
    }
    v.text = parts.join(" ");
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use sextant_types::{ChunkId, DocId};

    fn hit(title: &str, heading: &[&str], text: &str) -> Hit {
        Hit {
            doc_id: DocId::parse("0123456789abcdef").unwrap(),
            chunk_id: ChunkId(7),
            title: title.into(),
            source: "x.md".into(),
            heading: heading.iter().map(|s| s.to_string()).collect(),
            text: text.into(),
            score: 1.0,
            page: None,
            start: 100,
            end: 100 + text.chars().count(),
            marking: sextant_types::UNCLASSIFIED.into(),
            portions: Default::default(),
            geo: Vec::new(),
            geometry: None,
            distance_km: None,
        }
    }

    fn q(s: &str) -> QuestionTerms {
        QuestionTerms::new(s, |w| vec![1.0; w.len()])
    }

    #[test]
    fn markers_parse_in_every_form() {
        assert_eq!(
            strip_markers("Paris [1]."),
            ("Paris .".to_string(), vec![1])
        );
        assert_eq!(strip_markers("A [1, 2][3] b [x]").1, vec![1, 2, 3]);
        assert_eq!(strip_markers("A [x]").0, "A [x]");
    }

    #[test]
    fn supported_claims_keep_a_verbatim_quote_and_renumber() {
        let hits = vec![
            hit(
                "Mongolia",
                &["Mongolia", "Government", "Capital"],
                "Name: Ulaanbaatar\nTime difference: UTC+8",
            ),
            hit(
                "Mongolia",
                &["Mongolia", "Economy"],
                "Mongolia exports copper and coal.",
            ),
        ];
        let sources = vec![Source { hit: 1 }, Source { hit: 0 }];
        let qt = q("What is the capital of Mongolia?");
        let v = verify(
            "The capital of Mongolia is Ulaanbaatar [2]. It is on the moon [1].",
            &qt,
            0.6,
            &hits,
            &sources,
        );
        assert_eq!(v.claims, 2);
        assert_eq!(v.supported, 1);
        assert_eq!(v.text, "The capital of Mongolia is Ulaanbaatar [1].");
        assert_eq!(v.supports[0].quote, "Name: Ulaanbaatar");
        assert_eq!(
            (v.supports[0].hit, v.supports[0].start, v.supports[0].end),
            (0, 0, 17)
        );
    }

    #[test]
    fn nonexistent_citations_are_never_emitted() {
        let hits = vec![hit("Mongolia", &["Capital"], "Name: Ulaanbaatar")];
        let sources = vec![Source { hit: 0 }];
        let v = verify(
            "Ulaanbaatar [7].",
            &q("capital of Mongolia?"),
            0.6,
            &hits,
            &sources,
        );
        assert_eq!(v.invalid_markers, 1);
        assert_eq!(v.text, "Ulaanbaatar [1].");
        let v = verify(
            "Paris [1].",
            &q("capital of Mongolia?"),
            0.6,
            &hits,
            &sources,
        );
        assert_eq!(v.text, "");
        assert_eq!(v.supported_share(), 0.0);
    }

    #[test]
    fn true_but_irrelevant_sentences_are_not_answers() {
        let hits = vec![hit("Mongolia", &["Mongolia", "People", "Urbanization"], "Urban population: 72% of total population (2015)\nULAANBAATAR (capital) 1.377 million (2015)")];
        let sources = vec![Source { hit: 0 }];
        let v = verify(
            "Urban population: 72% of total population [1].",
            &q("What is the capital of Mongolia?"),
            0.6,
            &hits,
            &sources,
        );
        assert_eq!(v.supported, 0, "{v:?}");
        let v = verify(
            "The capital is Ulaanbaatar [1].",
            &q("What is the capital of Mongolia?"),
            0.6,
            &hits,
            &sources,
        );
        assert_eq!(v.supported, 1, "{v:?}");
        assert_eq!(
            v.supports[0].quote,
            "ULAANBAATAR (capital) 1.377 million (2015)"
        );
    }

    #[test]
    fn numbers_must_match_exactly() {
        let hits = vec![hit(
            "Mongolia",
            &["Mongolia", "People"],
            "ULAANBAATAR (capital) 1.377 million (2015)",
        )];
        let qt = q("What is the capital of Mongolia?");
        let v = verify(
            "The capital of Mongolia is Ulaanbaatar, home to 1.4 million people [1].",
            &qt,
            0.6,
            &hits,
            &[Source { hit: 0 }],
        );
        assert_eq!(v.supported, 0, "{v:?}");
        let v = verify(
            "The capital of Mongolia is Ulaanbaatar, home to 1.377 million people [1].",
            &qt,
            0.6,
            &hits,
            &[Source { hit: 0 }],
        );
        assert_eq!(v.supported, 1, "{v:?}");
    }

    #[test]
    fn a_true_value_of_the_wrong_subject_is_not_support() {
        let hits = vec![
            hit(
                "Ostrel",
                &["Ostrel"],
                "Ostrel is a mountain republic. Its capital is Brenhal.",
            ),
            hit(
                "Vardania",
                &["Vardania"],
                "The capital of Vardania is Kelmport, a harbour city.",
            ),
        ];
        let sources = vec![Source { hit: 0 }, Source { hit: 1 }];
        let qt = q("What is the capital of Vardania?");
        let v = verify(
            "The capital of Vardania is Brenhal [1].",
            &qt,
            0.6,
            &hits,
            &sources,
        );
        assert_eq!(v.supported, 0, "{v:?}");
        let v = verify(
            "The capital of Vardania is Kelmport [1].",
            &qt,
            0.6,
            &hits,
            &sources,
        );
        assert_eq!(v.text, "The capital of Vardania is Kelmport [1].");
        assert_eq!(
            v.supports[0].hit, 1,
            "miscited claims cite where they are supported"
        );
    }

    #[test]
    fn restating_the_question_is_not_an_answer() {
        let hits = vec![hit("Mongolia", &["Capital"], "Mongolia has a capital.")];
        let v = verify(
            "Mongolia has a capital [1].",
            &q("What is the capital of Mongolia?"),
            0.6,
            &hits,
            &[Source { hit: 0 }],
        );
        assert_eq!(v.supported, 0);
    }
}
