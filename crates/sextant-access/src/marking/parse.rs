//! Parsing of markings (banner and portion forms, case-insensitive, spacing-tolerant)
//! and the detection of banner lines and leading portion marks in running text.

use std::collections::{BTreeMap, BTreeSet};

use super::{
    Dissem, Level, Marking, MarkingError, Release, FVEY_PARTNERS, SCI_SYSTEMS, TETRAGRAPHS,
};

/// The kinds of "//" section after the level, in their required order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Sci,
    Sap,
    Cui,
    Dissem,
}

impl Kind {
    fn section(self) -> &'static str {
        match self {
            Kind::Sci => "SCI",
            Kind::Sap => "SAP",
            Kind::Cui => "CUI category",
            Kind::Dissem => "dissemination control",
        }
    }

    fn is_a(self) -> &'static str {
        match self {
            Kind::Sci => "an SCI marking",
            Kind::Sap => "a SAP marking",
            Kind::Cui => "a CUI category",
            Kind::Dissem => "a dissemination control",
        }
    }
}

/// Uppercases an entry, collapses runs of whitespace and drops spaces around "-", so
/// "si - g  abcd" and "SI-G ABCD" are the same entry.
pub(crate) fn normalize_entry(e: &str) -> String {
    let collapsed = e.split_whitespace().collect::<Vec<_>>().join(" ");
    collapsed
        .replace(" -", "-")
        .replace("- ", "-")
        .to_ascii_uppercase()
}

/// The program part of a SAP entry when it carries a "SAR-" style prefix.
pub(crate) fn strip_sap_prefix(e: &str) -> Option<&str> {
    e.strip_prefix("SAR-")
        .or_else(|| e.strip_prefix("SPECIAL ACCESS REQUIRED-"))
}

fn is_rel_to(e: &str) -> bool {
    e == "REL TO" || e.starts_with("REL TO ")
}

fn dissem_of(e: &str) -> Option<Dissem> {
    Dissem::ALL.into_iter().find(|d| d.spellings().contains(&e))
}

fn is_noforn(e: &str) -> bool {
    e == "NOFORN" || e == "NF"
}

/// First token of an SCI-looking entry: the control system in "SI-G ABCD".
fn head(e: &str) -> &str {
    e.split(['-', ' ']).next().unwrap_or(e)
}

/// What an entry is by its own spelling, or `None` when it could only be a SAP program
/// id (after the first) or a basic CUI category, which have no fixed vocabulary.
fn classify(e: &str) -> Option<Kind> {
    if strip_sap_prefix(e).is_some() {
        Some(Kind::Sap)
    } else if is_noforn(e) || is_rel_to(e) || dissem_of(e).is_some() {
        Some(Kind::Dissem)
    } else if SCI_SYSTEMS.contains(&head(e)) {
        Some(Kind::Sci)
    } else if e.starts_with("SP-") {
        Some(Kind::Cui)
    } else {
        None
    }
}

/// Whether a SAP program id must be printed with its own "SAR-" prefix because, bare,
/// it would read as another kind of entry (e.g. a program called "NC" or "SI").
pub(crate) fn sap_id_needs_prefix(id: &str) -> bool {
    classify(id).is_some()
}

/// The kind of a section: that of its first entry when it identifies itself. A section
/// opening with a free-form entry is CUI categories on a CUI marking; elsewhere it takes
/// the kind of its first self-identifying entry, or is an error naming the most
/// plausible intent.
fn section_kind(entries: &[String], level: Level) -> Result<Kind, MarkingError> {
    let first = entries.first().map(String::as_str).unwrap_or_default();
    if let Some(kind) = classify(first) {
        return Ok(kind);
    }
    if level == Level::Cui {
        return Ok(Kind::Cui);
    }
    if let Some(kind) = entries.iter().find_map(|e| classify(e)) {
        return Ok(kind);
    }
    if first.contains('-') {
        return Err(MarkingError::UnknownSciSystem(head(first).to_string()));
    }
    Err(MarkingError::UnknownDissem(first.to_string()))
}

/// Parses one SCI entry ("SI", "HCS-P", "SI-G ABCD EFGH", "SI-ECI XYZ-G ABCD") into its
/// control system and compartments.
pub(crate) fn parse_sci_entry(
    e: &str,
) -> Result<(String, BTreeMap<String, BTreeSet<String>>), MarkingError> {
    let malformed = |reason| MarkingError::MalformedSci {
        token: e.to_string(),
        reason,
    };
    let mut parts = e.split('-');
    let sys = parts.next().unwrap_or_default();
    if sys.contains(' ') {
        if !SCI_SYSTEMS.contains(&head(sys)) {
            return Err(MarkingError::UnknownSciSystem(head(sys).to_string()));
        }
        return Err(malformed(
            "sub-compartments must follow a compartment, as in \"SI-G ABCD\"",
        ));
    }
    if !SCI_SYSTEMS.contains(&sys) {
        return Err(MarkingError::UnknownSciSystem(sys.to_string()));
    }
    let alnum = |w: &str| !w.is_empty() && w.bytes().all(|b| b.is_ascii_alphanumeric());
    let mut comps: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for part in parts {
        let mut words = part.split(' ');
        let comp = words.next().unwrap_or_default();
        if comp.is_empty() {
            return Err(malformed("empty compartment after \"-\""));
        }
        if !alnum(comp) {
            return Err(malformed(
                "compartments and sub-compartments are letters and digits",
            ));
        }
        let subs = comps.entry(comp.to_string()).or_default();
        for w in words {
            if !alnum(w) {
                return Err(malformed(
                    "compartments and sub-compartments are letters and digits",
                ));
            }
            subs.insert(w.to_string());
        }
    }
    Ok((sys.to_string(), comps))
}

/// Parses one SAP entry ("SAR-BP", "SPECIAL ACCESS REQUIRED-BUTTERED POPCORN", or a bare
/// id after the first entry) into its program id.
pub(crate) fn parse_sap_entry(e: &str) -> Result<String, MarkingError> {
    let malformed = |reason| MarkingError::MalformedSap {
        token: e.to_string(),
        reason,
    };
    let id = strip_sap_prefix(e).unwrap_or(e);
    if id.is_empty() {
        return Err(malformed("empty program identifier"));
    }
    // A second prefix would be swallowed on re-parsing and change the id.
    if strip_sap_prefix(id).is_some() {
        return Err(malformed("repeated \"SAR-\" prefix"));
    }
    let ok_chars = id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b' ' || b == b'-');
    let ends_ok = id.starts_with(|c: char| c.is_ascii_alphanumeric())
        && id.ends_with(|c: char| c.is_ascii_alphanumeric());
    if !ok_chars || !ends_ok || id.contains("--") {
        return Err(malformed(
            "program identifiers are letters, digits, single spaces and \"-\"",
        ));
    }
    Ok(id.to_string())
}

/// Levenshtein distance, for catching misspelt dissemination controls (short inputs).
fn edit_distance(a: &str, b: &str) -> usize {
    let a = a.as_bytes();
    let b = b.as_bytes();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// Whether a would-be CUI category looks like a misspelt dissemination control
/// ("NOFRN"): accepting it as a category would silently drop the restriction.
fn near_dissem(cat: &str) -> bool {
    const TARGETS: [&str; 10] = [
        "NOFORN",
        "ORCON",
        "IMCON",
        "NOCONTRACT",
        "NOCON",
        "PROPIN",
        "RELIDO",
        "FEDONLY",
        "FOUO",
        "RELTO",
    ];
    TARGETS.iter().any(|t| {
        let limit = if t.len() <= 5 { 1 } else { 2 };
        edit_distance(cat, t) <= limit
    })
}

fn parse_cui_category(e: &str) -> Result<String, MarkingError> {
    let mut parts = e.split('-');
    let first = parts.next().unwrap_or_default();
    let first_ok = first.starts_with(|c: char| c.is_ascii_uppercase())
        && first.bytes().all(|b| b.is_ascii_alphanumeric());
    let rest_ok = parts.all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric()));
    if !first_ok || !rest_ok {
        return Err(MarkingError::MalformedCuiCategory(e.to_string()));
    }
    if !e.starts_with("SP-") && near_dissem(e) {
        return Err(MarkingError::UnknownDissem(e.to_string()));
    }
    Ok(e.to_string())
}

/// Parses "REL TO USA, GBR, FVEY" into its expanded country set.
fn parse_rel_to(e: &str) -> Result<BTreeSet<String>, MarkingError> {
    let rest = e["REL TO".len()..].trim();
    if rest.is_empty() {
        return Err(MarkingError::EmptyRelTo(e.to_string()));
    }
    let mut set = BTreeSet::new();
    let mut explicit_usa = false;
    for item in rest.split(',').map(str::trim) {
        if item.is_empty() {
            return Err(MarkingError::EmptyCountry(e.to_string()));
        }
        explicit_usa |= item == "USA";
        if item == "FVEY" {
            set.insert("USA".to_string());
            set.extend(FVEY_PARTNERS.iter().map(|c| c.to_string()));
        } else if TETRAGRAPHS.contains(&item)
            || (item.len() == 3 && item.bytes().all(|b| b.is_ascii_uppercase()))
        {
            set.insert(item.to_string());
        } else {
            return Err(MarkingError::UnknownCountry(item.to_string()));
        }
    }
    // CAPCO requires USA to be named explicitly, even when FVEY would imply it.
    if !explicit_usa {
        return Err(MarkingError::RelToWithoutUsa(e.to_string()));
    }
    if set.iter().all(|c| c == "USA") {
        return Err(MarkingError::RelToOnlyUsa(e.to_string()));
    }
    Ok(set)
}

fn mixed(token: &str, is: Kind, section: Kind) -> MarkingError {
    MarkingError::MixedSection {
        token: token.to_string(),
        is: is.is_a(),
        section: section.section(),
    }
}

pub(super) fn parse_marking(input: &str) -> Result<Marking, MarkingError> {
    let trimmed = input.trim();
    if trimmed.is_empty() {
        return Err(MarkingError::Empty);
    }
    let inner = match (trimmed.strip_prefix('('), trimmed.strip_suffix(')')) {
        (Some(_), Some(_)) if trimmed.len() >= 2 => trimmed[1..trimmed.len() - 1].trim(),
        (None, None) => trimmed,
        _ => return Err(MarkingError::UnbalancedParens(trimmed.to_string())),
    };
    if inner.is_empty() {
        return Err(MarkingError::Empty);
    }
    let bad_char = inner.chars().find(|c| {
        !(c.is_ascii_alphanumeric() || c.is_whitespace() || matches!(c, '/' | ',' | '-' | '_'))
    });
    if let Some(ch) = bad_char {
        return Err(MarkingError::UnexpectedChar {
            ch,
            input: trimmed.to_string(),
        });
    }
    let upper = inner.to_ascii_uppercase();
    let sections: Vec<&str> = upper.split("//").map(str::trim).collect();
    let level_token = sections.first().copied().unwrap_or_default();
    if level_token.is_empty() {
        return Err(MarkingError::MissingLevel(trimmed.to_string()));
    }
    let level = Level::from_token(level_token).ok_or_else(|| MarkingError::UnknownLevelIn {
        token: level_token.split_whitespace().collect::<Vec<_>>().join(" "),
        input: trimmed.to_string(),
    })?;

    let mut m = Marking::unclassified();
    m.level = level;
    let mut noforn = false;
    let mut rel: Option<BTreeSet<String>> = None;
    let mut last: Option<Kind> = None;
    let wrong_level = |what, token: &str, required| MarkingError::WrongLevel {
        what,
        token: token.to_string(),
        level,
        required,
    };

    for (i, section) in sections.iter().enumerate().skip(1) {
        if section.is_empty() {
            return Err(if i + 1 == sections.len() {
                MarkingError::TrailingSeparator(trimmed.to_string())
            } else {
                MarkingError::EmptySection(trimmed.to_string())
            });
        }
        let entries: Vec<String> = section.split('/').map(normalize_entry).collect();
        if entries.iter().any(String::is_empty) {
            return Err(MarkingError::EmptyEntry {
                section: section.to_string(),
                input: trimmed.to_string(),
            });
        }
        let kind = section_kind(&entries, level)?;
        match last {
            Some(prev) if prev == kind => {
                return Err(MarkingError::DuplicateSection {
                    kind: kind.section(),
                    input: trimmed.to_string(),
                })
            }
            Some(prev) if prev > kind => {
                return Err(MarkingError::OutOfOrder {
                    kind: kind.section(),
                    after: prev.section(),
                    input: trimmed.to_string(),
                })
            }
            _ => {}
        }
        last = Some(kind);
        let first = entries.first().map(String::as_str).unwrap_or_default();

        match kind {
            Kind::Sci => {
                if !level.is_classified() {
                    return Err(wrong_level("SCI", first, "CONFIDENTIAL or above"));
                }
                for e in &entries {
                    match classify(e) {
                        Some(Kind::Sci) => {
                            let (sys, comps) = parse_sci_entry(e)?;
                            let slot = m.sci.entry(sys).or_default();
                            for (comp, subs) in comps {
                                slot.entry(comp).or_default().extend(subs);
                            }
                        }
                        Some(other) => return Err(mixed(e, other, kind)),
                        None => return Err(MarkingError::UnknownSciSystem(head(e).to_string())),
                    }
                }
            }
            Kind::Sap => {
                if !level.is_classified() {
                    return Err(wrong_level("SAP", first, "CONFIDENTIAL or above"));
                }
                if strip_sap_prefix(first).is_none() {
                    return Err(MarkingError::MalformedSap {
                        token: first.to_string(),
                        reason: "a SAP section must start with \"SAR-\"",
                    });
                }
                for e in &entries {
                    match classify(e) {
                        Some(Kind::Sap) | None => {
                            m.sap.insert(parse_sap_entry(e)?);
                        }
                        Some(other) => return Err(mixed(e, other, kind)),
                    }
                }
            }
            Kind::Cui => {
                if level != Level::Cui {
                    return Err(wrong_level("CUI category", first, "level CUI"));
                }
                for e in &entries {
                    match classify(e) {
                        Some(Kind::Cui) | None => {
                            m.cui.insert(parse_cui_category(e)?);
                        }
                        Some(other) => return Err(mixed(e, other, kind)),
                    }
                }
            }
            Kind::Dissem => {
                for e in &entries {
                    match classify(e) {
                        Some(Kind::Dissem) => {}
                        Some(other) => return Err(mixed(e, other, kind)),
                        None => return Err(MarkingError::UnknownDissem(e.to_string())),
                    }
                    if is_noforn(e) {
                        noforn = true;
                    } else if is_rel_to(e) {
                        if rel.is_some() {
                            return Err(MarkingError::DuplicateRelTo(trimmed.to_string()));
                        }
                        rel = Some(parse_rel_to(e)?);
                    } else if let Some(d) = dissem_of(e) {
                        if d == Dissem::Fouo && level != Level::Unclassified {
                            return Err(wrong_level("FOUO", e, "UNCLASSIFIED"));
                        }
                        m.dissem.insert(d);
                    }
                }
            }
        }
    }

    m.release = match (noforn, rel) {
        (true, Some(_)) => return Err(MarkingError::NofornWithRelTo),
        (true, None) => Release::NoForn,
        (false, Some(list)) => Release::RelTo(list),
        (false, None) => Release::None,
    };
    Ok(m)
}

/// Level tokens that open a portion-mark candidate, longest first so "CUI" wins over
/// "C" and "TS" over nothing. Case-sensitive on purpose: prose like "(Secret)" or
/// "(s)" is not a mark.
const PORTION_LEVELS: [&str; 9] = [
    "TOP SECRET",
    "UNCLASSIFIED",
    "CONFIDENTIAL",
    "SECRET",
    "CUI",
    "TS",
    "U",
    "C",
    "S",
];

/// A shortened copy of `s` for error messages, cut at a character boundary.
fn excerpt(s: &str) -> String {
    let line = s.lines().next().unwrap_or_default();
    match line.char_indices().nth(60) {
        Some((cut, _)) => format!("{}...", &line[..cut]),
        None => line.to_string(),
    }
}

/// A leading portion mark of a paragraph. `None` when `text` does not start (after
/// optional whitespace) with a portion-mark candidate: "(" + an uppercase level token
/// (U, C, S, TS, CUI or a full level name) followed by ")" or "//", optionally after
/// spaces. "(a) item", "(CIA) said", "(USA) won", "(See below)" are not candidates.
/// `Some(Err)` when it is a candidate but malformed, including a mark not closed on its
/// line. `Some(Ok((marking, n)))` where `text[n..]` is the paragraph after the mark: `n`
/// covers any leading whitespace, the mark with its closing ")" and the whitespace after.
pub fn portion_mark(text: &str) -> Option<Result<(Marking, usize), MarkingError>> {
    let lead = text.len() - text.trim_start().len();
    let rest = &text[lead..];
    let body = rest.strip_prefix('(')?;
    PORTION_LEVELS.iter().find(|tok| {
        body.strip_prefix(**tok).is_some_and(|after| {
            let after = after.trim_start_matches(' ');
            after.starts_with(')') || after.starts_with("//")
        })
    })?;
    // The mark must close on its own line; a ")" further down belongs to something else.
    let close = match body.find([')', '\n']) {
        Some(i) if body[i..].starts_with(')') => i,
        _ => return Some(Err(MarkingError::UnbalancedParens(excerpt(rest)))),
    };
    let mark_len = 1 + close + 1;
    let marking = match Marking::parse(&rest[..mark_len]) {
        Ok(m) => m,
        Err(e) => return Some(Err(e)),
    };
    let after = &rest[mark_len..];
    let ws = after.len() - after.trim_start().len();
    Some(Ok((marking, lead + mark_len + ws)))
}

/// Full level names that open a banner-line candidate.
const BANNER_LEVELS: [&str; 5] = [
    "UNCLASSIFIED",
    "CUI",
    "CONFIDENTIAL",
    "SECRET",
    "TOP SECRET",
];

/// A line that is a banner candidate: after trimming it starts with a full level name
/// (uppercase) and either equals it exactly or continues with "//" (spaces allowed
/// before it); it has no lowercase letters. "SECRET SERVICE" and "Secret meetings" are
/// not candidates. `Some(Err)` when a candidate is malformed.
pub fn banner_line(line: &str) -> Option<Result<Marking, MarkingError>> {
    let t = line.trim();
    if t.chars().any(char::is_lowercase) {
        return None;
    }
    BANNER_LEVELS.iter().find(|name| {
        t.strip_prefix(**name).is_some_and(|after| {
            after.is_empty() || after.trim_start_matches(' ').starts_with("//")
        })
    })?;
    Some(Marking::parse(t))
}
