//! TopoJSON (the format of Natural Earth's `world-atlas` files) decoded into `geo` polygons.
//!
//! A topology stores each shared border once, as an *arc*; polygons list rings as arc indices,
//! a negative index `i` meaning arc `!i` (that is `-i - 1`) walked backwards. In a quantized
//! topology an arc's first position is absolute and the next ones are deltas, all integers, and
//! the `transform` (`scale`, `translate`) maps them to longitude/latitude. Only polygonal
//! geometries are decoded; points and lines are skipped (the country files have none).
//!
//! `world-atlas` does not cut shapes at the antimeridian (d3 draws them on the sphere): Russia's
//! and Fiji's rings jump from 180° to -180° and Antarctica's ring goes round the pole. As planar
//! polygons they are wrong (a point in Moscow and one in Alaska's longitudes would both fall in
//! "Russia" and Anadyr would not), so [`split_antimeridian`] cuts them into pieces within
//! [-180°, 180°], as RFC 7946 asks of GeoJSON.
//!
//! Written by hand rather than with the `topojson` crate: that crate goes through `geojson`
//! values (pinned below 0.24) and panics (`unreachable!`, `unimplemented!`) on some inputs,
//! while this decoder returns an error for every malformed index.

use geo::{BooleanOps, Coord, LineString, MultiPolygon, Polygon, Rect};
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
                return Err(format!(
                    "arc {i} has a position with fewer than two numbers"
                ));
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

/// Whether a ring jumps across the antimeridian (consecutive longitudes more than 180° apart)
/// or strays past it (world-atlas has Russian islands down to -181.4°).
fn crosses(ring: &LineString<f64>) -> bool {
    ring.0.windows(2).any(|w| (w[1].x - w[0].x).abs() > 180.0)
        || ring.0.iter().any(|c| c.x.abs() > 180.0)
}

/// The ring made continuous in longitude (a jump of more than 180° is taken as a crossing of
/// the antimeridian, so later points are shifted by 360°). A ring that goes round a pole ends
/// 360° from where it started; it is closed along the pole.
fn unwrap_ring(ring: &LineString<f64>) -> LineString<f64> {
    let mut out: Vec<Coord<f64>> = Vec::with_capacity(ring.0.len() + 3);
    let mut offset = 0.0;
    let mut prev: Option<f64> = None;
    for c in &ring.0 {
        if let Some(p) = prev {
            if c.x - p > 180.0 {
                offset -= 360.0;
            } else if p - c.x > 180.0 {
                offset += 360.0;
            }
        }
        prev = Some(c.x);
        out.push(Coord {
            x: c.x + offset,
            y: c.y,
        });
    }
    if offset != 0.0 {
        if let (Some(first), Some(last)) = (out.first().copied(), out.last().copied()) {
            let mean = out.iter().map(|c| c.y).sum::<f64>() / out.len() as f64;
            let pole = if mean < 0.0 { -90.0 } else { 90.0 };
            out.push(Coord { x: last.x, y: pole });
            out.push(Coord {
                x: first.x,
                y: pole,
            });
            out.push(first);
        }
    }
    LineString(out)
}

/// Cuts every polygon that crosses the antimeridian into pieces within [-180°, 180°]; other
/// polygons are returned as they are.
pub fn split_antimeridian(shape: MultiPolygon<f64>) -> MultiPolygon<f64> {
    let mut out = Vec::with_capacity(shape.0.len());
    for poly in shape.0 {
        if !crosses(poly.exterior()) && !poly.interiors().iter().any(crosses) {
            out.push(poly);
            continue;
        }
        let exterior = unwrap_ring(poly.exterior());
        let (min_x, max_x) = exterior
            .0
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), c| {
                (lo.min(c.x), hi.max(c.x))
            });
        // Holes go where the exterior is.
        let holes = poly
            .interiors()
            .iter()
            .map(|h| {
                let mut h = unwrap_ring(h);
                let x = h.0.first().map_or(0.0, |c| c.x);
                let shift = if x > max_x {
                    -360.0
                } else if x < min_x {
                    360.0
                } else {
                    0.0
                };
                h.0.iter_mut().for_each(|c| c.x += shift);
                h
            })
            .collect();
        let unwrapped = Polygon::new(exterior, holes);
        for k in [-1.0, 0.0, 1.0] {
            let shift = 360.0 * k;
            if max_x < -180.0 + shift || min_x > 180.0 + shift {
                continue;
            }
            let window = Rect::new(
                Coord {
                    x: -180.0 + shift,
                    y: -90.0,
                },
                Coord {
                    x: 180.0 + shift,
                    y: 90.0,
                },
            )
            .to_polygon();
            // Shifted back into range; clamped, as clipping leaves 180.00000000001.
            let back = |c: &mut Coord<f64>| c.x = (c.x - shift).clamp(-180.0, 180.0);
            for mut piece in unwrapped.intersection(&window).0 {
                piece.exterior_mut(|r| r.0.iter_mut().for_each(back));
                piece.interiors_mut(|rs| rs.iter_mut().for_each(|r| r.0.iter_mut().for_each(back)));
                out.push(piece);
            }
        }
    }
    MultiPolygon(out)
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
        let want = [
            (11.0, 20.0),
            (12.0, 20.0),
            (12.0, 21.0),
            (11.0, 21.0),
            (11.0, 20.0),
        ];
        assert_eq!(ring.len(), want.len(), "{ring:?}");
        for (a, b) in ring.iter().zip(want) {
            assert!(
                (a.0 - b.0).abs() < 1e-9 && (a.1 - b.1).abs() < 1e-9,
                "{ring:?}"
            );
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
            (
                r#"{"type": "FeatureCollection", "arcs": [], "objects": {}}"#,
                "not \"Topology\"",
            ),
            (
                r#"{"type": "Topology", "arcs": [], "objects": {}}"#,
                "no object",
            ),
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

    /// A square from 170°E to 170°W written as world-atlas writes it (jumping from 180 to
    /// -180), and a ring round the south pole.
    #[test]
    fn shapes_are_cut_at_the_antimeridian() {
        let square = Polygon::new(
            LineString::from(vec![
                (170.0, 60.0),
                (180.0, 60.0),
                (-170.0, 60.0),
                (-170.0, 70.0),
                (-180.0, 70.0),
                (170.0, 70.0),
                (170.0, 60.0),
            ]),
            vec![],
        );
        let cut = split_antimeridian(MultiPolygon(vec![square]));
        assert_eq!(cut.0.len(), 2, "{cut:?}");
        for (x, inside) in [
            (175.0, true),
            (-175.0, true),
            (0.0, false),
            (100.0, false),
            (-100.0, false),
        ] {
            assert_eq!(cut.contains(&Point::new(x, 65.0)), inside, "{x}: {cut:?}");
        }
        assert!((cut.unsigned_area() - 200.0).abs() < 1e-6);
        // A ring past -180° without a jump is moved back into range.
        let past = Polygon::new(
            LineString::from(vec![
                (-182.0, 0.0),
                (-178.0, 0.0),
                (-178.0, 1.0),
                (-182.0, 0.0),
            ]),
            vec![],
        );
        let cut = split_antimeridian(MultiPolygon(vec![past]));
        assert!(cut.contains(&Point::new(179.5, 0.1)) && cut.contains(&Point::new(-179.0, 0.1)));
        for p in &cut.0 {
            assert!(p
                .exterior()
                .coords()
                .all(|c| (-180.0..=180.0).contains(&c.x)));
        }

        let around_pole = Polygon::new(
            LineString::from(vec![
                (-180.0, -70.0),
                (-90.0, -75.0),
                (0.0, -70.0),
                (90.0, -75.0),
                (180.0, -70.0),
                (-180.0, -70.0),
            ]),
            vec![],
        );
        let cut = split_antimeridian(MultiPolygon(vec![around_pole]));
        for x in [-179.0, -90.0, 0.0, 45.0, 179.0] {
            assert!(cut.contains(&Point::new(x, -80.0)), "{x}: {cut:?}");
            assert!(!cut.contains(&Point::new(x, -60.0)), "{x}: {cut:?}");
        }

        // Shapes that do not cross are untouched.
        let plain = MultiPolygon(vec![Polygon::new(
            LineString::from(vec![(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 0.0)]),
            vec![],
        )]);
        assert_eq!(split_antimeridian(plain.clone()), plain);
    }

    #[test]
    fn unquantized_arcs_are_absolute() {
        let json = r#"{"type": "Topology", "arcs": [[[0, 0], [2, 0], [2, 2], [0, 2], [0, 0]]],
            "objects": {"o": {"type": "Polygon", "id": "x", "arcs": [[-1]]}}}"#;
        let f = decode(json.as_bytes(), "o").unwrap();
        assert!((f[0].shape.unsigned_area() - 4.0).abs() < 1e-9);
    }
}
