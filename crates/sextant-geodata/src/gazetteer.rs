//! The gazetteer: GeoNames cities, countries and US states with Natural Earth country polygons,
//! loaded from the files `scripts/fetch-data.sh geo` puts in `$SEXTANT_CACHE/data/geo/`, and the
//! geotagger that finds places in text ([`GeoData::tag`]; its rules are documented in
//! `gazetteer/tag.rs`).
//!
//! Invariants and choices:
//! - Countries are GeoNames' `countries.json` (250 of them; the withdrawn codes CS "Serbia and
//!   Montenegro" and AN "Netherlands Antilles" are left out), sorted by ISO alpha-2 code.
//! - `shape` is the Natural Earth 1:50m polygon of the feature whose ISO numeric id matches
//!   (`countries-50m.json`). Features with one id are merged (Australia takes Ashmore and
//!   Cartier Is.). Features without an id are matched by name as GeoNames places them: Kosovo →
//!   XK, Somaliland → SO, N. Cyprus → CY, and "Indian Ocean Ter." is split into Christmas Island
//!   (CX) and the Cocos Islands (CC); Siachen Glacier (disputed) belongs to no country. Countries
//!   that Natural Earth does not draw separately (French Guiana, Reunion, Gibraltar, Tuvalu,
//!   Bouvet Island, ...) keep an empty `MultiPolygon`: `country()` still finds them, `country_at`
//!   never returns them (a point in French Guiana is in France's polygon).
//! - world-atlas does not cut Russia, Fiji and Antarctica at ±180°; they are cut on loading
//!   ([`crate::topo::split_antimeridian`]), so a point in Chukotka on either side is in Russia.
//! - A country's representative `point` is its capital (GeoNames `capital`, found among the
//!   country's cities), else its most populous listed city, else an interior point of its
//!   polygon. A US state's point is the population-weighted centroid of its listed cities.

mod tag;

use geo::{BoundingRect, ClosestPoint, Distance, Haversine, InteriorPoint, Intersects};
use geo::{Closest, MultiPolygon, Point};
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::RTree;
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use crate::topo;

/// What can go wrong loading the gazetteer; every message names the file.
#[derive(Debug, thiserror::Error)]
pub enum GeoError {
    #[error("cannot read {}: {source} (run scripts/fetch-data.sh geo)", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid JSON in {}: {source}", path.display())]
    Json {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("invalid TopoJSON in {}: {message}", path.display())]
    Topo { path: PathBuf, message: String },
}

pub type Result<T, E = GeoError> = std::result::Result<T, E>;

/// A country: GeoNames codes and name, with its Natural Earth polygon.
#[derive(Debug, Clone)]
pub struct Country {
    /// ISO 3166 alpha-2, e.g. "FR".
    pub iso2: String,
    /// ISO 3166 alpha-3, e.g. "FRA".
    pub iso3: String,
    /// ISO 3166 numeric, e.g. 250 (0 for Kosovo, which has none).
    pub numeric: u16,
    /// GeoNames' English name, e.g. "France".
    pub name: String,
    /// Natural Earth 1:50m polygons; empty for countries Natural Earth does not draw.
    pub shape: MultiPolygon<f64>,
    /// The capital's name as GeoNames gives it ("" when none).
    pub capital: String,
    /// Representative point (lon, lat): the capital, else the largest city, else an interior
    /// point of `shape`; `None` when there is none of these (e.g. Bouvet Island).
    pub point: Option<Point<f64>>,
    pub population: u64,
    /// ISO alpha-2 codes of the neighbouring countries.
    pub neighbours: Vec<String>,
}

impl Country {
    /// Great-circle distance in km from (lon, lat) to the country's polygon: 0 inside, `None`
    /// when the country has no polygon.
    pub fn distance_km(&self, lon: f64, lat: f64) -> Option<f64> {
        let p = Point::new(lon, lat);
        if self.shape.0.is_empty() {
            return None;
        }
        if self.shape.intersects(&p) {
            return Some(0.0);
        }
        match self.shape.closest_point(&p) {
            Closest::Intersection(_) => Some(0.0),
            Closest::SinglePoint(q) => Some(Haversine.distance(p, q) / 1000.0),
            Closest::Indeterminate => None,
        }
    }
}

/// A city of the GeoNames list (cities15000: every city over 15,000 people, and capitals).
#[derive(Debug, Clone)]
pub struct City {
    pub geonameid: u32,
    pub name: String,
    pub lon: f64,
    pub lat: f64,
    /// ISO alpha-2 code of its country.
    pub country: String,
    /// GeoNames admin1 code (for the US, the state's postal code).
    pub admin1: String,
    pub population: u64,
    pub timezone: String,
}

/// A US state (or DC) of `us_states.json`.
#[derive(Debug, Clone)]
pub struct State {
    /// Postal code, e.g. "TX".
    pub code: String,
    pub name: String,
    /// Population-weighted centroid of the state's listed cities.
    pub point: Option<Point<f64>>,
    /// Sum of the populations of the state's listed cities.
    pub population: u64,
}

/// What a [`Place`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PlaceKind {
    /// Coordinates written in the text (decimal, DMS, the Factbook's form, MGRS).
    Coordinates,
    City,
    /// A first-level subdivision (US states).
    Admin,
    Country,
}

/// A place mentioned in a text.
#[derive(Debug, Clone, PartialEq)]
pub struct Place {
    /// The place as written in the text.
    pub name: String,
    pub lon: f64,
    pub lat: f64,
    /// Character (Unicode scalar) offsets of the mention in the text.
    pub start: usize,
    pub end: usize,
    pub kind: PlaceKind,
    /// ISO alpha-2 code of the country it is in, if known.
    pub country: Option<String>,
    /// The place's population (0 for coordinates).
    pub population: u64,
}

impl Place {
    /// The place as a chunk's geotag: a point with the mention's span.
    pub fn geotag(&self) -> sextant_types::GeoTag {
        sextant_types::GeoTag {
            geometry: sextant_types::Geometry::Point([self.lon, self.lat]),
            start: self.start,
            end: self.end,
            name: self.name.clone(),
            source: match self.kind {
                PlaceKind::Coordinates => sextant_types::GeoSource::Coordinates,
                _ => sextant_types::GeoSource::Gazetteer,
            },
        }
    }
}

/// A polygon's bounding box in the R-tree, with (country index, polygon index).
type Part = GeomWithData<Rectangle<[f64; 2]>, (usize, usize)>;

/// Everything loaded from a data directory: countries with polygons, cities, US states, the
/// name index used by [`GeoData::tag`] and the basemap.
pub struct GeoData {
    countries: Vec<Country>,
    /// Normalised code or name → index in `countries`.
    country_keys: HashMap<String, usize>,
    by_numeric: HashMap<u16, usize>,
    cities: Vec<City>,
    states: Vec<State>,
    /// Bounding box of each polygon → (country index, polygon index).
    parts: RTree<Part>,
    basemap: String,
    names: tag::NameIndex,
    /// Indices in `cities` of the countries' capitals.
    capitals: HashSet<u32>,
}

impl std::fmt::Debug for GeoData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeoData")
            .field("countries", &self.countries.len())
            .field("cities", &self.cities.len())
            .field("states", &self.states.len())
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct RawCity {
    geonameid: u32,
    name: String,
    latitude: f64,
    longitude: f64,
    countrycode: String,
    #[serde(default)]
    population: u64,
    #[serde(default)]
    timezone: Option<String>,
    #[serde(default)]
    admin1code: Option<String>,
    #[serde(default)]
    alternatenames: Vec<String>,
}

#[derive(Deserialize)]
struct RawCountry {
    name: String,
    iso: String,
    iso3: String,
    isonumeric: u16,
    #[serde(default)]
    capital: String,
    #[serde(default)]
    population: u64,
    #[serde(default)]
    neighbours: String,
}

#[derive(Deserialize)]
struct RawState {
    code: String,
    name: String,
}

/// Withdrawn ISO codes GeoNames still lists.
const WITHDRAWN: &[&str] = &["CS", "AN"];

/// Natural Earth features without an ISO id, placed as GeoNames places them.
const NE_WITHOUT_ID: &[(&str, &str)] =
    &[("Kosovo", "XK"), ("Somaliland", "SO"), ("N. Cyprus", "CY")];

/// Other names a country goes by: the Factbook's, Natural Earth's and common ones. Used both
/// by [`GeoData::country`] and by the tagger.
const COUNTRY_ALIASES: &[(&str, &[&str])] = &[
    (
        "US",
        &[
            "United States of America",
            "USA",
            "U.S.",
            "U.S.A.",
            "US",
            "America",
        ],
    ),
    (
        "GB",
        &[
            "UK",
            "U.K.",
            "Britain",
            "Great Britain",
            "United Kingdom of Great Britain",
        ],
    ),
    ("RU", &["Russian Federation"]),
    ("KR", &["Republic of Korea", "Korea, South"]),
    (
        "KP",
        &[
            "DPRK",
            "Democratic People's Republic of Korea",
            "Korea, North",
        ],
    ),
    (
        "CD",
        &[
            "DRC",
            "Congo-Kinshasa",
            "Congo, Democratic Republic of the",
            "Dem. Rep. Congo",
            "Zaire",
        ],
    ),
    (
        "CG",
        &[
            "Congo-Brazzaville",
            "Congo, Republic of the",
            "Republic of Congo",
        ],
    ),
    ("CI", &["Cote d'Ivoire", "Côte d'Ivoire"]),
    ("CZ", &["Czech Republic"]),
    ("MM", &["Burma"]),
    ("MK", &["Macedonia", "Republic of Macedonia", "FYROM"]),
    ("SZ", &["Swaziland", "eSwatini"]),
    ("TL", &["East Timor", "Timor-Leste"]),
    ("CV", &["Cape Verde"]),
    (
        "VA",
        &["Holy See", "Vatican City", "Holy See (Vatican City)"],
    ),
    ("VN", &["Viet Nam"]),
    ("LA", &["Lao PDR", "Lao People's Democratic Republic"]),
    (
        "FM",
        &[
            "Federated States of Micronesia",
            "Micronesia, Federated States of",
        ],
    ),
    ("PS", &["Palestine", "West Bank", "Gaza Strip"]),
    ("AE", &["UAE", "U.A.E."]),
    ("NL", &["Netherlands", "Holland"]),
    ("MO", &["Macau"]),
    ("BS", &["The Bahamas", "Bahamas, The"]),
    ("GM", &["The Gambia", "Gambia, The"]),
    ("SJ", &["Svalbard", "Jan Mayen"]),
    ("PN", &["Pitcairn Islands"]),
    ("SH", &["Saint Helena, Ascension, and Tristan da Cunha"]),
    ("VI", &["Virgin Islands", "US Virgin Islands"]),
    ("FK", &["Falkland Islands (Islas Malvinas)", "Falklands"]),
    ("KN", &["St. Kitts and Nevis"]),
    ("VC", &["St. Vincent and the Grenadines"]),
    ("AX", &["Åland"]),
    ("TW", &["Republic of China"]),
    ("CN", &["People's Republic of China", "PRC"]),
    ("IR", &["Islamic Republic of Iran"]),
    ("SY", &["Syrian Arab Republic"]),
    ("BO", &["Plurinational State of Bolivia"]),
    ("VE", &["Bolivarian Republic of Venezuela"]),
    ("TZ", &["United Republic of Tanzania"]),
    ("MD", &["Republic of Moldova"]),
    ("BN", &["Brunei Darussalam"]),
    ("GQ", &["Eq. Guinea"]),
    ("CF", &["Central African Rep."]),
    ("BA", &["Bosnia", "Bosnia and Herz.", "Bosnia-Herzegovina"]),
    ("ST", &["São Tomé and Principe"]),
    ("TT", &["Trinidad"]),
    ("AG", &["Antigua"]),
    ("EH", &["W. Sahara"]),
    ("FO", &["Faeroe Islands", "Faeroe Is."]),
    ("CW", &["Curaçao"]),
    (
        "BL",
        &["Saint Barthélemy", "St-Barthélemy", "Saint-Barthelemy"],
    ),
    ("MF", &["St-Martin", "Saint-Martin"]),
    ("SS", &["S. Sudan"]),
    ("CY", &["N. Cyprus", "Northern Cyprus"]),
    ("SO", &["Somaliland"]),
    ("CX", &["Christmas Island"]),
    ("CC", &["Cocos (Keeling) Islands", "Cocos Islands"]),
];

/// A lookup key: folded to ASCII, lowercased, punctuation dropped, spaces collapsed, without a
/// leading "the" and without a parenthesised note.
fn key(s: &str) -> String {
    let s = match s.find('(') {
        Some(i) if i > 0 => &s[..i],
        _ => s,
    };
    let folded = tag::fold(s).to_ascii_lowercase().replace('&', " and ");
    let mut out = String::with_capacity(folded.len());
    for word in folded
        .split(|c: char| !c.is_ascii_alphanumeric() && c != '.' && c != '\'')
        .map(|w| w.replace(['.', '\''], ""))
        .filter(|w| !w.is_empty())
    {
        if out.is_empty() && word == "the" {
            continue;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&word);
    }
    out
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|source| GeoError::Read {
        path: path.to_path_buf(),
        source,
    })
}

fn json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    serde_json::from_slice(&read(path)?).map_err(|source| GeoError::Json {
        path: path.to_path_buf(),
        source,
    })
}

/// The `countries` object of a world-atlas file, cut at the antimeridian.
fn topology(path: &Path) -> Result<Vec<topo::TopoFeature>> {
    let mut features =
        topo::decode(&read(path)?, "countries").map_err(|message| GeoError::Topo {
            path: path.to_path_buf(),
            message,
        })?;
    for f in &mut features {
        f.shape =
            topo::split_antimeridian(std::mem::replace(&mut f.shape, MultiPolygon(Vec::new())));
    }
    Ok(features)
}

/// ISO alpha-2 code a Natural Earth feature belongs to: by its numeric id, else by name.
fn feature_iso2(
    f: &topo::TopoFeature,
    countries: &[Country],
    by_numeric: &HashMap<u16, usize>,
) -> Option<String> {
    if let Some(n) = f.id.as_deref().and_then(|id| id.parse::<u16>().ok()) {
        return by_numeric.get(&n).map(|&i| countries[i].iso2.clone());
    }
    let name = f.name.as_deref()?;
    NE_WITHOUT_ID
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, iso2)| iso2.to_string())
}

impl GeoData {
    /// Loads `dir/{cities15000.json, countries.json, us_states.json, countries-50m.json}` and,
    /// for the basemap, `countries-110m.json` (the 50m shapes when it is missing).
    pub fn load(dir: &Path) -> Result<GeoData> {
        // Countries, sorted by code.
        let raw: BTreeMap<String, RawCountry> = json(&dir.join("countries.json"))?;
        let mut countries: Vec<Country> = raw
            .into_values()
            .filter(|c| !WITHDRAWN.contains(&c.iso.as_str()))
            .map(|c| Country {
                iso2: c.iso,
                iso3: c.iso3,
                numeric: c.isonumeric,
                name: c.name.trim().to_string(),
                shape: MultiPolygon(Vec::new()),
                capital: c.capital.trim().to_string(),
                point: None,
                population: c.population,
                neighbours: c
                    .neighbours
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect(),
            })
            .collect();
        countries.sort_by(|a, b| a.iso2.cmp(&b.iso2));
        let by_iso2: HashMap<String, usize> = countries
            .iter()
            .enumerate()
            .map(|(i, c)| (c.iso2.clone(), i))
            .collect();
        let by_numeric: HashMap<u16, usize> = countries
            .iter()
            .enumerate()
            .filter(|(_, c)| c.numeric != 0)
            .map(|(i, c)| (c.numeric, i))
            .collect();

        // Polygons (1:50m).
        let path50 = dir.join("countries-50m.json");
        let features = topology(&path50)?;
        for f in &features {
            if f.name.as_deref() == Some("Indian Ocean Ter.") {
                // Christmas Island lies east of 100°E, the Cocos Islands west of it.
                for poly in &f.shape.0 {
                    let east = poly.bounding_rect().is_some_and(|r| r.min().x > 100.0);
                    if let Some(&i) = by_iso2.get(if east { "CX" } else { "CC" }) {
                        countries[i].shape.0.push(poly.clone());
                    }
                }
                continue;
            }
            if let Some(&i) = feature_iso2(f, &countries, &by_numeric).and_then(|c| by_iso2.get(&c))
            {
                countries[i].shape.0.extend(f.shape.0.iter().cloned());
            }
        }

        // Cities, by geonameid.
        let raw: BTreeMap<String, RawCity> = json(&dir.join("cities15000.json"))?;
        let mut raw: Vec<RawCity> = raw.into_values().collect();
        raw.sort_by_key(|c| c.geonameid);
        let cities: Vec<City> = raw
            .iter()
            .map(|c| City {
                geonameid: c.geonameid,
                name: c.name.clone(),
                lon: c.longitude,
                lat: c.latitude,
                country: c.countrycode.clone(),
                admin1: c.admin1code.clone().unwrap_or_default(),
                population: c.population,
                timezone: c.timezone.clone().unwrap_or_default(),
            })
            .collect();

        // Representative points: capital, largest city, interior point.
        let mut by_country: HashMap<&str, Vec<usize>> = HashMap::new();
        for (i, x) in cities.iter().enumerate() {
            by_country.entry(x.country.as_str()).or_default().push(i);
        }
        let mut capitals = HashSet::new();
        for c in &mut countries {
            let mine: &[usize] = by_country.get(c.iso2.as_str()).map_or(&[], Vec::as_slice);
            let capital_key = key(&c.capital);
            // GeoNames spells the capital as one of the city's names ("Kyiv", "Nur-Sultan").
            let is_capital = |i: usize| {
                !c.capital.is_empty()
                    && (cities[i].name == c.capital
                        || key(&cities[i].name) == capital_key
                        || raw[i].alternatenames.contains(&c.capital))
            };
            let capital = mine
                .iter()
                .copied()
                .filter(|&i| is_capital(i))
                .max_by_key(|&i| cities[i].population);
            let largest = || mine.iter().copied().max_by_key(|&i| cities[i].population);
            if let Some(i) = capital {
                capitals.insert(i as u32);
            }
            c.point = capital
                .or_else(largest)
                .map(|i| Point::new(cities[i].lon, cities[i].lat))
                .or_else(|| c.shape.interior_point());
        }

        // US states: points from their cities.
        let raw_states: BTreeMap<String, RawState> = json(&dir.join("us_states.json"))?;
        let states: Vec<State> = raw_states
            .into_values()
            .map(|s| {
                let (mut w, mut x, mut y, mut pop) = (0.0, 0.0, 0.0, 0u64);
                for c in cities
                    .iter()
                    .filter(|c| c.country == "US" && c.admin1 == s.code)
                {
                    let cw = c.population.max(1) as f64;
                    w += cw;
                    x += cw * c.lon;
                    y += cw * c.lat;
                    pop += c.population;
                }
                State {
                    code: s.code,
                    name: s.name,
                    point: (w > 0.0).then(|| Point::new(x / w, y / w)),
                    population: pop,
                }
            })
            .collect();

        // Lookup keys: names and aliases first, codes last (so a code always wins).
        let mut country_keys = HashMap::new();
        for (i, c) in countries.iter().enumerate() {
            country_keys.insert(key(&c.name), i);
        }
        for f in &features {
            if let (Some(name), Some(&i)) = (
                f.name.as_deref(),
                feature_iso2(f, &countries, &by_numeric).and_then(|c| by_iso2.get(&c)),
            ) {
                country_keys.entry(key(name)).or_insert(i);
            }
        }
        for (iso2, aliases) in COUNTRY_ALIASES {
            if let Some(&i) = by_iso2.get(*iso2) {
                for a in *aliases {
                    country_keys.insert(key(a), i);
                }
            }
        }
        for (i, c) in countries.iter().enumerate() {
            country_keys.insert(c.iso2.to_ascii_lowercase(), i);
            country_keys.insert(c.iso3.to_ascii_lowercase(), i);
        }

        let mut parts = Vec::new();
        for (i, c) in countries.iter().enumerate() {
            for (j, p) in c.shape.0.iter().enumerate() {
                if let Some(r) = p.bounding_rect() {
                    let rect =
                        Rectangle::from_corners([r.min().x, r.min().y], [r.max().x, r.max().y]);
                    parts.push(GeomWithData::new(rect, (i, j)));
                }
            }
        }

        // The basemap: 1:110m where present.
        let path110 = dir.join("countries-110m.json");
        let basemap_features = if path110.is_file() {
            topology(&path110)?
        } else {
            features
        };
        let basemap = basemap_geojson(&basemap_features, &countries, &by_numeric);

        let names = tag::NameIndex::build(&countries, &cities, &raw, &states);
        Ok(GeoData {
            countries,
            country_keys,
            by_numeric,
            cities,
            states,
            parts: RTree::bulk_load(parts),
            basemap,
            names,
            capitals,
        })
    }

    /// All countries, sorted by ISO alpha-2 code.
    pub fn countries(&self) -> &[Country] {
        &self.countries
    }

    /// All cities of the list, by geonameid.
    pub fn cities(&self) -> &[City] {
        &self.cities
    }

    /// The US states and DC, by postal code.
    pub fn states(&self) -> &[State] {
        &self.states
    }

    /// A country by ISO alpha-2 ("FR"), alpha-3 ("FRA") or numeric ("250", "004") code, or by
    /// name, case-insensitively: GeoNames' ("France"), Natural Earth's ("Dem. Rep. Congo"), the
    /// Factbook's ("Korea, South", "Gambia, The") and common ones ("USA", "UK", "Burma").
    pub fn country(&self, code_or_name: &str) -> Option<&Country> {
        let s = code_or_name.trim();
        if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
            return s
                .parse::<u16>()
                .ok()
                .and_then(|n| self.by_numeric.get(&n))
                .map(|&i| &self.countries[i]);
        }
        let k = key(s);
        if let Some(&i) = self.country_keys.get(&k) {
            return Some(&self.countries[i]);
        }
        // The Factbook's inverted names: "Korea, South" -> "South Korea".
        let (a, b) = s.split_once(',')?;
        self.country_keys
            .get(&key(&format!("{} {}", b.trim(), a.trim())))
            .map(|&i| &self.countries[i])
    }

    /// The country whose polygon contains (or whose border passes through) the point (lon, lat).
    pub fn country_at(&self, lon: f64, lat: f64) -> Option<&Country> {
        let p = Point::new(lon, lat);
        let mut hits: Vec<(usize, usize)> = self
            .parts
            .locate_all_at_point(&[lon, lat])
            .map(|g| g.data)
            .collect();
        // Deterministic on shared borders: the first country by code.
        hits.sort_unstable();
        hits.into_iter()
            .find(|&(i, j)| self.countries[i].shape.0[j].intersects(&p))
            .map(|(i, _)| &self.countries[i])
    }

    /// Places mentioned in `text`, in text order, with character offsets: coordinates
    /// (decimal, DMS, Factbook, MGRS) and names of countries, US states and cities, resolved
    /// with the text's context. The rules are documented in `gazetteer/tag.rs`.
    pub fn tag(&self, text: &str) -> Vec<Place> {
        tag::tag(self, text)
    }

    /// The basemap for the map UI: Natural Earth 1:110m countries as a GeoJSON
    /// FeatureCollection, properties `{name, iso2}` (`iso2` null for Siachen Glacier).
    pub fn basemap_geojson(&self) -> String {
        self.basemap.clone()
    }
}

fn basemap_geojson(
    features: &[topo::TopoFeature],
    countries: &[Country],
    by_numeric: &HashMap<u16, usize>,
) -> String {
    // 1e-4 degrees (11 m) is finer than the 1:110m data.
    let pos = |c: &geo::Coord<f64>| {
        serde_json::json!([(c.x * 1e4).round() / 1e4, (c.y * 1e4).round() / 1e4])
    };
    let features: Vec<serde_json::Value> = features
        .iter()
        .map(|f| {
            let polygons: Vec<serde_json::Value> = f
                .shape
                .0
                .iter()
                .map(|p| {
                    std::iter::once(p.exterior())
                        .chain(p.interiors())
                        .map(|r| r.coords().map(pos).collect::<Vec<_>>())
                        .collect::<Vec<_>>()
                        .into()
                })
                .collect();
            serde_json::json!({
                "type": "Feature",
                "properties": {
                    "name": f.name,
                    "iso2": feature_iso2(f, countries, by_numeric),
                },
                "geometry": {"type": "MultiPolygon", "coordinates": polygons},
            })
        })
        .collect();
    serde_json::json!({"type": "FeatureCollection", "features": features}).to_string()
}

#[cfg(test)]
mod tests;
