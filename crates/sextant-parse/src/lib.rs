//! sextant-parse: turns a document file (text, Markdown, HTML, PDF, DOCX) into
//! a title and a flat list of clean plain-text blocks (headings, paragraphs,
//! list items, tables, code) for chunking and indexing.
//!
//! Entry points are [`parse_file`] (format chosen by file extension) and
//! [`parse_bytes`] (format given by the caller). Every parser returns
//! [`ParseError::NoText`] when a document yields no text at all, so callers can
//! report empty or scanned documents instead of indexing nothing silently.

use std::fmt;
use std::path::{Path, PathBuf};

mod docx;
mod html;
mod markdown;
mod pdf;
mod text;

/// A supported input format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Markdown,
    Html,
    Pdf,
    Docx,
}

impl Format {
    /// Every supported format, in a fixed order.
    pub const ALL: [Format; 5] = [
        Format::Text,
        Format::Markdown,
        Format::Html,
        Format::Pdf,
        Format::Docx,
    ];

    /// The format for a path, by its extension (case-insensitive):
    /// `txt`, `text`, `md`, `markdown`, `html`, `htm`, `pdf`, `docx`.
    pub fn from_path(p: &Path) -> Option<Format> {
        let ext = p.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "txt" | "text" => Some(Format::Text),
            "md" | "markdown" => Some(Format::Markdown),
            "html" | "htm" => Some(Format::Html),
            "pdf" => Some(Format::Pdf),
            "docx" => Some(Format::Docx),
            _ => None,
        }
    }

    /// A short lowercase name: `text`, `markdown`, `html`, `pdf`, `docx`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Format::Text => "text",
            Format::Markdown => "markdown",
            Format::Html => "html",
            Format::Pdf => "pdf",
            Format::Docx => "docx",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What kind of structural element a [`Block`] came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockKind {
    /// A heading with its level, 1 (top) to 6.
    Heading(u8),
    Paragraph,
    /// One list item (nested lists are flattened; each item is its own block).
    ListItem,
    /// A whole table: one row per line, cells joined by `" | "`.
    Table,
    /// A code / preformatted block; line breaks are kept.
    Code,
}

/// One unit of text. `text` is never empty; whitespace is collapsed to single
/// spaces except in `Table` and `Code` blocks, which keep one line per row/line.
#[derive(Debug, Clone, PartialEq)]
pub struct Block {
    pub kind: BlockKind,
    pub text: String,
    /// 1-based page number; only set for PDF.
    pub page: Option<u32>,
}

/// The result of parsing one document.
#[derive(Debug, Clone)]
pub struct Parsed {
    pub format: Format,
    /// The document's own title, if it has one (HTML `<title>`, DOCX core
    /// properties, PDF Info dictionary) or else its first top-level heading.
    /// `None` for plain text: callers fall back to the file name.
    pub title: Option<String>,
    pub blocks: Vec<Block>,
}

/// Why a document could not be parsed.
#[derive(thiserror::Error, Debug)]
pub enum ParseError {
    /// The file type is not one this crate reads.
    #[error("unsupported document type for {}: {reason}", path.display())]
    Unsupported { path: PathBuf, reason: String },
    /// The document is readable but contains no extractable text.
    #[error("no text in {format} document: {reason}")]
    NoText { format: Format, reason: String },
    /// The bytes are not a valid document of the given format.
    #[error("malformed {format} document: {reason}")]
    Malformed { format: Format, reason: String },
    /// Reading the file failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

pub type Result<T> = std::result::Result<T, ParseError>;

/// Parse a document held in memory, in the given format.
pub fn parse_bytes(format: Format, bytes: &[u8]) -> Result<Parsed> {
    let parsed = match format {
        Format::Text => text::parse(bytes)?,
        Format::Markdown => markdown::parse(bytes)?,
        Format::Html => html::parse(bytes)?,
        Format::Pdf => pdf::parse(bytes)?,
        Format::Docx => docx::parse(bytes)?,
    };
    if parsed.blocks.is_empty() {
        // The PDF parser reports its own, more specific NoText.
        return Err(ParseError::NoText {
            format,
            reason: if bytes.iter().all(u8::is_ascii_whitespace) {
                "the file is empty".to_string()
            } else {
                "the document contains no text content".to_string()
            },
        });
    }
    tracing::debug!(
        format = format.as_str(),
        blocks = parsed.blocks.len(),
        "parsed document"
    );
    Ok(parsed)
}

/// Parse a file, choosing the format by its extension (see [`Format::from_path`]).
pub fn parse_file(path: &Path) -> Result<Parsed> {
    let format = Format::from_path(path).ok_or_else(|| ParseError::Unsupported {
        path: path.to_path_buf(),
        reason: match path.extension() {
            Some(ext) => format!(
                "extension \".{}\" is not one of txt, text, md, markdown, html, htm, pdf, docx",
                ext.to_string_lossy()
            ),
            None => "the file has no extension (expected txt, text, md, markdown, html, htm, pdf or docx)"
                .to_string(),
        },
    })?;
    let bytes = std::fs::read(path)
        .map_err(|e| std::io::Error::new(e.kind(), format!("reading {}: {e}", path.display())))?;
    parse_bytes(format, &bytes)
}

// ---------------------------------------------------------------------------
// Helpers shared by the format parsers.

/// Collapse every run of whitespace (including non-breaking spaces and line
/// breaks) to one space and trim both ends.
pub(crate) fn collapse_ws(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for word in s.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// Tidy multi-line text for `Code` blocks: keep line structure, drop trailing
/// spaces on each line and leading/trailing blank lines.
pub(crate) fn tidy_lines(s: &str) -> String {
    let lines: Vec<&str> = s.lines().map(str::trim_end).collect();
    let start = lines.iter().position(|l| !l.is_empty());
    let end = lines.iter().rposition(|l| !l.is_empty());
    match (start, end) {
        (Some(a), Some(b)) => lines[a..=b].join("\n"),
        _ => String::new(),
    }
}

/// Render table rows as one line per row, cells joined by `" | "`; cells are
/// whitespace-collapsed and rows whose cells are all empty are dropped.
pub(crate) fn render_table(rows: &[Vec<String>]) -> String {
    let mut out = Vec::new();
    for row in rows {
        let cells: Vec<String> = row.iter().map(|c| collapse_ws(c)).collect();
        if cells.iter().all(String::is_empty) {
            continue;
        }
        out.push(cells.join(" | "));
    }
    out.join("\n")
}

/// Push a block, normalising its text for its kind; empty blocks are dropped.
pub(crate) fn push_block(blocks: &mut Vec<Block>, kind: BlockKind, text: &str, page: Option<u32>) {
    let text = match kind {
        BlockKind::Code => tidy_lines(text),
        BlockKind::Table => {
            // Already rendered; just make sure there are no blank lines.
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect::<Vec<_>>()
                .join("\n")
        }
        _ => collapse_ws(text),
    };
    if !text.is_empty() {
        blocks.push(Block { kind, text, page });
    }
}

/// Decode bytes of a text-like format: strips a UTF-8 BOM, decodes UTF-16
/// with a BOM, otherwise UTF-8 (invalid sequences become U+FFFD).
/// Text with NUL bytes and no UTF-16 BOM is rejected as binary.
pub(crate) fn decode_text(format: Format, bytes: &[u8]) -> Result<String> {
    if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
        return Ok(String::from_utf8_lossy(rest).into_owned());
    }
    let utf16 = |rest: &[u8], be: bool| {
        let units: Vec<u16> = rest
            .chunks(2)
            .map(|c| {
                let pair = [c[0], *c.get(1).unwrap_or(&0)];
                if be {
                    u16::from_be_bytes(pair)
                } else {
                    u16::from_le_bytes(pair)
                }
            })
            .collect();
        String::from_utf16_lossy(&units)
    };
    if let Some(rest) = bytes.strip_prefix(b"\xFF\xFE") {
        return Ok(utf16(rest, false));
    }
    if let Some(rest) = bytes.strip_prefix(b"\xFE\xFF") {
        return Ok(utf16(rest, true));
    }
    if bytes.contains(&0) {
        return Err(ParseError::Malformed {
            format,
            reason: "the file contains NUL bytes; it looks binary, not text".to_string(),
        });
    }
    Ok(String::from_utf8_lossy(bytes).into_owned())
}

/// The text of the first level-1 heading, if any.
pub(crate) fn first_h1(blocks: &[Block]) -> Option<String> {
    blocks
        .iter()
        .find(|b| b.kind == BlockKind::Heading(1))
        .map(|b| b.text.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_from_path() {
        let cases = [
            ("a.txt", Some(Format::Text)),
            ("a.TEXT", Some(Format::Text)),
            ("a.md", Some(Format::Markdown)),
            ("a.Markdown", Some(Format::Markdown)),
            ("a.html", Some(Format::Html)),
            ("a.HTM", Some(Format::Html)),
            ("dir.d/a.pdf", Some(Format::Pdf)),
            ("a.DocX", Some(Format::Docx)),
            ("a.doc", None),
            ("a", None),
            ("a.tar.gz", None),
        ];
        for (p, want) in cases {
            assert_eq!(Format::from_path(Path::new(p)), want, "{p}");
        }
        for f in Format::ALL {
            assert!(!f.as_str().is_empty());
        }
    }

    #[test]
    fn helpers() {
        assert_eq!(collapse_ws("  a \n\t b\u{a0}c  "), "a b c");
        assert_eq!(tidy_lines("\n\n  x  \n  y\n\n"), "  x\n  y");
        assert_eq!(
            render_table(&[
                vec!["a".into(), " b\nc ".into()],
                vec!["".into(), " ".into()],
                vec!["1".into(), "2".into()],
            ]),
            "a | b c\n1 | 2"
        );
        let mut v = Vec::new();
        push_block(&mut v, BlockKind::Paragraph, " \n ", None);
        push_block(&mut v, BlockKind::Code, "\n\n", None);
        assert!(v.is_empty());
    }

    #[test]
    fn decoding() {
        assert_eq!(decode_text(Format::Text, b"\xEF\xBB\xBFhi").unwrap(), "hi");
        assert_eq!(decode_text(Format::Text, b"\xFF\xFEh\0i\0").unwrap(), "hi");
        assert_eq!(decode_text(Format::Text, b"\xFE\xFF\0h\0i").unwrap(), "hi");
        assert!(matches!(
            decode_text(Format::Text, b"PK\x03\x04\0\0"),
            Err(ParseError::Malformed { .. })
        ));
    }

    #[test]
    fn empty_documents_are_no_text() {
        for f in [Format::Text, Format::Markdown, Format::Html] {
            let err = parse_bytes(f, b"  \n").unwrap_err();
            assert!(matches!(err, ParseError::NoText { .. }), "{f}: {err}");
            assert!(err.to_string().contains("empty"), "{err}");
        }
        let err = parse_bytes(
            Format::Html,
            b"<html><body><script>x()</script></body></html>",
        )
        .unwrap_err();
        assert!(matches!(err, ParseError::NoText { .. }), "{err}");
    }
}
