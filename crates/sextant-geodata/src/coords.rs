//! Coordinates written in text: the Factbook's `15 00 N, 30 00 E`, degrees-minutes-seconds
//! (`48°51′24″N 2°21′03″E`, ASCII `'` and `"` too), decimal degrees with hemispheres
//! (`48.8566° N, 2.3522° E`) and signed decimal pairs precise enough not to be other numbers
//! (`-33.8688, 151.2093`: at least three decimals each) and MGRS grid references (`4QFJ1234567890`,
//! `33U UP 12345 67890`: 4 to 10 digits). Every match is range-checked; each result keeps the
//! byte span of the text that produced it, so a geotag can be cited.
//!
//! MGRS to latitude/longitude is `geoconvert`'s (a port of GeographicLib's `GeoConvert`, checked
//! by its author against GeographicLib on 100,000 points); the `mgrs` crate is a CLI with
//! shapefile/GeoPackage dependencies and `utm` has no MGRS letters. Like GeographicLib, a grid
//! reference converts to the centre of the square it names.

use regex::Regex;
use std::sync::OnceLock;

/// A coordinate found in text. `start..end` are byte offsets of the matched text.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    pub lat: f64,
    pub lon: f64,
    pub start: usize,
    pub end: usize,
}

/// One angle: degrees, optional minutes and seconds (sexagesimal), then the hemisphere letter.
const ANGLE: &str = r#"(\d{1,3}(?:\.\d+)?)\s*(?:°|º|deg)?\s*(?:(\d{1,2}(?:\.\d+)?)\s*(?:′|'|’|m)?\s*(?:(\d{1,2}(?:\.\d+)?)\s*(?:″|"|”|''|s)?)?)?\s*"#;

fn hemispheric() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        let pattern = format!(r"(?x)(?:^|[^\w.]) {ANGLE} ([NS]) \b [\s,;/]* {ANGLE} ([EW]) \b");
        Regex::new(&pattern).expect("valid coordinate pattern")
    })
}

fn signed_pair() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"(?:^|[^\w.\-])(-?\d{1,2}\.\d{3,})\s*,\s*(-?\d{1,3}\.\d{3,})(?:[^\w.]|$)")
            .expect("valid pair pattern")
    })
}

/// MGRS: zone (1-60) and latitude band (C-X without I and O), the 100 km square (column A-Z and
/// row A-V, without I and O), then easting and northing of equal precision, either run together
/// (an even count of digits) or as two groups. Spaces are allowed between the three parts.
fn mgrs_pattern() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(
            r"\b(\d{1,2}[C-HJ-NP-X]) ?([A-HJ-NP-Z][A-HJ-NP-V]) ?(?:(\d{1,5}) (\d{1,5})|(\d{4,10}))\b",
        )
        .expect("valid MGRS pattern")
    })
}

/// Latitude and longitude of an MGRS grid reference (UTM zones only, spaces allowed:
/// `4QFJ12345678`, `33U UP 12345 67890`); `None` unless it is a valid reference with 4 to 10
/// digits.
pub fn parse_mgrs(text: &str) -> Option<(f64, f64)> {
    let caps = mgrs_pattern().captures(text.trim())?;
    let whole = caps.get(0)?;
    if whole.start() != 0 || whole.end() != text.trim().len() {
        return None;
    }
    mgrs_latlon(&caps)
}

fn mgrs_latlon(caps: &regex::Captures) -> Option<(f64, f64)> {
    let digits = match (caps.get(3), caps.get(4), caps.get(5)) {
        (Some(e), Some(n), _) if e.len() == n.len() && e.len() >= 2 => {
            format!("{}{}", e.as_str(), n.as_str())
        }
        (_, _, Some(d)) if d.len() % 2 == 0 => d.as_str().to_string(),
        _ => return None,
    };
    let zone: u32 = caps[1][..caps[1].len() - 1].parse().ok()?;
    if !(1..=60).contains(&zone) {
        return None;
    }
    let compact = format!("{}{}{digits}", &caps[1], &caps[2]);
    let ll = geoconvert::Mgrs::parse_str(&compact).ok()?.to_latlon();
    let (lat, lon) = (ll.latitude(), ll.longitude());
    (lat.is_finite() && lon.is_finite() && lat.abs() <= 90.0 && lon.abs() <= 180.0)
        .then_some((lat, lon))
}

/// Every MGRS grid reference in `text`, in order of appearance.
pub fn find_mgrs(text: &str) -> Vec<Found> {
    let mut out = Vec::new();
    for c in mgrs_pattern().captures_iter(text) {
        let Some(whole) = c.get(0) else { continue };
        // Not part of a decimal number or a longer token ("1.4QFJ1234", "4QFJ1234.5").
        let before = text[..whole.start()].chars().next_back();
        let mut after = text[whole.end()..].chars();
        if matches!(before, Some('.' | '-' | '_'))
            || (after.next() == Some('.') && after.next().is_some_and(|c| c.is_ascii_digit()))
        {
            continue;
        }
        if let Some((lat, lon)) = mgrs_latlon(&c) {
            out.push(Found {
                lat,
                lon,
                start: whole.start(),
                end: whole.end(),
            });
        }
    }
    out
}

fn angle(deg: &str, min: Option<&str>, sec: Option<&str>) -> Option<f64> {
    let d: f64 = deg.parse().ok()?;
    let m: f64 = min.map_or(Ok(0.0), str::parse).ok()?;
    let s: f64 = sec.map_or(Ok(0.0), str::parse).ok()?;
    // Minutes or seconds only follow whole degrees, and stay under 60.
    if (min.is_some() && deg.contains('.')) || m >= 60.0 || s >= 60.0 {
        return None;
    }
    Some(d + m / 60.0 + s / 3600.0)
}

/// Every coordinate pair in `text`, in order of appearance.
pub fn find_coordinates(text: &str) -> Vec<Found> {
    let mut out = Vec::new();
    for c in hemispheric().captures_iter(text) {
        let g = |i| c.get(i).map(|m| m.as_str());
        let (Some(lat), Some(lon)) = (
            angle(g(1).unwrap_or(""), g(2), g(3)),
            angle(g(5).unwrap_or(""), g(6), g(7)),
        ) else {
            continue;
        };
        let lat = if g(4) == Some("S") { -lat } else { lat };
        let lon = if g(8) == Some("W") { -lon } else { lon };
        if lat.abs() > 90.0 || lon.abs() > 180.0 {
            continue;
        }
        let (Some(first), Some(last)) = (c.get(1), c.get(8)) else {
            continue;
        };
        out.push(Found {
            lat,
            lon,
            start: first.start(),
            end: last.end(),
        });
    }
    for c in signed_pair().captures_iter(text) {
        let (Some(a), Some(b)) = (c.get(1), c.get(2)) else {
            continue;
        };
        let (Ok(lat), Ok(lon)) = (a.as_str().parse::<f64>(), b.as_str().parse::<f64>()) else {
            continue;
        };
        if lat.abs() > 90.0 || lon.abs() > 180.0 {
            continue;
        }
        // Not inside a hemispheric match already found.
        if out.iter().any(|f| a.start() < f.end && b.end() > f.start) {
            continue;
        }
        out.push(Found {
            lat,
            lon,
            start: a.start(),
            end: b.end(),
        });
    }
    for m in find_mgrs(text) {
        if !out.iter().any(|f| m.start < f.end && m.end > f.start) {
            out.push(m);
        }
    }
    out.sort_by_key(|f| f.start);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `text` yields exactly these (lat, lon) pairs (to 1e-4 degrees), each span reading back as
    /// the coordinate text.
    fn check(text: &str, expected: &[(f64, f64)]) {
        let got = find_coordinates(text);
        assert_eq!(got.len(), expected.len(), "{text:?}: {got:?}");
        for (f, (lat, lon)) in got.iter().zip(expected) {
            assert!(
                (f.lat - lat).abs() < 1e-4 && (f.lon - lon).abs() < 1e-4,
                "{text:?}: got {f:?}, want ({lat}, {lon})"
            );
            let span = &text[f.start..f.end];
            assert!(
                span.chars().next().unwrap().is_ascii_digit() || span.starts_with('-'),
                "{span:?}"
            );
        }
    }

    #[test]
    fn factbook_form() {
        check(
            "Geographic coordinates\n\n47 55 N, 106 55 E",
            &[(47.9167, 106.9167)],
        );
        check("15 00 N, 30 00 E", &[(15.0, 30.0)]);
        check("1 17 S, 36 49 E", &[(-1.2833, 36.8167)]);
        check("38 53 N, 77 02 W", &[(38.8833, -77.0333)]);
        check("34 35 S, 58 40 W", &[(-34.5833, -58.6667)]);
        check("capital: 0 00 N, 0 00 E (null island)", &[(0.0, 0.0)]);
        check(
            "Name: Nairobi; 1 17 S, 36 49 E; and 4 03 S, 39 40 E",
            &[(-1.2833, 36.8167), (-4.05, 39.6667)],
        );
    }

    #[test]
    fn degrees_minutes_seconds() {
        check("48°51′24″N 2°21′03″E", &[(48.8567, 2.3508)]);
        check("48°51'24\"N, 2°21'03\"E", &[(48.8567, 2.3508)]);
        check("33°52′S 151°12′E", &[(-33.8667, 151.2)]);
        check("40° 26′ 46″ N 79° 58′ 56″ W", &[(40.4461, -79.9822)]);
        check("51°30'26.5\"N 0°7'39.9\"W", &[(51.5074, -0.1278)]);
    }

    #[test]
    fn decimal_degrees() {
        check("48.8566° N, 2.3522° E", &[(48.8566, 2.3522)]);
        check("48.8566N 2.3522E", &[(48.8566, 2.3522)]);
        check("at -33.8688, 151.2093 the harbour", &[(-33.8688, 151.2093)]);
        check("(35.6762, 139.6503)", &[(35.6762, 139.6503)]);
    }

    /// Known values: the Washington Monument, the Eiffel Tower, the CN Tower (UTM 17T 630084
    /// 4833438, the example of Wikipedia's UTM article), the Sydney Opera House, the corner of
    /// zone 31N at 0°N 0°E, the example of `geoconvert`'s documentation (the Empire State
    /// Building) and the Army's `4QFJ1234567890` in Hawaii. The expected values were checked
    /// against NGA's GEOTRANS (PyPI `mgrs` 1.5), which agrees to 1e-9 degrees; both return the
    /// centre of the named square, half a unit of the last digit (0.5 m at 5 digits).
    #[test]
    fn mgrs_known_values() {
        check("18SUJ2348306479", &[(38.88947, -77.03524)]);
        check("31U DQ 48251 11932", &[(48.85820, 2.29450)]);
        check("17TPJ3008433438", &[(43.64257, -79.38714)]);
        check("at 31NAA6602100000.", &[(0.0, 0.0)]);
        check("18TWL8566411315", &[(40.74833, -73.98528)]);
        check("grid 4QFJ1234567890, then", &[(21.40980, -157.91608)]);
        check("4QFJ 12345 67890", &[(21.40980, -157.91608)]);
        // 1 km precision.
        check("4QFJ1267", &[(21.40626, -157.91461)]);
        // Southern hemisphere (band H: the Sydney Opera House) and a zone with a leading zero.
        check("Sydney 56HLH3490052288", &[(-33.8568, 151.2153)]);
        check("04QFJ1234567890", &[(21.40980, -157.91608)]);
        assert!(parse_mgrs("33U UP 12345 67890").is_some());
        assert_eq!(parse_mgrs("4QFJ12345"), None);
    }

    #[test]
    fn not_mgrs() {
        for text in [
            "4QFJ12345",          // odd digit count
            "4QFJ 1234 567",      // unequal groups
            "4QFJ12",             // under 4 digits
            "61QFJ12345678",      // zone 61
            "4IFJ12345678",       // band I does not exist
            "4QFW12345678",       // row W does not exist
            "version 1.4QFJ1234", // part of a number
            "4QFJ1234.5678",
            "4qfj12345678", // lowercase
            "Flight 2G AB1234 departs",
        ] {
            let got = find_coordinates(text);
            assert!(got.is_empty(), "{text:?}: {got:?}");
        }
    }

    #[test]
    fn not_coordinates() {
        for text in [
            "",
            "The population was 3.14, 2.72 million.",
            "Version 1.2, 3.4",
            "95 00 N, 30 00 E",
            "10 75 N, 30 00 E",
            "45.5° N, 200.0° E",
            "In 1990 N. Korea and 30 E-mails",
            "Section 12 N and 13 E",
            "1,234.5678, 12",
        ] {
            let got = find_coordinates(text);
            // "Section 12 N and 13 E" has words between: not a pair.
            assert!(got.is_empty(), "{text:?}: {got:?}");
        }
    }
}
