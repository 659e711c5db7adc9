//! Geospatial building blocks for Sextant. So far: finding coordinates written in text
//! ([`coords`]), the first step of geotagging documents. The spatial index, gazetteer and feed
//! readers join this crate as issue 5 proceeds.

pub mod coords;

pub use coords::{find_coordinates, Found};
