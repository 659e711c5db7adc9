//! TopoJSON (the format of Natural Earth's `world-atlas` files) decoded into `geo` polygons.
//!
//! A topology stores each shared border once, as an *arc*; polygons list rings as arc indices,
//! a negative index `i` meaning arc `!i` (that is `-i - 1`) walked backwards. In a quantized
//! topology an arc's first position is absolute and the next ones are deltas, all integers, and
//! the `transform` (`scale`, `translate`) maps them to longitude/latitude. Only polygonal
//! geometries are decoded; points and lines are skipped (the country files have none).
//!
//! Written by hand rather than with the `topojson` crate: that crate goes through `geojson`
//! values (pinned below 0.24) and panics (`unreachable!`, `unimplemented!`) on some inputs,
//! while this decoder returns an error for every malformed index.

use geo::{Coord, LineString, MultiPolygon, Polygon};
use serde::Deserialize;
use serde_json::Value;
use std::collections::HashMap;

/// One polygonal feature of a topology object.
#[derive(Debug, Clone)]
pub struct TopoFeature {
    /// The feature's `id` as a string (`"250"`), if it has one.
    pub id: Option<String>,
    /// `properties.name`, if any.
    pub name: Option<String>,
    pub shape: MultiPolygon<f64>,
}

#[derive(Deserialize)]
struct Topology {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    transform: Option<Transform>,
    arcs: Vec<Vec<Vec<f64>>>,
    objects: HashMap<String, Value>,
}

#[derive(Deserialize)]
struct Transform {
    scale: [f64; 2],
    translate: [f64; 2],
}

/// Decodes the polygonal features of `object` (e.g. `"countries"`) in a TopoJSON document.
/// Errors name what is wrong (not a topology, missing object, arc index out of range).
pub fn decode(json: &[u8], object: &str) -> Result<Vec<TopoFeature>, String> {
    let topo: Topology = serde_json::from_slice(json).map_err(|e| e.to_string())?;
    if topo.kind != "Topology" {
        return Err(format!("type is {:?}, not \"Topology\"", topo.kind));
    }
    let arcs = decode_arcs(&topo)?;
    let root = topo
        .objects
        .get(object)
        .ok_or_else(|| format!("no object {object:?}"))?;
    let mut out = Vec::new();
    collect(root, &arcs, &mut out)?;
    Ok(out)
}

/// Every arc as absolute positions.
fn decode_arcs(topo: &Topology) -> Result<Vec<Vec<Coord<f64>>>, String> {
    let mut out = Vec::with_capacity(topo.arcs.len());
    for (i, arc) in topo.arcs.iter().enumerate() {
        let mut coords = Vec::with_capacity(arc.len());
        let (mut x, mut y) = (0.0, 0.0);
        for p in arc {
            let &[px, py, ..] = p.as_slice() else {
                return Err(format!("arc {i} has a position with fewer than two numbers"));
            };
            coords.push(match &topo.transform {
                Some(t) => {
                    // Delta-encoded integers: accumulate before scaling.
                    x += px;
                    y += py;
                    Coord {
                        x: x * t.scale[0] + t.translate[0],
                        y: y * t.scale[1] + t.translate[1],
                    }
                }
                None => Coord { x: px, y: py },
            });
        }
        out.push(coords);
    }
    Ok(out)
}

/// Appends the polygonal features of geometry `g` (recursing into collections) to `out`.
fn collect(g: &Value, arcs: &[Vec<Coord<f64>>], out: &mut Vec<TopoFeature>) -> Result<(), String> {
    let field = |name: &str| -> Result<Value, String> {
        g.get(name)
            .cloned()
            .ok_or_else(|| format!("a geometry without {name:?}"))
    };
    let polygons = match g.get("type").and_then(Value::as_str) {
        Some("GeometryCollection") => {
            let Value::Array(geometries) = field("geometries")? else {
                return Err("\"geometries\" is not an array".into());
            };
            for g in &geometries {
                collect(g, arcs, out)?;
            }
            return Ok(());
        }
        Some("Polygon") => {
            let rings: Vec<Vec<i64>> =
                serde_json::from_value(field("arcs")?).map_err(|e| format!("Polygon arcs: {e}"))?;
            vec![polygon(&rings, arcs)?]
        }
        Some("MultiPolygon") => {
            let polys: Vec<Vec<Vec<i64>>> = serde_json::from_value(field("arcs")?)
                .map_err(|e| format!("MultiPolygon arcs: {e}"))?;
            polys
                .iter()
                .map(|rings| polygon(rings, arcs))
                .collect::<Result<Vec<_>, _>>()?
        }
        // Points, lines and null geometries are not polygons.
        _ => return Ok(()),
    };
    let id = match g.get("id") {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    let name = g
        .get("properties")
        .and_then(|p| p.get("name"))
        .and_then(Value::as_str)
        .map(str::to_string);
    out.push(TopoFeature {
        id,
        name,
        shape: MultiPolygon(polygons.into_iter().flatten().collect()),
    });
    Ok(())
}

/// A polygon from its rings (exterior first); `None` when it has no ring.
fn polygon(rings: &[Vec<i64>], arcs: &[Vec<Coord<f64>>]) -> Result<Option<Polygon<f64>>, String> {
    let mut rings = rings.iter().map(|r| ring(r, arcs));
    let Some(exterior) = rings.next().transpose()? else {
        return Ok(None);
    };
    let holes = rings.collect::<Result<Vec<_>, _>>()?;
    Ok(Some(Polygon::new(exterior, holes)))
}

/// A ring: its arcs joined, each arc after the first without its first position (the previous
/// arc's last).
fn ring(indices: &[i64], arcs: &[Vec<Coord<f64>>]) -> Result<LineString<f64>, String> {
    let mut coords: Vec<Coord<f64>> = Vec::new();
    for &i in indices {
        let (k, reversed) = if i >= 0 { (i, false) } else { (!i, true) };
        let arc = usize::try_from(k)
            .ok()
            .and_then(|k| arcs.get(k))
            .ok_or_else(|| format!("arc index {i} out of range ({} arcs)", arcs.len()))?;
        let skip = usize::from(!coords.is_empty());
        if reversed {
            coords.extend(arc.iter().rev().skip(skip));
        } else {
            coords.extend(arc.iter().skip(skip));
        }
    }
    // `LineString` rings are closed by `Polygon::new`.
    Ok(LineString(coords))
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{Area, Contains, Point};

    /// Two unit squares side by side sharing the arc x = 1, quantized (scale 1/10, translate
    /// (10, 20)), the right one with a reversed shared arc; plus a feature with a hole, one
    /// without an id, and a point that is skipped.
    const TOPO: &str = r#"{
      "type": "Topology",
      "transform": {"scale": [0.1, 0.1], "translate": [10, 20]},
      "arcs": [
        [[10, 0], [0, 10]],
        [[10, 10], [-10, 0], [0, -10], [10, 0]],
        [[10, 0], [10, 0], [0, 10], [-10, 0]],
        [[0, 30], [40, 0], [0, 40], [-40, 0], [0, -40]],
        [[10, 40], [0, 10], [10, 0], [0, -10], [-10, 0]]
      ],
      "objects": {"countries": {"type": "GeometryCollection", "geometries": [
        {"type": "Polygon", "id": "001", "properties": {"name": "Left"}, "arcs": [[0, 1]]},
        {"type": "MultiPolygon", "id": 2, "properties": {"name": "Right"}, "arcs": [[[2, -1]]]},
        {"type": "Polygon", "properties": {"name": "Holey"}, "arcs": [[3], [4]]},
        {"type": "Point", "coordinates": [0, 0]},
        {"type": null}
      ]}}
    }"#;

    #[test]
    fn decodes_quantized_arcs_and_reversed_indices() {
        let f = decode(TOPO.as_bytes(), "countries").unwrap();
        assert_eq!(f.len(), 3);
        assert_eq!(f[0].id.as_deref(), Some("001"));
        assert_eq!(f[0].name.as_deref(), Some("Left"));
        assert_eq!(f[1].id.as_deref(), Some("2"));
        assert_eq!(f[2].id, None);
        // Left: the square [10, 11] x [20, 21].
        let left = &f[0].shape;
        assert!((left.unsigned_area() - 1.0).abs() < 1e-9, "{left:?}");
        assert!(left.contains(&Point::new(10.5, 20.5)));
        assert!(!left.contains(&Point::new(11.5, 20.5)));
        // Right: [11, 12] x [20, 21], built with the shared arc walked backwards.
        let right = &f[1].shape;
        assert!((right.unsigned_area() - 1.0).abs() < 1e-9, "{right:?}");
        assert!(right.contains(&Point::new(11.5, 20.5)));
        let ring: Vec<(f64, f64)> = right.0[0].exterior().coords().map(|c| (c.x, c.y)).collect();
        let want = [(11.0, 20.0), (12.0, 20.0), (12.0, 21.0), (11.0, 21.0), (11.0, 20.0)];
        assert_eq!(ring.len(), want.len(), "{ring:?}");
        for (a, b) in ring.iter().zip(want) {
            assert!((a.0 - b.0).abs() < 1e-9 && (a.1 - b.1).abs() < 1e-9, "{ring:?}");
        }
        // Holey: a 4x4 square with a 1x1 hole.
        let holey = &f[2].shape;
        assert!((holey.unsigned_area() - 15.0).abs() < 1e-9, "{holey:?}");
        assert!(holey.contains(&Point::new(10.5, 23.5)));
        assert!(!holey.contains(&Point::new(11.5, 24.5)));
    }

    #[test]
    fn malformed_topologies_are_errors() {
        for (json, want) in [
            (r#"{"type": "FeatureCollection", "arcs": [], "objects": {}}"#, "not \"Topology\""),
            (r#"{"type": "Topology", "arcs": [], "objects": {}}"#, "no object"),
            (
                r#"{"type": "Topology", "arcs": [[[0, 0], [1, 1]]], "objects": {"countries":
                   {"type": "Polygon", "arcs": [[0, 5]]}}}"#,
                "arc index 5 out of range",
            ),
            (
                r#"{"type": "Topology", "arcs": [[[0, 0], [1, 1]]], "objects": {"countries":
                   {"type": "Polygon", "arcs": [[-3]]}}}"#,
                "arc index -3 out of range",
            ),
            (
                r#"{"type": "Topology", "arcs": [[[0], [1, 1]]], "objects": {}}"#,
                "fewer than two numbers",
            ),
            ("not json", "expected"),
        ] {
            let err = decode(json.as_bytes(), "countries").unwrap_err();
            assert!(err.contains(want), "{json}: {err}");
        }
    }

    #[test]
    fn unquantized_arcs_are_absolute() {
        let json = r#"{"type": "Topology", "arcs": [[[0, 0], [2, 0], [2, 2], [0, 2], [0, 0]]],
            "objects": {"o": {"type": "Polygon", "id": "x", "arcs": [[-1]]}}}"#;
        let f = decode(json.as_bytes(), "o").unwrap();
        assert!((f[0].shape.unsigned_area() - 4.0).abs() < 1e-9);
    }
}
