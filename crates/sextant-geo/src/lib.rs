//! Geospatial building blocks for Sextant (level 2: no store, no IO beyond reading the files it
//! is given):
//! - [`coords`]: coordinates written in text (decimal, DMS, the Factbook's form, MGRS);
//! - [`gazetteer`]: GeoNames places and Natural Earth country polygons, and geotagging of text;
//! - [`feed`]: GeoJSON, KML, GPX, CSV and Cursor-on-Target records;
//! - [`index`]: the spatial index (rstar) and the areas it is queried with.

pub mod coords;
pub mod feed;
pub mod gazetteer;
pub mod index;

pub use coords::{find_coordinates, Found};
