//! Classification markings following CAPCO / ISOO conventions, their roll-up, and
//! clearance checks. Pure data and rules: no IO, no configuration.
//!
//! ```
//! use sextant_access::{Access, Level, Marking};
//!
//! let m: Marking = "(TS//SI//REL TO USA, FVEY)".parse().unwrap();
//! assert_eq!(m.banner(), "TOP SECRET//SI//REL TO USA, AUS, CAN, GBR, NZL");
//! assert_eq!(m.portion(), "(TS//SI//REL TO USA, FVEY)");
//!
//! let doc = Marking::rollup(&[m, "(S//TK//NF)".parse().unwrap()]);
//! assert_eq!(doc.banner(), "TOP SECRET//SI/TK//NOFORN");
//!
//! let analyst = Access::new(Level::TopSecret, ["SI", "TK"], "GBR").unwrap();
//! assert!(!analyst.may_see(&doc)); // NOFORN
//! ```
//!
//! # Marking model
//!
//! A marking is a level plus up to four "//"-separated sections, in this order:
//! `LEVEL//SCI//SAP//CUI categories//dissemination controls`. Entries inside a section
//! are separated by "/". Parsing is case-insensitive and tolerates extra whitespace
//! around "//", "/", "," and "-"; portion marks may be written with or without
//! parentheses, and banner and portion spellings may be mixed freely. A `Marking` is
//! always held in canonical form, so `==` and `Hash` compare meaning, and
//! `Marking::parse(&m.banner()) == Ok(m)` and `Marking::parse(&m.portion()) == Ok(m)`
//! hold for every marking.
//!
//! * **Levels**: UNCLASSIFIED (U) < CUI < CONFIDENTIAL (C) < SECRET (S) < TOP SECRET
//!   (TS). `Level::from_str` also accepts "_" or "-" between "TOP" and "SECRET".
//! * **SCI**: control systems BUR, HCS, KDK, RSV, SI, TK (anything else is an "unknown
//!   SCI control system"). A compartment follows its system after "-" ("SI-G", "HCS-P"),
//!   sub-compartments follow their compartment after spaces ("SI-G ABCD EFGH"), several
//!   compartments of one system are chained with "-" ("SI-ECI XYZ-G ABCD"), and the same
//!   system may also be repeated across "/" entries ("SI-G/SI-ECI XYZ"); all of these
//!   merge. Canonical form: systems alphabetical, each once, compartments and
//!   sub-compartments alphabetical. Requirement terms ([`Marking::sci`]): "SI-G ABCD"
//!   requires "SI", "SI-G" and "SI-G ABCD"; so "SI/SI-G" and "SI-G" are the same marking.
//!   SCI requires CONFIDENTIAL or above.
//! * **SAP**: a section starting "SAR-" or "SPECIAL ACCESS REQUIRED-", program ids
//!   separated by "/", each optionally with its own prefix ("SAR-BP/GB" =
//!   "SAR-BP/SAR-GB"). Ids are letters, digits, single spaces and "-". Canonical form
//!   "SAR-" + ids sorted, joined by "/"; an id that bare would read as another kind of
//!   entry (a program named "NC", "SI" or "SP-X") keeps its own "SAR-" prefix. SAP
//!   requires CONFIDENTIAL or above.
//! * **CUI categories**: only on level CUI, in a section before the dissemination
//!   controls ("CUI//SP-PRVCY/LEI//NOFORN"). Any uppercase abbreviation is accepted
//!   (there is no registry table here), optionally "SP-" prefixed; canonical order is
//!   "SP-" categories alphabetical, then basic ones alphabetical. Two guards keep a typo
//!   from silently dropping a restriction: a dissemination control inside the category
//!   section is an error (so the CUI category "PROPIN" must be written as the
//!   dissemination control, "CUI//PRVCY//PROPIN"), and a basic category within a small
//!   edit distance of a dissemination control ("CUI//NOFRN") is rejected as an unknown
//!   dissemination control.
//! * **Dissemination controls**, banner / portion spelling, in canonical order:
//!   FOR OFFICIAL USE ONLY / FOUO, ORCON / OC, IMCON / IMC, NOCONTRACT / NC (NOCON also
//!   accepted), NOFORN / NF, PROPIN / PR, REL TO, RELIDO, FED ONLY (FEDONLY accepted).
//!   FOUO is accepted as a legacy control on UNCLASSIFIED only ("(U//FOUO)"); on any
//!   other level it is an error.
//! * **REL TO**: "REL TO USA, GBR, ..." with comma-separated ISO 3166 trigraphs (any
//!   three letters; no country table is embedded) or the tetragraphs FVEY, NATO, ACGU.
//!   USA must be listed explicitly, and at least one other code must be (US-only is
//!   NOFORN). FVEY expands to USA, AUS, CAN, GBR, NZL; NATO and ACGU stay opaque.
//!   Duplicates collapse. Banner order: USA, other trigraphs alphabetical, tetragraphs
//!   alphabetical (CAPCO order). Portions compress AUS, CAN, GBR, NZL back to "FVEY"
//!   ("(TS//SI//REL TO USA, FVEY)"). NOFORN and REL TO together are an error.
//!
//! Duplicate entries inside a section collapse (they cannot be misread); a repeated or
//! out-of-order section, an empty section ("SECRET////NF"), a trailing "//", an empty
//! entry, an unknown level or token, SCI/SAP below CONFIDENTIAL, CUI categories off CUI,
//! and unbalanced parentheses are errors that name the offending token.
//!
//! # Foreign disclosure ([`Marking::releasable_to`])
//!
//! NOFORN: USA only. REL TO: exactly the listed trigraphs (a citizenship never matches an
//! opaque tetragraph such as NATO). No FD&R marking: USA only on CONFIDENTIAL and above
//! (classified US information without a release decision is not releasable), anyone on
//! UNCLASSIFIED and CUI. A malformed citizenship is never releasable. RELIDO is carried
//! but never widens releasability.
//!
//! # Roll-up ([`Marking::join`], [`Marking::rollup`])
//!
//! The highest level; the union of SCI terms, SAP ids, ORCON, IMCON, NOCONTRACT, PROPIN,
//! RELIDO, FED ONLY, FOUO and CUI categories, except that CUI categories are dropped when
//! the result is above CUI and FOUO when it is above UNCLASSIFIED (they are subsumed by
//! the higher level and are never printed there). Foreign disclosure becomes the most
//! restrictive: NOFORN if any part is NOFORN; otherwise the REL TO lists of the parts
//! that carry one are intersected, where a classified part without FD&R counts as
//! "USA only"; an intersection that leaves only USA becomes NOFORN. UNCLASSIFIED/CUI
//! parts without FD&R do not restrict, and when no part carries any FD&R the result
//! carries none (US-only if classified, by the rule above).
//!
//! `join` is commutative, associative and idempotent, with `Marking::unclassified()` as
//! identity. That forces one choice: "(S//REL TO USA, GBR) + (C)" is SECRET//NOFORN, not
//! SECRET with no FD&R. With the latter, C + (S//REL TO USA, GBR) + (S//REL TO USA, AUS)
//! would give SECRET or SECRET//NOFORN depending on grouping. Both mean US-only.
//!
//! # Dominance ([`Marking::dominates`])
//!
//! `a.dominates(b)`: level >=, SCI terms ⊇, SAP ids ⊇, handling controls ⊇ and audience ⊆
//! (CUI categories and FOUO only compared while `a` is at their level). Anyone who may
//! see `a` may see `b`, and `a.join(b)` dominates both. It is a preorder: "SECRET" and
//! "SECRET//NOFORN" dominate each other.
//!
//! # Detection in text
//!
//! [`portion_mark`] recognises a leading "(S//NF)"-style mark only when "(" is followed by
//! an uppercase level token and then ")" or "//"; [`banner_line`] recognises lines such
//! as "TOP SECRET//SI//NOFORN". Both return `Some(Err)` for a candidate that is
//! malformed, so callers can fail closed instead of treating it as prose.

pub mod clearance;
pub mod marking;

pub use clearance::Access;
pub use marking::{banner_line, portion_mark, Level, Marking, MarkingError};
