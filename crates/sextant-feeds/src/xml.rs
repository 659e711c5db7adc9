//! A small element tree over quick-xml for the XML feeds (KML, GPX, CoT): local names only
//! (namespace prefixes dropped: `gx:Track` is `Track`), attributes unescaped, text and CDATA of
//! an element concatenated, the line of every element kept for messages. Depth is bounded and
//! every element must be closed, so a truncated file is an error rather than a shorter feed.

use super::{FeedError, FeedFormat, Result};
use quick_xml::events::{BytesRef, BytesStart, Event};
use quick_xml::Reader;

/// Deeper than any real feed; keeps hostile input from exhausting the stack of the recursive
/// walkers.
const MAX_DEPTH: usize = 256;

#[derive(Debug, Default)]
pub(super) struct El {
    pub name: String,
    pub attrs: Vec<(String, String)>,
    pub children: Vec<El>,
    /// The element's own text and CDATA (not its children's), untrimmed.
    pub text: String,
    pub line: usize,
}

impl El {
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn child(&self, name: &str) -> Option<&El> {
        self.children.iter().find(|c| c.name == name)
    }

    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a El> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// The trimmed text of the first child called `name`, when not empty.
    pub fn child_text(&self, name: &str) -> Option<String> {
        let t = self.child(name)?.text.trim();
        (!t.is_empty()).then(|| t.to_string())
    }

    /// All text in the element and its descendants, in document order.
    pub fn deep_text(&self) -> String {
        let mut out = String::new();
        fn walk(e: &El, out: &mut String) {
            out.push_str(&e.text);
            for c in &e.children {
                out.push(' ');
                walk(c, out);
            }
        }
        walk(self, &mut out);
        out
    }
}

fn local(name: &[u8]) -> String {
    let local = match name.iter().rposition(|b| *b == b':') {
        Some(i) => &name[i + 1..],
        None => name,
    };
    String::from_utf8_lossy(local).into_owned()
}

fn resolve_ref(r: &BytesRef<'_>) -> String {
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

/// Counts lines incrementally as the reader moves forward.
struct Lines<'a> {
    bytes: &'a [u8],
    pos: usize,
    line: usize,
}

impl Lines<'_> {
    fn at(&mut self, offset: usize) -> usize {
        let offset = offset.min(self.bytes.len());
        if offset >= self.pos {
            self.line += self.bytes[self.pos..offset]
                .iter()
                .filter(|b| **b == b'\n')
                .count();
            self.pos = offset;
            self.line
        } else {
            super::line_of(self.bytes, offset)
        }
    }
}

/// Parse a whole document into its root element. `first_line` is the line of `bytes[0]` in the
/// file (CoT events are parsed one by one out of a longer file).
pub(super) fn parse(bytes: &[u8], format: FeedFormat, first_line: usize) -> Result<El> {
    let mut reader = Reader::from_reader(bytes);
    reader.config_mut().check_end_names = true;
    let mut lines = Lines {
        bytes,
        pos: 0,
        line: first_line,
    };
    let syntax = |line: usize, message: String| FeedError::Syntax {
        format,
        at: format!("line {line}"),
        message,
    };
    let mut stack: Vec<El> = Vec::new();
    let mut root: Option<El> = None;
    loop {
        let start = reader.buffer_position() as usize;
        let event = match reader.read_event() {
            Ok(e) => e,
            Err(e) => {
                let line = lines.at(reader.error_position() as usize);
                return Err(syntax(line, format!("malformed XML: {e}")));
            }
        };
        match event {
            Event::Start(e) | Event::Empty(e) if root.is_some() && stack.is_empty() => {
                let line = lines.at(start);
                return Err(syntax(
                    line,
                    format!(
                        "a second root element <{}> after the document's end",
                        local(e.name().as_ref())
                    ),
                ));
            }
            Event::Start(e) => {
                let line = lines.at(start);
                if stack.len() >= MAX_DEPTH {
                    return Err(syntax(
                        line,
                        format!("elements nested deeper than {MAX_DEPTH}"),
                    ));
                }
                stack.push(element(&e, &reader, line, format)?);
            }
            Event::Empty(e) => {
                let line = lines.at(start);
                let el = element(&e, &reader, line, format)?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(el),
                    None => root = Some(el),
                }
            }
            Event::End(_) => {
                // quick-xml has checked that the name matches.
                let Some(el) = stack.pop() else {
                    let line = lines.at(start);
                    return Err(syntax(line, "a closing tag without its opening tag".into()));
                };
                match stack.last_mut() {
                    Some(parent) => parent.children.push(el),
                    None => root = Some(el),
                }
            }
            Event::Text(t) => {
                let text = t.xml10_content().map_err(|e| {
                    syntax(lines.at(start), format!("text is not valid UTF-8: {e}"))
                })?;
                match stack.last_mut() {
                    Some(el) => el.text.push_str(&text),
                    None if text.trim().is_empty() => {}
                    None => {
                        let line = lines.at(start);
                        return Err(syntax(line, "text outside the root element".into()));
                    }
                }
            }
            Event::GeneralRef(r) => {
                if let Some(el) = stack.last_mut() {
                    el.text.push_str(&resolve_ref(&r));
                }
            }
            Event::CData(c) => {
                let text = c.decode().map_err(|e| {
                    syntax(lines.at(start), format!("CDATA is not valid UTF-8: {e}"))
                })?;
                if let Some(el) = stack.last_mut() {
                    el.text.push_str(&text);
                }
            }
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) | Event::DocType(_) => {}
            Event::Eof => break,
        }
    }
    if let Some(open) = stack.last() {
        let line = lines.at(bytes.len());
        return Err(syntax(
            line,
            format!(
                "truncated document: <{}> opened at line {} is never closed",
                open.name, open.line
            ),
        ));
    }
    root.ok_or_else(|| {
        syntax(
            lines.at(bytes.len()),
            "no root element (empty document)".into(),
        )
    })
}

fn element(
    e: &BytesStart<'_>,
    reader: &Reader<&[u8]>,
    line: usize,
    format: FeedFormat,
) -> Result<El> {
    let name = local(e.name().as_ref());
    let mut attrs = Vec::new();
    for a in e.attributes() {
        let bad = |m: String| FeedError::Syntax {
            format,
            at: format!("line {line}"),
            message: format!("element <{name}>: {m}"),
        };
        let a = a.map_err(|err| bad(format!("malformed attribute: {err}")))?;
        let value = a
            .decode_and_unescape_value(reader.decoder())
            .map_err(|err| bad(format!("attribute {}: {err}", local(a.key.as_ref()))))?;
        attrs.push((local(a.key.as_ref()), value.into_owned()));
    }
    Ok(El {
        name,
        attrs,
        children: Vec::new(),
        text: String::new(),
        line,
    })
}

/// The local name of the first element, if the bytes start like XML (used by sniffing; works
/// on a prefix of a document).
pub(super) fn root_name(bytes: &[u8]) -> Option<String> {
    let mut reader = Reader::from_reader(bytes);
    for _ in 0..64 {
        match reader.read_event().ok()? {
            Event::Start(e) | Event::Empty(e) => return Some(local(e.name().as_ref())),
            Event::Text(t) if !t.iter().all(u8::is_ascii_whitespace) => return None,
            Event::Eof => return None,
            _ => {}
        }
    }
    None
}
