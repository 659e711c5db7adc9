//! Classification levels and markings: the data model, canonical banner and portion
//! forms, roll-up (`join`), dominance and foreign-disclosure checks. Parsing and the
//! detection of marks in running text live in the `parse` submodule.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

mod parse;

pub use parse::{banner_line, portion_mark};
pub(crate) use parse::{
    normalize_entry, parse_sap_entry, parse_sci_entry, sap_id_needs_prefix, strip_sap_prefix,
};

/// Classification level, ordered from least to most protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    Unclassified,
    Cui,
    Confidential,
    Secret,
    TopSecret,
}

impl Level {
    /// Every level, lowest first.
    pub const ALL: [Level; 5] = [
        Level::Unclassified,
        Level::Cui,
        Level::Confidential,
        Level::Secret,
        Level::TopSecret,
    ];

    /// Full name as written in banner lines.
    pub fn name(self) -> &'static str {
        match self {
            Level::Unclassified => "UNCLASSIFIED",
            Level::Cui => "CUI",
            Level::Confidential => "CONFIDENTIAL",
            Level::Secret => "SECRET",
            Level::TopSecret => "TOP SECRET",
        }
    }

    /// Abbreviation as written in portion marks.
    pub fn abbrev(self) -> &'static str {
        match self {
            Level::Unclassified => "U",
            Level::Cui => "CUI",
            Level::Confidential => "C",
            Level::Secret => "S",
            Level::TopSecret => "TS",
        }
    }

    /// CONFIDENTIAL and above: national security information, as opposed to U and CUI.
    pub(crate) fn is_classified(self) -> bool {
        self >= Level::Confidential
    }

    /// Recognises a level token (full name or abbreviation, any case, "_" or "-" allowed
    /// between the words of "TOP SECRET"). Separators must sit *between* words so that
    /// stray punctuation such as "S-" is not silently accepted.
    pub(crate) fn from_token(token: &str) -> Option<Level> {
        let t = token.trim();
        if t.starts_with(['_', '-']) || t.ends_with(['_', '-']) {
            return None;
        }
        let words: Vec<String> = t
            .split(|c: char| c == '_' || c == '-' || c.is_whitespace())
            .filter(|w| !w.is_empty())
            .map(str::to_ascii_uppercase)
            .collect();
        let norm = words.join(" ");
        Level::ALL
            .into_iter()
            .find(|l| l.name() == norm || l.abbrev() == norm)
    }

    /// "a SECRET" / "an UNCLASSIFIED", for error messages.
    fn with_article(self) -> String {
        let article = if self == Level::Unclassified {
            "an"
        } else {
            "a"
        };
        format!("{article} {}", self.name())
    }
}

impl FromStr for Level {
    type Err = MarkingError;

    fn from_str(s: &str) -> Result<Level, MarkingError> {
        Level::from_token(s).ok_or_else(|| MarkingError::UnknownLevel(s.trim().to_string()))
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

// Levels travel in configs and APIs by their full name; reading accepts whatever
// `FromStr` accepts so "secret" or "TS" in a config file work too.
impl Serialize for Level {
    fn serialize<Se: Serializer>(&self, s: Se) -> Result<Se::Ok, Se::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for Level {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Level, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Everything that can be wrong with a marking, a clearance or a grant. Messages name the
/// offending token and, where it helps, what was expected instead.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum MarkingError {
    #[error("empty marking")]
    Empty,
    #[error("unbalanced parentheses in {0:?}")]
    UnbalancedParens(String),
    #[error("unexpected character {ch:?} in {input:?}")]
    UnexpectedChar { ch: char, input: String },
    #[error("missing classification level in {0:?}")]
    MissingLevel(String),
    #[error(
        "unknown classification level {0:?} (expected UNCLASSIFIED, CUI, CONFIDENTIAL, SECRET, \
         TOP SECRET or U, C, S, TS)"
    )]
    UnknownLevel(String),
    #[error(
        "unknown classification level {token:?} in {input:?} (expected UNCLASSIFIED, CUI, \
         CONFIDENTIAL, SECRET, TOP SECRET or U, C, S, TS)"
    )]
    UnknownLevelIn { token: String, input: String },
    #[error("empty section (\"////\") in {0:?}")]
    EmptySection(String),
    #[error("trailing \"//\" in {0:?}")]
    TrailingSeparator(String),
    #[error("empty \"/\" entry in section {section:?} of {input:?}")]
    EmptyEntry { section: String, input: String },
    #[error("duplicate {kind} section in {input:?}: all its entries belong in one \"//\" section, separated by \"/\"")]
    DuplicateSection { kind: &'static str, input: String },
    #[error(
        "{kind} section after the {after} section in {input:?}: expected the order \
         level//SCI//SAP//CUI categories//dissemination controls"
    )]
    OutOfOrder {
        kind: &'static str,
        after: &'static str,
        input: String,
    },
    #[error(
        "{token:?} is {is} but appears in the {section} section; separate sections with \"//\""
    )]
    MixedSection {
        token: String,
        is: &'static str,
        section: &'static str,
    },
    #[error(
        "unknown dissemination control {0:?} (expected NOFORN/NF, ORCON/OC, IMCON/IMC, \
         NOCONTRACT/NC, PROPIN/PR, RELIDO, FED ONLY, FOUO or \"REL TO USA, ...\")"
    )]
    UnknownDissem(String),
    #[error("unknown SCI control system {0:?} (expected one of BUR, HCS, KDK, RSV, SI, TK)")]
    UnknownSciSystem(String),
    #[error("malformed SCI marking {token:?}: {reason}")]
    MalformedSci { token: String, reason: &'static str },
    #[error("malformed SAP marking {token:?}: {reason}")]
    MalformedSap { token: String, reason: &'static str },
    #[error(
        "malformed CUI category {0:?} (expected an uppercase abbreviation such as \"PRVCY\" \
         or \"SP-PRVCY\")"
    )]
    MalformedCuiCategory(String),
    #[error("empty REL TO list in {0:?} (expected e.g. \"REL TO USA, GBR\")")]
    EmptyRelTo(String),
    #[error("empty country code in {0:?}")]
    EmptyCountry(String),
    #[error(
        "unknown country code {0:?} (expected an ISO 3166 trigraph such as \"GBR\" or one of \
         the tetragraphs ACGU, FVEY, NATO)"
    )]
    UnknownCountry(String),
    #[error("REL TO list must include USA: {0:?}")]
    RelToWithoutUsa(String),
    #[error("REL TO list must name a country besides USA (use NOFORN for US-only): {0:?}")]
    RelToOnlyUsa(String),
    #[error("\"REL TO\" appears more than once in {0:?}")]
    DuplicateRelTo(String),
    #[error("\"NOFORN\" and \"REL TO\" cannot appear together")]
    NofornWithRelTo,
    #[error("{what} marking on {} portion: {token:?} requires {required}", .level.with_article())]
    WrongLevel {
        what: &'static str,
        token: String,
        level: Level,
        required: &'static str,
    },
    #[error(
        "invalid citizenship {0:?} (expected an ISO 3166 trigraph such as \"USA\" or \"GBR\")"
    )]
    InvalidCitizenship(String),
    #[error("invalid grant {grant:?}: {reason}")]
    InvalidGrant { grant: String, reason: &'static str },
}

/// Handling controls other than foreign disclosure. NOFORN and REL TO live in `Release`
/// and are slotted between these by rank when printing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Dissem {
    Fouo,
    Orcon,
    Imcon,
    Nocontract,
    Propin,
    Relido,
    FedOnly,
}

impl Dissem {
    pub(crate) const ALL: [Dissem; 7] = [
        Dissem::Fouo,
        Dissem::Orcon,
        Dissem::Imcon,
        Dissem::Nocontract,
        Dissem::Propin,
        Dissem::Relido,
        Dissem::FedOnly,
    ];

    /// Canonical print position (CAPCO register order), shared with NOFORN and REL TO.
    fn rank(self) -> u8 {
        match self {
            Dissem::Fouo => 0,
            Dissem::Orcon => 1,
            Dissem::Imcon => 2,
            Dissem::Nocontract => 3,
            Dissem::Propin => 5,
            Dissem::Relido => 7,
            Dissem::FedOnly => 8,
        }
    }

    fn banner(self) -> &'static str {
        match self {
            Dissem::Fouo => "FOR OFFICIAL USE ONLY",
            Dissem::Orcon => "ORCON",
            Dissem::Imcon => "IMCON",
            Dissem::Nocontract => "NOCONTRACT",
            Dissem::Propin => "PROPIN",
            Dissem::Relido => "RELIDO",
            Dissem::FedOnly => "FED ONLY",
        }
    }

    fn portion(self) -> &'static str {
        match self {
            Dissem::Fouo => "FOUO",
            Dissem::Orcon => "OC",
            Dissem::Imcon => "IMC",
            Dissem::Nocontract => "NC",
            Dissem::Propin => "PR",
            Dissem::Relido => "RELIDO",
            Dissem::FedOnly => "FED ONLY",
        }
    }

    /// Every accepted spelling (input is already uppercased and whitespace-collapsed).
    pub(crate) fn spellings(self) -> &'static [&'static str] {
        match self {
            Dissem::Fouo => &["FOUO", "FOR OFFICIAL USE ONLY"],
            Dissem::Orcon => &["ORCON", "OC"],
            Dissem::Imcon => &["IMCON", "IMC"],
            Dissem::Nocontract => &["NOCONTRACT", "NC", "NOCON"],
            Dissem::Propin => &["PROPIN", "PR"],
            Dissem::Relido => &["RELIDO"],
            Dissem::FedOnly => &["FED ONLY", "FEDONLY"],
        }
    }
}

const NOFORN_RANK: u8 = 4;
const REL_TO_RANK: u8 = 6;

/// Foreign disclosure and release (FD&R) marking carried by a marking.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Release {
    /// No FD&R marking. Means "anyone" on U/CUI and "US only" on classified markings.
    None,
    NoForn,
    /// Always contains "USA" and at least one other code; FVEY is stored expanded.
    RelTo(BTreeSet<String>),
}

/// SCI control systems this crate knows; anything else is rejected rather than guessed.
pub(crate) const SCI_SYSTEMS: [&str; 6] = ["BUR", "HCS", "KDK", "RSV", "SI", "TK"];
/// Tetragraphs accepted in REL TO lists. Only FVEY is expanded; the others stay opaque
/// because their membership changes over time and is not ours to hard-code.
pub(crate) const TETRAGRAPHS: [&str; 3] = ["ACGU", "FVEY", "NATO"];
/// FVEY members other than USA, in canonical order.
pub(crate) const FVEY_PARTNERS: [&str; 4] = ["AUS", "CAN", "GBR", "NZL"];

/// SCI requirement: control system -> compartment -> sub-compartments. A system with an
/// empty map is the bare system ("TK"); the nesting makes "SI/SI-G" and "SI-G" equal.
pub(crate) type Sci = BTreeMap<String, BTreeMap<String, BTreeSet<String>>>;

/// A classification marking. Always held in canonical form (see the crate docs), so the
/// derived `Eq`/`Hash` compare meaning, not spelling.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Marking {
    pub(crate) level: Level,
    pub(crate) sci: Sci,
    pub(crate) sap: BTreeSet<String>,
    pub(crate) cui: BTreeSet<String>,
    pub(crate) dissem: BTreeSet<Dissem>,
    pub(crate) release: Release,
}

/// Who may receive a marking: everyone, or exactly these codes (trigraphs and opaque
/// tetragraphs). Used by `dominates` so it agrees with `releasable_to`.
enum Audience<'a> {
    Anyone,
    UsOnly,
    Listed(&'a BTreeSet<String>),
}

impl Audience<'_> {
    /// Whether every code `self` admits is admitted by `other`.
    fn within(&self, other: &Audience<'_>) -> bool {
        match (self, other) {
            (_, Audience::Anyone) => true,
            (Audience::Anyone, _) => false,
            // USA is in every REL TO list by construction.
            (Audience::UsOnly, _) => true,
            (Audience::Listed(_), Audience::UsOnly) => false,
            (Audience::Listed(a), Audience::Listed(b)) => a.is_subset(b),
        }
    }
}

impl Marking {
    /// The bare UNCLASSIFIED marking: the identity of `join`.
    pub fn unclassified() -> Marking {
        Marking {
            level: Level::Unclassified,
            sci: Sci::new(),
            sap: BTreeSet::new(),
            cui: BTreeSet::new(),
            dissem: BTreeSet::new(),
            release: Release::None,
        }
    }

    pub fn level(&self) -> Level {
        self.level
    }

    /// Parses a banner ("TOP SECRET//SI/TK//REL TO USA, AUS, CAN, GBR, NZL") or a portion
    /// mark ("(TS//SI//REL TO USA, FVEY)", with or without the parentheses, abbreviated or
    /// not). Tolerates extra spaces around "//", "/" and ","; case-insensitive input.
    pub fn parse(s: &str) -> Result<Marking, MarkingError> {
        parse::parse_marking(s)
    }

    /// Canonical banner line. Invariant: `Marking::parse(&m.banner()) == Ok(m)`.
    pub fn banner(&self) -> String {
        self.render(false)
    }

    /// Canonical portion mark with parentheses, abbreviated: "(S//NF)",
    /// "(TS//SI-G ABCD/TK//REL TO USA, FVEY)", "(U)". Invariant: parse(portion()) == m.
    pub fn portion(&self) -> String {
        format!("({})", self.render(true))
    }

    fn render(&self, portion: bool) -> String {
        let mut sections: Vec<String> = Vec::new();
        sections.push(if portion {
            self.level.abbrev().to_string()
        } else {
            self.level.name().to_string()
        });
        if !self.sci.is_empty() {
            sections.push(render_sci(&self.sci));
        }
        if !self.sap.is_empty() {
            sections.push(render_sap(&self.sap));
        }
        if !self.cui.is_empty() {
            sections.push(cui_order(&self.cui).join("/"));
        }
        let dissem = self.dissem_list(portion);
        if !dissem.is_empty() {
            sections.push(dissem.join("/"));
        }
        sections.join("//")
    }

    /// Dissemination controls in canonical order, NOFORN and REL TO included.
    fn dissem_list(&self, portion: bool) -> Vec<String> {
        let mut out: Vec<(u8, String)> = self
            .dissem
            .iter()
            .map(|d| {
                let name = if portion { d.portion() } else { d.banner() };
                (d.rank(), name.to_string())
            })
            .collect();
        match &self.release {
            Release::None => {}
            Release::NoForn => out.push((
                NOFORN_RANK,
                (if portion { "NF" } else { "NOFORN" }).to_string(),
            )),
            Release::RelTo(list) => out.push((
                REL_TO_RANK,
                format!("REL TO {}", rel_order(list, portion).join(", ")),
            )),
        }
        out.sort_by_key(|(rank, _)| *rank);
        out.into_iter().map(|(_, s)| s).collect()
    }

    /// Roll-up of two markings: the least marking that protects both (see crate docs).
    pub fn join(&self, other: &Marking) -> Marking {
        let level = self.level.max(other.level);
        let mut sci = self.sci.clone();
        for (sys, comps) in &other.sci {
            let entry = sci.entry(sys.clone()).or_default();
            for (comp, subs) in comps {
                entry
                    .entry(comp.clone())
                    .or_default()
                    .extend(subs.iter().cloned());
            }
        }
        let sap = self.sap.union(&other.sap).cloned().collect();
        // CUI categories only exist on CUI markings and FOUO only on UNCLASSIFIED ones;
        // once the level rises above that they are subsumed by the stricter level.
        let cui = if level == Level::Cui {
            self.cui.union(&other.cui).cloned().collect()
        } else {
            BTreeSet::new()
        };
        let mut dissem: BTreeSet<Dissem> = self.dissem.union(&other.dissem).copied().collect();
        if level != Level::Unclassified {
            dissem.remove(&Dissem::Fouo);
        }
        Marking {
            level,
            sci,
            sap,
            cui,
            dissem,
            release: join_release(self, other),
        }
    }

    /// Roll-up of many markings; UNCLASSIFIED when empty.
    pub fn rollup<'a>(ms: impl IntoIterator<Item = &'a Marking>) -> Marking {
        ms.into_iter()
            .fold(Marking::unclassified(), |acc, m| acc.join(m))
    }

    /// SCI requirement terms a reader must hold, sorted: "SI-G ABCD" gives "SI", "SI-G"
    /// and "SI-G ABCD".
    pub fn sci(&self) -> Vec<String> {
        sci_terms(&self.sci).into_iter().collect()
    }

    /// SAP program identifiers a reader must hold, sorted.
    pub fn sap(&self) -> Vec<String> {
        self.sap.iter().cloned().collect()
    }

    /// Whether a person of this citizenship (ISO 3166 trigraph, any case) may receive it.
    /// A malformed citizenship is never releasable (fail closed).
    pub fn releasable_to(&self, citizenship: &str) -> bool {
        let Some(code) = normalize_trigraph(citizenship) else {
            return false;
        };
        match self.audience() {
            Audience::Anyone => true,
            Audience::UsOnly => code == "USA",
            Audience::Listed(list) => list.contains(&code),
        }
    }

    fn audience(&self) -> Audience<'_> {
        match &self.release {
            Release::NoForn => Audience::UsOnly,
            Release::RelTo(list) => Audience::Listed(list),
            // Classified US information with no release decision is not releasable.
            Release::None if self.level.is_classified() => Audience::UsOnly,
            Release::None => Audience::Anyone,
        }
    }

    /// Whether `self` protects at least as much as `other` in every dimension: level >=,
    /// SCI terms and SAP ids ⊇, handling controls ⊇, audience ⊆. Consequently anyone who
    /// may see `self` may see `other`. A preorder, not a partial order: "SECRET" and
    /// "SECRET//NOFORN" dominate each other (both are US-only). CUI categories and FOUO
    /// are only compared while `self` is still at the level where they are printed.
    pub fn dominates(&self, other: &Marking) -> bool {
        if self.level < other.level {
            return false;
        }
        let sci_ok = sci_terms(&self.sci).is_superset(&sci_terms(&other.sci));
        let sap_ok = self.sap.is_superset(&other.sap);
        let dissem_ok = other.dissem.iter().all(|d| {
            self.dissem.contains(d) || (*d == Dissem::Fouo && self.level > Level::Unclassified)
        });
        let cui_ok = self.level > Level::Cui || self.cui.is_superset(&other.cui);
        sci_ok && sap_ok && dissem_ok && cui_ok && self.audience().within(&other.audience())
    }
}

/// FD&R roll-up. Restrictions, from weakest to strongest: anyone (U/CUI without FD&R),
/// a REL TO list, US-only (classified without FD&R, or NOFORN). NOFORN wins; REL TO lists
/// intersect; a classified part without FD&R counts as "USA only" in that intersection,
/// so mixing it with any REL TO part gives NOFORN (see the crate docs for why this, and
/// not "no FD&R", is the only associative choice).
fn join_release(a: &Marking, b: &Marking) -> Release {
    if a.release == Release::NoForn || b.release == Release::NoForn {
        return Release::NoForn;
    }
    let lists: Vec<&BTreeSet<String>> = [a, b]
        .iter()
        .filter_map(|m| match &m.release {
            Release::RelTo(l) => Some(l),
            _ => None,
        })
        .collect();
    if lists.is_empty() {
        return Release::None;
    }
    let us_only_part = [a, b]
        .iter()
        .any(|m| m.release == Release::None && m.level.is_classified());
    if us_only_part {
        return Release::NoForn;
    }
    let mut common: BTreeSet<String> = lists[0].clone();
    for l in &lists[1..] {
        common = common.intersection(l).cloned().collect();
    }
    if common.iter().any(|c| c != "USA") {
        Release::RelTo(common)
    } else {
        Release::NoForn
    }
}

/// All requirement terms of an SCI structure.
pub(crate) fn sci_terms(sci: &Sci) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (sys, comps) in sci {
        out.insert(sys.clone());
        for (comp, subs) in comps {
            let sc = format!("{sys}-{comp}");
            for sub in subs {
                out.insert(format!("{sc} {sub}"));
            }
            out.insert(sc);
        }
    }
    out
}

/// "HCS-P/SI-ECI XYZ-G ABCD EFGH/TK": systems alphabetical, each system once with its
/// compartments joined by "-" and each compartment's sub-compartments after spaces.
fn render_sci(sci: &Sci) -> String {
    let mut parts = Vec::new();
    for (sys, comps) in sci {
        let mut s = sys.clone();
        for (comp, subs) in comps {
            s.push('-');
            s.push_str(comp);
            for sub in subs {
                s.push(' ');
                s.push_str(sub);
            }
        }
        parts.push(s);
    }
    parts.join("/")
}

/// "SAR-A/B/C": one prefix for the section, repeated only for an id that would
/// otherwise read as another kind of entry (a program named "NC" or "SI").
fn render_sap(sap: &BTreeSet<String>) -> String {
    let ids: Vec<String> = sap
        .iter()
        .enumerate()
        .map(|(i, id)| {
            if i == 0 || sap_id_needs_prefix(id) {
                format!("SAR-{id}")
            } else {
                id.clone()
            }
        })
        .collect();
    ids.join("/")
}

/// CUI categories: specified ("SP-") categories first, then basic ones, each alphabetical,
/// as the CUI marking handbook orders them.
fn cui_order(cui: &BTreeSet<String>) -> Vec<&str> {
    let (sp, basic): (Vec<&str>, Vec<&str>) = cui
        .iter()
        .map(String::as_str)
        .partition(|c| c.starts_with("SP-"));
    sp.into_iter().chain(basic).collect()
}

/// REL TO list in print order: USA, other trigraphs alphabetical, then tetragraphs
/// alphabetical (CAPCO order). Portions compress the four FVEY partners into "FVEY".
fn rel_order(list: &BTreeSet<String>, portion: bool) -> Vec<&str> {
    let compress = portion && FVEY_PARTNERS.iter().all(|p| list.contains(*p));
    let mut tri: Vec<&str> = Vec::new();
    let mut tetra: Vec<&str> = Vec::new();
    for c in list {
        if c == "USA" || (compress && FVEY_PARTNERS.contains(&c.as_str())) {
            continue;
        }
        if c.len() == 3 {
            tri.push(c);
        } else {
            tetra.push(c);
        }
    }
    if compress {
        tetra.push("FVEY");
        tetra.sort_unstable();
    }
    std::iter::once("USA").chain(tri).chain(tetra).collect()
}

/// An ISO 3166 trigraph, uppercased; `None` unless exactly three ASCII letters.
pub(crate) fn normalize_trigraph(s: &str) -> Option<String> {
    let t = s.trim();
    (t.len() == 3 && t.bytes().all(|b| b.is_ascii_alphabetic())).then(|| t.to_ascii_uppercase())
}

impl FromStr for Marking {
    type Err = MarkingError;

    fn from_str(s: &str) -> Result<Marking, MarkingError> {
        Marking::parse(s)
    }
}

impl fmt::Display for Marking {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.banner())
    }
}

impl Serialize for Marking {
    fn serialize<Se: Serializer>(&self, s: Se) -> Result<Se::Ok, Se::Error> {
        s.serialize_str(&self.banner())
    }
}

impl<'de> Deserialize<'de> for Marking {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Marking, D::Error> {
        let s = String::deserialize(d)?;
        Marking::parse(&s).map_err(serde::de::Error::custom)
    }
}
