//! The spatial index: an R-tree (rstar) over the geometries of keys (chunk ids), and the
//! [`Area`]s it is queried with — a box, a (multi)polygon, or a geodesic radius.
//!
//! Semantics (checked query by query against PostGIS by `sextant-bench geo`, see
//! `docs/geo-bench.md`):
//! * Positions are WGS84 `[lon, lat]` degrees. Line and polygon edges are straight in lon/lat
//!   (planar, like PostGIS `geometry`). A polygon that crosses the antimeridian must be split at
//!   ±180 by its producer, as RFC 7946 asks; a box is split here (`min_lon > max_lon`).
//! * [`Area::BBox`] and [`Area::Polygon`] include their boundary, like `ST_Intersects`. Point in
//!   polygon uses exact orientation predicates (`robust`), so a point on an edge is inside
//!   whatever the rounding.
//! * [`Area::Near`] is the geodesic distance on the WGS84 ellipsoid (Karney, geo's `Geodesic`),
//!   `<= km`, like `ST_DWithin(geography, geography, metres, true)`. For points it is exact; for
//!   lines and polygons see [`Area::distance_km`].
//!
//! Every query is exact: the tree yields envelope candidates and each one is refined. Points (the
//! common case: one per geotag) live in their own tree whose leaves hold the position and the
//! key, so refining a point needs no lookup; lines and polygons live in a second tree, one leaf
//! per part (a polygon of a multipolygon, a line of a multiline), refined with geo's predicates.

use geo::{Distance, Geodesic, Intersects};
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{Envelope, ParentNode, RStarInsertionStrategy, RTree, RTreeNode, RTreeObject, AABB};
use sextant_types::Geometry;
use std::collections::BTreeMap;
use std::sync::OnceLock;

/// Why an area could not be made from a flag value or a geometry.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AreaError {
    #[error("{flag} expects {expected}; got {input:?}")]
    Syntax {
        flag: &'static str,
        expected: &'static str,
        input: String,
    },
    #[error("{what} {value} is out of range ({range})")]
    OutOfRange {
        what: &'static str,
        value: f64,
        range: &'static str,
    },
    #[error("the box's minimum latitude {min} is above its maximum latitude {max}")]
    InvertedLatitudes { min: f64, max: f64 },
    #[error("the radius must be a positive number of kilometres; got {0}")]
    BadRadius(f64),
    #[error("a {0} is not an area: filter by a Polygon or a MultiPolygon")]
    NotAnArea(&'static str),
    #[error("the MultiPolygon has no polygons")]
    NoPolygons,
    #[error("polygon {polygon}, {ring}: {reason}")]
    InvalidRing {
        polygon: usize,
        ring: String,
        reason: String,
    },
}

/// An area to filter by. Positions are WGS84 degrees.
#[derive(Debug, Clone, PartialEq)]
pub enum Area {
    /// Inclusive box; `min_lon > max_lon` means the box crosses the antimeridian.
    BBox {
        min_lon: f64,
        min_lat: f64,
        max_lon: f64,
        max_lat: f64,
    },
    /// Any (multi)polygon, e.g. a GeoJSON polygon drawn on a map or a country's Natural Earth
    /// polygon. The boundary counts as inside (like `ST_Intersects`). Rings are assumed valid
    /// ([`Area::from_geometry`] checks them); holes count by parity.
    Polygon(geo::MultiPolygon<f64>),
    /// Geodesic (WGS84 ellipsoid, Karney — geo's `Geodesic`) distance from a point at most `km`.
    Near { lon: f64, lat: f64, km: f64 },
}

const BBOX_SYNTAX: &str = "MINLON,MINLAT,MAXLON,MAXLAT in degrees (e.g. \"-10,35,30,60\")";
const NEAR_SYNTAX: &str = "LAT,LON,KM (latitude first, e.g. \"48.85,2.35,25\")";

fn numbers<const N: usize>(
    s: &str,
    flag: &'static str,
    expected: &'static str,
) -> Result<[f64; N], AreaError> {
    let syntax = || AreaError::Syntax {
        flag,
        expected,
        input: s.to_string(),
    };
    let parts: Vec<&str> = s.split(',').map(str::trim).collect();
    if parts.len() != N {
        return Err(syntax());
    }
    let mut out = [0.0; N];
    for (o, p) in out.iter_mut().zip(&parts) {
        *o = p.parse::<f64>().map_err(|_| syntax())?;
        if !o.is_finite() {
            return Err(syntax());
        }
    }
    Ok(out)
}

fn check_lon(v: f64) -> Result<(), AreaError> {
    if (-180.0..=180.0).contains(&v) {
        Ok(())
    } else {
        Err(AreaError::OutOfRange {
            what: "longitude",
            value: v,
            range: "-180 to 180",
        })
    }
}

fn check_lat(v: f64) -> Result<(), AreaError> {
    if (-90.0..=90.0).contains(&v) {
        Ok(())
    } else {
        Err(AreaError::OutOfRange {
            what: "latitude",
            value: v,
            range: "-90 to 90",
        })
    }
}

impl Area {
    /// From a GeoJSON geometry: a `Polygon` or `MultiPolygon`. Other kinds are an error, and so
    /// is a ring that is not closed, has fewer than 3 distinct corners, holds a position outside
    /// [-180, 180] × [-90, 90] or crosses itself (touching itself is allowed, as in quantised
    /// borders). Whether holes lie inside their exterior ring and whether polygons overlap is not
    /// checked (parity and union decide).
    pub fn from_geometry(g: &Geometry) -> Result<Area, AreaError> {
        let polygons: Vec<&Vec<Vec<[f64; 2]>>> = match g {
            Geometry::Polygon(p) => vec![p],
            Geometry::MultiPolygon(ps) => ps.iter().collect(),
            Geometry::Point(_) => return Err(AreaError::NotAnArea("Point")),
            Geometry::MultiPoint(_) => return Err(AreaError::NotAnArea("MultiPoint")),
            Geometry::LineString(_) => return Err(AreaError::NotAnArea("LineString")),
            Geometry::MultiLineString(_) => return Err(AreaError::NotAnArea("MultiLineString")),
        };
        if polygons.is_empty() {
            return Err(AreaError::NoPolygons);
        }
        let mut out = Vec::with_capacity(polygons.len());
        for (pi, rings) in polygons.into_iter().enumerate() {
            if rings.is_empty() {
                return Err(AreaError::InvalidRing {
                    polygon: pi,
                    ring: "polygon".into(),
                    reason: "has no rings".into(),
                });
            }
            let mut lines = Vec::with_capacity(rings.len());
            for (ri, ring) in rings.iter().enumerate() {
                check_ring(ring).map_err(|reason| AreaError::InvalidRing {
                    polygon: pi,
                    ring: if ri == 0 {
                        "exterior ring".into()
                    } else {
                        format!("hole {ri}")
                    },
                    reason,
                })?;
                lines.push(geo::LineString::from(ring.clone()));
            }
            let exterior = lines.remove(0);
            out.push(geo::Polygon::new(exterior, lines));
        }
        Ok(Area::Polygon(geo::MultiPolygon(out)))
    }

    /// Parses `MINLON,MINLAT,MAXLON,MAXLAT` (the `--bbox` flag). Longitudes must lie in
    /// [-180, 180], latitudes in [-90, 90] with `MINLAT <= MAXLAT`; `MINLON > MAXLON` is a box
    /// across the antimeridian.
    pub fn parse_bbox(s: &str) -> Result<Area, AreaError> {
        let [min_lon, min_lat, max_lon, max_lat] = numbers::<4>(s, "--bbox", BBOX_SYNTAX)?;
        check_lon(min_lon)?;
        check_lon(max_lon)?;
        check_lat(min_lat)?;
        check_lat(max_lat)?;
        if min_lat > max_lat {
            return Err(AreaError::InvertedLatitudes {
                min: min_lat,
                max: max_lat,
            });
        }
        Ok(Area::BBox {
            min_lon,
            min_lat,
            max_lon,
            max_lat,
        })
    }

    /// Parses `LAT,LON,KM` (the `--near` flag; note: latitude first, as people say positions).
    pub fn parse_near(s: &str) -> Result<Area, AreaError> {
        let [lat, lon, km] = numbers::<3>(s, "--near", NEAR_SYNTAX)?;
        check_lat(lat)?;
        check_lon(lon)?;
        if km <= 0.0 {
            return Err(AreaError::BadRadius(km));
        }
        Ok(Area::Near { lon, lat, km })
    }

    /// Whether a geometry intersects the area. Exact for points (boundary included); for lines
    /// and polygons exact for boxes and polygons (geo's `Intersects`) and, for `Near`, as exact
    /// as [`Area::distance_km`]. Filtering many geometries by one area: [`Area::prepare`].
    pub fn intersects(&self, g: &Geometry) -> bool {
        match self {
            Area::BBox { .. } => {
                let rects: Vec<geo::Rect<f64>> = self
                    .boxes()
                    .iter()
                    .map(|b| geo::Rect::new(b.lower(), b.upper()))
                    .collect();
                let geom = to_geo(g);
                rects.iter().any(|r| r.intersects(&geom))
            }
            Area::Polygon(mp) => mp.intersects(&to_geo(g)),
            Area::Near { lon, lat, km } => {
                let c = [*lon, *lat];
                let r = km * 1000.0;
                let mut any = false;
                for_each_part(g, &mut |p| {
                    any = any
                        || match p {
                            Part::Pos(q) => geodesic_m(c, *q) <= r,
                            Part::Line(l) => line_distance_m(c, l, None) <= r,
                            Part::Poly(rings) => polygon_distance_m(c, rings, None) <= r,
                        }
                });
                any
            }
        }
    }

    /// For a `Near` area, the geodesic distance in km from its centre to the geometry: to the
    /// nearest position for points; 0 when the centre lies in a polygon; otherwise, for lines and
    /// polygon rings, the minimum over edges of the geodesic distance to the point of the edge
    /// closest to the centre in a local equirectangular projection around it (an upper bound of
    /// the true distance, within a fraction of a percent for edges of up to a few hundred km away
    /// from the poles). `None` for other areas and for a geometry without positions.
    pub fn distance_km(&self, g: &Geometry) -> Option<f64> {
        let Area::Near { lon, lat, .. } = self else {
            return None;
        };
        let c = [*lon, *lat];
        let mut best = f64::INFINITY;
        for_each_part(g, &mut |p| {
            let d = match p {
                Part::Pos(q) => geodesic_m(c, *q),
                Part::Line(l) => line_distance_m(c, l, None),
                Part::Poly(rings) => polygon_distance_m(c, rings, None),
            };
            best = best.min(d);
        });
        best.is_finite().then_some(best / 1000.0)
    }

    /// The area made ready for testing many geometries: polygons get an edge index for point in
    /// polygon, `Near` gets its spherical shortcuts and bounding boxes.
    pub fn prepare(&self) -> PreparedArea<'_> {
        let kind = match self {
            Area::BBox { .. } => Kind::Box,
            Area::Polygon(mp) => Kind::Polygon(Polygons::new(&mp.0)),
            Area::Near { lon, lat, km } => Kind::Near(NearTest::new([*lon, *lat], km * 1000.0)),
        };
        let boxes = match &kind {
            Kind::Polygon(polys) => polys.boxes.iter().map(|(b, _)| *b).collect(),
            _ => self.boxes(),
        };
        PreparedArea {
            area: self,
            boxes,
            kind,
        }
    }

    /// `[min_lon, min_lat, max_lon, max_lat]` boxes that together contain the area: one, or two
    /// where it crosses the antimeridian (one per polygon of a multipolygon).
    pub fn bounds(&self) -> Vec<[f64; 4]> {
        self.boxes()
            .iter()
            .map(|b| {
                let (lo, hi) = (b.lower(), b.upper());
                [lo[0], lo[1], hi[0], hi[1]]
            })
            .collect()
    }

    /// Boxes (lon/lat, inclusive, within [-180, 180]) that together contain the area.
    fn boxes(&self) -> Vec<AABB<[f64; 2]>> {
        match *self {
            Area::BBox {
                min_lon,
                min_lat,
                max_lon,
                max_lat,
            } => {
                if min_lat > max_lat {
                    Vec::new()
                } else if min_lon <= max_lon {
                    vec![AABB::from_corners([min_lon, min_lat], [max_lon, max_lat])]
                } else {
                    vec![
                        AABB::from_corners([min_lon, min_lat], [180.0, max_lat]),
                        AABB::from_corners([-180.0, min_lat], [max_lon, max_lat]),
                    ]
                }
            }
            Area::Polygon(ref mp) => {
                mp.0.iter()
                    .filter_map(|p| {
                        use geo::BoundingRect;
                        p.bounding_rect()
                            .map(|r| AABB::from_corners(r.min().into(), r.max().into()))
                    })
                    .collect()
            }
            Area::Near { lon, lat, km } => near_boxes(lon, lat, km * 1000.0),
        }
    }
}

/// WGS84 semi-minor axis in metres.
const WGS84_B: f64 = 6_378_137.0 * (1.0 - 1.0 / 298.257_223_563);
const WGS84_F: f64 = 1.0 / 298.257_223_563;
/// IUGG mean Earth radius (2a + b) / 3, the sphere of the haversine shortcut.
const MEAN_RADIUS: f64 = 6_371_008.771_4;
/// Degrees added around every computed bound so that rounding never loses a position.
const MARGIN_DEG: f64 = 1e-7;

/// Boxes that contain every position within `r` metres (geodesic) of `(lon, lat)`.
///
/// On the auxiliary sphere of geodesic theory (reduced latitude β, tan β = (1 − f) tan φ) a
/// geodesic of length s spans an arc σ with bσ ≤ s, and its longitude on the ellipsoid never
/// exceeds its longitude ω on the sphere (λ = ω − f sin α₀ I(σ), with λ and ω growing together).
/// So every position within r lies in the spherical cap of radius σ = r / b around the centre's
/// reduced latitude: latitude within β ± σ, longitude within asin(sin σ / cos β) unless the cap
/// holds a pole (then all longitudes).
fn near_boxes(lon: f64, lat: f64, r: f64) -> Vec<AABB<[f64; 2]>> {
    use std::f64::consts::FRAC_PI_2;
    if r.is_nan() || r < 0.0 || !lon.is_finite() || !lat.is_finite() {
        return Vec::new();
    }
    let sigma = r / WGS84_B * (1.0 + 1e-12) + 1e-15;
    let beta = ((1.0 - WGS84_F) * lat.to_radians().tan()).atan();
    let geodetic = |b: f64| (b.tan() / (1.0 - WGS84_F)).atan().to_degrees();
    let (north, south) = (beta + sigma, beta - sigma);
    let max_lat = if north >= FRAC_PI_2 {
        90.0
    } else {
        (geodetic(north) + MARGIN_DEG).min(90.0)
    };
    let min_lat = if south <= -FRAC_PI_2 {
        -90.0
    } else {
        (geodetic(south) - MARGIN_DEG).max(-90.0)
    };
    let s = sigma.sin() / beta.cos();
    if north >= FRAC_PI_2 || south <= -FRAC_PI_2 || s >= 1.0 {
        return vec![AABB::from_corners([-180.0, min_lat], [180.0, max_lat])];
    }
    let dlon = s.asin().to_degrees() + MARGIN_DEG;
    let (west, east) = (lon - dlon, lon + dlon);
    if east - west >= 360.0 {
        vec![AABB::from_corners([-180.0, min_lat], [180.0, max_lat])]
    } else if west < -180.0 {
        vec![
            AABB::from_corners([west + 360.0, min_lat], [180.0, max_lat]),
            AABB::from_corners([-180.0, min_lat], [east.min(180.0), max_lat]),
        ]
    } else if east > 180.0 {
        vec![
            AABB::from_corners([west, min_lat], [180.0, max_lat]),
            AABB::from_corners([-180.0, min_lat], [east - 360.0, max_lat]),
        ]
    } else {
        vec![AABB::from_corners([west, min_lat], [east, max_lat])]
    }
}

/// Geodesic distance in metres (WGS84, Karney).
fn geodesic_m(a: [f64; 2], b: [f64; 2]) -> f64 {
    Geodesic.distance(geo::Point::from(a), geo::Point::from(b))
}

/// The `Near` test for points: a haversine shortcut decides clear cases, Karney the rest. On the
/// sphere of the mean radius R, with geodetic latitudes, the metric differs from the ellipsoid's
/// by the ratio of the radii of curvature (M and N between 6,335 and 6,400 km) to R: within
/// 0.6 %, for every path and so for geodesic distances. A spherical distance below 0.99 r is
/// therefore inside and one above 1.01 r outside.
struct NearTest {
    c: [f64; 2],
    r: f64,
    lat_rad: f64,
    cos_lat: f64,
    /// Haversine terms h = sin²(θ/2): inside below `h_in`, outside above `h_out`.
    h_in: f64,
    h_out: f64,
}

impl NearTest {
    fn new(c: [f64; 2], r: f64) -> NearTest {
        let h = |theta: f64| {
            if theta >= std::f64::consts::PI {
                2.0 // above any haversine term (at most 1)
            } else {
                (theta / 2.0).sin().powi(2)
            }
        };
        NearTest {
            c,
            r,
            lat_rad: c[1].to_radians(),
            cos_lat: c[1].to_radians().cos(),
            h_in: if r > 0.0 {
                h(0.99 * r / MEAN_RADIUS)
            } else {
                -1.0
            },
            h_out: h(1.01 * r.max(0.0) / MEAN_RADIUS),
        }
    }

    fn haversine_term(&self, p: [f64; 2]) -> f64 {
        let lat = p[1].to_radians();
        let dlat = (lat - self.lat_rad) * 0.5;
        let dlon = (p[0] - self.c[0]).to_radians() * 0.5;
        dlat.sin().powi(2) + self.cos_lat * lat.cos() * dlon.sin().powi(2)
    }

    fn covers(&self, p: [f64; 2]) -> bool {
        let h = self.haversine_term(p);
        if h < self.h_in {
            true
        } else if h > self.h_out {
            false
        } else {
            geodesic_m(self.c, p) <= self.r
        }
    }

    /// The exact distance when it is at most r.
    fn distance_within(&self, p: [f64; 2]) -> Option<f64> {
        if self.haversine_term(p) > self.h_out {
            return None;
        }
        let d = geodesic_m(self.c, p);
        (d <= self.r).then_some(d)
    }
}

/// Orientation of `p` relative to the line a→b: positive left, negative right, 0 on it (exact).
fn orient(a: [f64; 2], b: [f64; 2], p: [f64; 2]) -> f64 {
    robust::orient2d(
        robust::Coord { x: a[0], y: a[1] },
        robust::Coord { x: b[0], y: b[1] },
        robust::Coord { x: p[0], y: p[1] },
    )
}

/// One polygon's edges bucketed by horizontal slabs, for exact point in polygon (crossing
/// parity over all its rings, boundary inside). Each slab lists the edges whose latitude range
/// meets it, so a test reads a handful of edges even for a country with 100,000 of them.
struct PolyIndex {
    lo: [f64; 2],
    hi: [f64; 2],
    y0: f64,
    scale: f64,
    offsets: Vec<u32>,
    /// Edges as [ax, ay, bx, by].
    edges: Vec<[f64; 4]>,
}

impl PolyIndex {
    fn new(p: &geo::Polygon<f64>) -> PolyIndex {
        let mut edges: Vec<[f64; 4]> = Vec::new();
        let (mut lo, mut hi) = ([f64::INFINITY; 2], [f64::NEG_INFINITY; 2]);
        for ring in std::iter::once(p.exterior()).chain(p.interiors()) {
            for c in &ring.0 {
                lo = [lo[0].min(c.x), lo[1].min(c.y)];
                hi = [hi[0].max(c.x), hi[1].max(c.y)];
            }
            for w in ring.0.windows(2) {
                if w[0] != w[1] {
                    edges.push([w[0].x, w[0].y, w[1].x, w[1].y]);
                }
            }
        }
        let slabs = edges.len().clamp(1, 1 << 16);
        let height = hi[1] - lo[1];
        let scale = if height > 0.0 {
            slabs as f64 / height
        } else {
            0.0
        };
        let mut idx = PolyIndex {
            lo,
            hi,
            y0: lo[1],
            scale,
            offsets: vec![0; slabs + 1],
            edges: Vec::new(),
        };
        for e in &edges {
            let (a, b) = (idx.slab(e[1].min(e[3])), idx.slab(e[1].max(e[3])));
            for s in a..=b {
                idx.offsets[s + 1] += 1;
            }
        }
        for s in 0..slabs {
            idx.offsets[s + 1] += idx.offsets[s];
        }
        let mut fill: Vec<u32> = idx.offsets[..slabs].to_vec();
        idx.edges = vec![[0.0; 4]; idx.offsets[slabs] as usize];
        for e in &edges {
            let (a, b) = (idx.slab(e[1].min(e[3])), idx.slab(e[1].max(e[3])));
            for f in &mut fill[a..=b] {
                idx.edges[*f as usize] = *e;
                *f += 1;
            }
        }
        idx
    }

    /// The slab of a latitude; monotone in `y`, so an edge's slab range holds every y it spans.
    fn slab(&self, y: f64) -> usize {
        // `as usize` saturates: below the polygon is slab 0.
        (((y - self.y0) * self.scale) as usize).min(self.offsets.len() - 2)
    }

    fn covers(&self, p: [f64; 2]) -> bool {
        let [x, y] = p;
        if !(x >= self.lo[0] && x <= self.hi[0] && y >= self.lo[1] && y <= self.hi[1]) {
            return false;
        }
        let s = self.slab(y);
        let mut inside = false;
        for &[ax, ay, bx, by] in &self.edges[self.offsets[s] as usize..self.offsets[s + 1] as usize]
        {
            if (ay > y) != (by > y) {
                // The edge spans the latitude (half-open, so a vertex counts once).
                if x < ax.min(bx) {
                    inside = !inside;
                } else if x <= ax.max(bx) {
                    let o = orient([ax, ay], [bx, by], p);
                    if o == 0.0 {
                        return true;
                    }
                    if (o > 0.0) == (by > ay) {
                        inside = !inside;
                    }
                }
            } else if (ay == y || by == y)
                && x >= ax.min(bx)
                && x <= ax.max(bx)
                && orient([ax, ay], [bx, by], p) == 0.0
            {
                return true; // on a horizontal edge or on a vertex
            }
        }
        inside
    }
}

/// The polygons of a polygon area with their bounding boxes. A polygon's edge index is built
/// the first time a position falls in its box: most islands of a country never need one.
struct Polygons<'a> {
    polys: &'a [geo::Polygon<f64>],
    /// The box and number of every polygon that has positions.
    boxes: Vec<(AABB<[f64; 2]>, usize)>,
    indexes: Vec<OnceLock<PolyIndex>>,
    /// An R-tree over `boxes` when there are many (a country and its islands).
    tree: Option<RTree<GeomWithData<Rectangle<[f64; 2]>, usize>>>,
}

impl<'a> Polygons<'a> {
    fn new(polys: &'a [geo::Polygon<f64>]) -> Self {
        use geo::BoundingRect;
        let boxes: Vec<(AABB<[f64; 2]>, usize)> = polys
            .iter()
            .enumerate()
            .filter_map(|(i, p)| {
                let r = p.bounding_rect()?;
                Some((AABB::from_corners(r.min().into(), r.max().into()), i))
            })
            .collect();
        let tree = (boxes.len() > 8).then(|| {
            RTree::bulk_load(
                boxes
                    .iter()
                    .map(|(b, i)| GeomWithData::new(Rectangle::from_aabb(*b), *i))
                    .collect(),
            )
        });
        Polygons {
            polys,
            boxes,
            indexes: polys.iter().map(|_| OnceLock::new()).collect(),
            tree,
        }
    }

    fn index(&self, i: usize) -> &PolyIndex {
        self.indexes[i].get_or_init(|| PolyIndex::new(&self.polys[i]))
    }

    fn covers(&self, p: [f64; 2]) -> bool {
        match &self.tree {
            Some(t) => t
                .locate_all_at_point(&p)
                .any(|r| self.index(r.data).covers(p)),
            None => self
                .boxes
                .iter()
                .any(|(b, i)| b.contains_point(&p) && self.index(*i).covers(p)),
        }
    }
}

enum Kind<'a> {
    Box,
    Polygon(Polygons<'a>),
    Near(NearTest),
}

/// An [`Area`] made ready for testing many geometries ([`Area::prepare`]).
pub struct PreparedArea<'a> {
    area: &'a Area,
    /// Boxes that together contain the area: where to look in the tree.
    boxes: Vec<AABB<[f64; 2]>>,
    kind: Kind<'a>,
}

impl PreparedArea<'_> {
    /// Whether a position lies in the area (exact; boundary included).
    pub fn covers(&self, p: [f64; 2]) -> bool {
        match &self.kind {
            Kind::Box => self.boxes.iter().any(|b| b.contains_point(&p)),
            Kind::Polygon(polys) => polys.covers(p),
            Kind::Near(t) => t.covers(p),
        }
    }

    /// Same as [`Area::intersects`], faster when testing many geometries.
    pub fn intersects(&self, g: &Geometry) -> bool {
        let mut any = false;
        for_each_part(g, &mut |p| any = any || self.part_intersects(p));
        any
    }

    fn part_intersects(&self, part: Part<'_>) -> bool {
        match (&self.kind, part) {
            (_, Part::Pos(p)) => self.covers(*p),
            (Kind::Box, part) => {
                let geom = part.to_geo();
                self.boxes
                    .iter()
                    .any(|b| geo::Rect::new(b.lower(), b.upper()).intersects(&geom))
            }
            (Kind::Polygon(polys), part) => {
                // A vertex inside settles it cheaply; otherwise geo decides (edges may cross).
                let first = match part {
                    Part::Line(l) => l.first(),
                    Part::Poly(rings) => rings.first().and_then(|r| r.first()),
                    Part::Pos(p) => Some(p),
                };
                if first.is_some_and(|p| polys.covers(*p)) {
                    return true;
                }
                let Area::Polygon(mp) = self.area else {
                    unreachable!("a polygon index is made from a polygon area")
                };
                mp.intersects(&part.to_geo())
            }
            (Kind::Near(t), Part::Line(l)) => line_distance_m(t.c, l, Some(&self.boxes)) <= t.r,
            (Kind::Near(t), Part::Poly(rings)) => {
                polygon_distance_m(t.c, rings, Some(&self.boxes)) <= t.r
            }
        }
    }
}

/// A piece of a geometry that one tree leaf stands for.
#[derive(Clone, Copy)]
enum Part<'a> {
    Pos(&'a [f64; 2]),
    Line(&'a [[f64; 2]]),
    Poly(&'a [Vec<[f64; 2]>]),
}

impl Part<'_> {
    fn to_geo(self) -> geo::Geometry<f64> {
        match self {
            Part::Pos(p) => geo::Point::from(*p).into(),
            Part::Line([p]) => geo::Point::from(*p).into(),
            Part::Line(l) => geo::LineString::from(l.to_vec()).into(),
            Part::Poly(rings) => poly_to_geo(rings).into(),
        }
    }
}

fn poly_to_geo(rings: &[Vec<[f64; 2]>]) -> geo::Polygon<f64> {
    let mut lines: Vec<geo::LineString<f64>> = rings
        .iter()
        .map(|r| geo::LineString::from(r.clone()))
        .collect();
    let exterior = if lines.is_empty() {
        geo::LineString::new(Vec::new())
    } else {
        lines.remove(0)
    };
    geo::Polygon::new(exterior, lines)
}

fn to_geo(g: &Geometry) -> geo::Geometry<f64> {
    match g {
        Geometry::Point(p) => geo::Point::from(*p).into(),
        Geometry::MultiPoint(ps) => geo::MultiPoint::from(ps.clone()).into(),
        Geometry::LineString(l) => Part::Line(l).to_geo(),
        Geometry::MultiLineString(ls) => geo::Geometry::GeometryCollection(
            geo::GeometryCollection::new_from(ls.iter().map(|l| Part::Line(l).to_geo()).collect()),
        ),
        Geometry::Polygon(rings) => poly_to_geo(rings).into(),
        Geometry::MultiPolygon(ps) => {
            geo::MultiPolygon(ps.iter().map(|p| poly_to_geo(p)).collect()).into()
        }
    }
}

/// Calls `f` with every position of a (multi)point and every line or polygon of the others.
fn for_each_part<'a>(g: &'a Geometry, f: &mut impl FnMut(Part<'a>)) {
    match g {
        Geometry::Point(p) => f(Part::Pos(p)),
        Geometry::MultiPoint(ps) => ps.iter().for_each(|p| f(Part::Pos(p))),
        Geometry::LineString(l) => f(Part::Line(l)),
        Geometry::MultiLineString(ls) => ls.iter().for_each(|l| f(Part::Line(l))),
        Geometry::Polygon(rings) => f(Part::Poly(rings)),
        Geometry::MultiPolygon(ps) => ps.iter().for_each(|p| f(Part::Poly(p))),
    }
}

/// The `part`-th line or polygon of a geometry (the numbering of [`for_each_part`]).
fn nth_part(g: &Geometry, part: u32) -> Option<Part<'_>> {
    let i = part as usize;
    match g {
        Geometry::Point(_) | Geometry::MultiPoint(_) => None,
        Geometry::LineString(l) => (i == 0).then_some(Part::Line(l)),
        Geometry::MultiLineString(ls) => ls.get(i).map(|l| Part::Line(l)),
        Geometry::Polygon(rings) => (i == 0).then_some(Part::Poly(rings)),
        Geometry::MultiPolygon(ps) => ps.get(i).map(|p| Part::Poly(p)),
    }
}

/// Geodesic distance (m) from `c` to a line; see [`Area::distance_km`] for the approximation.
/// With `boxes` (the bounds of a `Near` area), edges outside them are skipped: their distance
/// exceeds the radius, so only a within-radius answer stays exact.
fn line_distance_m(c: [f64; 2], l: &[[f64; 2]], boxes: Option<&[AABB<[f64; 2]>]>) -> f64 {
    match l {
        [] => f64::INFINITY,
        [p] => geodesic_m(c, *p),
        _ => l
            .windows(2)
            .filter(|w| {
                boxes.is_none_or(|bs| {
                    let e = AABB::from_corners(w[0], w[1]);
                    bs.iter().any(|b| b.intersects(&e))
                })
            })
            .map(|w| edge_distance_m(c, w[0], w[1]))
            .fold(f64::INFINITY, f64::min),
    }
}

fn polygon_distance_m(
    c: [f64; 2],
    rings: &[Vec<[f64; 2]>],
    boxes: Option<&[AABB<[f64; 2]>]>,
) -> f64 {
    if poly_to_geo(rings).intersects(&geo::Point::from(c)) {
        return 0.0;
    }
    rings
        .iter()
        .map(|r| line_distance_m(c, r, boxes))
        .fold(f64::INFINITY, f64::min)
}

/// Geodesic distance from `c` to the point of edge a–b closest to `c` in a local
/// equirectangular projection around `c` (the centre taken as is or 360° east or west,
/// whichever is nearest, so that edges across ±180 from the centre are measured the short way).
fn edge_distance_m(c: [f64; 2], a: [f64; 2], b: [f64; 2]) -> f64 {
    let k = c[1].to_radians().cos().max(1e-6);
    let mut best = (f64::INFINITY, a);
    for shift in [0.0, -360.0, 360.0] {
        let cx = c[0] + shift;
        let (ax, ay) = ((a[0] - cx) * k, a[1] - c[1]);
        let (dx, dy) = ((b[0] - a[0]) * k, b[1] - a[1]);
        let len2 = dx * dx + dy * dy;
        let t = if len2 > 0.0 {
            (-(ax * dx + ay * dy) / len2).clamp(0.0, 1.0)
        } else {
            0.0
        };
        let (qx, qy) = (ax + t * dx, ay + t * dy);
        let d2 = qx * qx + qy * qy;
        if d2 < best.0 {
            let q = if t >= 1.0 {
                b
            } else {
                [a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1])]
            };
            best = (d2, q);
        }
    }
    geodesic_m(c, best.1)
}

/// Checks one GeoJSON ring; the reason is the error message's tail.
fn check_ring(ring: &[[f64; 2]]) -> Result<(), String> {
    if ring.len() < 4 {
        return Err(format!(
            "has {} positions; a ring needs at least 4 (3 corners, then the first repeated)",
            ring.len()
        ));
    }
    for (i, p) in ring.iter().enumerate() {
        if !p[0].is_finite() || !p[1].is_finite() {
            return Err(format!("position {i} is not a finite number"));
        }
        if !(-180.0..=180.0).contains(&p[0]) || !(-90.0..=90.0).contains(&p[1]) {
            return Err(format!(
                "position {i} [{}, {}] is outside [-180, 180] × [-90, 90] (positions are [lon, lat])",
                p[0], p[1]
            ));
        }
    }
    if ring.first() != ring.last() {
        return Err(format!(
            "is not closed: the first position {:?} differs from the last {:?}",
            ring[0],
            ring[ring.len() - 1]
        ));
    }
    let mut pts: Vec<[f64; 2]> = ring.to_vec();
    pts.dedup();
    let mut distinct = pts[..pts.len() - 1].to_vec();
    distinct.sort_by(|a, b| a[0].total_cmp(&b[0]).then(a[1].total_cmp(&b[1])));
    distinct.dedup();
    if distinct.len() < 3 {
        return Err("has fewer than 3 distinct corners".into());
    }
    let (a, b) = (distinct[0], distinct[1]);
    if distinct.iter().all(|&p| orient(a, b, p) == 0.0) {
        return Err("has no area (all its corners lie on one line)".into());
    }
    if let Some((i, j)) = self_intersection(&pts) {
        return Err(format!(
            "crosses itself (edge {i} from {:?} and edge {j} from {:?})",
            pts[i], pts[j]
        ));
    }
    Ok(())
}

/// Whether segments p1–p2 and q1–q2 cross at a point inside both (exact orientations).
fn segments_cross(p1: [f64; 2], p2: [f64; 2], q1: [f64; 2], q2: [f64; 2]) -> bool {
    let (d1, d2) = (orient(q1, q2, p1), orient(q1, q2, p2));
    let (d3, d4) = (orient(p1, p2, q1), orient(p1, p2, q2));
    d1 * d2 < 0.0 && d3 * d4 < 0.0
}

/// The first pair of edges of a closed ring that cross each other. Touching (at a corner or
/// along a stretch) and folding back are let through: they occur in quantised borders such as
/// Natural Earth's, and parity gives them a meaning (the fold has no area). A sweep over edges
/// sorted by west end keeps this near n log n for real rings.
fn self_intersection(pts: &[[f64; 2]]) -> Option<(usize, usize)> {
    let n = pts.len() - 1; // edges
    let edge = |i: usize| (pts[i], pts[i + 1]);
    let mut order: Vec<usize> = (0..n).collect();
    let west = |i: usize| pts[i][0].min(pts[i + 1][0]);
    order.sort_by(|&a, &b| west(a).total_cmp(&west(b)));
    for (k, &i) in order.iter().enumerate() {
        let (a, b) = edge(i);
        let east = a[0].max(b[0]);
        for &j in &order[k + 1..] {
            if west(j) > east {
                break;
            }
            let (c, d) = edge(j);
            if segments_cross(a, b, c, d) {
                return Some((i.min(j), i.max(j)));
            }
        }
    }
    None
}

/// Node capacity of the trees. rstar's default (6) costs 10 more bytes per point in parent
/// nodes (113 against 103 bytes per point for 1M points); 16 to 48 measured alike for range
/// queries, within noise (`docs/geo-bench.md`).
struct Params;

impl rstar::RTreeParams for Params {
    const MIN_SIZE: usize = 8;
    const MAX_SIZE: usize = 24;
    const REINSERTION_COUNT: usize = 6;
    type DefaultInsertionStrategy = RStarInsertionStrategy;
}

/// A leaf of the point tree: one position of a (multi)point and its key.
#[derive(Debug, Clone, Copy, PartialEq)]
struct PointLeaf {
    pos: [f64; 2],
    key: u64,
}

impl RTreeObject for PointLeaf {
    type Envelope = AABB<[f64; 2]>;
    fn envelope(&self) -> Self::Envelope {
        AABB::from_point(self.pos)
    }
}

/// A leaf of the shape tree: the envelope of one line or polygon of geometry `geom` of `key`.
#[derive(Debug, Clone, Copy, PartialEq)]
struct ShapeLeaf {
    lo: [f64; 2],
    hi: [f64; 2],
    key: u64,
    geom: u32,
    part: u32,
}

impl RTreeObject for ShapeLeaf {
    type Envelope = AABB<[f64; 2]>;
    fn envelope(&self) -> Self::Envelope {
        AABB::from_corners(self.lo, self.hi)
    }
}

/// A key's geometries; one, inline, in the usual case.
#[derive(Debug, Clone)]
enum Geoms {
    One(Geometry),
    Many(Vec<Geometry>),
}

impl Geoms {
    fn as_slice(&self) -> &[Geometry] {
        match self {
            Geoms::One(g) => std::slice::from_ref(g),
            Geoms::Many(gs) => gs,
        }
    }
}

/// Tree leaves of geometry number `gi` of `key`. Positions that are not finite are not indexed.
fn leaves(
    key: u64,
    gi: u32,
    g: &Geometry,
    points: &mut Vec<PointLeaf>,
    shapes: &mut Vec<ShapeLeaf>,
) {
    let finite = |p: &[f64; 2]| p[0].is_finite() && p[1].is_finite();
    let mut part = 0u32;
    for_each_part(g, &mut |p| match p {
        Part::Pos(pos) => {
            if finite(pos) {
                points.push(PointLeaf { pos: *pos, key })
            }
        }
        Part::Line(_) | Part::Poly(_) => {
            let (mut lo, mut hi) = ([f64::INFINITY; 2], [f64::NEG_INFINITY; 2]);
            let mut grow = |q: &[f64; 2]| {
                if finite(q) {
                    lo = [lo[0].min(q[0]), lo[1].min(q[1])];
                    hi = [hi[0].max(q[0]), hi[1].max(q[1])];
                }
            };
            match p {
                Part::Line(l) => l.iter().for_each(&mut grow),
                Part::Poly(rings) => rings.iter().flatten().for_each(&mut grow),
                Part::Pos(_) => {}
            }
            if lo[0] <= hi[0] {
                shapes.push(ShapeLeaf {
                    lo,
                    hi,
                    key,
                    geom: gi,
                    part,
                });
            }
            part += 1;
        }
    });
}

/// Visits the point leaves inside `rect` (inclusive), skipping the containment test for whole
/// subtrees inside it.
fn visit_points(
    node: &ParentNode<PointLeaf>,
    rect: &AABB<[f64; 2]>,
    f: &mut impl FnMut(&PointLeaf),
) {
    for child in node.children() {
        match child {
            RTreeNode::Leaf(p) => {
                if rect.contains_point(&p.pos) {
                    f(p)
                }
            }
            RTreeNode::Parent(n) => {
                let env = n.envelope();
                if rect.contains_envelope(&env) {
                    visit_all(n, f)
                } else if rect.intersects(&env) {
                    visit_points(n, rect, f)
                }
            }
        }
    }
}

fn visit_all(node: &ParentNode<PointLeaf>, f: &mut impl FnMut(&PointLeaf)) {
    for child in node.children() {
        match child {
            RTreeNode::Leaf(p) => f(p),
            RTreeNode::Parent(n) => visit_all(n, f),
        }
    }
}

/// An R-tree (rstar) over keyed geometries: a key is a `u64` (the store's chunk id) and may have
/// several geometries. Queries are exact ([`Area`] semantics).
pub struct SpatialIndex {
    points: RTree<PointLeaf, Params>,
    shapes: RTree<ShapeLeaf, Params>,
    geoms: BTreeMap<u64, Geoms>,
}

impl Default for SpatialIndex {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for SpatialIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpatialIndex")
            .field("keys", &self.geoms.len())
            .field("point_leaves", &self.points.size())
            .field("shape_leaves", &self.shapes.size())
            .finish()
    }
}

impl SpatialIndex {
    pub fn new() -> Self {
        SpatialIndex {
            points: RTree::new_with_params(),
            shapes: RTree::new_with_params(),
            geoms: BTreeMap::new(),
        }
    }

    /// Builds the index in one go (rstar's bulk load: faster and better packed than inserts).
    pub fn bulk_load(mut items: Vec<(u64, Geometry)>) -> Self {
        items.sort_by_key(|(k, _)| *k); // stable: a key's geometries keep their order
        let (mut points, mut shapes) = (Vec::with_capacity(items.len()), Vec::new());
        let mut grouped: Vec<(u64, Geoms)> = Vec::with_capacity(items.len());
        for (key, g) in items {
            match grouped.last_mut() {
                Some((k, gs)) if *k == key => {
                    let gi = gs.as_slice().len() as u32;
                    leaves(key, gi, &g, &mut points, &mut shapes);
                    match gs {
                        Geoms::Many(v) => v.push(g),
                        Geoms::One(_) => {
                            let Geoms::One(first) = std::mem::replace(gs, Geoms::Many(Vec::new()))
                            else {
                                unreachable!()
                            };
                            *gs = Geoms::Many(vec![first, g]);
                        }
                    }
                }
                _ => {
                    leaves(key, 0, &g, &mut points, &mut shapes);
                    grouped.push((key, Geoms::One(g)));
                }
            }
        }
        SpatialIndex {
            points: RTree::bulk_load_with_params(points),
            shapes: RTree::bulk_load_with_params(shapes),
            geoms: grouped.into_iter().collect(),
        }
    }

    /// Adds a geometry to `key` (keeping the ones it has).
    pub fn insert(&mut self, key: u64, g: Geometry) {
        let gi = self.geoms.get(&key).map_or(0, |gs| gs.as_slice().len()) as u32;
        let (mut points, mut shapes) = (Vec::new(), Vec::new());
        leaves(key, gi, &g, &mut points, &mut shapes);
        points.into_iter().for_each(|p| self.points.insert(p));
        shapes.into_iter().for_each(|s| self.shapes.insert(s));
        match self.geoms.remove(&key) {
            None => self.geoms.insert(key, Geoms::One(g)),
            Some(Geoms::One(first)) => self.geoms.insert(key, Geoms::Many(vec![first, g])),
            Some(Geoms::Many(mut v)) => {
                v.push(g);
                self.geoms.insert(key, Geoms::Many(v))
            }
        };
    }

    /// Removes every geometry of `key`.
    pub fn remove(&mut self, key: u64) {
        let Some(gs) = self.geoms.remove(&key) else {
            return;
        };
        let (mut points, mut shapes) = (Vec::new(), Vec::new());
        for (gi, g) in gs.as_slice().iter().enumerate() {
            leaves(key, gi as u32, g, &mut points, &mut shapes);
        }
        for p in &points {
            let removed = self.points.remove(p);
            debug_assert!(removed.is_some(), "point leaf of key {key} missing");
        }
        for s in &shapes {
            let removed = self.shapes.remove(s);
            debug_assert!(removed.is_some(), "shape leaf of key {key} missing");
        }
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.geoms.len()
    }

    pub fn is_empty(&self) -> bool {
        self.geoms.is_empty()
    }

    /// The geometries of `key`, in insertion order (empty when it has none).
    pub fn geometries(&self, key: u64) -> &[Geometry] {
        self.geoms.get(&key).map_or(&[], Geoms::as_slice)
    }

    /// Sorted, deduplicated keys with a geometry intersecting the area (exact).
    pub fn query(&self, area: &Area) -> Vec<u64> {
        let prep = area.prepare();
        let mut keys = Vec::new();
        match &prep.kind {
            Kind::Box => {
                for b in &prep.boxes {
                    visit_points(self.points.root(), b, &mut |p| keys.push(p.key));
                }
            }
            Kind::Polygon(polys) => {
                for (b, i) in &polys.boxes {
                    visit_points(self.points.root(), b, &mut |p| {
                        if polys.index(*i).covers(p.pos) {
                            keys.push(p.key)
                        }
                    });
                }
            }
            Kind::Near(t) => {
                for b in &prep.boxes {
                    visit_points(self.points.root(), b, &mut |p| {
                        if t.covers(p.pos) {
                            keys.push(p.key)
                        }
                    });
                }
            }
        }
        if self.shapes.size() > 0 {
            for b in &prep.boxes {
                for s in self.shapes.locate_in_envelope_intersecting(b) {
                    if self.shape_part(s).is_some_and(|p| prep.part_intersects(p)) {
                        keys.push(s.key);
                    }
                }
            }
        }
        keys.sort_unstable();
        keys.dedup();
        keys
    }

    /// `(key, distance in km)` of the keys within a `Near` area, nearest first (ties by key), at
    /// most `limit`; empty for other areas. Distances as [`Area::distance_km`].
    pub fn nearest(&self, area: &Area, limit: usize) -> Vec<(u64, f64)> {
        let Area::Near { lon, lat, .. } = *area else {
            return Vec::new();
        };
        let prep = area.prepare();
        let Kind::Near(t) = &prep.kind else {
            return Vec::new();
        };
        let mut found: Vec<(u64, f64)> = Vec::new();
        for b in &prep.boxes {
            visit_points(self.points.root(), b, &mut |p| {
                if let Some(d) = t.distance_within(p.pos) {
                    found.push((p.key, d));
                }
            });
            for s in self.shapes.locate_in_envelope_intersecting(b) {
                let d = match self.shape_part(s) {
                    Some(Part::Line(l)) => line_distance_m([lon, lat], l, Some(&prep.boxes)),
                    Some(Part::Poly(r)) => polygon_distance_m([lon, lat], r, Some(&prep.boxes)),
                    _ => f64::INFINITY,
                };
                if d <= t.r {
                    found.push((s.key, d));
                }
            }
        }
        // The nearest geometry of each key, then nearest keys first.
        found.sort_unstable_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)));
        found.dedup_by_key(|x| x.0);
        found.sort_unstable_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
        found.truncate(limit);
        found.iter_mut().for_each(|x| x.1 /= 1000.0);
        found
    }

    fn shape_part(&self, s: &ShapeLeaf) -> Option<Part<'_>> {
        let g = self.geometries(s.key).get(s.geom as usize)?;
        nth_part(g, s.part)
    }

    /// Approximate heap bytes held by the index (tree nodes, the key map and the geometries), for
    /// memory reports; allocator overhead is not counted.
    pub fn heap_bytes(&self) -> usize {
        fn tree<T: RTreeObject>(n: &ParentNode<T>) -> usize {
            std::mem::size_of_val(n.children())
                + n.children()
                    .iter()
                    .map(|c| match c {
                        RTreeNode::Parent(p) => tree(p),
                        RTreeNode::Leaf(_) => 0,
                    })
                    .sum::<usize>()
        }
        let geometry_heap = |g: &Geometry| -> usize {
            let p = std::mem::size_of::<[f64; 2]>();
            match g {
                Geometry::Point(_) => 0,
                Geometry::MultiPoint(v) | Geometry::LineString(v) => v.capacity() * p,
                Geometry::MultiLineString(v) | Geometry::Polygon(v) => {
                    v.iter().map(|l| l.capacity() * p + 24).sum()
                }
                Geometry::MultiPolygon(v) => v
                    .iter()
                    .map(|r| r.iter().map(|l| l.capacity() * p + 24).sum::<usize>() + 24)
                    .sum(),
            }
        };
        // A B-tree leaf holds up to 11 entries; bulk-built ones are full.
        let map =
            self.geoms.len() * (std::mem::size_of::<u64>() + std::mem::size_of::<Geoms>()) * 12
                / 11;
        let geoms: usize = self
            .geoms
            .values()
            .map(|gs| match gs {
                Geoms::One(g) => geometry_heap(g),
                Geoms::Many(v) => {
                    v.capacity() * std::mem::size_of::<Geometry>()
                        + v.iter().map(geometry_heap).sum::<usize>()
                }
            })
            .sum();
        tree(self.points.root()) + tree(self.shapes.root()) + map + geoms
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn rng(seed: u64) -> rand::rngs::StdRng {
        rand::rngs::StdRng::seed_from_u64(seed)
    }

    /// Points spread over the world, crowded at the antimeridian and the poles, plus a grid of
    /// whole degrees so that positions fall exactly on box and polygon edges.
    fn test_points(n: usize, seed: u64) -> Vec<(u64, Geometry)> {
        let mut r = rng(seed);
        let mut out = Vec::with_capacity(n);
        for i in 0..n {
            let p = match i % 6 {
                0 => [r.random_range(-180.0..=180.0), r.random_range(-90.0..=90.0)],
                1 => {
                    let d = r.random_range(0.0..2.0);
                    let lon = if r.random_bool(0.5) {
                        180.0 - d
                    } else {
                        -180.0 + d
                    };
                    [lon, r.random_range(-60.0..60.0)]
                }
                2 => [r.random_range(-180.0..=180.0), r.random_range(84.0..=90.0)],
                3 => [
                    r.random_range(-180.0..=180.0),
                    r.random_range(-90.0..=-84.0),
                ],
                4 => [
                    r.random_range(-20i32..=20) as f64,
                    r.random_range(-20i32..=20) as f64,
                ],
                _ => [r.random_range(-12.0..12.0), r.random_range(40.0..52.0)],
            };
            out.push((i as u64, Geometry::Point(p)));
        }
        out
    }

    fn brute(items: &[(u64, Geometry)], area: &Area) -> Vec<u64> {
        let mut v: Vec<u64> = items
            .iter()
            .filter(|(_, g)| area.intersects(g))
            .map(|(k, _)| *k)
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    fn star(r: &mut rand::rngs::StdRng, c: [f64; 2], radius: f64, n: usize) -> Area {
        let mut angles: Vec<f64> = (0..n)
            .map(|_| r.random_range(0.0..std::f64::consts::TAU))
            .collect();
        angles.sort_by(f64::total_cmp);
        let mut ring: Vec<[f64; 2]> = angles
            .iter()
            .map(|a| {
                let d = radius * r.random_range(0.2..1.0);
                [
                    (c[0] + d * a.cos()).clamp(-180.0, 180.0),
                    (c[1] + d * a.sin()).clamp(-90.0, 90.0),
                ]
            })
            .collect();
        ring.push(ring[0]);
        Area::from_geometry(&Geometry::Polygon(vec![ring])).expect("a star polygon is simple")
    }

    fn areas(seed: u64) -> Vec<Area> {
        let mut r = rng(seed);
        let mut out = vec![
            // Whole-degree edges: grid points on the boundary.
            Area::parse_bbox("-5,-5,5,5").unwrap(),
            Area::parse_bbox("3,-20,3,20").unwrap(),
            // Across the antimeridian, and the whole world.
            Area::parse_bbox("178,-10,-178,10").unwrap(),
            Area::parse_bbox("170,-60,-179.5,60").unwrap(),
            Area::parse_bbox("-180,-90,180,90").unwrap(),
            Area::parse_bbox("-180,85,180,90").unwrap(),
            // A square and a triangle with whole-degree corners and a square with a hole.
            Area::from_geometry(&Geometry::Polygon(vec![vec![
                [-4.0, -4.0],
                [4.0, -4.0],
                [4.0, 4.0],
                [-4.0, 4.0],
                [-4.0, -4.0],
            ]]))
            .unwrap(),
            Area::from_geometry(&Geometry::Polygon(vec![vec![
                [-10.0, -10.0],
                [10.0, 0.0],
                [-10.0, 10.0],
                [-10.0, -10.0],
            ]]))
            .unwrap(),
            Area::from_geometry(&Geometry::MultiPolygon(vec![
                vec![
                    vec![
                        [-15.0, -15.0],
                        [15.0, -15.0],
                        [15.0, 15.0],
                        [-15.0, 15.0],
                        [-15.0, -15.0],
                    ],
                    vec![
                        [-5.0, -5.0],
                        [-5.0, 5.0],
                        [5.0, 5.0],
                        [5.0, -5.0],
                        [-5.0, -5.0],
                    ],
                ],
                // An island east of the antimeridian.
                vec![vec![
                    [177.0, -5.0],
                    [180.0, -5.0],
                    [180.0, 5.0],
                    [177.0, -5.0],
                ]],
            ]))
            .unwrap(),
            // Twelve islands (the parts get an R-tree of their boxes).
            Area::from_geometry(&Geometry::MultiPolygon(
                (0..12)
                    .map(|i| {
                        let (x, y) = (-170.0 + 29.0 * i as f64, -50.0 + 9.0 * i as f64);
                        vec![vec![[x, y], [x + 6.0, y], [x + 3.0, y + 5.0], [x, y]]]
                    })
                    .collect(),
            ))
            .unwrap(),
            // Near: plain, across the antimeridian, holding a pole, tiny and huge.
            Area::parse_near("0,0,300").unwrap(),
            Area::parse_near("10,179.5,250").unwrap(),
            Area::parse_near("-30,-179.9,900").unwrap(),
            Area::parse_near("89.5,20,200").unwrap(),
            Area::parse_near("-88,-120,500").unwrap(),
            Area::parse_near("45,5,0.5").unwrap(),
            Area::parse_near("30,60,6000").unwrap(),
            Area::parse_near("0,0,19000").unwrap(),
            Area::parse_near("86,170,600").unwrap(),
        ];
        for _ in 0..12 {
            let (lon, lat) = (r.random_range(-180.0..180.0), r.random_range(-80.0..80.0));
            let (w, h) = (r.random_range(0.1..40.0), r.random_range(0.1..20.0));
            let min_lon = lon;
            let max_lon = if lon + w > 180.0 {
                lon + w - 360.0
            } else {
                lon + w
            };
            out.push(Area::BBox {
                min_lon,
                min_lat: lat,
                max_lon,
                max_lat: (lat + h).min(90.0),
            });
            let c = [r.random_range(-170.0..170.0), r.random_range(-70.0..70.0)];
            let (size, n) = (r.random_range(0.5..20.0), r.random_range(3..60));
            out.push(star(&mut r, c, size, n));
            out.push(Area::Near {
                lon: r.random_range(-180.0..180.0),
                lat: r.random_range(-90.0..90.0),
                km: r.random_range(1.0..3000.0),
            });
        }
        out
    }

    #[test]
    fn queries_equal_brute_force_for_points() {
        let items = test_points(30_000, 1);
        let index = SpatialIndex::bulk_load(items.clone());
        assert_eq!(index.len(), items.len());
        for area in areas(2) {
            let want = brute(&items, &area);
            assert_eq!(index.query(&area), want, "{area:?}");
            if let Area::Near { .. } = area {
                let near = index.nearest(&area, usize::MAX);
                let mut keys: Vec<u64> = near.iter().map(|x| x.0).collect();
                keys.sort_unstable();
                assert_eq!(keys, want, "nearest keys {area:?}");
                assert!(near.windows(2).all(|w| w[0].1 <= w[1].1), "nearest first");
                for (k, d) in near.iter().take(50) {
                    let exact = area.distance_km(&items[*k as usize].1).unwrap();
                    assert!((d - exact).abs() < 1e-9, "{d} vs {exact}");
                }
                assert_eq!(index.nearest(&area, 3).len(), want.len().min(3));
            }
        }
    }

    #[test]
    fn near_boxes_bound_the_geodesic_circle() {
        use geo::Destination;
        let mut r = rng(3);
        for i in 0..3000 {
            let c = [
                r.random_range(-180.0..=180.0),
                match i % 3 {
                    0 => r.random_range(-90.0..=90.0),
                    1 => r.random_range(80.0..=90.0),
                    _ => r.random_range(-90.0..=-80.0),
                },
            ];
            let km: f64 = 10f64.powf(r.random_range(-2.0..4.2));
            let boxes = near_boxes(c[0], c[1], km * 1000.0);
            for _ in 0..20 {
                let d = km * 1000.0 * r.random_range(0.9..=1.0f64).min(1.0);
                let q = Geodesic.destination(geo::Point::from(c), r.random_range(0.0..360.0), d);
                let q = [q.x(), q.y()];
                if geodesic_m(c, q) > km * 1000.0 {
                    continue; // beyond half the globe the path is not the shortest
                }
                assert!(
                    boxes.iter().any(|b| b.contains_point(&q)),
                    "{q:?} at {d} m from {c:?} outside {boxes:?}"
                );
            }
        }
    }

    #[test]
    fn insert_and_remove_match_bulk_load() {
        let items = test_points(5_000, 4);
        let mut index = SpatialIndex::new();
        for (k, g) in items.iter().cloned() {
            index.insert(k, g);
        }
        let mut kept: Vec<(u64, Geometry)> = Vec::new();
        for (k, g) in &items {
            if k % 3 == 0 {
                index.remove(*k);
            } else {
                kept.push((*k, g.clone()));
            }
        }
        index.remove(u64::MAX); // absent: nothing happens
        assert_eq!(index.len(), kept.len());
        assert!(index.geometries(3).is_empty());
        assert_eq!(index.geometries(4), &[items[4].1.clone()]);
        let bulk = SpatialIndex::bulk_load(kept.clone());
        for area in areas(5) {
            let want = brute(&kept, &area);
            assert_eq!(index.query(&area), want, "{area:?}");
            assert_eq!(bulk.query(&area), want, "{area:?}");
        }
    }

    #[test]
    fn several_geometries_per_key() {
        let paris = Geometry::Point([2.35, 48.86]);
        let tokyo = Geometry::Point([139.69, 35.69]);
        let route = Geometry::LineString(vec![[-74.0, 40.7], [-0.13, 51.5]]);
        let mut index = SpatialIndex::bulk_load(vec![
            (7, paris.clone()),
            (9, Geometry::Point([2.36, 48.85])),
            (7, tokyo.clone()),
        ]);
        index.insert(7, route.clone());
        assert_eq!(index.len(), 2);
        assert_eq!(index.geometries(7), &[paris, tokyo, route]);
        let europe = Area::parse_bbox("-10,35,30,60").unwrap();
        let japan = Area::parse_near("35.7,139.7,20").unwrap();
        let atlantic = Area::parse_bbox("-40,40,-30,55").unwrap();
        assert_eq!(index.query(&europe), vec![7, 9]);
        assert_eq!(index.query(&japan), vec![7]);
        assert_eq!(index.query(&atlantic), vec![7]);
        let near = index.nearest(&Area::parse_near("48.86,2.35,100").unwrap(), 10);
        assert_eq!(near.iter().map(|x| x.0).collect::<Vec<_>>(), vec![7, 9]);
        assert!(near[0].1 < 1e-9 && near[1].1 > 0.5, "{near:?}");
        index.remove(7);
        assert_eq!(index.query(&europe), vec![9]);
        assert!(index.query(&japan).is_empty() && index.query(&atlantic).is_empty());
        assert_eq!(index.len(), 1);
    }

    /// Lines and polygons: one `check` per case, against the index and `Area::intersects`.
    #[test]
    fn lines_and_polygons() {
        fn check(g: Geometry, area: &str, expected: bool) {
            let area = if let Some(b) = area.strip_prefix("bbox ") {
                Area::parse_bbox(b).unwrap()
            } else if let Some(n) = area.strip_prefix("near ") {
                Area::parse_near(n).unwrap()
            } else {
                let ring: Vec<[f64; 2]> = serde_json::from_str(area).unwrap();
                Area::from_geometry(&Geometry::Polygon(vec![ring])).unwrap()
            };
            assert_eq!(area.intersects(&g), expected, "intersects {g:?} {area:?}");
            assert_eq!(
                area.prepare().intersects(&g),
                expected,
                "prepared {g:?} {area:?}"
            );
            let index = SpatialIndex::bulk_load(vec![(1, g.clone())]);
            assert_eq!(
                index.query(&area),
                if expected { vec![1] } else { vec![] },
                "{g:?} {area:?}"
            );
        }
        let line = |v: &[[f64; 2]]| Geometry::LineString(v.to_vec());
        let square = |x: f64, y: f64, s: f64| {
            Geometry::Polygon(vec![vec![
                [x, y],
                [x + s, y],
                [x + s, y + s],
                [x, y + s],
                [x, y],
            ]])
        };
        // A line through a box with no vertex inside; one beside it; one touching its corner.
        check(line(&[[-10.0, 0.0], [10.0, 0.0]]), "bbox -1,-1,1,1", true);
        check(line(&[[-10.0, 2.0], [10.0, 2.0]]), "bbox -1,-1,1,1", false);
        check(line(&[[0.0, 2.0], [2.0, 0.0]]), "bbox -1,-1,1,1", true);
        // Across the antimeridian box: a line east of 178 (planar lon/lat).
        check(
            line(&[[179.0, -20.0], [179.0, 20.0]]),
            "bbox 178,-10,-178,10",
            true,
        );
        check(
            line(&[[170.0, -20.0], [170.0, 20.0]]),
            "bbox 178,-10,-178,10",
            false,
        );
        // A polygon holding the whole box, one overlapping it, one apart.
        check(square(-50.0, -50.0, 100.0), "bbox -1,-1,1,1", true);
        check(square(0.5, 0.5, 3.0), "bbox -1,-1,1,1", true);
        check(square(5.0, 5.0, 3.0), "bbox -1,-1,1,1", false);
        check(square(1.0, 1.0, 3.0), "bbox -1,-1,1,1", true); // corners touch
                                                              // Polygon areas: a line crossing with vertices outside, a polygon holding the area.
        let tri = "[[0,0],[10,0],[0,10],[0,0]]";
        check(line(&[[-1.0, 5.0], [20.0, 5.0]]), tri, true);
        check(line(&[[6.0, 6.0], [20.0, 6.0]]), tri, false);
        check(line(&[[5.0, 5.0], [20.0, 5.0]]), tri, true); // starts on the hypotenuse
        check(square(-100.0, -100.0, 200.0), tri, true);
        check(square(2.0, 2.0, 1.0), tri, true);
        check(square(8.0, 8.0, 5.0), tri, false);
        check(
            Geometry::MultiPoint(vec![[50.0, 50.0], [1.0, 1.0]]),
            tri,
            true,
        );
        check(
            Geometry::MultiPoint(vec![[50.0, 50.0], [10.0, 10.0]]),
            tri,
            false,
        );
        // Near: a line passing by with far vertices; a polygon around the centre.
        check(line(&[[0.0, -10.0], [0.0, 10.0]]), "near 0,0.5,60", true); // 55.7 km
        check(line(&[[0.0, -10.0], [0.0, 10.0]]), "near 0,0.5,50", false);
        check(
            line(&[[179.9, -1.0], [179.9, 1.0]]),
            "near 0,-179.9,30",
            true,
        ); // 22 km
        check(square(-20.0, -20.0, 40.0), "near 1,1,1", true);
        check(square(5.0, 5.0, 1.0), "near 0,0,700", false); // corner at 785 km
        check(square(5.0, 5.0, 1.0), "near 0,0,800", true);
        check(
            Geometry::MultiLineString(vec![
                vec![[50.0, 50.0], [51.0, 50.0]],
                vec![[0.1, 0.0], [0.2, 0.0]],
            ]),
            "near 0,0,12",
            true,
        );
    }

    #[test]
    fn distance_km() {
        let near = Area::parse_near("48.8566,2.3522,10").unwrap();
        let london = Geometry::Point([-0.1276, 51.5072]);
        let d = near.distance_km(&london).unwrap();
        assert!((d - 343.9).abs() < 0.5, "{d}");
        assert_eq!(
            Area::parse_bbox("0,0,1,1").unwrap().distance_km(&london),
            None
        );
        assert_eq!(near.distance_km(&Geometry::MultiPoint(vec![])), None);
        let around = Geometry::Polygon(vec![vec![
            [0.0, 45.0],
            [5.0, 45.0],
            [5.0, 50.0],
            [0.0, 50.0],
            [0.0, 45.0],
        ]]);
        assert_eq!(near.distance_km(&around), Some(0.0));
    }

    #[test]
    fn parse_flags() {
        fn check(s: &str, near: bool, expected: Result<Area, &str>) {
            let got = if near {
                Area::parse_near(s)
            } else {
                Area::parse_bbox(s)
            };
            match (got, expected) {
                (Ok(a), Ok(b)) => assert_eq!(a, b, "{s}"),
                (Err(e), Err(msg)) => assert!(e.to_string().contains(msg), "{s}: {e}"),
                (got, want) => panic!("{s}: got {got:?}, want {want:?}"),
            }
        }
        let bbox = |a, b, c, d| Area::BBox {
            min_lon: a,
            min_lat: b,
            max_lon: c,
            max_lat: d,
        };
        check("-10,35,30,60", false, Ok(bbox(-10.0, 35.0, 30.0, 60.0)));
        check(
            " -10 , 35, 30 ,60 ",
            false,
            Ok(bbox(-10.0, 35.0, 30.0, 60.0)),
        );
        check(
            "170,-10,-170,10",
            false,
            Ok(bbox(170.0, -10.0, -170.0, 10.0)),
        );
        check(
            "1,2,3",
            false,
            Err("--bbox expects MINLON,MINLAT,MAXLON,MAXLAT"),
        );
        check("a,b,c,d", false, Err("--bbox expects"));
        check("1,2,3,4,5", false, Err("--bbox expects"));
        check("nan,0,1,1", false, Err("--bbox expects"));
        check("-181,0,1,1", false, Err("longitude -181 is out of range"));
        check("0,-91,1,1", false, Err("latitude -91 is out of range"));
        check("0,10,1,5", false, Err("minimum latitude 10 is above"));
        check(
            "48.85,2.35,25",
            true,
            Ok(Area::Near {
                lon: 2.35,
                lat: 48.85,
                km: 25.0,
            }),
        );
        check("2.35,48.85", true, Err("--near expects LAT,LON,KM"));
        check("95,2,25", true, Err("latitude 95 is out of range"));
        check("48,200,25", true, Err("longitude 200 is out of range"));
        check("48,2,0", true, Err("positive number of kilometres"));
        check("48,2,-5", true, Err("positive number of kilometres"));
        check("48,2,inf", true, Err("--near expects"));
    }

    #[test]
    fn from_geometry_errors() {
        fn check(g: Geometry, msg: &str) {
            let e = Area::from_geometry(&g).expect_err(msg);
            assert!(e.to_string().contains(msg), "{e}");
        }
        check(Geometry::Point([0.0, 0.0]), "a Point is not an area");
        check(Geometry::LineString(vec![]), "a LineString is not an area");
        check(Geometry::MultiPolygon(vec![]), "no polygons");
        check(
            Geometry::Polygon(vec![]),
            "polygon 0, polygon: has no rings",
        );
        check(
            Geometry::Polygon(vec![vec![[0.0, 0.0], [1.0, 0.0], [0.0, 0.0]]]),
            "exterior ring: has 3 positions",
        );
        check(
            Geometry::Polygon(vec![vec![[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]]),
            "is not closed",
        );
        check(
            Geometry::Polygon(vec![vec![[0.0, 0.0], [1.0, 0.0], [2.0, 0.0], [0.0, 0.0]]]),
            "has no area (all its corners lie on one line)",
        );
        check(
            Geometry::Polygon(vec![vec![[0.0, 0.0], [1.0, 0.0], [1.0, 0.0], [0.0, 0.0]]]),
            "fewer than 3 distinct",
        );
        // A bow tie.
        check(
            Geometry::Polygon(vec![vec![
                [0.0, 0.0],
                [1.0, 1.0],
                [1.0, 0.0],
                [0.0, 1.0],
                [0.0, 0.0],
            ]]),
            "crosses itself (edge 0",
        );
        check(
            Geometry::Polygon(vec![vec![[0.0, 0.0], [1.0, 0.0], [1.0, 100.0], [0.0, 0.0]]]),
            "position 2 [1, 100] is outside",
        );
        check(
            Geometry::Polygon(vec![vec![
                [0.0, 0.0],
                [1.0, 0.0],
                [1.0, f64::NAN],
                [0.0, 0.0],
            ]]),
            "not a finite number",
        );
        let square = vec![[0.0, 0.0], [4.0, 0.0], [4.0, 4.0], [0.0, 4.0], [0.0, 0.0]];
        let bad_hole = vec![[1.0, 1.0], [2.0, 1.0], [1.0, 1.0], [1.0, 1.0]];
        check(
            Geometry::MultiPolygon(vec![vec![square.clone()], vec![square.clone(), bad_hole]]),
            "polygon 1, hole 1:",
        );
        // A ring touching itself at a corner (figure eight) or folding back is let through.
        let fine = |ring: Vec<[f64; 2]>| Area::from_geometry(&Geometry::Polygon(vec![ring]));
        assert!(fine(vec![
            [0.0, 0.0],
            [2.0, 0.0],
            [1.0, 1.0],
            [2.0, 2.0],
            [0.0, 2.0],
            [1.0, 1.0],
            [0.0, 0.0],
        ])
        .is_ok());
        assert!(fine(vec![
            [0.0, 0.0],
            [4.0, 0.0],
            [5.0, 0.0],
            [4.0, 0.0],
            [4.0, 4.0],
            [0.0, 0.0]
        ])
        .is_ok());
        assert!(fine(square).is_ok());
    }
}
