//! What a person holds (clearance level, SCI and SAP grants, citizenship) and the check
//! of that against a marking.

use std::collections::BTreeSet;

use crate::marking::{
    normalize_entry, normalize_trigraph, parse_sap_entry, parse_sci_entry, sap_id_needs_prefix,
    sci_terms, strip_sap_prefix, Level, Marking, MarkingError, Sci, SCI_SYSTEMS,
};

/// A person's accesses. SCI grants are stored as the full set of requirement terms they
/// imply and SAP grants separately, so an SCI grant "TK" never satisfies a SAP program
/// that happens to be called "TK".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Access {
    level: Level,
    sci: BTreeSet<String>,
    sap: BTreeSet<String>,
    citizenship: String,
}

impl Access {
    /// `grants`: SCI control systems / compartments / sub-compartments and SAP program ids
    /// the person is read into, e.g. ["SI", "TK", "SI-G ABCD", "HCS-P", "BUTTERED POPCORN"].
    /// Case-insensitive. A grant of a compartment implies its parents ("SI-G ABCD" implies
    /// "SI-G" and "SI"). A grant whose first word is a known SCI control system is an SCI
    /// grant; anything else, or anything written "SAR-<id>", is a SAP program id.
    /// `citizenship`: ISO 3166 trigraph, any case (stored uppercase).
    pub fn new<S: AsRef<str>>(
        level: Level,
        grants: impl IntoIterator<Item = S>,
        citizenship: &str,
    ) -> Result<Access, MarkingError> {
        let citizenship = normalize_trigraph(citizenship)
            .ok_or_else(|| MarkingError::InvalidCitizenship(citizenship.to_string()))?;
        let mut sci = Sci::new();
        let mut sap = BTreeSet::new();
        for grant in grants {
            let raw = grant.as_ref();
            let g = normalize_entry(raw);
            let invalid = |reason| MarkingError::InvalidGrant {
                grant: raw.to_string(),
                reason,
            };
            if g.is_empty() {
                return Err(invalid("empty grant"));
            }
            if !g
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b' ' || b == b'-')
            {
                return Err(invalid(
                    "one grant per entry: letters, digits, spaces and \"-\" only",
                ));
            }
            let head = g.split(['-', ' ']).next().unwrap_or_default();
            if strip_sap_prefix(&g).is_none() && SCI_SYSTEMS.contains(&head) {
                let (sys, comps) = parse_sci_entry(&g)?;
                let slot = sci.entry(sys).or_default();
                for (comp, subs) in comps {
                    slot.entry(comp).or_default().extend(subs);
                }
            } else {
                sap.insert(parse_sap_entry(&g)?);
            }
        }
        Ok(Access {
            level,
            sci: sci_terms(&sci),
            sap,
            citizenship,
        })
    }

    pub fn level(&self) -> Level {
        self.level
    }

    /// Every SCI term held (implied parents included) and every SAP program id, sorted. A
    /// SAP id that would read as an SCI grant is returned as "SAR-<id>", so feeding the
    /// result back to `Access::new` gives the same `Access`.
    pub fn grants(&self) -> Vec<String> {
        let sap = self.sap.iter().map(|id| {
            if sap_id_needs_prefix(id) {
                format!("SAR-{id}")
            } else {
                id.clone()
            }
        });
        let all: BTreeSet<String> = self.sci.iter().cloned().chain(sap).collect();
        all.into_iter().collect()
    }

    pub fn citizenship(&self) -> &str {
        &self.citizenship
    }

    /// Level at or below the clearance, every SCI requirement term and SAP id held, and
    /// releasable to the person's citizenship. Handling controls such as ORCON, PROPIN or
    /// FED ONLY restrict what may be done with the information, not who may read it, and
    /// are not checked here.
    pub fn may_see(&self, m: &Marking) -> bool {
        m.level() <= self.level
            && m.sci().iter().all(|t| self.sci.contains(t))
            && m.sap().iter().all(|id| self.sap.contains(id))
            && m.releasable_to(&self.citizenship)
    }
}
