//! Text-to-API (connected systems): which connectors a session may use.

use crate::Session;
use sextant_connect::Connector;

/// The connectors `s` may use, and so know of: those whose marking they may see, with one of
/// the connector's roles (administrators: every connector within their access). Users below a
/// connector's marking never learn it exists.
pub fn connectors_for<'a>(s: &Session, all: &'a [Connector]) -> Vec<&'a Connector> {
    all.iter()
        .filter(|c| s.viewer.may_see(&c.settings.marking.banner()))
        .filter(|c| s.is_admin() || c.settings.roles.iter().any(|r| s.roles.contains(r)))
        .collect()
}
