//! Map pins for an answer: the places of what it cites.
//!
//! A citation's pins are the geotags of its chunk that fall inside its quote (and inside the
//! question's area, when there is one); when the quote itself names no place, the chunk's
//! places inside the area stand in (a feed record's position, a place named elsewhere in the
//! paragraph). Each pin carries its citation number, the document title, the quote and a
//! marking: the roll-up of the citation's marking and the portion the place was named in, so a
//! pin never shows more than its banner says.

use crate::{quote_marking, rollup, Answer, Result};
use serde::Serialize;
use sextant_spatial::Area;
use sextant_types::{GeoTag, Geometry, Hit};

/// An answer with its pins.
#[derive(Debug, Clone, Serialize)]
pub struct GeoAnswer {
    #[serde(flatten)]
    pub answer: Answer,
    pub pins: FeatureCollection,
}

/// A GeoJSON FeatureCollection of pins.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FeatureCollection {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub features: Vec<Pin>,
}

/// A GeoJSON Feature: one cited place.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Pin {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub geometry: Geometry,
    pub properties: PinProperties,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PinProperties {
    pub citation: usize,
    pub title: String,
    pub quote: String,
    pub marking: String,
    pub doc_id: String,
    /// The place as written, or the feed record's name.
    pub name: String,
    /// `coordinates`, `gazetteer` or `feature`.
    pub source: sextant_types::GeoSource,
}

/// A point for a pin: points stay, other shapes pin at their first position (a track's start
/// is its own geotag's business; records carry their current position as a point).
fn pin_point(g: &Geometry) -> Option<Geometry> {
    match g {
        Geometry::Point(_) => Some(g.clone()),
        Geometry::LineString(_) | Geometry::MultiLineString(_) => None,
        other => other.anchor().map(Geometry::Point),
    }
}

/// The pins of `answer`'s citations, from the geotags of the hits it cites.
pub fn pins(answer: &Answer, hits: &[Hit], area: Option<&Area>) -> Result<FeatureCollection> {
    let mut features: Vec<Pin> = Vec::new();
    for c in &answer.citations {
        let Some(hit) = hits.iter().find(|h| h.chunk_id.0 == c.chunk_id) else {
            continue;
        };
        let in_area = |t: &&GeoTag| area.is_none_or(|a| a.intersects(&t.geometry));
        let in_quote: Vec<&GeoTag> = hit
            .geo
            .iter()
            .filter(|t| t.start < c.end && t.end > c.start)
            .filter(in_area)
            .collect();
        let chosen: Vec<&GeoTag> = if in_quote.is_empty() {
            hit.geo.iter().filter(in_area).collect()
        } else {
            in_quote
        };
        for t in chosen {
            let Some(geometry) = pin_point(&t.geometry) else {
                continue;
            };
            let place = quote_marking(
                hit,
                t.start.max(hit.start),
                t.end.min(hit.end).max(hit.start),
            )?;
            let marking = rollup([c.marking.as_str(), place.banner().as_str()])?.banner();
            let duplicate = features
                .iter()
                .any(|p| p.properties.citation == c.n && p.geometry == geometry);
            if duplicate {
                continue;
            }
            features.push(Pin {
                kind: "Feature",
                geometry,
                properties: PinProperties {
                    citation: c.n,
                    title: c.title.clone(),
                    quote: c.quote.clone(),
                    marking,
                    doc_id: c.doc_id.clone(),
                    name: t.name.clone(),
                    source: t.source,
                },
            });
        }
    }
    Ok(FeatureCollection {
        kind: "FeatureCollection",
        features,
    })
}

impl crate::Assistant {
    /// Answers a question about an area: the answer, and its citations' places as map pins.
    pub fn ask_geo(
        &self,
        req: &crate::AskRequest,
        on_text: impl FnMut(&str, &str) -> bool,
    ) -> crate::Result<GeoAnswer> {
        let (answer, g) = self.ask_grounded(req, on_text)?;
        let pins = pins(&answer, &g.hits, req.area.as_ref())?;
        Ok(GeoAnswer { answer, pins })
    }
}
