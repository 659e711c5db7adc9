//! PDF parser: reads the text layer page by page with pdf-extract and splits
//! it into paragraphs, detecting headings by font size.
//!
//! pdf-extract can panic on unusual files; every call into it runs under
//! `catch_unwind` and a panic becomes [`ParseError::Malformed`] (the default
//! panic hook still prints the message to stderr). A document whose pages have
//! no text at all (a scanned image) is [`ParseError::NoText`]: OCR is not done.

use std::panic::{catch_unwind, AssertUnwindSafe};

use pdf_extract::{Document, MediaBox, OutputDev, OutputError, Transform};

use crate::{push_block, Block, BlockKind, Format, ParseError, Parsed, Result};

/// A line of text as laid out on the page.
#[derive(Debug, Clone)]
struct Line {
    text: String,
    /// Largest font size (in page units) used on the line.
    size: f64,
    /// Whether a vertical gap (paragraph break) precedes the line.
    gap_before: bool,
}

/// Collects characters into lines, using the same spacing rules as
/// pdf-extract's `PlainTextOutput`, but remembering font sizes.
#[derive(Default)]
struct LineCollector {
    page_height: f64,
    lines: Vec<Line>,
    cur: Option<Line>,
    first_char: bool,
    last_end: f64,
    last_y: f64,
    /// A paragraph break seen on a line that held only whitespace.
    pending_gap: bool,
}

impl LineCollector {
    fn finish_line(&mut self) {
        if let Some(line) = self.cur.take() {
            if !line.text.trim().is_empty() {
                self.lines.push(line);
            } else if line.gap_before {
                // Keep the paragraph break of a line that turned out empty.
                self.pending_gap = true;
            }
        }
    }
}

impl OutputDev for LineCollector {
    fn begin_page(
        &mut self,
        _page_num: u32,
        media_box: &MediaBox,
        _art_box: Option<(f64, f64, f64, f64)>,
    ) -> std::result::Result<(), OutputError> {
        self.page_height = media_box.ury - media_box.lly;
        self.last_end = 100000.0;
        self.last_y = 0.0;
        Ok(())
    }

    fn end_page(&mut self) -> std::result::Result<(), OutputError> {
        self.finish_line();
        Ok(())
    }

    fn output_character(
        &mut self,
        trm: &Transform,
        width: f64,
        _spacing: f64,
        font_size: f64,
        ch: &str,
    ) -> std::result::Result<(), OutputError> {
        // Position with the y axis flipped to run down the page.
        let x = trm.m31;
        let y = self.page_height - trm.m32;
        // Side of the square with the area of the transformed font box.
        let vx = font_size * trm.m11 + font_size * trm.m21;
        let vy = font_size * trm.m12 + font_size * trm.m22;
        let size = (vx * vy).abs().sqrt();

        let mut new_line = self.cur.is_none();
        let mut gap = false;
        let mut space = false;
        if self.first_char {
            let dy = (y - self.last_y).abs();
            if dy > size * 1.5 {
                new_line = true;
                gap = true;
            }
            if x < self.last_end && dy > size * 0.5 {
                new_line = true;
            }
            if x > self.last_end + size * 0.1 {
                space = true;
            }
        }
        if new_line {
            self.finish_line();
            self.cur = Some(Line {
                text: String::new(),
                size: 0.0,
                gap_before: gap || std::mem::take(&mut self.pending_gap),
            });
        }
        let line = self.cur.get_or_insert_with(|| Line {
            text: String::new(),
            size: 0.0,
            gap_before: false,
        });
        if space && !new_line {
            line.text.push(' ');
        }
        line.text.push_str(ch);
        if !ch.trim().is_empty() && size > line.size {
            line.size = size;
        }
        self.first_char = false;
        self.last_y = y;
        self.last_end = x + width * size;
        Ok(())
    }

    fn begin_word(&mut self) -> std::result::Result<(), OutputError> {
        self.first_char = true;
        Ok(())
    }

    fn end_word(&mut self) -> std::result::Result<(), OutputError> {
        Ok(())
    }

    fn end_line(&mut self) -> std::result::Result<(), OutputError> {
        Ok(())
    }
}

fn malformed(reason: impl Into<String>) -> ParseError {
    ParseError::Malformed {
        format: Format::Pdf,
        reason: reason.into(),
    }
}

fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".to_string()
    }
}

/// Run `f`, turning a panic inside pdf-extract / lopdf into `Malformed`.
fn guarded<T>(what: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(p) => Err(malformed(format!(
            "the PDF reader failed while {what}: {}",
            panic_message(p.as_ref())
        ))),
    }
}

pub(crate) fn parse(bytes: &[u8]) -> Result<Parsed> {
    if !bytes.starts_with(b"%PDF")
        && !bytes
            .get(..1024)
            .unwrap_or(bytes)
            .windows(5)
            .any(|w| w == b"%PDF-")
    {
        return Err(malformed("the file does not start with a %PDF header"));
    }
    let doc = guarded("loading the document", || {
        let mut doc = Document::load_mem(bytes)
            .map_err(|e| malformed(format!("cannot read the PDF structure: {e}")))?;
        if doc.is_encrypted() && doc.decrypt("").is_err() {
            return Err(malformed(
                "the PDF is encrypted and needs a password; decrypt it first",
            ));
        }
        Ok(doc)
    })?;

    let title = guarded("reading metadata", || Ok(info_title(&doc))).unwrap_or(None);

    let pages = doc.get_pages();
    if pages.is_empty() {
        return Err(malformed("the PDF has no pages"));
    }
    let mut page_lines: Vec<(u32, Vec<Line>)> = Vec::with_capacity(pages.len());
    let mut failed = Vec::new();
    for &num in pages.keys() {
        let res = guarded(&format!("reading page {num}"), || {
            let mut out = LineCollector::default();
            pdf_extract::output_doc_page(&doc, &mut out, num)
                .map_err(|e| malformed(format!("page {num}: {e}")))?;
            out.finish_line();
            Ok(out.lines)
        });
        match res {
            Ok(lines) => page_lines.push((num, lines)),
            Err(e) => {
                tracing::warn!(page = num, error = %e, "skipping unreadable PDF page");
                failed.push(e);
            }
        }
    }
    if page_lines.is_empty() {
        // Every page failed: report the first reason.
        return Err(failed
            .into_iter()
            .next()
            .unwrap_or_else(|| malformed("no page could be read")));
    }

    let blocks = to_blocks(&page_lines);
    if blocks.is_empty() {
        return Err(ParseError::NoText {
            format: Format::Pdf,
            reason: "PDF has no extractable text layer (scanned image?); OCR is not supported"
                .to_string(),
        });
    }
    let title = title.or_else(|| {
        blocks
            .iter()
            .find(|b| b.kind == BlockKind::Heading(1))
            .map(|b| b.text.clone())
    });
    Ok(Parsed {
        format: Format::Pdf,
        title,
        blocks,
    })
}

/// The `/Title` of the document information dictionary, if non-empty.
fn info_title(doc: &Document) -> Option<String> {
    let info = doc.trailer.get(b"Info").ok()?;
    let (_, info) = doc.dereference(info).ok()?;
    let title = info.as_dict().ok()?.get(b"Title").ok()?;
    let (_, title) = doc.dereference(title).ok()?;
    let t = crate::collapse_ws(&pdf_extract::decode_text_string(title).ok()?);
    (!t.is_empty()).then_some(t)
}

/// Round a font size to half points so that tiny differences don't matter.
fn size_key(size: f64) -> i64 {
    (size * 2.0).round() as i64
}

/// Group lines into paragraphs (split on vertical gaps and on font-size
/// changes) and classify paragraphs set in a larger font than the body text
/// as headings, the largest size being level 1.
fn to_blocks(pages: &[(u32, Vec<Line>)]) -> Vec<Block> {
    // Body size: the font size carrying the most characters.
    let mut by_size: std::collections::BTreeMap<i64, usize> = Default::default();
    for (_, lines) in pages {
        for l in lines {
            *by_size.entry(size_key(l.size)).or_default() += l.text.chars().count();
        }
    }
    let body = by_size
        .iter()
        .max_by_key(|(k, n)| (**n, -**k))
        .map(|(k, _)| *k)
        .unwrap_or(0);

    let is_big = |size: f64| size_key(size) as f64 >= body as f64 * 1.15 && size_key(size) > body;

    // Paragraphs: (page, text, size key if heading-sized, is a bullet item).
    let mut paras: Vec<(u32, String, Option<i64>, bool)> = Vec::new();
    for (page, lines) in pages {
        let mut cur = String::new();
        let mut cur_big: Option<i64> = None;
        let mut cur_bullet = false;
        for l in lines {
            let big = is_big(l.size).then(|| size_key(l.size));
            let (bullet, text) = strip_bullet(l.text.trim());
            let split = l.gap_before || bullet || (!cur.is_empty() && cur_big != big);
            if split && !cur.is_empty() {
                paras.push((*page, std::mem::take(&mut cur), cur_big, cur_bullet));
            }
            if cur.is_empty() {
                cur_big = big;
                cur_bullet = bullet;
            }
            join_line(&mut cur, text);
        }
        if !cur.is_empty() {
            paras.push((*page, cur, cur_big, cur_bullet));
        }
    }

    // Heading levels: distinct heading sizes, largest first.
    let mut sizes: Vec<i64> = paras.iter().filter(|p| !p.3).filter_map(|p| p.2).collect();
    sizes.sort_unstable_by(|a, b| b.cmp(a));
    sizes.dedup();

    let mut blocks = Vec::new();
    for (page, text, big, bullet) in paras {
        let kind = match big {
            _ if bullet => BlockKind::ListItem,
            // Long runs of large text are more likely a styled paragraph.
            Some(k) if text.chars().count() <= 200 => {
                let rank = sizes.iter().position(|s| *s == k).unwrap_or(0);
                BlockKind::Heading((rank + 1).min(6) as u8)
            }
            _ => BlockKind::Paragraph,
        };
        push_block(&mut blocks, kind, &text, Some(page));
    }
    blocks
}

/// Split a leading bullet character ("• item") off a line.
fn strip_bullet(line: &str) -> (bool, &str) {
    let mut chars = line.chars();
    match chars.next() {
        Some(
            '•' | '◦' | '▪' | '▫' | '‣' | '⁃' | '●' | '○' | '■' | '□' | '\u{f0b7}' | '\u{f0a7}',
        ) => {
            let rest = chars.as_str();
            if rest.starts_with(char::is_whitespace) {
                return (true, rest.trim_start());
            }
            (false, line)
        }
        _ => (false, line),
    }
}

/// Append a line to a paragraph: words across a line break get a space,
/// except after a hyphen at the end of the line ("Romano-" + "Germanic").
fn join_line(buf: &mut String, line: &str) {
    if line.is_empty() {
        return;
    }
    let hyphenated = buf.ends_with('-')
        && buf[..buf.len() - 1]
            .chars()
            .last()
            .is_some_and(char::is_alphabetic);
    if !buf.is_empty() && !hyphenated {
        buf.push(' ');
    }
    buf.push_str(line);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(text: &str, size: f64, gap: bool) -> Line {
        Line {
            text: text.into(),
            size,
            gap_before: gap,
        }
    }

    #[test]
    fn paragraphs_and_headings() {
        let pages = vec![
            (
                1,
                vec![
                    line("Big Title", 20.0, false),
                    line("Body one", 12.0, false),
                    line("continues here", 12.0, false),
                    line("Section", 16.0, true),
                    line("Body two is Romano-", 12.0, true),
                    line("Germanic.", 12.0, false),
                    line("• first item", 12.0, false),
                    line("wrapped", 12.0, false),
                    line("•  second", 12.0, false),
                    line("•not a bullet", 12.0, true),
                ],
            ),
            (2, vec![line("Page two text", 12.0, false)]),
        ];
        let got: Vec<(BlockKind, String, Option<u32>)> = to_blocks(&pages)
            .into_iter()
            .map(|b| (b.kind, b.text, b.page))
            .collect();
        assert_eq!(
            got,
            vec![
                (BlockKind::Heading(1), "Big Title".to_string(), Some(1)),
                (
                    BlockKind::Paragraph,
                    "Body one continues here".to_string(),
                    Some(1)
                ),
                (BlockKind::Heading(2), "Section".to_string(), Some(1)),
                (
                    BlockKind::Paragraph,
                    "Body two is Romano-Germanic.".to_string(),
                    Some(1)
                ),
                (
                    BlockKind::ListItem,
                    "first item wrapped".to_string(),
                    Some(1)
                ),
                (BlockKind::ListItem, "second".to_string(), Some(1)),
                (BlockKind::Paragraph, "•not a bullet".to_string(), Some(1)),
                (BlockKind::Paragraph, "Page two text".to_string(), Some(2)),
            ]
        );
    }

    /// A minimal PDF with one page per content stream, all sharing `/F1`.
    fn build_pdf(font: &str, pages: &[&str]) -> Vec<u8> {
        let n = pages.len();
        let kids: Vec<String> = (0..n).map(|i| format!("{} 0 R", 4 + 2 * i)).collect();
        let mut objs = vec![
            "<< /Type /Catalog /Pages 2 0 R >>".to_string(),
            format!("<< /Type /Pages /Kids [{}] /Count {n} >>", kids.join(" ")),
            font.to_string(),
        ];
        for (i, content) in pages.iter().enumerate() {
            objs.push(format!(
                "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {} 0 R \
                 /Resources << /Font << /F1 3 0 R >> >> >>",
                5 + 2 * i
            ));
            objs.push(format!(
                "<< /Length {} >>\nstream\n{content}\nendstream",
                content.len()
            ));
        }
        let mut out = b"%PDF-1.4\n".to_vec();
        let mut offsets = Vec::new();
        for (i, o) in objs.iter().enumerate() {
            offsets.push(out.len());
            out.extend_from_slice(format!("{} 0 obj\n{o}\nendobj\n", i + 1).as_bytes());
        }
        let xref = out.len();
        out.extend_from_slice(
            format!("xref\n0 {}\n0000000000 65535 f \n", objs.len() + 1).as_bytes(),
        );
        for off in offsets {
            out.extend_from_slice(format!("{off:010} 00000 n \n").as_bytes());
        }
        out.extend_from_slice(
            format!(
                "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
                objs.len() + 1
            )
            .as_bytes(),
        );
        out
    }

    const HELVETICA: &str = "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>";

    #[test]
    fn extracts_pages() {
        let pdf = build_pdf(
            HELVETICA,
            &[
                "BT /F1 12 Tf 72 700 Td (Hello first page.) Tj ET",
                "BT /F1 12 Tf 72 700 Td (Second) Tj 0 -14 Td (page text.) Tj ET",
            ],
        );
        let p = parse(&pdf).unwrap();
        let got: Vec<(&str, Option<u32>)> =
            p.blocks.iter().map(|b| (b.text.as_str(), b.page)).collect();
        assert_eq!(
            got,
            [
                ("Hello first page.", Some(1)),
                ("Second page text.", Some(2))
            ]
        );
        assert_eq!(p.title, None);
    }

    #[test]
    fn reader_panic_becomes_malformed() {
        // A font dictionary without /Subtype makes pdf-extract panic.
        let pdf = build_pdf(
            "<< /Type /Font >>",
            &["BT /F1 12 Tf 72 700 Td (Boom) Tj ET"],
        );
        let err = parse(&pdf).unwrap_err();
        assert!(matches!(err, ParseError::Malformed { .. }), "{err}");
    }

    #[test]
    fn not_a_pdf() {
        for bytes in [&b""[..], b"hello world", b"PK\x03\x04zip"] {
            let err = parse(bytes).unwrap_err();
            assert!(matches!(err, ParseError::Malformed { .. }), "{err}");
            assert!(err.to_string().contains("%PDF"), "{err}");
        }
    }
}
