//! Coordinates written in text: the Factbook's `15 00 N, 30 00 E`, degrees-minutes-seconds
//! (`48°51′24″N 2°21′03″E`, ASCII `'` and `"` too), decimal degrees with hemispheres
//! (`48.8566° N, 2.3522° E`) and signed decimal pairs precise enough not to be other numbers
//! (`-33.8688, 151.2093`: at least three decimals each). Every match is range-checked; each
//! result keeps the byte span of the text that produced it, so a geotag can be cited.

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
