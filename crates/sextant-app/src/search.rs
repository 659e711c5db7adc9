//! Search, in an area or not.

use crate::{banner, check_text, with_text, App, AppError, Result, Session};
use sextant_auth::Role;
use sextant_retrieve::{SearchRequest, MAX_K, MAX_LIST};
use sextant_spatial::Area;
use sextant_types::{Hit, SearchMode};

pub struct SearchInput {
    pub query: String,
    /// Default: the configured `default_k`.
    pub k: Option<usize>,
    pub mode: SearchMode,
    /// Only hits with a place in this area; with an empty query, a listing of the area.
    pub area: Option<Area>,
}

/// Hits the session may see, and the roll-up of their markings.
pub struct Searched {
    pub marking: String,
    pub hits: Vec<Hit>,
}

impl App {
    pub fn search(&self, s: &Session, input: SearchInput) -> Result<Searched> {
        s.require(Role::Reader)?;
        check_text("query", &input.query)?;
        let listing = input.query.trim().is_empty();
        if listing && input.area.is_none() {
            return Err(AppError::BadRequest(
                "the query is empty: give one, or an area to list what lies in it".into(),
            ));
        }
        let k = input.k.unwrap_or(self.options.default_k);
        let max = if listing { MAX_LIST } else { MAX_K };
        if k == 0 || k > max {
            return Err(AppError::BadRequest(format!(
                "k must be between 1 and {max} ({})",
                if listing {
                    "listing an area"
                } else {
                    "a search"
                }
            )));
        }
        let geo = input.area.is_some();
        let mut req = SearchRequest::new(input.query.clone(), k, input.mode).in_area(input.area);
        req.fusion = self.options.fusion;
        let hits = self
            .retriever()
            .search(&req, &s.viewer)
            .map_err(AppError::internal)?;
        let marking = banner(hits.iter().map(|h| h.marking.as_str()))?;
        self.record(
            &with_text(
                s.event(if geo { "geo_search" } else { "search" }),
                s,
                &marking,
            )
            .query(input.query)
            .docs(hits.iter().map(|h| h.doc_id.to_string()))
            .chunks(hits.iter().map(|h| h.chunk_id.0)),
        )?;
        Ok(Searched { marking, hits })
    }
}
