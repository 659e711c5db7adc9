//! Geospatial building blocks for Sextant (level 2: no store, no IO beyond reading the files it
//! is given):
//! - [`area`]: areas as users write them (bbox, GeoJSON, near, country), resolved;
//! - [`coords`]: coordinates written in text (decimal, DMS, the Factbook's form, MGRS);
//! - [`gazetteer`]: GeoNames places and Natural Earth country polygons, and geotagging of text;
//! - [`topo`]: TopoJSON decoded into polygons (the Natural Earth country files);
//! - [`feed`]: GeoJSON, KML, GPX, CSV and Cursor-on-Target records;
//! - [`index`]: the spatial index (rstar) and the areas it is queried with.

pub mod area;
pub mod coords;
pub mod feed;
pub mod gazetteer;
pub mod index;
pub mod topo;

pub use coords::{find_coordinates, Found};
pub use gazetteer::{City, Country, GeoData, GeoError, Place, PlaceKind, State};
