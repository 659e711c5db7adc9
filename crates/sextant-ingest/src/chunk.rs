//! Structure-aware chunking: lays a parsed document's blocks out as one extracted text and cuts
//! it into chunks that follow its structure (sections, paragraphs, lists and tables kept whole
//! where they fit), each with the heading path above it and its exact character span.

use sextant_parse::{BlockKind, Parsed};
use unicode_segmentation::UnicodeSegmentation;

/// Chunk size bounds, in characters. MiniLM reads at most 256 word pieces (~1,000 characters of
/// English), so a chunk above that would be embedded only in part.
#[derive(Debug, Clone, Copy)]
pub struct ChunkConfig {
    /// A chunk is closed at the next section boundary once it has this many characters.
    pub min_chars: usize,
    /// Blocks are added to a chunk while it stays under this size.
    pub target_chars: usize,
}

impl Default for ChunkConfig {
    fn default() -> Self {
        ChunkConfig {
            min_chars: 200,
            target_chars: 900,
        }
    }
}

/// A chunk before the store gives it an id.
#[derive(Debug, Clone, PartialEq)]
pub struct DraftChunk {
    pub heading: Vec<String>,
    pub text: String,
    pub page: Option<u32>,
    /// Character offsets into the extracted text.
    pub start: usize,
    pub end: usize,
}

/// The document's extracted text and its chunks.
#[derive(Debug, Clone)]
pub struct Chunked {
    pub text: String,
    pub chunks: Vec<DraftChunk>,
    /// Character span of each input block in `text` (by the block's index in `Parsed::blocks`);
    /// `None` for blocks with no text.
    pub block_spans: Vec<Option<(usize, usize)>>,
}

/// A laid-out block: its span (chars) in the extracted text.
struct Span {
    kind: BlockKind,
    start: usize,
    end: usize,
    page: Option<u32>,
}

pub fn chunk(parsed: &Parsed, cfg: ChunkConfig) -> Chunked {
    // 1. Lay the blocks out, separated by blank lines, remembering char spans.
    let mut text = String::new();
    let mut chars = 0usize;
    let mut spans = Vec::with_capacity(parsed.blocks.len());
    let mut block_spans = vec![None; parsed.blocks.len()];
    for (i, b) in parsed.blocks.iter().enumerate() {
        let t = b.text.trim();
        if t.is_empty() {
            continue;
        }
        if !text.is_empty() {
            text.push_str("\n\n");
            chars += 2;
        }
        let n = t.chars().count();
        text.push_str(t);
        spans.push(Span {
            kind: b.kind,
            start: chars,
            end: chars + n,
            page: b.page,
        });
        block_spans[i] = Some((chars, chars + n));
        chars += n;
    }
    // Char index -> byte index, to slice the text by char offsets.
    let byte_at: Vec<usize> = text
        .char_indices()
        .map(|(i, _)| i)
        .chain(std::iter::once(text.len()))
        .collect();
    let slice = |s: usize, e: usize| &text[byte_at[s]..byte_at[e]];

    // 2. Walk the blocks, keeping the heading stack, and cut.
    struct Open {
        start: usize,
        end: usize,
        heading: Vec<String>,
        /// Level of the innermost heading the chunk started under (0: none).
        level: u8,
        page: Option<u32>,
        /// Whether it holds anything but headings: a heading alone never makes a chunk.
        content: bool,
    }
    let mut out: Vec<DraftChunk> = Vec::new();
    let mut stack: Vec<(u8, String)> = Vec::new();
    let mut cur: Option<Open> = None;
    let path = |stack: &Vec<(u8, String)>| stack.iter().map(|(_, h)| h.clone()).collect::<Vec<_>>();
    // A chunk opened at block `sp`, under the innermost heading of `stack` (the block itself,
    // when it is a heading: it was just pushed).
    let open = |sp: &Span, stack: &Vec<(u8, String)>, content: bool| Open {
        start: sp.start,
        end: sp.end,
        heading: path(stack),
        level: stack.last().map_or(0, |(l, _)| *l),
        page: sp.page,
        content,
    };
    let flush = |cur: &mut Option<Open>, out: &mut Vec<DraftChunk>| {
        if let Some(c) = cur.take() {
            out.push(DraftChunk {
                heading: c.heading,
                text: slice(c.start, c.end).to_string(),
                page: c.page,
                start: c.start,
                end: c.end,
            });
        }
    };
    for sp in &spans {
        let len = sp.end - sp.start;
        match sp.kind {
            BlockKind::Heading(level) => {
                // A section boundary: close the chunk if it is big enough to stand alone, or if the
                // new heading leaves the section the chunk started in.
                if let Some(c) = &cur {
                    if c.content && (c.end - c.start >= cfg.min_chars || level < c.level) {
                        flush(&mut cur, &mut out);
                    }
                }
                while stack.last().is_some_and(|(l, _)| *l >= level) {
                    stack.pop();
                }
                stack.push((level, slice(sp.start, sp.end).to_string()));
                // A heading opens the next chunk (or joins the current, small one) so that its
                // words are searchable together with the content below it.
                match &mut cur {
                    Some(c) => c.end = sp.end,
                    None => cur = Some(open(sp, &stack, false)),
                }
            }
            _ if len > cfg.target_chars => {
                // An oversized block: close what is open, then split it on sentence (or, for tables
                // and code, line) boundaries into pieces that fit.
                // Headings waiting for content open the first piece, so their words stay searchable.
                let mut s = match cur.take() {
                    Some(c) if c.content => {
                        cur = Some(c);
                        flush(&mut cur, &mut out);
                        sp.start
                    }
                    Some(c) => c.start,
                    None => sp.start,
                };
                let block = slice(sp.start, sp.end);
                let pieces: Vec<&str> = match sp.kind {
                    BlockKind::Table | BlockKind::Code => block.split_inclusive('\n').collect(),
                    _ => block.split_sentence_bounds().collect(),
                };
                let heading = path(&stack);
                let mut e = sp.start;
                for p in pieces {
                    let n = p.chars().count();
                    if e > s && e - s + n > cfg.target_chars {
                        push_trimmed(&text, &byte_at, s, e, &heading, sp.page, &mut out);
                        s = e;
                    }
                    e += n;
                }
                push_trimmed(&text, &byte_at, s, e, &heading, sp.page, &mut out);
            }
            _ => {
                if let Some(c) = &cur {
                    if c.content && sp.end - c.start > cfg.target_chars {
                        flush(&mut cur, &mut out);
                    }
                }
                match &mut cur {
                    Some(c) => {
                        c.end = sp.end;
                        c.content = true;
                    }
                    None => cur = Some(open(sp, &stack, true)),
                }
            }
        }
    }
    if cur.as_ref().is_some_and(|c| !c.content) {
        cur = None;
    }
    flush(&mut cur, &mut out);
    Chunked {
        text,
        chunks: out,
        block_spans,
    }
}

/// Pushes `[s, e)` with surrounding whitespace trimmed off the span (offsets stay exact).
fn push_trimmed(
    text: &str,
    byte_at: &[usize],
    mut s: usize,
    mut e: usize,
    heading: &[String],
    page: Option<u32>,
    out: &mut Vec<DraftChunk>,
) {
    let ch = |i: usize| text[byte_at[i]..].chars().next().unwrap_or(' ');
    while s < e && ch(s).is_whitespace() {
        s += 1;
    }
    while e > s && ch(e - 1).is_whitespace() {
        e -= 1;
    }
    if e > s {
        out.push(DraftChunk {
            heading: heading.to_vec(),
            text: text[byte_at[s]..byte_at[e]].to_string(),
            page,
            start: s,
            end: e,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sextant_parse::{Block, Format};

    fn b(kind: BlockKind, text: &str) -> Block {
        Block {
            kind,
            text: text.into(),
            page: None,
        }
    }

    fn check(blocks: Vec<Block>, cfg: ChunkConfig, expected: &[(&[&str], &str)]) {
        let parsed = Parsed {
            format: Format::Markdown,
            title: None,
            blocks,
        };
        let c = chunk(&parsed, cfg);
        let got: Vec<(Vec<String>, String)> = c
            .chunks
            .iter()
            .map(|d| (d.heading.clone(), d.text.clone()))
            .collect();
        let want: Vec<(Vec<String>, String)> = expected
            .iter()
            .map(|(h, t)| (h.iter().map(|s| s.to_string()).collect(), t.to_string()))
            .collect();
        assert_eq!(got, want);
        for d in &c.chunks {
            let span: String = c.text.chars().skip(d.start).take(d.end - d.start).collect();
            assert_eq!(span, d.text, "offsets point at the chunk text");
        }
    }

    const SMALL: ChunkConfig = ChunkConfig {
        min_chars: 10,
        target_chars: 40,
    };

    #[test]
    fn sections_become_chunks() {
        use BlockKind::*;
        check(
            vec![
                b(Heading(1), "Mongolia"),
                b(Heading(2), "Government"),
                b(Paragraph, "The capital is Ulaanbaatar."),
                b(Heading(2), "Geography"),
                b(Paragraph, "Steppe."),
            ],
            SMALL,
            &[
                (
                    &["Mongolia"],
                    "Mongolia\n\nGovernment\n\nThe capital is Ulaanbaatar.",
                ),
                (&["Mongolia", "Geography"], "Geography\n\nSteppe."),
            ],
        );
    }

    #[test]
    fn small_sections_merge_and_paragraphs_pack() {
        use BlockKind::*;
        check(
            vec![
                b(Heading(2), "A"),
                b(Paragraph, "one."),
                b(Heading(2), "B"),
                b(Paragraph, "two."),
                b(Paragraph, "a longer paragraph here."),
                b(Paragraph, "and another paragraph."),
            ],
            SMALL,
            &[
                (&["A"], "A\n\none.\n\nB\n\ntwo."),
                (&["B"], "a longer paragraph here."),
                (&["B"], "and another paragraph."),
            ],
        );
    }

    #[test]
    fn oversized_paragraph_splits_on_sentences() {
        use BlockKind::*;
        check(
            vec![b(
                Paragraph,
                "First sentence is here. Second one is too. Third sentence ends it.",
            )],
            SMALL,
            &[
                (&[], "First sentence is here."),
                (&[], "Second one is too."),
                (&[], "Third sentence ends it."),
            ],
        );
    }

    #[test]
    fn unicode_offsets_are_char_offsets() {
        use BlockKind::*;
        check(
            vec![
                b(Paragraph, "Ulaanbaatar — Улаанбаатар."),
                b(Paragraph, "Ölgii."),
            ],
            ChunkConfig::default(),
            &[(&[], "Ulaanbaatar — Улаанбаатар.\n\nÖlgii.")],
        );
    }

    #[test]
    fn empty_document_has_no_chunks() {
        check(vec![b(BlockKind::Paragraph, "   ")], SMALL, &[]);
    }
}
