//! Classification markings of an ingested document: banner lines and portion marks found in its
//! text, else the operator's explicit marking, else the configured default; and the roll-up that
//! each chunk carries.
//!
//! Rules (docs/SECURITY.md repeats them for operators):
//! - A line that is a banner (`SECRET//NOFORN`) is removed from the text; the document's banner
//!   is the roll-up of every banner line found (top and bottom banners, page banners of a PDF).
//! - A block (paragraph, heading, list item, table) that starts with a portion mark (`(S//NF)`)
//!   has that marking; the mark stays in the text so that quotes show it.
//! - A block without a portion mark inherits the banner when there is one; otherwise, when other
//!   blocks are portion-marked, the roll-up of those marks and the explicit/default marking (an
//!   unmarked portion in a marked document is treated as its most restrictive part); otherwise
//!   the explicit marking, else the default.
//! - The title's marking is its own portion mark, else that of the heading it was taken from,
//!   else the unmarked-block rule. A document with no title of its own shows its file name,
//!   which is treated as UNCLASSIFIED (file names on the system must be unclassified).
//! - A marking that does not parse fails the document with a message naming the block and the
//!   token, unless the operator gave a marking explicitly: then every block takes that marking.
//! - The document's marking is the roll-up of its banner, title and every block.

use crate::chunk::{Chunked, DraftChunk};
use sextant_access::{banner_line, portion_mark, Marking};
use sextant_parse::{BlockKind, Parsed};
use sextant_types::{Portion, Portions};

/// Where markings come from when the document itself does not carry them.
#[derive(Debug, Clone)]
pub struct MarkingPolicy {
    /// Given with the document (`--marking`, the upload's `marking` field).
    pub explicit: Option<Marking>,
    /// The configured default for unmarked documents.
    pub default: Marking,
}

impl Default for MarkingPolicy {
    fn default() -> Self {
        MarkingPolicy {
            explicit: None,
            default: Marking::unclassified(),
        }
    }
}

/// The markings of one document.
#[derive(Debug, Clone)]
pub struct DocMarks {
    /// One per block of the (banner-stripped) parsed document.
    pub blocks: Vec<Marking>,
    pub title: Marking,
    pub document: Marking,
}

/// Strips banner lines out of `parsed` and decides the marking of every block, the title and
/// the document. `Err` carries a message for the operator.
pub fn mark(parsed: &mut Parsed, policy: &MarkingPolicy) -> Result<DocMarks, String> {
    match read_marks(parsed) {
        Ok((banner, portions)) => Ok(decide(parsed, banner, portions, policy)),
        Err(e) => match &policy.explicit {
            Some(m) => {
                tracing::info!(error = %e, marking = %m, "unparseable marks overridden by the explicit marking");
                Ok(DocMarks {
                    blocks: vec![m.clone(); parsed.blocks.len()],
                    title: m.clone(),
                    document: m.clone(),
                })
            }
            None => Err(format!(
                "{e}; fix the marking or give one explicitly (--marking, or \"marking\" in the upload)"
            )),
        },
    }
}

type Marks = (Option<Marking>, Vec<Option<Marking>>);

/// Banner lines (removed) and portion marks (kept) as written in the document.
fn read_marks(parsed: &mut Parsed) -> Result<Marks, String> {
    let mut banners = Vec::new();
    for (i, b) in parsed.blocks.iter_mut().enumerate() {
        if !b.text.contains(['/', 'U', 'C', 'S', 'T']) {
            continue;
        }
        let mut kept = Vec::new();
        let mut changed = false;
        for line in b.text.split('\n') {
            match banner_line(line) {
                Some(Ok(m)) => {
                    banners.push(m);
                    changed = true;
                }
                Some(Err(e)) => {
                    return Err(format!(
                        "banner line {:?} (block {}): {e}",
                        line.trim(),
                        i + 1
                    ))
                }
                None => kept.push(line),
            }
        }
        if changed {
            b.text = kept.join("\n").trim().to_string();
        }
    }
    parsed.blocks.retain(|b| !b.text.trim().is_empty());
    let banner = (!banners.is_empty()).then(|| Marking::rollup(&banners));
    let mut portions = Vec::with_capacity(parsed.blocks.len());
    for (i, b) in parsed.blocks.iter().enumerate() {
        match portion_mark(b.text.trim_start()) {
            Some(Ok((m, _))) => portions.push(Some(m)),
            Some(Err(e)) => {
                let head: String = b.text.chars().take(40).collect();
                return Err(format!("portion mark of block {} ({head:?}…): {e}", i + 1));
            }
            None => portions.push(None),
        }
    }
    Ok((banner, portions))
}

fn decide(
    parsed: &Parsed,
    banner: Option<Marking>,
    portions: Vec<Option<Marking>>,
    policy: &MarkingPolicy,
) -> DocMarks {
    let given = policy
        .explicit
        .clone()
        .unwrap_or_else(|| policy.default.clone());
    let marked: Vec<&Marking> = portions.iter().flatten().collect();
    let unmarked = match &banner {
        Some(b) => b.clone(),
        None if !marked.is_empty() => Marking::rollup(marked.iter().copied()).join(&given),
        None => given,
    };
    let blocks: Vec<Marking> = portions
        .into_iter()
        .map(|p| p.unwrap_or_else(|| unmarked.clone()))
        .collect();
    let title = match &parsed.title {
        Some(t) => match portion_mark(t.trim_start()) {
            Some(Ok((m, _))) => m,
            _ => parsed
                .blocks
                .iter()
                .position(|b| matches!(b.kind, BlockKind::Heading(_)) && b.text.trim() == t.trim())
                .map(|i| blocks[i].clone())
                .unwrap_or_else(|| unmarked.clone()),
        },
        // The title shown is then the file name: names on the system are unclassified.
        None => Marking::unclassified(),
    };
    let mut document = Marking::rollup(&blocks).join(&title);
    if let Some(b) = &banner {
        document = document.join(b);
    }
    DocMarks {
        blocks,
        title,
        document,
    }
}

/// The marking of a chunk (what a reader must hold to see any of it) and its portions.
pub fn chunk_marks(
    parsed: &Parsed,
    marks: &DocMarks,
    chunked: &Chunked,
    chunk: &DraftChunk,
) -> (Marking, Portions) {
    // The heading path shown with the chunk: the headings open at its first block.
    let mut stack: Vec<(u8, usize)> = Vec::new();
    let mut spans = Vec::new();
    let mut inside = Vec::new();
    for (i, b) in parsed.blocks.iter().enumerate() {
        let Some((s, e)) = chunked.block_spans[i] else {
            continue;
        };
        if e <= chunk.start {
            if let BlockKind::Heading(level) = b.kind {
                while stack.last().is_some_and(|(l, _)| *l >= level) {
                    stack.pop();
                }
                stack.push((level, i));
            }
            continue;
        }
        if s >= chunk.end {
            break;
        }
        spans.push(Portion {
            start: s.max(chunk.start),
            end: e.min(chunk.end),
            marking: marks.blocks[i].banner(),
        });
        inside.push(i);
    }
    let context = stack.iter().fold(marks.title.clone(), |acc, (_, i)| {
        acc.join(&marks.blocks[*i])
    });
    let all = inside
        .iter()
        .fold(context.clone(), |acc, i| acc.join(&marks.blocks[*i]));
    (
        all,
        Portions {
            context: context.banner(),
            spans,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chunk::{chunk, ChunkConfig};
    use sextant_parse::Format;

    fn parsed(text: &str) -> Parsed {
        sextant_parse::parse_bytes(Format::Text, text.as_bytes()).unwrap()
    }

    fn policy(explicit: Option<&str>) -> MarkingPolicy {
        MarkingPolicy {
            explicit: explicit.map(|m| Marking::parse(m).unwrap()),
            default: Marking::unclassified(),
        }
    }

    /// Marks `text`, chunks it one block per chunk, and returns the document marking and, per
    /// chunk, (marking, portion markings).
    fn check(text: &str, explicit: Option<&str>, document: &str, chunks: &[(&str, &[&str])]) {
        let mut p = parsed(text);
        let marks = mark(&mut p, &policy(explicit)).unwrap();
        assert_eq!(
            marks.document.banner(),
            document,
            "document marking of {text:?}"
        );
        let c = chunk(
            &p,
            ChunkConfig {
                min_chars: 1,
                target_chars: 1,
            },
        );
        let got: Vec<(String, Vec<String>)> = c
            .chunks
            .iter()
            .map(|d| {
                let (m, portions) = chunk_marks(&p, &marks, &c, d);
                (
                    m.banner(),
                    portions.spans.into_iter().map(|s| s.marking).collect(),
                )
            })
            .collect();
        let want: Vec<(String, Vec<String>)> = chunks
            .iter()
            .map(|(m, ps)| (m.to_string(), ps.iter().map(|s| s.to_string()).collect()))
            .collect();
        assert_eq!(got, want, "chunks of {text:?}");
        assert!(
            !c.text.contains("SECRET//NOFORN\n"),
            "banner lines are stripped"
        );
    }

    #[test]
    fn banners_portions_and_defaults() {
        check(
            "SECRET//NOFORN\n\n(U) The port is open.\n\n(S//NF) The fleet sails at dawn.\n\nSECRET//NOFORN",
            None,
            "SECRET//NOFORN",
            &[
                ("UNCLASSIFIED", &["UNCLASSIFIED"]),
                ("SECRET//NOFORN", &["SECRET//NOFORN"]),
            ],
        );
        // Unmarked portion under a banner inherits the banner.
        check(
            "SECRET\n\n(U) Open.\n\nNo mark here.",
            None,
            "SECRET",
            &[("UNCLASSIFIED", &["UNCLASSIFIED"]), ("SECRET", &["SECRET"])],
        );
        // No marks at all: the explicit marking, else the default.
        check(
            "Plain text.",
            None,
            "UNCLASSIFIED",
            &[("UNCLASSIFIED", &["UNCLASSIFIED"])],
        );
        check(
            "Plain text.",
            Some("CONFIDENTIAL"),
            "CONFIDENTIAL",
            &[("CONFIDENTIAL", &["CONFIDENTIAL"])],
        );
        // The document's own marks win over the explicit marking.
        check(
            "(U) Open.",
            Some("SECRET"),
            "UNCLASSIFIED",
            &[("UNCLASSIFIED", &["UNCLASSIFIED"])],
        );
        // Unmarked portion beside marked ones, no banner: the most restrictive part.
        check(
            "(U) Open.\n\n(S) Closed.\n\nWho knows.",
            None,
            "SECRET",
            &[
                ("UNCLASSIFIED", &["UNCLASSIFIED"]),
                ("SECRET", &["SECRET"]),
                ("SECRET", &["SECRET"]),
            ],
        );
        // Parenthesised words that are not marks are text.
        check(
            "(See annex) Open.",
            None,
            "UNCLASSIFIED",
            &[("UNCLASSIFIED", &["UNCLASSIFIED"])],
        );
    }

    #[test]
    fn two_portions_in_one_chunk_roll_up() {
        let mut p = parsed("(U) Alpha.\n\n(S//REL TO USA, GBR) Bravo.\n\n(C) Charlie.");
        let marks = mark(&mut p, &policy(None)).unwrap();
        let c = chunk(&p, ChunkConfig::default());
        assert_eq!(c.chunks.len(), 1);
        let (m, portions) = chunk_marks(&p, &marks, &c, &c.chunks[0]);
        // REL TO GBR meets a CONFIDENTIAL portion with no release decision: US only.
        assert_eq!(m.banner(), "SECRET//NOFORN");
        assert_eq!(portions.spans.len(), 3);
        let span = &portions.spans[1];
        let text: String = c
            .text
            .chars()
            .skip(span.start)
            .take(span.end - span.start)
            .collect();
        assert_eq!(text, "(S//REL TO USA, GBR) Bravo.");
        assert_eq!(span.marking, "SECRET//REL TO USA, GBR");
    }

    #[test]
    fn malformed_marks_fail_unless_explicit() {
        let mut p = parsed("(S//NOFRN) Bad mark.");
        let err = mark(&mut p, &policy(None)).unwrap_err();
        assert!(err.contains("NOFRN") && err.contains("block 1"), "{err}");
        let mut p = parsed("(S//NOFRN) Bad mark.");
        let m = mark(&mut p, &policy(Some("TOP SECRET"))).unwrap();
        assert_eq!(m.document.banner(), "TOP SECRET");
        let mut p = parsed("SECRET//NOFRN\n\nText.");
        let err = mark(&mut p, &policy(None)).unwrap_err();
        assert!(err.contains("banner line"), "{err}");
    }

    #[test]
    fn headings_mark_the_chunks_below_them() {
        let text = "# (S) Operations\n\n(U) The weather was fine.";
        let mut p = sextant_parse::parse_bytes(Format::Markdown, text.as_bytes()).unwrap();
        let marks = mark(&mut p, &policy(None)).unwrap();
        assert_eq!(marks.title.banner(), "SECRET");
        let c = chunk(&p, ChunkConfig::default());
        let (m, portions) = chunk_marks(&p, &marks, &c, &c.chunks[0]);
        assert_eq!(
            m.banner(),
            "SECRET",
            "the title and heading are shown with it"
        );
        assert_eq!(portions.context, "SECRET");
    }
}
