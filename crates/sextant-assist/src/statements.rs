//! Source statements for report sections: the best statements for a question, verbatim, each
//! with its citation. A report's prose, bullets and BLUF line are made of them, so every
//! sentence is its source's own words (supported by construction), and a section with no
//! statement good enough says so instead of inventing.

use crate::{quote_marking, AskRequest, Assistant, Citation, Result};

/// Least evidence score of a statement from a document about what the question names.
pub const MIN_STATEMENT_SCORE: f32 = 0.3;

/// Fewest words of a statement (a bare "Field:" heading line says nothing).
const MIN_WORDS: usize = 4;

/// One statement with its citation (`n` numbers it within the list, from 1).
#[derive(Debug, Clone)]
pub struct Statement {
    pub text: String,
    pub citation: Citation,
}

/// Whether a document title names one of the question's entities as a whole word ("Kenya
/// security note" is about Kenya; "Kenyan" is not "Kenya").
fn names_entity(title: &str, entities: &[String]) -> bool {
    let words: Vec<String> = title
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect();
    entities.iter().any(|e| {
        let e: Vec<String> = e
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(str::to_lowercase)
            .collect();
        !e.is_empty() && words.windows(e.len()).any(|w| w == e.as_slice())
    })
}

impl Assistant {
    /// At most `n` statements for `req.question`, best first, from what `req.viewer` may see
    /// (in `req.area` when set). When the question names something with a document of its own,
    /// only statements of that document, or of documents whose title names it, count (at least
    /// [`MIN_STATEMENT_SCORE`]); otherwise a
    /// statement needs the evidence an answer needs (`min_evidence`). Near-duplicates (the
    /// same text) are left out.
    pub fn statements(&self, req: &AskRequest, n: usize) -> Result<Vec<Statement>> {
        let g = self.ground_request(req)?;
        let floor = if g.entity_docs.is_empty() {
            self.options.min_evidence
        } else {
            MIN_STATEMENT_SCORE
        };
        let mut out: Vec<Statement> = Vec::new();
        for s in &g.ranked {
            if out.len() >= n || s.score < floor {
                break;
            }
            let hit = &g.hits[s.sentence.hit];
            if !g.entity_docs.is_empty()
                && !g.entity_docs.iter().any(|(_, id, _)| *id == hit.doc_id)
                && !names_entity(&hit.title, &g.question.entities)
            {
                continue;
            }
            let text = s.sentence.text.trim();
            if text.split_whitespace().count() < MIN_WORDS
                || out.iter().any(|o| o.text.eq_ignore_ascii_case(text))
            {
                continue;
            }
            let (start, end) = (hit.start + s.sentence.start, hit.start + s.sentence.end);
            out.push(Statement {
                text: text.to_string(),
                citation: Citation {
                    n: out.len() + 1,
                    marking: quote_marking(hit, start, end)?.banner(),
                    doc_id: hit.doc_id.to_string(),
                    chunk_id: hit.chunk_id.0,
                    title: hit.title.clone(),
                    source: hit.source.clone(),
                    page: hit.page,
                    start,
                    end,
                    quote: text.to_string(),
                },
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::names_entity;

    #[test]
    fn titles_name_entities_as_whole_words() {
        let e = |xs: &[&str]| xs.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(names_entity("Kenya security note", &e(&["Kenya"])));
        assert!(names_entity(
            "Notes on South Sudan, 2026",
            &e(&["South Sudan"])
        ));
        assert!(!names_entity("Kenyan tea", &e(&["Kenya"])));
        assert!(!names_entity("Sudan", &e(&["South Sudan"])));
        assert!(!names_entity("Kenya", &e(&[])));
    }
}
