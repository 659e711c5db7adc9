//! Areas as users write them — on the command line (`--bbox`, `--within FILE`, `--near`,
//! `--country`) and in JSON requests (`{"bbox": [...]}`, a GeoJSON geometry, `{"near": {...}}`,
//! `{"country": "FR"}`) — resolved to an [`Area`] the spatial index can answer.

use crate::gazetteer::{GeoData, Place, PlaceKind};
use regex::Regex;
use serde::Deserialize;
use sextant_spatial::Area;
use sextant_types::Geometry;
use std::sync::LazyLock;

/// An area in a JSON request.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum AreaSpec {
    /// `{"bbox": [minlon, minlat, maxlon, maxlat]}`
    BBox { bbox: [f64; 4] },
    /// `{"near": {"lat": .., "lon": .., "km": ..}}`
    Near { near: NearSpec },
    /// `{"country": "FR"}` — ISO alpha-2, alpha-3, numeric or English name.
    Country { country: String },
    /// A GeoJSON Polygon or MultiPolygon geometry (a Feature's geometry works too).
    Geometry(Geometry),
    /// A GeoJSON Feature whose geometry is the area.
    Feature { geometry: Geometry },
}

#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
pub struct NearSpec {
    pub lat: f64,
    pub lon: f64,
    pub km: f64,
}

impl AreaSpec {
    /// The area, or a message saying what is wrong with it. A country needs the Natural Earth
    /// polygons (`geo`); without them the message says how to install them.
    pub fn resolve(&self, geo: Option<&GeoData>) -> Result<Area, String> {
        match self {
            AreaSpec::BBox { bbox: [a, b, c, d] } => {
                Area::parse_bbox(&format!("{a},{b},{c},{d}")).map_err(|e| e.to_string())
            }
            AreaSpec::Near { near } => {
                Area::parse_near(&format!("{},{},{}", near.lat, near.lon, near.km))
                    .map_err(|e| e.to_string())
            }
            AreaSpec::Country { country } => country_area(country, geo),
            AreaSpec::Geometry(g) | AreaSpec::Feature { geometry: g } => {
                Area::from_geometry(g).map_err(|e| e.to_string())
            }
        }
    }

    /// Parses a JSON value as an area.
    pub fn from_json(v: &serde_json::Value) -> Result<AreaSpec, String> {
        AreaSpec::deserialize(v).map_err(|_| {
            "area must be {\"bbox\": [minlon, minlat, maxlon, maxlat]}, {\"near\": {\"lat\", \"lon\", \"km\"}}, {\"country\": CODE}, or a GeoJSON Polygon/MultiPolygon".to_string()
        })
    }
}

/// The Natural Earth polygon of a country, as an area.
pub fn country_area(country: &str, geo: Option<&GeoData>) -> Result<Area, String> {
    let geo = geo.ok_or_else(|| {
        "country areas need the Natural Earth polygons: run `scripts/fetch-data.sh geo` (or set [geo] data_dir)".to_string()
    })?;
    let c = geo.country(country).ok_or_else(|| {
        format!("unknown country {country:?}: give an ISO code (FR, FRA, 250) or an English name")
    })?;
    if c.shape.0.is_empty() {
        return Err(format!(
            "{} ({}) has no Natural Earth polygon",
            c.name, c.iso2
        ));
    }
    Ok(Area::Polygon(c.shape.clone()))
}

/// An area from a GeoJSON file (`--within AREA.geojson`): a geometry, a Feature, or a
/// FeatureCollection whose polygons together make the area.
pub fn area_from_geojson(text: &str) -> Result<Area, String> {
    let v: serde_json::Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    if v.get("type").and_then(|t| t.as_str()) == Some("FeatureCollection") {
        let mut polys = Vec::new();
        for f in v
            .get("features")
            .and_then(|f| f.as_array())
            .into_iter()
            .flatten()
        {
            let g: Geometry =
                serde_json::from_value(f.get("geometry").cloned().unwrap_or_default())
                    .map_err(|e| format!("feature geometry: {e}"))?;
            match g {
                Geometry::Polygon(p) => polys.push(p),
                Geometry::MultiPolygon(ps) => polys.extend(ps),
                _ => return Err("an area's features must be polygons".into()),
            }
        }
        if polys.is_empty() {
            return Err("the FeatureCollection has no polygon".into());
        }
        return Area::from_geometry(&Geometry::MultiPolygon(polys)).map_err(|e| e.to_string());
    }
    AreaSpec::from_json(&v)?.resolve(None)
}

/// An area a request names in words: "within 50 km of Paris", "near Lyon", "over France".
#[derive(Debug, Clone)]
pub struct NamedArea {
    /// The words that name it, as written ("within 50 km of Paris").
    pub phrase: String,
    pub place: Place,
    pub area: Area,
}

/// Radius of "near PLACE" and "in CITY", in km.
pub const NEAR_KM: f64 = 25.0;

/// "within 50 km of", "less than 20 nautical miles from", at the end of the text before a place.
static RADIUS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(within|inside|less than|under|up to|no more than)\s+(\d+(?:\.\d+)?)\s*(km|kms|kilomet(?:er|re)s?|mi|miles?|nm|nmi|nautical\s+miles?)\s+(?:of|from|around)\s+(?:the\s+)?$").unwrap()
});
/// "near", "around", "in", "over", … right before a place.
static AT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(near|around|close to|next to|by|in|over|above|inside|across|within|at)\s+(?:the\s+)?$").unwrap()
});

/// Kilometres in `n` of `unit` (as [`RADIUS`] matches it).
fn to_km(n: f64, unit: &str) -> f64 {
    let u = unit.to_lowercase();
    if u.starts_with('k') {
        n
    } else if u.starts_with("mi") {
        n * 1.609_344
    } else {
        n * 1.852
    }
}

/// What the words right before a place make of it: a radius in km with the words, or "at the
/// place" (near, in, over) with the words.
fn before_place(prefix: &str) -> Option<(Option<f64>, usize)> {
    if let Some(c) = RADIUS.captures(prefix) {
        let n: f64 = c[2].parse().ok()?;
        let km = to_km(n, &c[3]);
        return (km > 0.0).then_some((Some(km), c.get(0)?.start()));
    }
    AT.captures(prefix)
        .map(|c| (None, c.get(0).map_or(0, |m| m.start())))
}

/// The first area `text` names around a place of the gazetteer: a radius ("within 50 km of
/// Paris", "20 nautical miles from 48.85, 2.35"), a city or coordinates near which, in which or
/// over which ([`NEAR_KM`]), or a country in or over which (its Natural Earth polygon). A place
/// mentioned without such words ("the Paris office") names no area.
pub fn area_in_text(text: &str, geo: &GeoData) -> Option<NamedArea> {
    let byte = |chars: usize| {
        text.char_indices()
            .nth(chars)
            .map_or(text.len(), |(b, _)| b)
    };
    for place in geo.tag(text) {
        let (start, end) = (byte(place.start), byte(place.end));
        let Some((radius, from)) = before_place(&text[..start]) else {
            continue;
        };
        let area = match (radius, place.kind) {
            (Some(km), _) => Area::Near {
                lon: place.lon,
                lat: place.lat,
                km,
            },
            (None, PlaceKind::Country) => {
                match country_area(place.country.as_deref().unwrap_or(&place.name), Some(geo)) {
                    Ok(a) => a,
                    Err(_) => continue,
                }
            }
            (None, _) => Area::Near {
                lon: place.lon,
                lat: place.lat,
                km: NEAR_KM,
            },
        };
        return Some(NamedArea {
            phrase: text[from..end].trim().to_string(),
            place,
            area,
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_before_a_place_name_its_area() {
        let km = |s: &str| {
            before_place(s)
                .and_then(|(k, _)| k)
                .map(|k| (k * 100.0).round() / 100.0)
        };
        assert_eq!(km("Which aircraft were within 50 km of "), Some(50.0));
        assert_eq!(km("ships less than 20 nautical miles from "), Some(37.04));
        assert_eq!(km("tracks within 10 miles of the "), Some(16.09));
        assert_eq!(km("Within 2.5KM of "), Some(2.5));
        assert!(before_place("aircraft near ").is_some_and(|(k, _)| k.is_none()));
        assert!(before_place("flights over ").is_some_and(|(k, _)| k.is_none()));
        assert!(before_place("Summarise the ").is_none());
        assert!(before_place("within 0 km of ").is_none_or(|(k, _)| k.is_none()));
        let (_, from) = before_place("Which aircraft were within 50 km of ").unwrap();
        assert_eq!(
            &"Which aircraft were within 50 km of "[from..],
            "within 50 km of "
        );
    }

    #[test]
    fn specs_parse() {
        let s = AreaSpec::from_json(&serde_json::json!({"bbox": [1.0, 2.0, 3.0, 4.0]})).unwrap();
        assert_eq!(
            s,
            AreaSpec::BBox {
                bbox: [1.0, 2.0, 3.0, 4.0]
            }
        );
        let s =
            AreaSpec::from_json(&serde_json::json!({"near": {"lat": 48.8, "lon": 2.3, "km": 5}}))
                .unwrap();
        assert!(matches!(s, AreaSpec::Near { .. }));
        let s = AreaSpec::from_json(&serde_json::json!({"country": "FR"})).unwrap();
        assert_eq!(
            s,
            AreaSpec::Country {
                country: "FR".into()
            }
        );
        let poly =
            serde_json::json!({"type": "Polygon", "coordinates": [[[0,0],[1,0],[1,1],[0,0]]]});
        assert!(matches!(
            AreaSpec::from_json(&poly).unwrap(),
            AreaSpec::Geometry(_)
        ));
        assert!(AreaSpec::from_json(&serde_json::json!({"box": 1})).is_err());
        assert!(AreaSpec::from_json(&serde_json::json!({"bbox": [1, 2]})).is_err());
        assert!(AreaSpec::from_json(&poly).unwrap().resolve(None).is_ok());
        let err = AreaSpec::Country {
            country: "FR".into(),
        }
        .resolve(None)
        .unwrap_err();
        assert!(err.contains("fetch-data.sh geo"), "{err}");
        let bad = AreaSpec::BBox {
            bbox: [0.0, 95.0, 1.0, 96.0],
        }
        .resolve(None);
        assert!(bad.is_err());
    }

    #[test]
    fn geojson_files() {
        let fc = r#"{"type":"FeatureCollection","features":[{"type":"Feature","properties":{},"geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]]]}}]}"#;
        let a = area_from_geojson(fc).unwrap();
        assert!(a.intersects(&Geometry::Point([0.75, 0.25])));
        assert!(!a.intersects(&Geometry::Point([0.25, 0.75])));
        assert!(area_from_geojson("{").is_err());
        assert!(area_from_geojson(r#"{"type":"Point","coordinates":[0,0]}"#).is_err());
    }
}
