//! DOCX parser: unzips the package and streams `word/document.xml` with
//! quick-xml into headings, paragraphs, list items and tables.
//!
//! Heading levels come from the paragraph style: its name in `word/styles.xml`
//! ("heading 1".."heading 9", "Title"), its outline level, or, without a styles
//! part, the style id ("Heading1", "Title"). Paragraphs with numbering (directly
//! or through their style) are list items. The title is `dc:title` from
//! `docProps/core.xml`, else the first heading. Headers, footers, footnotes and
//! comments are not read.

use std::collections::HashMap;
use std::io::{Cursor, Read};

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

use crate::{push_block, render_table, Block, BlockKind, Format, ParseError, Parsed, Result};

/// Refuse to inflate any single part beyond this (zip-bomb guard).
const MAX_PART_BYTES: u64 = 256 * 1024 * 1024;

fn malformed(reason: impl Into<String>) -> ParseError {
    ParseError::Malformed {
        format: Format::Docx,
        reason: reason.into(),
    }
}

pub(crate) fn parse(bytes: &[u8]) -> Result<Parsed> {
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| {
        malformed(format!(
            "not a DOCX file: it is not a readable ZIP archive ({e})"
        ))
    })?;
    let document = read_part(&mut zip, "word/document.xml")?.ok_or_else(|| {
        malformed("the ZIP archive has no word/document.xml, so it is not a Word document")
    })?;
    let styles = match read_part(&mut zip, "word/styles.xml") {
        Ok(Some(xml)) => parse_styles(&xml).unwrap_or_else(|e| {
            tracing::warn!(error = %e, "ignoring unreadable word/styles.xml");
            Styles::default()
        }),
        _ => Styles::default(),
    };
    let core_title = match read_part(&mut zip, "docProps/core.xml") {
        Ok(Some(xml)) => core_title(&xml),
        _ => None,
    };

    let blocks = parse_document(&document, &styles)?;
    let title = core_title.or_else(|| {
        let mut headings = blocks.iter().filter_map(|b| match b.kind {
            BlockKind::Heading(n) => Some((n, &b.text)),
            _ => None,
        });
        let first = headings.clone().next();
        headings
            .find(|(n, _)| *n == 1)
            .or(first)
            .map(|(_, t)| t.clone())
    });
    Ok(Parsed {
        format: Format::Docx,
        title,
        blocks,
    })
}

/// Read one part of the package as text; `Ok(None)` when it is absent.
fn read_part<R: Read + std::io::Seek>(
    zip: &mut zip::ZipArchive<R>,
    name: &str,
) -> Result<Option<String>> {
    let file = match zip.by_name(name) {
        Ok(f) => f,
        Err(zip::result::ZipError::FileNotFound) => return Ok(None),
        Err(e) => return Err(malformed(format!("cannot open {name} in the archive: {e}"))),
    };
    let mut raw = Vec::new();
    file.take(MAX_PART_BYTES + 1)
        .read_to_end(&mut raw)
        .map_err(|e| malformed(format!("cannot decompress {name}: {e}")))?;
    if raw.len() as u64 > MAX_PART_BYTES {
        return Err(malformed(format!(
            "{name} is larger than {} MiB uncompressed",
            MAX_PART_BYTES >> 20
        )));
    }
    let raw = raw.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&raw);
    String::from_utf8(raw.to_vec())
        .map(Some)
        .map_err(|_| malformed(format!("{name} is not UTF-8 XML")))
}

/// The value of attribute `w:<local>` (any prefix) on an element.
fn attr(e: &BytesStart<'_>, local: &[u8]) -> Option<String> {
    e.attributes().with_checks(false).flatten().find_map(|a| {
        (a.key.local_name().as_ref() == local)
            .then(|| a.unescape_value().ok().map(|v| v.into_owned()))
            .flatten()
    })
}

/// Paragraph style facts from `word/styles.xml`, keyed by style id.
#[derive(Default)]
struct Styles {
    /// Heading level (1..=6) per style id.
    heading: HashMap<String, u8>,
    /// Style ids whose paragraphs are numbered (list styles).
    list: HashMap<String, bool>,
}

#[derive(Default)]
struct StyleDef {
    name: String,
    based_on: Option<String>,
    outline: Option<u8>,
    numbered: Option<bool>,
}

fn heading_from_name(name: &str) -> Option<u8> {
    let n = name.trim().to_ascii_lowercase();
    if n == "title" {
        return Some(1);
    }
    let rest = n.strip_prefix("heading")?.trim_start();
    let level: u8 = rest.parse().ok()?;
    (1..=9).contains(&level).then_some(level.min(6))
}

fn parse_styles(xml: &str) -> std::result::Result<Styles, quick_xml::Error> {
    let mut defs: HashMap<String, StyleDef> = HashMap::new();
    let mut reader = Reader::from_str(xml);
    let mut cur: Option<(String, StyleDef)> = None;
    loop {
        match reader.read_event()? {
            Event::Eof => break,
            Event::Start(e) | Event::Empty(e) => match e.name().as_ref() {
                b"w:style" => {
                    let id = attr(&e, b"styleId").unwrap_or_default();
                    let is_para = attr(&e, b"type").is_none_or(|t| t == "paragraph");
                    cur = is_para.then(|| (id, StyleDef::default()));
                }
                b"w:name" => {
                    if let Some((_, d)) = cur.as_mut() {
                        d.name = attr(&e, b"val").unwrap_or_default();
                    }
                }
                b"w:basedOn" => {
                    if let Some((_, d)) = cur.as_mut() {
                        d.based_on = attr(&e, b"val");
                    }
                }
                b"w:outlineLvl" => {
                    if let Some((_, d)) = cur.as_mut() {
                        // 0-based; 9 means body text.
                        d.outline = attr(&e, b"val")
                            .and_then(|v| v.parse::<u8>().ok())
                            .filter(|v| *v < 9)
                            .map(|v| (v + 1).min(6));
                    }
                }
                b"w:numId" => {
                    if let Some((_, d)) = cur.as_mut() {
                        d.numbered = Some(attr(&e, b"val").is_some_and(|v| v != "0"));
                    }
                }
                _ => {}
            },
            Event::End(e) if e.name().as_ref() == b"w:style" => {
                if let Some((id, d)) = cur.take() {
                    defs.insert(id, d);
                }
            }
            _ => {}
        }
    }

    let mut styles = Styles::default();
    for id in defs.keys() {
        // Follow basedOn (bounded, in case of cycles) for inherited facts.
        let mut heading = None;
        let mut numbered = None;
        let mut at = Some(id.as_str());
        for _ in 0..16 {
            let Some(d) = at.and_then(|i| defs.get(i)) else {
                break;
            };
            heading = heading.or(heading_from_name(&d.name)).or(d.outline);
            numbered = numbered.or(d.numbered);
            at = d.based_on.as_deref();
        }
        if let Some(h) = heading {
            styles.heading.insert(id.clone(), h);
        }
        styles.list.insert(id.clone(), numbered.unwrap_or(false));
    }
    Ok(styles)
}

/// `dc:title` from `docProps/core.xml`, if non-empty.
fn core_title(xml: &str) -> Option<String> {
    let mut reader = Reader::from_str(xml);
    let mut in_title = false;
    let mut title = String::new();
    loop {
        match reader.read_event().ok()? {
            Event::Eof => break,
            Event::Start(e) if e.local_name().as_ref() == b"title" => in_title = true,
            Event::End(e) if e.local_name().as_ref() == b"title" => break,
            Event::Text(t) if in_title => title.push_str(&t.xml10_content().ok()?),
            Event::GeneralRef(r) if in_title => title.push_str(&resolve_ref(&r)),
            _ => {}
        }
    }
    let t = crate::collapse_ws(&title);
    (!t.is_empty()).then_some(t)
}

fn resolve_ref(r: &quick_xml::events::BytesRef<'_>) -> String {
    if let Ok(Some(c)) = r.resolve_char_ref() {
        return c.to_string();
    }
    match r.decode() {
        Ok(name) => quick_xml::escape::resolve_predefined_entity(&name)
            .map(str::to_string)
            .unwrap_or_else(|| format!("&{name};")),
        Err(_) => String::new(),
    }
}

/// One open `w:p`.
#[derive(Default)]
struct Para {
    text: String,
    style: Option<String>,
    numbered: Option<bool>,
    outline: Option<u8>,
}

#[derive(Default)]
struct TableState {
    rows: Vec<Vec<String>>,
    row: Vec<String>,
    cell: String,
}

fn parse_document(xml: &str, styles: &Styles) -> Result<Vec<Block>> {
    let mut reader = Reader::from_str(xml);
    let mut blocks = Vec::new();
    let mut paras: Vec<Para> = Vec::new();
    // Open tables, innermost last; only the outermost is rendered as rows.
    let mut tables: Vec<TableState> = Vec::new();
    let mut in_text = false; // inside w:t
    let mut run_depth = 0usize; // inside w:r
    let mut in_ppr = false; // inside w:pPr (skip its w:tab stops, rPr, ...)
    let mut skip_depth = 0usize; // inside mc:Fallback (duplicate content)

    loop {
        let ev = reader.read_event().map_err(|e| {
            malformed(format!(
                "word/document.xml is not well-formed XML at byte {}: {e}",
                reader.error_position()
            ))
        })?;
        if skip_depth > 0 {
            match ev {
                Event::Start(_) => skip_depth += 1,
                Event::End(_) => skip_depth -= 1,
                Event::Eof => break,
                _ => {}
            }
            continue;
        }
        match ev {
            Event::Eof => break,
            Event::Start(e) => match e.name().as_ref() {
                // Duplicate fallback content and tracked-change history.
                b"mc:Fallback" | b"w:pPrChange" | b"w:rPrChange" => skip_depth = 1,
                b"w:p" => paras.push(Para::default()),
                b"w:pPr" => in_ppr = true,
                b"w:r" => run_depth += 1,
                b"w:t" => in_text = true,
                b"w:tbl" => tables.push(TableState::default()),
                b"w:tr" if tables.len() == 1 => tables[0].row.clear(),
                b"w:tc" if tables.len() == 1 => tables[0].cell.clear(),
                other => element(other, &e, in_ppr, run_depth, &mut paras),
            },
            Event::Empty(e) => match e.name().as_ref() {
                // An empty cell still takes a column.
                b"w:tc" if tables.len() == 1 => tables[0].row.push(String::new()),
                other => element(other, &e, in_ppr, run_depth, &mut paras),
            },
            Event::Text(t) if in_text => {
                if let Some(p) = paras.last_mut() {
                    let s = t
                        .xml10_content()
                        .map_err(|e| malformed(format!("bad text encoding: {e}")))?;
                    p.text.push_str(&s);
                }
            }
            Event::CData(t) if in_text => {
                if let Some(p) = paras.last_mut() {
                    p.text.push_str(&String::from_utf8_lossy(&t));
                }
            }
            Event::GeneralRef(r) if in_text => {
                if let Some(p) = paras.last_mut() {
                    p.text.push_str(&resolve_ref(&r));
                }
            }
            Event::End(e) => match e.name().as_ref() {
                b"w:t" => in_text = false,
                b"w:r" => run_depth = run_depth.saturating_sub(1),
                b"w:pPr" => in_ppr = false,
                b"w:p" => {
                    if let Some(p) = paras.pop() {
                        end_paragraph(p, styles, &mut tables, &mut blocks);
                    }
                }
                b"w:tc" if tables.len() == 1 => {
                    let t = &mut tables[0];
                    let cell = std::mem::take(&mut t.cell);
                    t.row.push(cell);
                }
                b"w:tr" if tables.len() == 1 => {
                    let t = &mut tables[0];
                    let row = std::mem::take(&mut t.row);
                    t.rows.push(row);
                }
                b"w:tbl" => {
                    if let Some(t) = tables.pop() {
                        if tables.is_empty() {
                            push_block(&mut blocks, BlockKind::Table, &render_table(&t.rows), None);
                        } else {
                            // A nested table's text stays in the outer cell.
                            let outer = &mut tables[0].cell;
                            for row in t.rows.iter().chain(std::iter::once(&t.row)) {
                                for c in row {
                                    outer.push(' ');
                                    outer.push_str(c);
                                }
                            }
                        }
                    }
                }
                _ => {}
            },
            _ => {}
        }
    }
    // Unclosed elements at EOF: flush what we have rather than lose it.
    while let Some(p) = paras.pop() {
        end_paragraph(p, styles, &mut tables, &mut blocks);
    }
    Ok(blocks)
}

/// Handle an element that carries paragraph properties or inline content.
fn element(name: &[u8], e: &BytesStart<'_>, in_ppr: bool, run_depth: usize, paras: &mut [Para]) {
    let Some(p) = paras.last_mut() else {
        return;
    };
    match name {
        b"w:pStyle" if in_ppr => p.style = attr(e, b"val"),
        b"w:numId" if in_ppr => p.numbered = Some(attr(e, b"val").is_some_and(|v| v != "0")),
        b"w:outlineLvl" if in_ppr => {
            p.outline = attr(e, b"val")
                .and_then(|v| v.parse::<u8>().ok())
                .filter(|v| *v < 9)
                .map(|v| (v + 1).min(6));
        }
        b"w:tab" | b"w:ptab" if run_depth > 0 => p.text.push('\t'),
        b"w:br" | b"w:cr" if run_depth > 0 => p.text.push('\n'),
        b"w:noBreakHyphen" if run_depth > 0 => p.text.push('-'),
        _ => {}
    }
}

fn end_paragraph(p: Para, styles: &Styles, tables: &mut [TableState], blocks: &mut Vec<Block>) {
    if let Some(t) = tables.first_mut() {
        if !t.cell.is_empty() {
            t.cell.push(' ');
        }
        t.cell.push_str(&p.text);
        return;
    }
    let style = p.style.as_deref();
    let heading = p
        .outline
        .or_else(|| style.and_then(|s| styles.heading.get(s).copied()))
        .or_else(|| style.and_then(heading_from_style_id));
    let numbered = p
        .numbered
        .or_else(|| style.and_then(|s| styles.list.get(s).copied()))
        .unwrap_or(false);
    let kind = match heading {
        Some(level) => BlockKind::Heading(level),
        None if numbered => BlockKind::ListItem,
        None => BlockKind::Paragraph,
    };
    push_block(blocks, kind, &p.text, None);
}

/// Heading level from a bare style id ("Heading2", "heading 2", "Title"),
/// used when `word/styles.xml` does not define the style.
fn heading_from_style_id(id: &str) -> Option<u8> {
    heading_from_name(id)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::io::Write;

    /// Build a minimal .docx from a body fragment and optional core title.
    pub(crate) fn make_docx(body: &str, title: Option<&str>, styles: Option<&str>) -> Vec<u8> {
        let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let opts = zip::write::SimpleFileOptions::default();
        zip.start_file("word/document.xml", opts).unwrap();
        write!(
            zip,
            r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"
 xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006"><w:body>{body}</w:body></w:document>"#
        )
        .unwrap();
        if let Some(t) = title {
            zip.start_file("docProps/core.xml", opts).unwrap();
            write!(
                zip,
                r#"<?xml version="1.0"?><cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>{t}</dc:title></cp:coreProperties>"#
            )
            .unwrap();
        }
        if let Some(s) = styles {
            zip.start_file("word/styles.xml", opts).unwrap();
            write!(
                zip,
                r#"<?xml version="1.0"?><w:styles xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">{s}</w:styles>"#
            )
            .unwrap();
        }
        zip.finish().unwrap().into_inner()
    }

    fn p(style: &str, text: &str) -> String {
        let ppr = if style.is_empty() {
            String::new()
        } else {
            format!(r#"<w:pPr><w:pStyle w:val="{style}"/></w:pPr>"#)
        };
        format!(r#"<w:p>{ppr}<w:r><w:t xml:space="preserve">{text}</w:t></w:r></w:p>"#)
    }

    fn kinds(bytes: &[u8]) -> Vec<(BlockKind, String)> {
        parse(bytes)
            .unwrap()
            .blocks
            .into_iter()
            .map(|b| (b.kind, b.text))
            .collect()
    }

    #[test]
    fn styles_lists_tables() {
        let body = [
            p("Title", "Doc Title"),
            p("Heading2", "Sub &amp; more"),
            p("heading 3", "Three"),
            p("", "Plain  text"),
            r#"<w:p><w:pPr><w:numPr><w:ilvl w:val="0"/><w:numId w:val="3"/></w:numPr></w:pPr><w:r><w:t>item</w:t></w:r></w:p>"#.to_string(),
            r#"<w:p><w:pPr><w:numPr><w:numId w:val="0"/></w:numPr></w:pPr><w:r><w:t>not item</w:t></w:r></w:p>"#.to_string(),
            r#"<w:p><w:pPr><w:tabs><w:tab w:val="left" w:pos="720"/></w:tabs></w:pPr><w:r><w:t>a</w:t><w:tab/><w:t>b</w:t><w:br/><w:t>c</w:t></w:r></w:p>"#.to_string(),
            format!(
                "<w:tbl><w:tr><w:tc>{}</w:tc><w:tc>{}{}</w:tc></w:tr><w:tr><w:tc>{}</w:tc><w:tc/></w:tr></w:tbl>",
                p("", "H1"), p("", "two"), p("", "paras"), p("", "x")
            ),
            r#"<w:p><w:r><mc:AlternateContent><mc:Choice><w:t>shown</w:t></mc:Choice><mc:Fallback><w:t>dup</w:t></mc:Fallback></mc:AlternateContent></w:r></w:p>"#.to_string(),
            r#"<w:p><w:r><w:delText>deleted</w:delText><w:instrText>PAGE</w:instrText><w:t>kept &#233;</w:t></w:r></w:p>"#.to_string(),
            "<w:p/>".to_string(),
        ]
        .concat();
        use BlockKind::*;
        let want = [
            (Heading(1), "Doc Title"),
            (Heading(2), "Sub & more"),
            (Heading(3), "Three"),
            (Paragraph, "Plain text"),
            (ListItem, "item"),
            (Paragraph, "not item"),
            (Paragraph, "a b c"),
            (Table, "H1 | two paras\nx |"),
            (Paragraph, "shown"),
            (Paragraph, "kept é"),
        ];
        let want: Vec<_> = want.iter().map(|(k, t)| (*k, t.to_string())).collect();
        assert_eq!(kinds(&make_docx(&body, None, None)), want);
    }

    #[test]
    fn styles_part_resolves_localised_ids() {
        let styles = r#"<w:style w:type="paragraph" w:styleId="berschrift1"><w:name w:val="heading 1"/></w:style>
            <w:style w:type="paragraph" w:styleId="Custom"><w:name w:val="My Section"/><w:basedOn w:val="berschrift1"/></w:style>
            <w:style w:type="paragraph" w:styleId="Outline"><w:name w:val="Outline"/><w:pPr><w:outlineLvl w:val="3"/></w:pPr></w:style>
            <w:style w:type="paragraph" w:styleId="ListBullet"><w:name w:val="List Bullet"/><w:pPr><w:numPr><w:numId w:val="5"/></w:numPr></w:pPr></w:style>"#;
        let body = [
            p("berschrift1", "Überschrift"),
            p("Custom", "Inherited"),
            p("Outline", "Level four"),
            p("ListBullet", "bullet"),
        ]
        .concat();
        use BlockKind::*;
        let want: Vec<_> = [
            (Heading(1), "Überschrift"),
            (Heading(1), "Inherited"),
            (Heading(4), "Level four"),
            (ListItem, "bullet"),
        ]
        .iter()
        .map(|(k, t)| (*k, t.to_string()))
        .collect();
        assert_eq!(kinds(&make_docx(&body, None, Some(styles))), want);
    }

    #[test]
    fn titles() {
        let body = [p("Heading2", "Second"), p("Heading1", "First")].concat();
        let t = |title| parse(&make_docx(&body, title, None)).unwrap().title;
        assert_eq!(t(Some("Core &amp; Title")).as_deref(), Some("Core & Title"));
        assert_eq!(t(Some("  ")).as_deref(), Some("First"));
        assert_eq!(t(None).as_deref(), Some("First"));
        let only_h2 = make_docx(&p("Heading2", "Only"), None, None);
        assert_eq!(parse(&only_h2).unwrap().title.as_deref(), Some("Only"));
    }

    #[test]
    fn malformed_inputs() {
        let not_zip = parse(b"this is not a zip").unwrap_err();
        assert!(not_zip.to_string().contains("ZIP"), "{not_zip}");

        let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
        zip.start_file("hello.txt", zip::write::SimpleFileOptions::default())
            .unwrap();
        zip.write_all(b"hi").unwrap();
        let other_zip = zip.finish().unwrap().into_inner();
        let err = parse(&other_zip).unwrap_err();
        assert!(matches!(err, ParseError::Malformed { .. }));
        assert!(err.to_string().contains("word/document.xml"), "{err}");

        let bad_xml = make_docx("<w:p><w:r><w:t>x</w:r></w:p>", None, None);
        let err = parse(&bad_xml).unwrap_err();
        assert!(err.to_string().contains("not well-formed"), "{err}");
    }
}
