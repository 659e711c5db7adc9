//! Geospatial feed readers: GeoJSON (and newline-delimited GeoJSON), KML, GPX, CSV/TSV and
//! Cursor-on-Target, each turned into [`Feature`]s (a geometry, an optional uid, name and time,
//! and the remaining attributes as text properties in source order).
//!
//! Rules shared by every reader:
//! * bytes in, features out; no IO, and never a panic on bad input;
//! * bad input is an error that names where it is (`line 12`, `feature 3`, `placemark 2
//!   "Gate" (line 40)`, `row 7 (line 8) column "lat"`) and the whole file fails: nothing is
//!   skipped silently, so nothing is lost without the user knowing (see the CSV note in
//!   [`parse`]);
//! * every position is range-checked (longitude -180..=180, latitude -90..=90, finite) and
//!   every polygon ring must be closed and have four positions or more;
//! * a collection of geometries becomes one multi-geometry when its members are all points,
//!   all lines or all polygons; a collection that mixes kinds is rejected (a [`Geometry`] cannot
//!   hold it);
//! * times become RFC 3339 (`2024-03-01T12:00:00Z`) when they can be read: RFC 3339 itself, the
//!   same with a space for `T` or without an offset (taken as UTC), or a number of seconds
//!   (milliseconds above 10^11) since 1970. A time that cannot be read stays a property under
//!   its own name instead of being dropped.
//!
//! [`CotStream`] splits a TAK TCP stream (events cut anywhere across reads) into events.

mod cot;
mod delimited;
mod geojson;
mod gpx;
mod kml;
mod xml;

#[cfg(test)]
mod tests;

use std::fmt;
use std::path::Path;

pub use cot::CotStream;
pub use sextant_types::Geometry;

/// One of the feed formats this module reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FeedFormat {
    GeoJson,
    Kml,
    Gpx,
    Csv,
    Cot,
}

impl FeedFormat {
    pub const ALL: [FeedFormat; 5] = [
        FeedFormat::GeoJson,
        FeedFormat::Kml,
        FeedFormat::Gpx,
        FeedFormat::Csv,
        FeedFormat::Cot,
    ];

    /// The format a file name says: `.geojson .ndjson .geojsonl .kml .gpx .csv .tsv .cot`
    /// (any case). Plain `.json` and `.xml` say nothing by themselves: use [`FeedFormat::sniff`].
    pub fn from_path(p: &Path) -> Option<FeedFormat> {
        let ext = p.extension()?.to_str()?.to_ascii_lowercase();
        Some(match ext.as_str() {
            "geojson" | "ndjson" | "geojsonl" | "geojsons" => FeedFormat::GeoJson,
            "kml" => FeedFormat::Kml,
            "gpx" => FeedFormat::Gpx,
            "csv" | "tsv" => FeedFormat::Csv,
            "cot" => FeedFormat::Cot,
            _ => return None,
        })
    }

    /// The format the content says: a JSON object whose `"type"` is a GeoJSON type (the first
    /// 64 KiB are looked at), or XML whose root element is `kml`, `gpx` or `event`. CSV is never
    /// sniffed (too many texts look like it).
    pub fn sniff(bytes: &[u8]) -> Option<FeedFormat> {
        let head = &bytes[..bytes.len().min(64 * 1024)];
        let head = strip_bom(head);
        let start = head
            .iter()
            .position(|b| !b.is_ascii_whitespace() && *b != 0x1e)?;
        match head[start] {
            b'{' => geojson::looks_like_geojson(&head[start..]).then_some(FeedFormat::GeoJson),
            b'<' => match xml::root_name(&head[start..])?.as_str() {
                "kml" => Some(FeedFormat::Kml),
                "gpx" => Some(FeedFormat::Gpx),
                "event" => Some(FeedFormat::Cot),
                _ => None,
            },
            _ => None,
        }
    }

    /// [`FeedFormat::from_path`], else [`FeedFormat::sniff`] (for `.json`, `.xml` and the rest).
    pub fn detect(p: &Path, bytes: &[u8]) -> Option<FeedFormat> {
        Self::from_path(p).or_else(|| Self::sniff(bytes))
    }

    pub fn as_str(self) -> &'static str {
        match self {
            FeedFormat::GeoJson => "geojson",
            FeedFormat::Kml => "kml",
            FeedFormat::Gpx => "gpx",
            FeedFormat::Csv => "csv",
            FeedFormat::Cot => "cot",
        }
    }
}

impl fmt::Display for FeedFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which CSV columns hold the coordinates, when the header does not say it in a way
/// [`parse`] recognises. Names match the header case-insensitively.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CsvColumns {
    pub lat: Option<String>,
    pub lon: Option<String>,
}

/// One record of a feed.
#[derive(Debug, Clone, PartialEq)]
pub struct Feature {
    /// GeoJSON `id` (else `properties.id`/`uid`), KML `id` attribute, CoT `uid`, CSV `id`/`uid`
    /// column. Repeated uids are the same object seen again (a track).
    pub uid: Option<String>,
    pub name: Option<String>,
    pub geometry: Geometry,
    /// RFC 3339, when the source has a readable time (see the module notes).
    pub time: Option<String>,
    /// Everything else, in source order, values as text.
    pub properties: Vec<(String, String)>,
}

impl Feature {
    /// The first property called `key`, if any.
    pub fn property(&self, key: &str) -> Option<&str> {
        self.properties
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The record as searchable text: the name on the first line (else the uid, else the
    /// geometry kind), then `key: value` lines: uid, time, then the properties in order (for CoT
    /// that includes the type and its gloss: affiliation, dimension, function). Whitespace in
    /// values is collapsed to single spaces so every property stays on one line. Deterministic.
    pub fn text(&self) -> String {
        let mut out = String::new();
        let head = self
            .name
            .as_deref()
            .or(self.uid.as_deref())
            .unwrap_or_else(|| geometry_kind(&self.geometry));
        out.push_str(&collapse_ws(head));
        let mut line = |k: &str, v: &str| {
            let v = collapse_ws(v);
            if !v.is_empty() {
                out.push('\n');
                out.push_str(&collapse_ws(k));
                out.push_str(": ");
                out.push_str(&v);
            }
        };
        if self.name.is_some() {
            if let Some(uid) = &self.uid {
                line("uid", uid);
            }
        }
        if let Some(t) = &self.time {
            line("time", t);
        }
        for (k, v) in &self.properties {
            line(k, v);
        }
        out
    }
}

/// The GeoJSON name of a geometry's kind (`"Point"`, `"MultiPolygon"`, ...).
pub fn geometry_kind(g: &Geometry) -> &'static str {
    match g {
        Geometry::Point(_) => "Point",
        Geometry::MultiPoint(_) => "MultiPoint",
        Geometry::LineString(_) => "LineString",
        Geometry::MultiLineString(_) => "MultiLineString",
        Geometry::Polygon(_) => "Polygon",
        Geometry::MultiPolygon(_) => "MultiPolygon",
    }
}

/// Why a feed could not be read. Every message says where (`at`): a line, a feature, a
/// placemark, a row and column, an event.
#[derive(thiserror::Error, Debug, Clone, PartialEq)]
pub enum FeedError {
    /// The bytes are not well-formed JSON / XML / CSV.
    #[error("{format}: {at}: {message}")]
    Syntax {
        format: FeedFormat,
        at: String,
        message: String,
    },
    /// Well-formed, but not a valid feed record (bad coordinates, missing column, open ring...).
    #[error("{format}: {at}: {message}")]
    Invalid {
        format: FeedFormat,
        at: String,
        message: String,
    },
    /// A CoT stream event grew past the size limit; the stream skips to the next event.
    #[error("cot: {at}: event larger than {max} bytes, skipped")]
    TooLarge { at: String, max: usize },
}

impl FeedError {
    pub fn format(&self) -> FeedFormat {
        match self {
            FeedError::Syntax { format, .. } | FeedError::Invalid { format, .. } => *format,
            FeedError::TooLarge { .. } => FeedFormat::Cot,
        }
    }

    /// Where the problem is, as the message says it.
    pub fn at(&self) -> &str {
        match self {
            FeedError::Syntax { at, .. }
            | FeedError::Invalid { at, .. }
            | FeedError::TooLarge { at, .. } => at,
        }
    }
}

pub type Result<T> = std::result::Result<T, FeedError>;

/// Read a whole feed.
///
/// * GeoJSON: a FeatureCollection, a Feature, a bare geometry, or several of those one after
///   another (newline-delimited GeoJSON, also RFC 8142 sequences); errors say `feature N` in a
///   collection and `line N` in a newline-delimited file.
/// * KML: every Placemark under the root, in any depth of Document/Folder; the folder path is
///   the `folder` property.
/// * GPX: waypoints (points), tracks (a line per track, a multi-line for several segments,
///   time of the first point, `end` = time of the last), routes (lines).
/// * CSV / TSV: the delimiter is read from the header line (comma, tab, semicolon or bar). The
///   coordinate columns are found by name (see [`CsvColumns`] to name them).
///
/// A bad feature (row, placemark, event) fails the whole read here, with where it is; [`read`]
/// reports it in its place and keeps the others. Neither ever drops one quietly.
/// * CoT: one or more `<event>`s (each optionally after its own `<?xml ...?>` prolog), or any
///   root element that contains events.
pub fn parse(format: FeedFormat, bytes: &[u8], csv: &CsvColumns) -> Result<Vec<Feature>> {
    read(format, bytes, csv)?.into_iter().collect()
}

/// Reads a feed's features in document order, each on its own: one that cannot be read
/// (a position out of range, a row with too few fields, a malformed event) is an `Err` in its
/// place, saying where, and the others stand. A file that cannot be read at all (broken
/// syntax, the wrong format, no header) is an `Err` as a whole.
pub fn read(format: FeedFormat, bytes: &[u8], csv: &CsvColumns) -> Result<Vec<Result<Feature>>> {
    let bytes = strip_bom(bytes);
    match format {
        FeedFormat::GeoJson => geojson::parse(bytes),
        FeedFormat::Kml => kml::parse(bytes),
        FeedFormat::Gpx => gpx::parse(bytes),
        FeedFormat::Csv => delimited::parse(bytes, csv),
        FeedFormat::Cot => cot::parse(bytes),
    }
}

fn strip_bom(b: &[u8]) -> &[u8] {
    b.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(b)
}

// ---------------------------------------------------------------------------------------------
// Helpers shared by the readers.

/// A checked position. `Err` is the message (the caller adds where).
fn position(lon: f64, lat: f64) -> std::result::Result<[f64; 2], String> {
    if !lon.is_finite() || !lat.is_finite() {
        return Err(format!("position ({lon}, {lat}) is not finite"));
    }
    if !(-180.0..=180.0).contains(&lon) {
        return Err(format!("longitude {lon} is out of range -180..180"));
    }
    if !(-90.0..=90.0).contains(&lat) {
        return Err(format!("latitude {lat} is out of range -90..90"));
    }
    Ok([lon, lat])
}

/// A line needs two positions or more.
fn check_line(line: &[[f64; 2]], what: &str) -> std::result::Result<(), String> {
    if line.len() < 2 {
        return Err(format!(
            "{what} has {} position(s), a line needs 2 or more",
            line.len()
        ));
    }
    Ok(())
}

/// A polygon ring: four positions or more, the last equal to the first.
fn check_ring(ring: &[[f64; 2]], what: &str) -> std::result::Result<(), String> {
    if ring.len() < 4 {
        return Err(format!(
            "{what} has {} position(s), a ring needs 4 or more",
            ring.len()
        ));
    }
    let (first, last) = (ring[0], ring[ring.len() - 1]);
    if first != last {
        return Err(format!(
            "{what} is not closed: it starts at ({}, {}) and ends at ({}, {})",
            first[0], first[1], last[0], last[1]
        ));
    }
    Ok(())
}

/// One geometry for the members of a collection (GeoJSON GeometryCollection, KML
/// MultiGeometry): the member itself when there is one, else a multi-geometry of one kind.
fn merge_geometries(parts: Vec<Geometry>) -> std::result::Result<Geometry, String> {
    if parts.len() == 1 {
        return Ok(parts.into_iter().next().expect("one part"));
    }
    if parts.is_empty() {
        return Err("the collection is empty".into());
    }
    let (mut points, mut lines, mut polys) = (Vec::new(), Vec::new(), Vec::new());
    for g in parts {
        match g {
            Geometry::Point(p) => points.push(p),
            Geometry::MultiPoint(ps) => points.extend(ps),
            Geometry::LineString(l) => lines.push(l),
            Geometry::MultiLineString(ls) => lines.extend(ls),
            Geometry::Polygon(p) => polys.push(p),
            Geometry::MultiPolygon(ps) => polys.extend(ps),
        }
    }
    let kinds = [
        (!points.is_empty()).then_some("points"),
        (!lines.is_empty()).then_some("lines"),
        (!polys.is_empty()).then_some("polygons"),
    ];
    let present: Vec<&str> = kinds.into_iter().flatten().collect();
    match present.as_slice() {
        ["points"] => Ok(Geometry::MultiPoint(points)),
        ["lines"] => Ok(Geometry::MultiLineString(lines)),
        ["polygons"] => Ok(Geometry::MultiPolygon(polys)),
        _ => Err(format!(
            "the collection mixes {}; only collections of one kind are supported (split it into \
             separate features)",
            present.join(" and ")
        )),
    }
}

/// A number as property text: integers without a fraction, others in the shortest form that
/// reads back the same.
fn number_text(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

fn collapse_ws(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for word in s.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// The 1-based line of byte `offset` in `bytes`.
fn line_of(bytes: &[u8], offset: usize) -> usize {
    1 + bytes[..offset.min(bytes.len())]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
}

/// A time as RFC 3339, when it can be read (see the module notes); `None` otherwise.
pub fn normalize_time(s: &str) -> Option<String> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    // A bare number of 9 digits or more (1973 on in seconds) is an epoch time; shorter ones
    // are more likely years or something else.
    let int_digits = s.bytes().take_while(u8::is_ascii_digit).count();
    if int_digits >= 9 && s.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return epoch_time(s);
    }
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| -> Option<u32> {
        let part = b.get(r)?;
        if part.iter().all(u8::is_ascii_digit) {
            std::str::from_utf8(part).ok()?.parse().ok()
        } else {
            None
        }
    };
    let year = digits(0..4)?;
    let month = digits(5..7)?;
    let day = digits(8..10)?;
    if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
        return None;
    }
    if !matches!(b.get(10), Some(b'T' | b't' | b' ')) {
        return None;
    }
    let hour = digits(11..13)?;
    let minute = digits(14..16)?;
    if b.get(13) != Some(&b':') {
        return None;
    }
    let mut i = 16;
    let mut second = 0;
    if b.get(i) == Some(&b':') {
        second = digits(17..19)?;
        i = 19;
    }
    let mut frac = "";
    if b.get(i) == Some(&b'.') {
        let n = b[i + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 {
            return None;
        }
        frac = &s[i..i + 1 + n];
        i += 1 + n;
    }
    let offset = match &s[i..] {
        "" | "Z" | "z" => "Z".to_string(),
        o => {
            let ob = o.as_bytes();
            let sign = ob[0];
            if sign != b'+' && sign != b'-' {
                return None;
            }
            let (oh, om) = match ob.len() {
                6 if ob[3] == b':' => (digits(i + 1..i + 3)?, digits(i + 4..i + 6)?),
                5 => (digits(i + 1..i + 3)?, digits(i + 3..i + 5)?),
                3 => (digits(i + 1..i + 3)?, 0),
                _ => return None,
            };
            if oh > 23 || om > 59 {
                return None;
            }
            format!("{}{oh:02}:{om:02}", sign as char)
        }
    };
    let days_in_month = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        _ => return None,
    };
    if day == 0 || day > days_in_month || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    Some(format!(
        "{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}{frac}{offset}"
    ))
}

/// Seconds since 1970 (milliseconds when above 10^11, i.e. after 5138 in seconds) as RFC 3339 UTC.
fn epoch_time(s: &str) -> Option<String> {
    let v: f64 = s.parse().ok()?;
    if !v.is_finite() || v < 0.0 {
        return None;
    }
    let millis = if v >= 1e11 { v } else { v * 1000.0 };
    if millis >= 253_402_300_800_000.0 {
        return None; // year 10000
    }
    let millis = millis.round() as i64;
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000).ok()?;
    let whole = millis.rem_euclid(1000) == 0;
    let format = if whole {
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z")
    } else {
        time::macros::format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
        )
    };
    t.format(format).ok()
}

/// HTML (as found in KML descriptions) to plain text: tags dropped (block tags and `<br>` become
/// spaces; `script` and `style` contents dropped), entities decoded, whitespace collapsed.
fn html_to_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(i) = rest.find(['<', '&']) {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        if rest.starts_with("<!--") {
            rest = rest.find("-->").map_or("", |j| &rest[j + 3..]);
        } else if rest.starts_with('<') {
            let is_tag = rest[1..]
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '/' || c == '!' || c == '?');
            if !is_tag {
                out.push('<');
                rest = &rest[1..];
                continue;
            }
            let end = rest.find('>').map_or(rest.len(), |j| j + 1);
            let name: String = rest[1..end]
                .trim_start_matches('/')
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric())
                .collect::<String>()
                .to_ascii_lowercase();
            rest = &rest[end..];
            if name == "script" || name == "style" {
                let close = format!("</{name}");
                let lower = rest.to_ascii_lowercase();
                rest = lower
                    .find(&close)
                    .and_then(|j| rest[j..].find('>').map(|k| &rest[j + k + 1..]))
                    .unwrap_or("");
            }
            out.push(' ');
        } else {
            // an entity
            let end = rest[1..]
                .char_indices()
                .take(12)
                .find(|(_, c)| *c == ';')
                .map(|(j, _)| j + 1);
            let decoded = end.and_then(|e| decode_entity(&rest[1..e]));
            match (end, decoded) {
                (Some(e), Some(c)) => {
                    out.push(c);
                    rest = &rest[e + 1..];
                }
                _ => {
                    out.push('&');
                    rest = &rest[1..];
                }
            }
        }
    }
    out.push_str(rest);
    collapse_ws(&out)
}

fn decode_entity(name: &str) -> Option<char> {
    if let Some(num) = name.strip_prefix('#') {
        let code = match num.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok()?,
            None => num.parse().ok()?,
        };
        return char::from_u32(code);
    }
    Some(match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        "nbsp" => ' ',
        "ndash" => '–',
        "mdash" => '—',
        "deg" => '°',
        "copy" => '©',
        "hellip" => '…',
        "rsquo" => '’',
        "lsquo" => '‘',
        "rdquo" => '”',
        "ldquo" => '“',
        _ => return None,
    })
}
