//! Cursor-on-Target: `<event uid type time start stale how><point lat lon hae ce le/>
//! <detail>...</detail></event>`, one or many, and [`CotStream`], which cuts a TAK TCP stream
//! into events however the bytes arrive.
//!
//! A feature's uid is the event's uid, its name `detail/contact@callsign`, its time the event's
//! `time`. Properties, in this order: `type` and its gloss (`affiliation`, `dimension`, and
//! `function` for the common codes), `how`, `start`, `stale`, `hae`, `ce`, `le` (the CoT
//! "unknown" value 9999999 is left out), then every attribute and text of `detail`'s
//! descendants in document order, keyed by their path (`__group.name`, `track.course`,
//! `remarks.source`; a text is keyed by its element: `remarks`).

use super::xml::{self, El};
use super::{
    collapse_ws, normalize_time, position, Feature, FeedError, FeedFormat, Geometry, Result,
};

pub(super) fn parse(bytes: &[u8]) -> Result<Vec<Result<Feature>>> {
    // A document whose root is not an event (some tools wrap events in one root element).
    if let Some(root) = xml::root_name(bytes) {
        if root != "event" {
            let doc = xml::parse(bytes, FeedFormat::Cot, 1)?;
            let mut events = Vec::new();
            collect_events(&doc, &mut events);
            if events.is_empty() {
                return Err(FeedError::Invalid {
                    format: FeedFormat::Cot,
                    at: format!("line {}", doc.line),
                    message: format!("the root element is <{}> and holds no <event>", doc.name),
                });
            }
            return Ok(events
                .iter()
                .enumerate()
                .map(|(i, e)| event(e, &format!("event {} (line {})", i + 1, e.line)))
                .collect());
        }
    }
    let mut scanner = Scanner::default();
    let mut out = Vec::new();
    let mut lines = (0usize, 1usize); // (offset, line) for incremental line counting
    let mut line_at = |offset: usize| {
        if offset < lines.0 {
            return super::line_of(bytes, offset);
        }
        lines.1 += bytes[lines.0..offset]
            .iter()
            .filter(|b| **b == b'\n')
            .count();
        lines.0 = offset;
        lines.1
    };
    let mut pos = 0;
    let mut n = 0;
    while pos < bytes.len() {
        match scanner.next(bytes, pos, usize::MAX) {
            Scan::Event { start, end } => {
                n += 1;
                let line = line_at(start);
                // An event with its bounds found stands or falls on its own.
                out.push(
                    xml::parse(&bytes[start..end], FeedFormat::Cot, line)
                        .map_err(|e| locate(e, &format!("event {n}")))
                        .and_then(|el| event(&el, &format!("event {n} (line {line})"))),
                );
                pos = end;
            }
            Scan::NeedMore { .. } => {
                if let Some(start) = scanner.event_start {
                    let line = line_at(start);
                    return Err(FeedError::Syntax {
                        format: FeedFormat::Cot,
                        at: format!("event {} (line {line})", n + 1),
                        message: "truncated: the input ends inside the event".into(),
                    });
                }
                let opening_event = matches!(
                    scanner.lex,
                    Lex::Name { close: false } | Lex::Tag { close: false, .. }
                ) && local_name(&scanner.name) == b"event";
                if opening_event {
                    let line = line_at(scanner.tag_start);
                    return Err(FeedError::Syntax {
                        format: FeedFormat::Cot,
                        at: format!("event {} (line {line})", n + 1),
                        message: "truncated: the input ends inside the <event> tag".into(),
                    });
                }
                if scanner.lex != Lex::Text {
                    let line = line_at(scanner.tag_start);
                    return Err(FeedError::Syntax {
                        format: FeedFormat::Cot,
                        at: format!("line {line}"),
                        message: "truncated: the input ends inside a tag, comment or prolog".into(),
                    });
                }
                break;
            }
            Scan::Garbage { at, message, .. } => {
                let line = line_at(at);
                return Err(FeedError::Syntax {
                    format: FeedFormat::Cot,
                    at: format!("line {line}"),
                    message,
                });
            }
            Scan::Interrupted { at, .. } => {
                let line = line_at(at);
                return Err(FeedError::Syntax {
                    format: FeedFormat::Cot,
                    at: format!("event {} (line {line})", n + 1),
                    message: "truncated: a new <event> begins before this one is closed".into(),
                });
            }
            Scan::TooLarge { .. } => unreachable!("no size limit for whole files"),
        }
    }
    if out.is_empty() {
        return Err(FeedError::Invalid {
            format: FeedFormat::Cot,
            at: "line 1".into(),
            message: "no <event> found".into(),
        });
    }
    Ok(out)
}

/// Prefix an error from parsing one event with the event it came from.
fn locate(e: FeedError, event: &str) -> FeedError {
    match e {
        FeedError::Syntax {
            format,
            at,
            message,
        } => FeedError::Syntax {
            format,
            at: format!("{event}, {at}"),
            message,
        },
        FeedError::Invalid {
            format,
            at,
            message,
        } => FeedError::Invalid {
            format,
            at: format!("{event}, {at}"),
            message,
        },
        other => other,
    }
}

fn collect_events<'a>(el: &'a El, out: &mut Vec<&'a El>) {
    for c in &el.children {
        if c.name == "event" {
            out.push(c);
        } else {
            collect_events(c, out);
        }
    }
}

/// CoT's "unknown" for hae, ce and le.
fn unknown(v: &str) -> bool {
    v.trim().parse::<f64>().is_ok_and(|x| x >= 9_999_999.0)
}

fn event(el: &El, at: &str) -> Result<Feature> {
    let uid = el.attr("uid").map(str::trim).filter(|s| !s.is_empty());
    let at = match uid {
        Some(u) => format!("{at} uid {u:?}"),
        None => at.to_string(),
    };
    let invalid = |message: String| FeedError::Invalid {
        format: FeedFormat::Cot,
        at: at.clone(),
        message,
    };
    if el.name != "event" {
        return Err(invalid(format!("expected <event>, found <{}>", el.name)));
    }
    let point = el
        .child("point")
        .ok_or_else(|| invalid("no <point>".into()))?;
    let coord = |name: &str| -> Result<f64> {
        let raw = point
            .attr(name)
            .ok_or_else(|| invalid(format!("<point> has no {name} attribute")))?;
        raw.trim()
            .parse::<f64>()
            .map_err(|_| invalid(format!("<point> {name} {raw:?} is not a number")))
    };
    let p = position(coord("lon")?, coord("lat")?).map_err(|m| invalid(format!("<point>: {m}")))?;

    let mut properties: Vec<(String, String)> = Vec::new();
    let mut time = None;
    if let Some(ty) = el.attr("type").map(str::trim).filter(|t| !t.is_empty()) {
        properties.push(("type".into(), ty.to_string()));
        properties.extend(type_gloss(ty));
    }
    if let Some(how) = el.attr("how").filter(|h| !h.trim().is_empty()) {
        properties.push(("how".into(), how.trim().to_string()));
    }
    if let Some(t) = el.attr("time") {
        time = normalize_time(t);
        if time.is_none() && !t.trim().is_empty() {
            properties.push(("time".into(), t.trim().to_string()));
        }
    }
    for key in ["start", "stale"] {
        if let Some(v) = el.attr(key).filter(|v| !v.trim().is_empty()) {
            properties.push((
                key.into(),
                normalize_time(v).unwrap_or_else(|| v.trim().into()),
            ));
        }
    }
    for key in ["hae", "ce", "le"] {
        if let Some(v) = point
            .attr(key)
            .filter(|v| !v.trim().is_empty() && !unknown(v))
        {
            properties.push((key.into(), v.trim().to_string()));
        }
    }
    let mut name = None;
    if let Some(detail) = el.child("detail") {
        if let Some(cs) = detail
            .child("contact")
            .and_then(|c| c.attr("callsign"))
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            name = Some(cs.to_string());
        }
        for c in &detail.children {
            flatten(c, &c.name, &mut properties);
        }
    }
    Ok(Feature {
        uid: uid.map(str::to_string),
        name,
        geometry: Geometry::Point(p),
        time,
        properties,
    })
}

/// Attributes (`path.attr`) then text (`path`) of an element, then its children.
fn flatten(el: &El, path: &str, out: &mut Vec<(String, String)>) {
    for (k, v) in &el.attrs {
        if path == "contact" && k == "callsign" {
            continue; // the name
        }
        if !v.trim().is_empty() {
            out.push((format!("{path}.{k}"), v.trim().to_string()));
        }
    }
    let text = collapse_ws(&el.text);
    if !text.is_empty() {
        out.push((path.to_string(), text));
    }
    for c in &el.children {
        flatten(c, &format!("{path}.{}", c.name), out);
    }
}

/// The human reading of a CoT type such as `a-f-G-U-C`: affiliation, battle dimension and, for
/// common codes, function.
pub fn type_gloss(ty: &str) -> Vec<(String, String)> {
    let parts: Vec<&str> = ty.split('-').collect();
    let mut out = Vec::new();
    if parts.first() != Some(&"a") {
        let kind = match parts.first().copied() {
            Some("b") => "bits (data, not a thing)",
            Some("t") => "tasking",
            Some("r") => "reply",
            Some("c") => "capability",
            Some("y") => "reply (tasking)",
            _ => return out,
        };
        out.push(("category".into(), kind.into()));
        return out;
    }
    let affiliation = match parts.get(1).copied() {
        Some("f") => "friend",
        Some("h") => "hostile",
        Some("n") => "neutral",
        Some("u") => "unknown",
        Some("a") => "assumed friend",
        Some("s") => "suspect",
        Some("p") => "pending",
        Some("j") => "joker",
        Some("k") => "faker",
        Some("o") => "none specified",
        Some("x") => "other",
        _ => "",
    };
    if !affiliation.is_empty() {
        out.push(("affiliation".into(), affiliation.into()));
    }
    let dimension = match parts.get(2).copied() {
        Some("P") => "space",
        Some("A") => "air",
        Some("G") => "ground",
        Some("S") => "sea surface",
        Some("U") => "subsurface",
        Some("F") => "special operations forces",
        Some("X") => "other",
        _ => "",
    };
    if dimension.is_empty() {
        return out;
    }
    out.push(("dimension".into(), dimension.into()));
    // Function codes: the most common ones, longest match first.
    const FUNCTIONS: &[(&str, &str)] = &[
        ("A-C-F", "civilian fixed wing"),
        ("A-C-H", "civilian rotary wing"),
        ("A-C-L", "civilian lighter than air"),
        ("A-C", "civilian aircraft"),
        ("A-M-F-Q", "unmanned aerial vehicle"),
        ("A-M-F-F", "fighter"),
        ("A-M-F-A", "attack aircraft"),
        ("A-M-F-K", "tanker"),
        ("A-M-F-C", "cargo aircraft"),
        ("A-M-F-R", "reconnaissance aircraft"),
        ("A-M-F", "military fixed wing"),
        ("A-M-H", "military rotary wing"),
        ("A-M", "military aircraft"),
        ("A-W", "weapon (missile)"),
        ("G-U-C-I", "infantry"),
        ("G-U-C-A", "armour"),
        ("G-U-C-F", "field artillery"),
        ("G-U-C-R", "reconnaissance"),
        ("G-U-C-E", "engineers"),
        ("G-U-C", "combat unit"),
        ("G-U-U", "combat support unit"),
        ("G-U-S", "combat service support unit"),
        ("G-U", "unit"),
        ("G-E-V-C", "civilian vehicle"),
        ("G-E-V", "ground vehicle"),
        ("G-E-W", "weapon"),
        ("G-E", "equipment"),
        ("G-I", "installation"),
        ("S-C", "combatant vessel"),
        ("S-N", "non-combatant vessel"),
        ("S-X", "non-military vessel"),
        ("U-S", "submarine"),
    ];
    let rest = parts[2..].join("-");
    if let Some((_, f)) = FUNCTIONS
        .iter()
        .filter(|(code, _)| rest == *code || rest.starts_with(&format!("{code}-")))
        .max_by_key(|(code, _)| code.len())
    {
        out.push(("function".into(), (*f).into()));
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Splitting a byte stream into events.

/// The lexer's place inside markup. Every byte is looked at once, so a stream fed one byte at a
/// time costs the same as one fed in a single piece.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
enum Lex {
    /// Character data (or whitespace between events).
    #[default]
    Text,
    /// Just after `<`.
    Lt,
    /// After `<!`, matching `--` or `[CDATA[`: how many bytes of each matched so far.
    Bang {
        comment: u8,
        cdata: u8,
    },
    Comment {
        dashes: u8,
    },
    Cdata {
        brackets: u8,
    },
    /// `<!DOCTYPE ...>`, with `[...]` nesting.
    Decl {
        depth: u8,
        quote: u8,
    },
    /// `<? ... ?>`.
    Pi {
        question: bool,
    },
    /// In a tag's name.
    Name {
        close: bool,
    },
    /// In a tag after its name; `quote` is the open quote byte or 0; `slash` when the last
    /// significant byte was `/`.
    Tag {
        close: bool,
        quote: u8,
        slash: bool,
    },
}

#[derive(Debug, Default)]
struct Scanner {
    lex: Lex,
    depth: usize,
    /// Where the current event's `<event` began.
    event_start: Option<usize>,
    /// Where the tag being lexed began.
    tag_start: usize,
    /// The tag name being lexed (first bytes only: enough to tell `event`).
    name: Vec<u8>,
}

#[derive(Debug, PartialEq)]
enum Scan {
    /// A whole event: `buf[start..end]`.
    Event { start: usize, end: usize },
    /// The buffer ends before anything complete; scan again from `pos` with more bytes.
    NeedMore { pos: usize },
    /// Something other than an event between events; `resume` is the byte after it.
    Garbage {
        at: usize,
        resume: usize,
        message: String,
    },
    /// The event that began at `at` was not closed before a new `<event` began at `next`.
    Interrupted { at: usize, next: usize },
    /// The current event (or markup between events) has passed the size limit at `pos`.
    TooLarge { pos: usize },
}

impl Scanner {
    /// Scan `buf` from `pos` (where the previous call stopped) with the lexer state carried over.
    fn next(&mut self, buf: &[u8], mut pos: usize, max_event: usize) -> Scan {
        while pos < buf.len() {
            let b = buf[pos];
            match self.lex {
                Lex::Text => {
                    if b == b'<' {
                        self.lex = Lex::Lt;
                        self.tag_start = pos;
                    } else if self.event_start.is_none() && !b.is_ascii_whitespace() {
                        let end = buf[pos..]
                            .iter()
                            .position(|c| *c == b'<')
                            .map_or(buf.len(), |i| pos + i);
                        return Scan::Garbage {
                            at: pos,
                            resume: end,
                            message: "unexpected text between events".into(),
                        };
                    }
                }
                Lex::Lt => {
                    self.lex = match b {
                        b'/' => {
                            self.name.clear();
                            Lex::Name { close: true }
                        }
                        b'?' => Lex::Pi { question: false },
                        b'!' => Lex::Bang {
                            comment: 0,
                            cdata: 0,
                        },
                        _ if b.is_ascii_whitespace() || b == b'>' || b == b'<' => {
                            if self.event_start.is_none() {
                                return Scan::Garbage {
                                    at: self.tag_start,
                                    resume: pos,
                                    message: "a stray '<' between events".into(),
                                };
                            }
                            // inside an event: the event's own parse will report it
                            if b == b'<' {
                                self.tag_start = pos;
                                Lex::Lt
                            } else {
                                Lex::Text
                            }
                        }
                        _ => {
                            self.name.clear();
                            self.name.push(b);
                            Lex::Name { close: false }
                        }
                    };
                }
                Lex::Bang { comment, cdata } => {
                    const CDATA: &[u8] = b"[CDATA[";
                    let c = if comment < 2 && b == b'-' {
                        comment + 1
                    } else {
                        0
                    };
                    let d = if (cdata as usize) < CDATA.len() && b == CDATA[cdata as usize] {
                        cdata + 1
                    } else {
                        0
                    };
                    self.lex = if c == 2 {
                        Lex::Comment { dashes: 0 }
                    } else if d as usize == CDATA.len() {
                        Lex::Cdata { brackets: 0 }
                    } else if c == 0 && d == 0 {
                        if b == b'>' {
                            Lex::Text
                        } else {
                            Lex::Decl {
                                depth: u8::from(b == b'['),
                                quote: 0,
                            }
                        }
                    } else {
                        Lex::Bang {
                            comment: c,
                            cdata: d,
                        }
                    };
                }
                Lex::Comment { dashes } => {
                    self.lex = match b {
                        b'-' => Lex::Comment {
                            dashes: (dashes + 1).min(2),
                        },
                        b'>' if dashes >= 2 => Lex::Text,
                        _ => Lex::Comment { dashes: 0 },
                    };
                }
                Lex::Cdata { brackets } => {
                    self.lex = match b {
                        b']' => Lex::Cdata {
                            brackets: (brackets + 1).min(2),
                        },
                        b'>' if brackets >= 2 => Lex::Text,
                        _ => Lex::Cdata { brackets: 0 },
                    };
                }
                Lex::Decl { depth, quote } => {
                    self.lex = if quote != 0 {
                        Lex::Decl {
                            depth,
                            quote: if b == quote { 0 } else { quote },
                        }
                    } else {
                        match b {
                            b'"' | b'\'' => Lex::Decl { depth, quote: b },
                            b'[' => Lex::Decl {
                                depth: depth.saturating_add(1),
                                quote,
                            },
                            b']' => Lex::Decl {
                                depth: depth.saturating_sub(1),
                                quote,
                            },
                            b'>' if depth == 0 => Lex::Text,
                            _ => Lex::Decl { depth, quote },
                        }
                    };
                }
                Lex::Pi { question } => {
                    self.lex = match b {
                        b'>' if question => Lex::Text,
                        _ => Lex::Pi {
                            question: b == b'?',
                        },
                    };
                }
                Lex::Name { close } => {
                    if b.is_ascii_whitespace() || b == b'/' || b == b'>' {
                        self.lex = Lex::Tag {
                            close,
                            quote: 0,
                            slash: false,
                        };
                        continue; // look at this byte again as part of the tag
                    }
                    if self.name.len() < 16 {
                        self.name.push(b);
                    }
                }
                Lex::Tag {
                    close,
                    quote,
                    slash,
                } => {
                    if quote != 0 {
                        if b == quote {
                            self.lex = Lex::Tag {
                                close,
                                quote: 0,
                                slash: false,
                            };
                        }
                    } else if b == b'"' || b == b'\'' {
                        self.lex = Lex::Tag {
                            close,
                            quote: b,
                            slash: false,
                        };
                    } else if b == b'>' {
                        self.lex = Lex::Text;
                        let is_event = local_name(&self.name) == b"event";
                        if close {
                            if is_event && self.event_start.is_some() {
                                let start = self.event_start.take().unwrap_or(0);
                                self.depth = 0;
                                return Scan::Event {
                                    start,
                                    end: pos + 1,
                                };
                            }
                            if self.event_start.is_none() {
                                return Scan::Garbage {
                                    at: self.tag_start,
                                    resume: pos + 1,
                                    message: format!(
                                        "a closing tag </{}> outside an event",
                                        String::from_utf8_lossy(&self.name)
                                    ),
                                };
                            }
                            self.depth = self.depth.saturating_sub(1);
                        } else if is_event {
                            if let Some(prev) = self.event_start {
                                // The previous event never closed. The caller drops it and
                                // scans again from this tag with a fresh scanner.
                                return Scan::Interrupted {
                                    at: prev,
                                    next: self.tag_start,
                                };
                            }
                            if slash {
                                return Scan::Event {
                                    start: self.tag_start,
                                    end: pos + 1,
                                };
                            }
                            self.event_start = Some(self.tag_start);
                            self.depth = 1;
                        } else if self.event_start.is_none() {
                            return Scan::Garbage {
                                at: self.tag_start,
                                resume: pos + 1,
                                message: format!(
                                    "expected <event>, found <{}>",
                                    String::from_utf8_lossy(&self.name)
                                ),
                            };
                        } else if !slash {
                            self.depth += 1;
                        }
                    } else if b == b'/' {
                        self.lex = Lex::Tag {
                            close,
                            quote,
                            slash: true,
                        };
                    } else if !b.is_ascii_whitespace() {
                        self.lex = Lex::Tag {
                            close,
                            quote,
                            slash: false,
                        };
                    }
                }
            }
            pos += 1;
            let from = self.event_start.unwrap_or(self.tag_start);
            let in_markup = self.event_start.is_some() || self.lex != Lex::Text;
            if in_markup && pos - from > max_event {
                return Scan::TooLarge { pos };
            }
        }
        Scan::NeedMore { pos }
    }
}

fn local_name(name: &[u8]) -> &[u8] {
    match name.iter().rposition(|b| *b == b':') {
        Some(i) => &name[i + 1..],
        None => name,
    }
}

/// Cuts a TAK stream (CoT events over TCP, or a UDP/file feed read in pieces) into events.
///
/// [`CotStream::push`] takes bytes as they arrive: an event may be split anywhere across
/// pushes, several may come in one, with whitespace, comments or an `<?xml ...?>` prolog
/// between them. Each complete event comes back parsed, or as the error that names it.
/// Resynchronisation: text that is not an event, an event that outgrows `max_event` bytes, or
/// an event cut off by the start of another is reported once and skipped up to the next
/// `<event` or `<?xml`; the stream then carries on.
#[derive(Debug)]
pub struct CotStream {
    max_event: usize,
    buf: Vec<u8>,
    /// Scan position in `buf`.
    pos: usize,
    scanner: Scanner,
    /// Skipping bytes until the next `<event` / `<?xml`.
    resync: bool,
    /// Events (and failures to read one) so far, for messages.
    seen: usize,
    /// Bytes dropped from the front of `buf` so far, for messages.
    dropped: u64,
}

impl CotStream {
    /// `max_event`: the most bytes one event may take (1 MiB is plenty: real events are a few
    /// hundred bytes to a few KiB).
    pub fn new(max_event: usize) -> Self {
        CotStream {
            max_event: max_event.max(16),
            buf: Vec::new(),
            pos: 0,
            scanner: Scanner::default(),
            resync: false,
            seen: 0,
            dropped: 0,
        }
    }

    /// Bytes held for an event not yet complete.
    pub fn pending(&self) -> usize {
        self.buf.len()
    }

    /// The end of the stream: an error if it stopped inside an event.
    pub fn finish(self) -> Option<FeedError> {
        let partial = !self.resync && self.buf.iter().any(|b| !b.is_ascii_whitespace());
        partial.then(|| FeedError::Syntax {
            format: FeedFormat::Cot,
            at: format!("event {} at stream byte {}", self.seen + 1, self.dropped),
            message: "the stream ended inside an event".into(),
        })
    }

    pub fn push(&mut self, bytes: &[u8]) -> Vec<Result<Feature>> {
        self.buf.extend_from_slice(bytes);
        let mut out = Vec::new();
        loop {
            if self.resync {
                match find_resync(&self.buf) {
                    Some(i) => {
                        self.consume(i);
                        self.resync = false;
                    }
                    None => {
                        // keep a tail that may be the start of "<event" or "<?xml"
                        self.consume(self.buf.len().saturating_sub(6));
                        break;
                    }
                }
            }
            match self.scanner.next(&self.buf, self.pos, self.max_event) {
                Scan::Event { start, end } => {
                    self.seen += 1;
                    let at = self.at(start);
                    let parsed = xml::parse(&self.buf[start..end], FeedFormat::Cot, 1)
                        .map_err(|e| locate(e, &at))
                        .and_then(|el| event(&el, &at));
                    out.push(parsed);
                    self.consume(end);
                }
                Scan::NeedMore { pos } => {
                    // Nothing before the event (or the tag being lexed) is needed any more.
                    let keep_from = match (self.scanner.event_start, self.scanner.lex) {
                        (Some(s), _) => s,
                        (None, Lex::Text) => pos,
                        (None, _) => self.scanner.tag_start,
                    };
                    self.consume(keep_from);
                    self.pos = pos - keep_from;
                    break;
                }
                Scan::Garbage {
                    at,
                    resume,
                    message,
                } => {
                    out.push(Err(FeedError::Syntax {
                        format: FeedFormat::Cot,
                        at: format!("stream byte {}", self.dropped + at as u64),
                        message: format!("{message}; skipped to the next event"),
                    }));
                    self.consume(resume);
                    self.resync = true;
                }
                Scan::Interrupted { at, next } => {
                    self.seen += 1;
                    out.push(Err(FeedError::Syntax {
                        format: FeedFormat::Cot,
                        at: self.at(at),
                        message: "truncated: a new <event> began before it was closed".into(),
                    }));
                    self.consume(next);
                }
                Scan::TooLarge { pos } => {
                    self.seen += 1;
                    let start = self.scanner.event_start.unwrap_or(self.scanner.tag_start);
                    out.push(Err(FeedError::TooLarge {
                        at: self.at(start),
                        max: self.max_event,
                    }));
                    self.consume(pos);
                    self.resync = true;
                }
            }
        }
        out
    }

    fn at(&self, offset: usize) -> String {
        format!(
            "event {} at stream byte {}",
            self.seen,
            self.dropped + offset as u64
        )
    }

    /// Drop `buf[..n]` and start scanning afresh at the new front (callers that keep a partial
    /// scan set `pos` and keep the scanner themselves: see `NeedMore`).
    fn consume(&mut self, n: usize) {
        let n = n.min(self.buf.len());
        self.buf.drain(..n);
        self.dropped += n as u64;
        self.pos = 0;
        let s = &mut self.scanner;
        match s.event_start {
            Some(start) if start >= n => {
                s.event_start = Some(start - n);
                s.tag_start = s.tag_start.saturating_sub(n);
            }
            // the event (or the tag being lexed) was dropped: the scanner starts over
            Some(_) => *s = Scanner::default(),
            None if s.lex != Lex::Text && s.tag_start < n => *s = Scanner::default(),
            None => s.tag_start = s.tag_start.saturating_sub(n),
        }
    }
}

/// Where the next event (or its prolog) may begin.
fn find_resync(buf: &[u8]) -> Option<usize> {
    (0..buf.len()).find(|&i| {
        let rest = &buf[i..];
        rest.starts_with(b"<?xml")
            || (rest.starts_with(b"<event")
                && rest
                    .get(6)
                    .is_some_and(|b| b.is_ascii_whitespace() || *b == b'>' || *b == b'/'))
    })
}
