//! Geographic data for ingest (level 3: reads the files it is given, no store):
//! - [`area`]: areas as users write them (bbox, GeoJSON, near, country), resolved into
//!   `sextant_spatial::Area`s;
//! - [`coords`]: coordinates written in text (decimal, DMS, the Factbook's form, MGRS);
//! - [`gazetteer`]: GeoNames places and Natural Earth country polygons, and geotagging of text;
//! - [`topo`]: TopoJSON decoded into polygons (the Natural Earth country files);
//!
//! The spatial index itself (what the store needs) is `sextant-spatial`; feed readers are
//! `sextant-feeds`.

pub mod area;
pub mod coords;
pub mod gazetteer;
pub mod topo;

pub use coords::{find_coordinates, Found};
pub use gazetteer::{City, Country, GeoData, GeoError, Place, PlaceKind, State};
