//! CSV and TSV with a header line. The delimiter is the most frequent of `,` `\t` `;` `|` in the
//! header. Latitude and longitude columns are found by name (`lat`, `latitude`, `Latitude
//! (deg)`, `lat_dd`, `y`... and `lon`, `lng`, `long`, `longitude`, `x`..., case and units
//! ignored) unless [`CsvColumns`] names them. A `name`/`title`/`callsign` column is the name,
//! `id`/`uid` the uid, `time`/`timestamp`/`datetime`/`when` the time; every other non-empty cell
//! is a property named by its header. One bad row fails the file with its row and line number.

use super::{
    normalize_time, position, CsvColumns, Feature, FeedError, FeedFormat, Geometry, Result,
};

const LAT_NAMES: [&str; 6] = [
    "latitude",
    "lat",
    "decimallatitude",
    "decimal_latitude",
    "lat_y",
    "y",
];
const LON_NAMES: [&str; 10] = [
    "longitude",
    "lon",
    "lng",
    "long",
    "decimallongitude",
    "decimal_longitude",
    "lon_x",
    "lng_x",
    "long_x",
    "x",
];
const NAME_NAMES: [&str; 3] = ["name", "title", "callsign"];
const UID_NAMES: [&str; 2] = ["id", "uid"];
const TIME_NAMES: [&str; 5] = ["time", "timestamp", "datetime", "date_time", "when"];

fn syntax(at: String, message: String) -> FeedError {
    FeedError::Syntax {
        format: FeedFormat::Csv,
        at,
        message,
    }
}

fn invalid(at: String, message: String) -> FeedError {
    FeedError::Invalid {
        format: FeedFormat::Csv,
        at,
        message,
    }
}

/// A header name reduced for matching: lower case, runs of other characters as `_`, and unit
/// suffixes (`deg`, `dd`, `degrees`, `wgs84`, `decimal`) dropped: `Latitude (deg)` is `latitude`.
fn normalise(header: &str) -> String {
    let mut s = String::new();
    for c in header.trim().chars() {
        if c.is_alphanumeric() {
            s.extend(c.to_lowercase());
        } else if !s.ends_with('_') {
            s.push('_');
        }
    }
    let mut s = s.trim_matches('_').to_string();
    loop {
        let before = s.len();
        for unit in ["_degrees", "_deg", "_dd", "_wgs84", "_decimal"] {
            if let Some(stripped) = s.strip_suffix(unit) {
                s = stripped.to_string();
            }
        }
        if s.len() == before {
            return s;
        }
    }
}

fn delimiter(bytes: &[u8]) -> u8 {
    let header = bytes.split(|b| *b == b'\n').next().unwrap_or(&[]);
    let mut counts = [(b',', 0), (b'\t', 0), (b';', 0), (b'|', 0)];
    let mut quoted = false;
    for b in header {
        if *b == b'"' {
            quoted = !quoted;
        } else if !quoted {
            for (d, n) in counts.iter_mut() {
                if b == d {
                    *n += 1;
                }
            }
        }
    }
    // ties go to the comma (first)
    counts
        .iter()
        .fold((b',', 0), |best, c| if c.1 > best.1 { *c } else { best })
        .0
}

pub(super) fn parse(bytes: &[u8], columns: &CsvColumns) -> Result<Vec<Result<Feature>>> {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter(bytes))
        .has_headers(true)
        .flexible(true)
        .from_reader(bytes);
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| syntax("line 1 (header)".into(), e.to_string()))?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    if headers.iter().all(String::is_empty) {
        return Err(invalid(
            "line 1 (header)".into(),
            "the header line is empty".into(),
        ));
    }
    let norm: Vec<String> = headers.iter().map(|h| normalise(h)).collect();
    let listing = || {
        headers
            .iter()
            .map(|h| format!("{h:?}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let explicit = |name: &str, which: &str| -> Result<usize> {
        headers
            .iter()
            .position(|h| h.eq_ignore_ascii_case(name.trim()))
            .or_else(|| norm.iter().position(|h| *h == normalise(name)))
            .ok_or_else(|| {
                invalid(
                    "line 1 (header)".into(),
                    format!(
                        "the {which} column {name:?} is not in the header (columns: {})",
                        listing()
                    ),
                )
            })
    };
    let by_name = |names: &[&str], not: &[usize]| -> Option<usize> {
        names
            .iter()
            .find_map(|want| (0..norm.len()).find(|i| norm[*i] == *want && !not.contains(i)))
    };
    let lat = match &columns.lat {
        Some(name) => explicit(name, "latitude")?,
        None => by_name(&LAT_NAMES, &[]).ok_or_else(|| {
            invalid(
                "line 1 (header)".into(),
                format!(
                    "no latitude column (looked for lat, latitude, y...; columns: {}); name it \
                     with the lat column option",
                    listing()
                ),
            )
        })?,
    };
    let lon = match &columns.lon {
        Some(name) => explicit(name, "longitude")?,
        None => by_name(&LON_NAMES, &[lat]).ok_or_else(|| {
            invalid(
                "line 1 (header)".into(),
                format!(
                    "no longitude column (looked for lon, lng, long, longitude, x...; columns: \
                     {}); name it with the lon column option",
                    listing()
                ),
            )
        })?,
    };
    if lat == lon {
        return Err(invalid(
            "line 1 (header)".into(),
            format!(
                "latitude and longitude are the same column {:?}",
                headers[lat]
            ),
        ));
    }
    let name_col = by_name(&NAME_NAMES, &[lat, lon]);
    let uid_col = by_name(&UID_NAMES, &[lat, lon]);
    let time_col = by_name(&TIME_NAMES, &[lat, lon]);

    let mut out = Vec::new();
    let mut record = csv::StringRecord::new();
    let mut row = 0;
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                return Err(syntax(
                    format!("row {} (line {line})", row + 1),
                    e.to_string(),
                ));
            }
        }
        row += 1;
        let line = record.position().map_or(0, |p| p.line());
        let at = format!("row {row} (line {line})");
        if record.len() != headers.len() {
            out.push(Err(invalid(
                at,
                format!("{} fields, the header has {}", record.len(), headers.len()),
            )));
            continue;
        }
        let coord = |i: usize| -> Result<f64> {
            let here = format!("{at} column {:?}", headers[i]);
            let raw = record[i].trim();
            if raw.is_empty() {
                return Err(invalid(here, "empty, a coordinate is needed".into()));
            }
            raw.parse::<f64>()
                .map_err(|_| invalid(here, format!("{raw:?} is not a number")))
        };
        let p = match coord(lat).and_then(|la| {
            let lo = coord(lon)?;
            position(lo, la).map_err(|m| invalid(at.clone(), m))
        }) {
            Ok(p) => p,
            Err(e) => {
                out.push(Err(e));
                continue;
            }
        };
        let cell = |i: Option<usize>| {
            i.map(|i| record[i].trim().to_string())
                .filter(|s| !s.is_empty())
        };
        let time = cell(time_col).and_then(|t| normalize_time(&t));
        let mut properties = Vec::new();
        for (i, h) in headers.iter().enumerate() {
            let consumed = i == lat
                || i == lon
                || Some(i) == name_col
                || Some(i) == uid_col
                || (Some(i) == time_col && time.is_some());
            let v = record[i].trim();
            if !consumed && !v.is_empty() {
                properties.push((h.clone(), v.to_string()));
            }
        }
        out.push(Ok(Feature {
            uid: cell(uid_col),
            name: cell(name_col),
            geometry: Geometry::Point(p),
            time,
            properties,
        }));
    }
    Ok(out)
}
