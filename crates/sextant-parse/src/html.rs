//! HTML parser: walks the `<body>` in document order with scraper and turns
//! headings, paragraphs, list items, tables and `<pre>` into blocks.
//!
//! Text directly inside container elements (div, blockquote, section, ...) is
//! gathered into paragraphs; each piece of text lands in exactly one block, so
//! a `<p>` inside an `<li>` or `<div>` is not duplicated. Scripts, styles,
//! `<noscript>`, `<nav>`, `<template>`, forms' controls and `hidden` elements
//! are skipped. Entities are decoded by the HTML parser.

use ego_tree::NodeRef;
use scraper::{ElementRef, Html, Node, Selector};

use crate::{
    collapse_ws, decode_text, first_h1, push_block, render_table, Block, BlockKind, Format, Parsed,
    Result,
};

/// Deepest element nesting accepted. html5ever's tree builder scans the stack of open elements
/// for every tag, so a document nested n deep costs O(n²) (200,000 nested `<div>`s kept a core
/// busy for minutes); real documents stay far below this.
pub const MAX_NESTING: usize = 1000;

/// Elements that never hold others (void), or that the parser closes by itself when a sibling
/// starts (so a run of them does not nest).
const NOT_NESTING: &[&str] = &[
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track",
    "wbr", "p", "li", "dt", "dd", "tr", "td", "th", "option", "!doctype",
];

/// The deepest nesting of elements in `src`, by a linear scan of its tags (an upper bound of
/// what the parser builds: unclosed containers count as open).
fn nesting(src: &str) -> usize {
    let b = src.as_bytes();
    let (mut depth, mut max) = (0usize, 0usize);
    let mut i = 0;
    while let Some(at) = src[i..].find('<') {
        let start = i + at + 1;
        i = start;
        if src[start..].starts_with("!--") {
            i = src[start..].find("-->").map_or(b.len(), |e| start + e + 3);
            continue;
        }
        let closing = b.get(start) == Some(&b'/');
        let name_start = start + usize::from(closing);
        let name_end = src[name_start..]
            .find(|c: char| c.is_ascii_whitespace() || c == '>' || c == '/')
            .map_or(b.len(), |e| name_start + e);
        let name = src[name_start..name_end].to_ascii_lowercase();
        if name.is_empty() || !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
            continue;
        }
        let end = src[name_end..].find('>').map_or(b.len(), |e| name_end + e);
        let self_closing = end > 0 && b.get(end - 1) == Some(&b'/');
        if NOT_NESTING.contains(&name.as_str()) || self_closing {
            continue;
        }
        if closing {
            depth = depth.saturating_sub(1);
        } else {
            depth += 1;
            max = max.max(depth);
        }
    }
    max
}

pub(crate) fn parse(bytes: &[u8]) -> Result<Parsed> {
    let src = decode_text(Format::Html, bytes)?;
    let depth = nesting(&src);
    if depth > MAX_NESTING {
        return Err(crate::ParseError::Malformed {
            format: Format::Html,
            reason: format!("elements nested {depth} deep (at most {MAX_NESTING} are read)"),
        });
    }
    let doc = Html::parse_document(&src);

    let mut blocks = Vec::new();
    let body_sel = Selector::parse("body").expect("static selector");
    let root = doc
        .select(&body_sel)
        .next()
        .unwrap_or_else(|| doc.root_element());
    let mut buf = String::new();
    walk(*root, &mut buf, BlockKind::Paragraph, &mut blocks);
    push_block(&mut blocks, BlockKind::Paragraph, &buf, None);

    let title_sel = Selector::parse("head > title, title").expect("static selector");
    let title = doc
        .select(&title_sel)
        .map(|t| collapse_ws(&t.text().collect::<String>()))
        .find(|t| !t.is_empty())
        .or_else(|| first_h1(&blocks));

    Ok(Parsed {
        format: Format::Html,
        title,
        blocks,
    })
}

/// Elements whose content is never text for the reader.
fn is_skipped(el: &scraper::node::Element) -> bool {
    matches!(
        el.name(),
        "script"
            | "style"
            | "noscript"
            | "template"
            | "nav"
            | "head"
            | "title"
            | "svg"
            | "math"
            | "iframe"
            | "object"
            | "canvas"
            | "select"
            | "button"
            | "input"
            | "textarea"
    ) || el.attr("hidden").is_some()
        || el.attr("aria-hidden") == Some("true")
}

/// Block-level elements that end the current run of inline text.
fn is_block(name: &str) -> bool {
    matches!(
        name,
        "address"
            | "article"
            | "aside"
            | "blockquote"
            | "body"
            | "caption"
            | "center"
            | "dd"
            | "details"
            | "dialog"
            | "dir"
            | "div"
            | "dl"
            | "dt"
            | "fieldset"
            | "figcaption"
            | "figure"
            | "footer"
            | "form"
            | "header"
            | "hgroup"
            | "hr"
            | "html"
            | "legend"
            | "li"
            | "main"
            | "menu"
            | "ol"
            | "p"
            | "section"
            | "summary"
            | "ul"
            | "tr"
            | "td"
            | "th"
    )
}

fn heading_level(name: &str) -> Option<u8> {
    match name {
        "h1" => Some(1),
        "h2" => Some(2),
        "h3" => Some(3),
        "h4" => Some(4),
        "h5" => Some(5),
        "h6" => Some(6),
        _ => None,
    }
}

/// Walk the children of `node`, appending inline text to `buf`; text in `buf`
/// becomes a block of `kind` whenever a block-level element interrupts it.
fn walk(node: NodeRef<'_, Node>, buf: &mut String, kind: BlockKind, out: &mut Vec<Block>) {
    for child in node.children() {
        match child.value() {
            Node::Text(t) => buf.push_str(t),
            Node::Element(el) => {
                if is_skipped(el) {
                    continue;
                }
                let name = el.name();
                if name == "br" {
                    buf.push(' ');
                } else if let Some(level) = heading_level(name) {
                    flush(buf, kind, out);
                    let text = inline_text(child);
                    push_block(out, BlockKind::Heading(level), &text, None);
                } else if name == "pre" {
                    flush(buf, kind, out);
                    let mut code = String::new();
                    raw_text(child, &mut code);
                    push_block(out, BlockKind::Code, &code, None);
                } else if name == "table" {
                    flush(buf, kind, out);
                    table(child, out);
                } else if name == "li" {
                    flush(buf, kind, out);
                    let mut item = String::new();
                    walk(child, &mut item, BlockKind::ListItem, out);
                    push_block(out, BlockKind::ListItem, &item, None);
                } else if matches!(name, "ul" | "ol" | "menu" | "dir" | "dl") {
                    // Nested lists are flattened: the enclosing item's text so
                    // far is one block, then each nested item is its own.
                    flush(buf, kind, out);
                    let mut rest = String::new();
                    walk(child, &mut rest, BlockKind::Paragraph, out);
                    push_block(out, BlockKind::Paragraph, &rest, None);
                } else if is_block(name) {
                    if kind == BlockKind::ListItem {
                        // A <p> or <div> inside a list item is part of the item.
                        buf.push(' ');
                        walk(child, buf, kind, out);
                        buf.push(' ');
                    } else {
                        flush(buf, kind, out);
                        let mut inner = String::new();
                        walk(child, &mut inner, BlockKind::Paragraph, out);
                        push_block(out, BlockKind::Paragraph, &inner, None);
                    }
                } else {
                    // Inline element (span, a, em, code, ...): transparent.
                    walk(child, buf, kind, out);
                }
            }
            _ => {}
        }
    }
}

fn flush(buf: &mut String, kind: BlockKind, out: &mut Vec<Block>) {
    let text = std::mem::take(buf);
    push_block(out, kind, &text, None);
}

/// All text under `node` (skipping non-content elements) as one string.
fn inline_text(node: NodeRef<'_, Node>) -> String {
    let mut s = String::new();
    for d in node.descendants() {
        match d.value() {
            Node::Text(t) if !has_skipped_ancestor(d, node) => s.push_str(t),
            Node::Element(el) if el.name() == "br" => s.push(' '),
            Node::Element(el) if is_block(el.name()) => s.push(' '),
            _ => {}
        }
    }
    s
}

/// Text under `node` with line structure preserved (for `<pre>`).
fn raw_text(node: NodeRef<'_, Node>, out: &mut String) {
    for child in node.children() {
        match child.value() {
            Node::Text(t) => out.push_str(t),
            Node::Element(el) if el.name() == "br" => out.push('\n'),
            Node::Element(el) if !is_skipped(el) => raw_text(child, out),
            _ => {}
        }
    }
}

fn has_skipped_ancestor(node: NodeRef<'_, Node>, stop: NodeRef<'_, Node>) -> bool {
    for a in node.ancestors() {
        if a.id() == stop.id() {
            return false;
        }
        if let Node::Element(el) = a.value() {
            if is_skipped(el) {
                return true;
            }
        }
    }
    false
}

/// Render a `<table>` as one Table block (caption first, as a Paragraph).
/// Rows are this table's own `<tr>`s; a nested table's text stays in its cell.
fn table(node: NodeRef<'_, Node>, out: &mut Vec<Block>) {
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut caption = String::new();
    collect_rows(node, &mut rows, &mut caption);
    push_block(out, BlockKind::Paragraph, &caption, None);
    push_block(out, BlockKind::Table, &render_table(&rows), None);
}

fn collect_rows(node: NodeRef<'_, Node>, rows: &mut Vec<Vec<String>>, caption: &mut String) {
    for child in node.children() {
        let Some(el) = ElementRef::wrap(child) else {
            continue;
        };
        if is_skipped(el.value()) {
            continue;
        }
        match el.value().name() {
            "caption" => caption.push_str(&inline_text(child)),
            "tr" => {
                let cells = child
                    .children()
                    .filter_map(ElementRef::wrap)
                    .filter(|c| matches!(c.value().name(), "td" | "th"))
                    .map(|c| collapse_ws(&inline_text(*c)))
                    .collect();
                rows.push(cells);
            }
            "thead" | "tbody" | "tfoot" => collect_rows(child, rows, caption),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {

    /// 200,000 nested `<div>`s are refused at once (the tree builder would take minutes), and
    /// nothing overflows the stack; ordinary nesting and unclosed paragraphs are read.
    #[test]
    fn deep_nesting_is_refused_quickly() {
        let deep = format!(
            "<html><body>{}x{}</body></html>",
            "<div>".repeat(200_000),
            "</div>".repeat(200_000)
        );
        let t0 = std::time::Instant::now();
        let err = parse(deep.as_bytes()).unwrap_err().to_string();
        assert!(err.contains("nested"), "{err}");
        assert!(
            t0.elapsed() < std::time::Duration::from_secs(5),
            "{:?}",
            t0.elapsed()
        );
        let flat = format!(
            "<body>{}<div><div><p>kept</p></div></div></body>",
            "<p>para".repeat(50_000)
        );
        let p = parse(flat.as_bytes()).unwrap();
        assert!(p.blocks.iter().any(|b| b.text == "kept"));
        assert_eq!(
            nesting("<div><br><img src=x/><!-- <div> --><div></div></div>"),
            2
        );
    }

    use super::*;
    use BlockKind::*;

    fn check(html: &str, want: &[(BlockKind, &str)]) {
        let got: Vec<(BlockKind, String)> = parse(html.as_bytes())
            .unwrap()
            .blocks
            .into_iter()
            .map(|b| (b.kind, b.text))
            .collect();
        let want: Vec<(BlockKind, String)> =
            want.iter().map(|(k, t)| (*k, t.to_string())).collect();
        assert_eq!(got, want, "html:\n{html}");
    }

    #[test]
    fn structure() {
        check(
            "<h1>A <em>b</em></h1><p>x\n  y</p>",
            &[(Heading(1), "A b"), (Paragraph, "x y")],
        );
        check("<h4>d</h4>", &[(Heading(4), "d")]);
        check(
            "<ul><li>one</li><li><p>two</p><p>more</p></li></ul>",
            &[(ListItem, "one"), (ListItem, "two more")],
        );
        check(
            "<ol><li>outer<ul><li>inner</li></ul></li><li>next</li></ol>",
            &[(ListItem, "outer"), (ListItem, "inner"), (ListItem, "next")],
        );
        check(
            "<div>direct <b>text</b><p>para</p>tail</div>",
            &[
                (Paragraph, "direct text"),
                (Paragraph, "para"),
                (Paragraph, "tail"),
            ],
        );
        check("<div><div><p>deep</p></div></div>", &[(Paragraph, "deep")]);
        check("<blockquote>quoted</blockquote>", &[(Paragraph, "quoted")]);
        check(
            "<pre><code>a  b\n  c\n</code></pre>",
            &[(Code, "a  b\n  c")],
        );
        check(
            "<table><caption>Cap</caption><thead><tr><th>A</th><th>B</th></tr></thead>\
             <tbody><tr><td>1</td><td><p>2</p></td></tr></tbody></table>",
            &[(Paragraph, "Cap"), (Table, "A | B\n1 | 2")],
        );
        check(
            "<table><tr><td>x<table><tr><td>in</td></tr></table></td><td>y</td></tr></table>",
            &[(Table, "x in | y")],
        );
        check(
            "<p>a</p><script>var x = 1;</script><style>p{}</style><noscript>js</noscript>\
             <nav>menu</nav><p hidden>h</p><p>b &amp; c&nbsp;d &eacute;</p>",
            &[(Paragraph, "a"), (Paragraph, "b & c d é")],
        );
        check("<p>line<br>break</p>", &[(Paragraph, "line break")]);
        check("loose text at top", &[(Paragraph, "loose text at top")]);
    }

    #[test]
    fn titles() {
        let p =
            parse(b"<html><head><title> The  Title </title></head><body><h1>H</h1></body></html>")
                .unwrap();
        assert_eq!(p.title.as_deref(), Some("The Title"));
        let p = parse(b"<html><body><h2>x</h2><h1>First H1</h1></body></html>").unwrap();
        assert_eq!(p.title.as_deref(), Some("First H1"));
        let p = parse(b"<p>no title</p>").unwrap();
        assert_eq!(p.title, None);
    }
}
