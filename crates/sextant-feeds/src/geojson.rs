//! GeoJSON (RFC 7946): a FeatureCollection, a Feature or a bare geometry, or a sequence of them
//! (newline-delimited GeoJSON, RFC 8142 text sequences). Property order is kept (the JSON is
//! read into an order-preserving tree rather than `serde_json::Value`, whose maps sort).

use super::{
    check_line, check_ring, merge_geometries, normalize_time, number_text, position, Feature,
    FeedError, FeedFormat, Geometry, Result,
};
use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use std::fmt;

/// A JSON value with object members in source order.
#[derive(Debug)]
enum J {
    Null,
    Bool(bool),
    Num(serde_json::Number),
    Str(String),
    Arr(Vec<J>),
    Obj(Vec<(String, J)>),
}

impl J {
    fn get(&self, key: &str) -> Option<&J> {
        match self {
            J::Obj(members) => members.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    fn as_str(&self) -> Option<&str> {
        match self {
            J::Str(s) => Some(s),
            _ => None,
        }
    }

    /// A scalar as text (strings as they are); `None` for null, arrays and objects.
    fn scalar_text(&self) -> Option<String> {
        match self {
            J::Str(s) => Some(s.clone()),
            J::Num(n) => Some(n.to_string()),
            J::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }

    /// Compact JSON.
    fn write(&self, out: &mut String) {
        match self {
            J::Null => out.push_str("null"),
            J::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            J::Num(n) => out.push_str(&n.to_string()),
            J::Str(s) => out.push_str(&serde_json::to_string(s).unwrap_or_default()),
            J::Arr(items) => {
                out.push('[');
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    v.write(out);
                }
                out.push(']');
            }
            J::Obj(members) => {
                out.push('{');
                for (i, (k, v)) in members.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&serde_json::to_string(k).unwrap_or_default());
                    out.push(':');
                    v.write(out);
                }
                out.push('}');
            }
        }
    }

    fn describe(&self) -> String {
        let mut s = String::new();
        self.write(&mut s);
        if s.len() > 40 {
            let cut = (0..=40).rev().find(|i| s.is_char_boundary(*i)).unwrap_or(0);
            s.truncate(cut);
            s.push('…');
        }
        s
    }
}

impl<'de> Deserialize<'de> for J {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<J, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = J;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_unit<E>(self) -> std::result::Result<J, E> {
                Ok(J::Null)
            }
            fn visit_none<E>(self) -> std::result::Result<J, E> {
                Ok(J::Null)
            }
            fn visit_bool<E>(self, b: bool) -> std::result::Result<J, E> {
                Ok(J::Bool(b))
            }
            fn visit_i64<E>(self, v: i64) -> std::result::Result<J, E> {
                Ok(J::Num(v.into()))
            }
            fn visit_u64<E>(self, v: u64) -> std::result::Result<J, E> {
                Ok(J::Num(v.into()))
            }
            fn visit_f64<E>(self, v: f64) -> std::result::Result<J, E> {
                Ok(serde_json::Number::from_f64(v).map_or(J::Null, J::Num))
            }
            fn visit_str<E>(self, v: &str) -> std::result::Result<J, E> {
                Ok(J::Str(v.to_string()))
            }
            fn visit_string<E>(self, v: String) -> std::result::Result<J, E> {
                Ok(J::Str(v))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> std::result::Result<J, A::Error> {
                let mut items = Vec::new();
                while let Some(v) = a.next_element()? {
                    items.push(v);
                }
                Ok(J::Arr(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> std::result::Result<J, A::Error> {
                let mut members = Vec::new();
                while let Some((k, v)) = a.next_entry::<String, J>()? {
                    members.push((k, v));
                }
                Ok(J::Obj(members))
            }
        }
        d.deserialize_any(V)
    }
}

const GEOMETRY_TYPES: [&str; 7] = [
    "Point",
    "MultiPoint",
    "LineString",
    "MultiLineString",
    "Polygon",
    "MultiPolygon",
    "GeometryCollection",
];

/// Whether a JSON object's head names a GeoJSON type (`"type": "Feature"` and friends).
pub(super) fn looks_like_geojson(head: &[u8]) -> bool {
    let text = String::from_utf8_lossy(head);
    let mut rest = text.as_ref();
    while let Some(i) = rest.find("\"type\"") {
        rest = &rest[i + 6..];
        let after = rest.trim_start();
        let Some(after) = after.strip_prefix(':') else {
            continue;
        };
        let Some(value) = after.trim_start().strip_prefix('"') else {
            continue;
        };
        let value = value.split('"').next().unwrap_or("");
        if value == "Feature" || value == "FeatureCollection" || GEOMETRY_TYPES.contains(&value) {
            return true;
        }
    }
    false
}

fn syntax(at: String, message: String) -> FeedError {
    FeedError::Syntax {
        format: FeedFormat::GeoJson,
        at,
        message,
    }
}

fn invalid(at: &str, message: String) -> FeedError {
    FeedError::Invalid {
        format: FeedFormat::GeoJson,
        at: at.to_string(),
        message,
    }
}

pub(super) fn parse(bytes: &[u8]) -> Result<Vec<Result<Feature>>> {
    // RFC 8142 sequences put a record separator before every text: read it as whitespace.
    let owned;
    let bytes = if bytes.contains(&0x1e) {
        owned = bytes
            .iter()
            .map(|b| if *b == 0x1e { b'\n' } else { *b })
            .collect::<Vec<u8>>();
        &owned[..]
    } else {
        bytes
    };
    let mut values = Vec::new();
    let mut stream = serde_json::Deserializer::from_slice(bytes).into_iter::<J>();
    let (mut counted, mut line) = (0, 1); // lines counted incrementally: NDJSON files are long
    loop {
        let before = stream.byte_offset();
        match stream.next() {
            None => break,
            Some(Ok(v)) => {
                let start = bytes[before..]
                    .iter()
                    .position(|b| !b.is_ascii_whitespace())
                    .map_or(before, |p| before + p);
                line += bytes[counted..start]
                    .iter()
                    .filter(|b| **b == b'\n')
                    .count();
                counted = start;
                values.push((line, v));
            }
            Some(Err(e)) => {
                return Err(syntax(
                    format!("line {} column {}", e.line(), e.column()),
                    format!("not valid JSON: {e}"),
                ));
            }
        }
    }
    if values.is_empty() {
        return Err(syntax("line 1".into(), "no JSON value (empty file)".into()));
    }
    let delimited = values.len() > 1;
    let mut out = Vec::new();
    for (line, v) in &values {
        let at = |what: &str| {
            if delimited {
                format!("line {line}")
            } else {
                what.to_string()
            }
        };
        let ty = v.get("type").and_then(J::as_str).ok_or_else(|| {
            invalid(
                &at("top level"),
                "not a GeoJSON object (no \"type\")".into(),
            )
        })?;
        match ty {
            "FeatureCollection" => {
                let Some(J::Arr(features)) = v.get("features") else {
                    return Err(invalid(
                        &at("top level"),
                        "FeatureCollection without a \"features\" array".into(),
                    ));
                };
                for (i, f) in features.iter().enumerate() {
                    let here = if delimited {
                        format!("line {line} feature {}", i + 1)
                    } else {
                        format!("feature {}", i + 1)
                    };
                    out.push(feature(f, &here));
                }
            }
            "Feature" => out.push(feature(v, &at("feature 1"))),
            t if GEOMETRY_TYPES.contains(&t) => {
                let here = at("geometry");
                out.push(geometry(v, &here).map(|g| Feature {
                    uid: None,
                    name: None,
                    geometry: g,
                    time: None,
                    properties: altitude_of(v),
                }))
            }
            other => {
                return Err(invalid(
                    &at("top level"),
                    format!("unknown GeoJSON type {:?}", other),
                ))
            }
        }
    }
    Ok(out)
}

/// The height of a Point written as a third coordinate, as an `altitude` property.
fn altitude_of(geometry: &J) -> Vec<(String, String)> {
    if geometry.get("type").and_then(J::as_str) != Some("Point") {
        return Vec::new();
    }
    match geometry.get("coordinates") {
        Some(J::Arr(c)) => match c.get(2) {
            Some(J::Num(n)) if n.as_f64().is_some_and(|z| z != 0.0) => {
                vec![("altitude".into(), number_text(n.as_f64().unwrap_or(0.0)))]
            }
            _ => Vec::new(),
        },
        _ => Vec::new(),
    }
}

/// Property keys read as the uid, the name and the time, in order of preference (matched
/// without regard to case).
const UID_KEYS: [&str; 2] = ["id", "uid"];
const NAME_KEYS: [&str; 3] = ["name", "title", "callsign"];
const TIME_KEYS: [&str; 4] = ["time", "timestamp", "when", "datetime"];

fn feature(f: &J, at: &str) -> Result<Feature> {
    let ty = f.get("type").and_then(J::as_str);
    if ty != Some("Feature") {
        return Err(invalid(
            at,
            format!(
                "expected a Feature, found type {}",
                f.get("type").map_or("(none)".into(), J::describe)
            ),
        ));
    }
    let mut props: Vec<(&str, &J)> = match f.get("properties") {
        Some(J::Obj(members)) => members.iter().map(|(k, v)| (k.as_str(), v)).collect(),
        None | Some(J::Null) => Vec::new(),
        Some(other) => {
            return Err(invalid(
                at,
                format!("\"properties\" is not an object: {}", other.describe()),
            ))
        }
    };
    // Take a property by any of `keys` (first key wins) when `accept` reads its value.
    let mut take = |keys: &[&str], accept: &dyn Fn(&J) -> Option<String>| -> Option<String> {
        for key in keys {
            if let Some(i) = props
                .iter()
                .position(|(k, v)| k.eq_ignore_ascii_case(key) && accept(v).is_some())
            {
                let (_, v) = props.remove(i);
                return accept(v);
            }
        }
        None
    };
    let uid = match f.get("id").and_then(J::scalar_text) {
        Some(id) => Some(id),
        None => take(&UID_KEYS, &|v| v.scalar_text().filter(|s| !s.is_empty())),
    };
    let name = take(&NAME_KEYS, &|v| {
        v.as_str()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    });
    let time = take(&TIME_KEYS, &|v| {
        v.scalar_text().and_then(|t| normalize_time(&t))
    });
    let here = match (&uid, &name) {
        (Some(u), _) => format!("{at} (id {u:?})"),
        (None, Some(n)) => format!("{at} ({n:?})"),
        _ => at.to_string(),
    };
    let g = match f.get("geometry") {
        None | Some(J::Null) => {
            return Err(invalid(
                &here,
                "no geometry (a feature without a location cannot be placed)".into(),
            ))
        }
        Some(g) => g,
    };
    let geometry = geometry(g, &here)?;
    let mut properties: Vec<(String, String)> = Vec::new();
    for (k, v) in props {
        let text = match v {
            J::Null => continue,
            J::Arr(_) | J::Obj(_) => {
                let mut s = String::new();
                v.write(&mut s);
                s
            }
            scalar => scalar.scalar_text().unwrap_or_default(),
        };
        properties.push((k.to_string(), text));
    }
    properties.extend(altitude_of(g));
    Ok(Feature {
        uid,
        name,
        geometry,
        time,
        properties,
    })
}

fn geometry(g: &J, at: &str) -> Result<Geometry> {
    let ty = g
        .get("type")
        .and_then(J::as_str)
        .ok_or_else(|| invalid(at, format!("geometry has no \"type\": {}", g.describe())))?;
    let err = |m: String| invalid(at, format!("{ty}: {m}"));
    if ty == "GeometryCollection" {
        let Some(J::Arr(members)) = g.get("geometries") else {
            return Err(err("no \"geometries\" array".into()));
        };
        let parts = members
            .iter()
            .enumerate()
            .map(|(i, m)| geometry(m, &format!("{at} geometry {}", i + 1)))
            .collect::<Result<Vec<_>>>()?;
        return merge_geometries(parts).map_err(err);
    }
    let coords = g
        .get("coordinates")
        .ok_or_else(|| err("no \"coordinates\"".into()))?;
    let geometry = match ty {
        "Point" => Geometry::Point(pos(coords).map_err(err)?),
        "MultiPoint" => {
            let ps = positions(coords).map_err(err)?;
            if ps.is_empty() {
                return Err(err("no positions".into()));
            }
            Geometry::MultiPoint(ps)
        }
        "LineString" => {
            let l = positions(coords).map_err(err)?;
            check_line(&l, "the line").map_err(err)?;
            Geometry::LineString(l)
        }
        "MultiLineString" => {
            let ls = array(coords)
                .map_err(err)?
                .iter()
                .enumerate()
                .map(|(i, l)| {
                    let l = positions(l)?;
                    check_line(&l, &format!("line {}", i + 1))?;
                    Ok(l)
                })
                .collect::<std::result::Result<Vec<_>, String>>()
                .map_err(err)?;
            if ls.is_empty() {
                return Err(err("no lines".into()));
            }
            Geometry::MultiLineString(ls)
        }
        "Polygon" => Geometry::Polygon(polygon(coords).map_err(err)?),
        "MultiPolygon" => {
            let ps = array(coords)
                .map_err(err)?
                .iter()
                .enumerate()
                .map(|(i, p)| polygon(p).map_err(|m| format!("polygon {}: {m}", i + 1)))
                .collect::<std::result::Result<Vec<_>, String>>()
                .map_err(err)?;
            if ps.is_empty() {
                return Err(err("no polygons".into()));
            }
            Geometry::MultiPolygon(ps)
        }
        other => return Err(invalid(at, format!("unknown geometry type {other:?}"))),
    };
    Ok(geometry)
}

fn array(v: &J) -> std::result::Result<&[J], String> {
    match v {
        J::Arr(items) => Ok(items),
        other => Err(format!("expected an array, found {}", other.describe())),
    }
}

fn pos(v: &J) -> std::result::Result<[f64; 2], String> {
    let items = array(v)?;
    if items.len() < 2 {
        return Err(format!(
            "position {} needs a longitude and a latitude",
            v.describe()
        ));
    }
    let num = |j: &J| match j {
        J::Num(n) => n
            .as_f64()
            .ok_or_else(|| format!("position {}: bad number", v.describe())),
        other => Err(format!(
            "position {}: {} is not a number",
            v.describe(),
            other.describe()
        )),
    };
    for extra in &items[2..] {
        num(extra)?;
    }
    position(num(&items[0])?, num(&items[1])?)
        .map_err(|m| format!("position {}: {m}", v.describe()))
}

fn positions(v: &J) -> std::result::Result<Vec<[f64; 2]>, String> {
    array(v)?.iter().map(pos).collect()
}

fn polygon(v: &J) -> std::result::Result<Vec<Vec<[f64; 2]>>, String> {
    let rings = array(v)?
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let ring = positions(r)?;
            let what = if i == 0 {
                "the exterior ring".to_string()
            } else {
                format!("ring {} (hole {i})", i + 1)
            };
            check_ring(&ring, &what)?;
            Ok(ring)
        })
        .collect::<std::result::Result<Vec<_>, String>>()?;
    if rings.is_empty() {
        return Err("no rings".into());
    }
    Ok(rings)
}
