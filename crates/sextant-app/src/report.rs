//! Templated reports: templates, and reports generated from them section by section through
//! the same grounded path as `ask` (retrieval under the author's access, evidence selection,
//! every sentence verified, abstention when nothing supports it).
//!
//! Invariants:
//! * Every portion's mark is the roll-up of what it cites (`(U)` for "No reporting found" and
//!   "unknown" lines, which cite nothing); the banner is the roll-up of every portion.
//! * A report is generated from what its author may see only (the author's `Viewer` goes into
//!   every retrieval), and shown only to those cleared for its banner; a version above a
//!   reader is answered exactly like a missing one.
//! * Every generation, read and listing is audited before it returns.

use serde::Serialize;
use sextant_access::Marking;
use sextant_assist::{Answer, AskRequest};
use sextant_auth::Role;
use sextant_report::report::{
    Authority, Citation, Evidence, Portion, ReportMeta, SectionOut, Version,
};
use sextant_report::store::ReportStore;
use sextant_report::{fill, Form, ParamType, Section, Template};
use sextant_spatial::Area;
use std::collections::{BTreeMap, BTreeSet};

use crate::{with_text, App, AppError, Result, Session};

/// The templates `s` may use: every template, for anyone who may read (templates hold no
/// data; what a report shows is scoped when it is generated).
pub fn templates_for<'a>(s: &Session, all: &'a [Template]) -> Result<Vec<&'a Template>> {
    s.require(Role::Reader)?;
    Ok(all.iter().collect())
}

/// A report to generate.
#[derive(Debug, Clone, Default)]
pub struct ReportInput {
    pub template: String,
    pub params: BTreeMap<String, String>,
    pub model: Option<String>,
}

/// A report as a reader sees it: what it is, one version, and the versions they may see.
#[derive(Debug, Clone, Serialize)]
pub struct ReportView {
    pub id: String,
    pub template: String,
    pub params: BTreeMap<String, String>,
    pub owner: String,
    pub created: u64,
    pub versions: Vec<u32>,
    pub version: Version,
}

impl ReportView {
    fn new(meta: ReportMeta, versions: Vec<u32>, version: Version) -> ReportView {
        ReportView {
            id: meta.id,
            template: meta.template,
            params: meta.params,
            owner: meta.owner,
            created: meta.created,
            versions,
            version,
        }
    }
}

/// "[3]" markers of a sentence, and the sentence without them.
fn markers(sentence: &str) -> (String, Vec<usize>) {
    let mut text = String::new();
    let mut nums = Vec::new();
    let mut rest = sentence;
    while let Some(open) = rest.find('[') {
        let after = &rest[open + 1..];
        match after.find(']') {
            Some(close) if close > 0 && after[..close].chars().all(|c| c.is_ascii_digit()) => {
                text.push_str(&rest[..open]);
                if let Ok(n) = after[..close].parse() {
                    nums.push(n);
                }
                rest = &after[close + 1..];
            }
            _ => {
                text.push_str(&rest[..=open]);
                rest = after;
            }
        }
    }
    text.push_str(rest);
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let text = text.replace(" .", ".").replace(" ,", ",");
    (text, nums)
}

/// An answer's text as sentences with their citation numbers (a citation marker after the
/// full stop belongs to the sentence before it).
fn sentences(answer: &str) -> Vec<(String, Vec<usize>)> {
    let mut out: Vec<(String, Vec<usize>)> = Vec::new();
    let mut cur = String::new();
    let chars: Vec<char> = answer.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        cur.push(chars[i]);
        let end = matches!(chars[i], '.' | '!' | '?')
            && chars
                .get(i + 1)
                .is_none_or(|c| c.is_whitespace() || *c == '[');
        if end {
            // Take the markers that follow the stop.
            let mut j = i + 1;
            loop {
                while chars.get(j).is_some_and(|c| *c == ' ') {
                    j += 1;
                }
                if chars.get(j) == Some(&'[') {
                    let close = chars[j..].iter().position(|c| *c == ']');
                    match close {
                        Some(k)
                            if chars[j + 1..j + k].iter().all(|c| c.is_ascii_digit()) && k > 1 =>
                        {
                            cur.extend(&chars[j..=j + k]);
                            j += k + 1;
                            continue;
                        }
                        _ => {}
                    }
                }
                break;
            }
            let (text, nums) = markers(&cur);
            if !text.trim().is_empty() {
                out.push((text.trim().to_string(), nums));
            }
            cur.clear();
            i = j;
            continue;
        }
        i += 1;
    }
    let (text, nums) = markers(&cur);
    if !text.trim().is_empty() {
        out.push((text.trim().to_string(), nums));
    }
    out
}

/// Sources of the report being written, numbered across the report.
#[derive(Default)]
struct Sources {
    list: Vec<Citation>,
}

impl Sources {
    /// The number of `c` in this list (the same source and quote once).
    fn number(&mut self, c: Citation) -> usize {
        let same = |x: &Citation| {
            x.kind == c.kind
                && x.source == c.source
                && x.chunk_id == c.chunk_id
                && x.path == c.path
                && x.quote == c.quote
        };
        if let Some(x) = self.list.iter().find(|x| same(x)) {
            return x.n;
        }
        let n = self.list.len() + 1;
        self.list.push(Citation { n, ..c });
        n
    }
}

/// A report citation of an answer's citation.
fn doc_citation(c: &sextant_assist::Citation) -> Citation {
    Citation {
        n: 0,
        kind: "document".into(),
        // The portion mark of what the citation shows (its quote, title and headings).
        marking: Marking::parse(&c.marking)
            .map(|m| m.portion())
            .unwrap_or_else(|_| c.marking.clone()),
        title: c.title.clone(),
        source: c.doc_id.clone(),
        chunk_id: Some(c.chunk_id),
        page: c.page,
        path: None,
        quote: c.quote.clone(),
    }
}

/// A section with the sources it cites, numbered within the section from 1: what a version is
/// assembled from, whether the section was just written or kept from an earlier version.
#[derive(Debug, Clone)]
struct Part {
    section: SectionOut,
    cites: Vec<Citation>,
}

impl Part {
    /// Section `i` of `v`.
    fn of(v: &Version, i: usize) -> Part {
        let mut section = v.sections[i].clone();
        let mut local = Sources::default();
        for p in &mut section.portions {
            p.citations = p
                .citations
                .iter()
                .filter_map(|n| v.citations.iter().find(|c| c.n == *n))
                .map(|c| local.number(c.clone()))
                .collect();
        }
        Part {
            section,
            cites: local.list,
        }
    }
}

/// The portion mark of what `cited` (report-wide numbers) show.
fn portion_mark(sources: &Sources, cited: &[usize]) -> Result<String> {
    let mut m = Marking::unclassified();
    for n in cited {
        if let Some(c) = sources.list.iter().find(|c| c.n == *n) {
            m = m.join(&Marking::parse(&c.marking).map_err(AppError::internal)?);
        }
    }
    Ok(m.portion())
}

/// Best statements kept as a table field's evidence.
const FIELD_EVIDENCE: usize = 3;

fn sha256(text: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(text.as_bytes()))
}

/// An area parameter: `minlon,minlat,maxlon,maxlat`, `lat,lon,km`, or a country.
fn parse_area(
    value: &str,
    geo: Option<&sextant_geodata::GeoData>,
) -> std::result::Result<Area, String> {
    match value.split(',').count() {
        4 => Area::parse_bbox(value).map_err(|e| e.to_string()),
        3 => Area::parse_near(value).map_err(|e| e.to_string()),
        _ => sextant_geodata::area::country_area(value, geo),
    }
}

impl App {
    fn reports(&self) -> Result<&ReportStore> {
        self.reports
            .as_deref()
            .ok_or_else(|| AppError::BadRequest("reports are not available here".into()))
    }

    /// The report templates, audited as `report.templates`.
    pub fn report_templates(&self, s: &Session) -> Result<Vec<Template>> {
        let out: Vec<Template> = templates_for(s, &self.options.templates)?
            .into_iter()
            .cloned()
            .collect();
        self.record(
            &s.event("report.templates")
                .marking("UNCLASSIFIED")
                .detail(format!("{} templates", out.len())),
        )?;
        Ok(out)
    }

    /// One grounded answer for a report section.
    fn section_answer(
        &self,
        s: &Session,
        question: &str,
        area: Option<&Area>,
        model: Option<&str>,
    ) -> Result<Answer> {
        let mut req = AskRequest::new(question, s.viewer.clone());
        req.model = model.map(str::to_string);
        req.area = area.cloned();
        Ok(self.assistant().ask(&req, |_, _| true)?)
    }

    /// The area a section is scoped to, if any.
    fn section_area(
        &self,
        sec: &Section,
        values: &BTreeMap<String, String>,
    ) -> Result<Option<Area>> {
        sec.area
            .as_ref()
            .map(|a| {
                parse_area(&fill(a, values), self.options.geo.as_deref())
                    .map_err(AppError::BadRequest)
            })
            .transpose()
    }

    /// What a section rests on now: for each of its questions (a table's fields, or its own
    /// question) the best statements retrieval finds under `s`'s access, by chunk and text hash.
    /// A refresh regenerates what this changes for, and only that.
    fn section_evidence(
        &self,
        s: &Session,
        sec: &Section,
        values: &BTreeMap<String, String>,
    ) -> Result<Vec<Evidence>> {
        let area = self.section_area(sec, values)?;
        let questions: Vec<(Option<String>, String, usize)> = if sec.form == Form::Table {
            sec.fields
                .iter()
                .map(|f| {
                    (
                        Some(f.name.clone()),
                        fill(&f.question, values),
                        FIELD_EVIDENCE,
                    )
                })
                .collect()
        } else {
            vec![(None, fill(sec.retrieval(), values), sec.length())]
        };
        let mut out = Vec::new();
        for (key, question, n) in questions {
            let mut req = AskRequest::new(&question, s.viewer.clone());
            req.area = area.clone();
            for st in self.assistant().statements(&req, n)? {
                out.push(Evidence {
                    key: key.clone(),
                    source: st.citation.chunk_id.to_string(),
                    hash: sha256(&st.text),
                });
            }
        }
        out.sort();
        out.dedup();
        Ok(out)
    }

    /// Writes section `i` of a template (`sec`, with any instruction applied) with `values`.
    /// `reuse` is the section as it was and the table fields to rewrite: the other fields keep
    /// their rows. `known` is the section's evidence when the caller has just computed it.
    #[allow(clippy::too_many_arguments)]
    fn write_section(
        &self,
        s: &Session,
        i: usize,
        sec: &Section,
        values: &BTreeMap<String, String>,
        model: Option<&str>,
        instruction: Option<&str>,
        reuse: Option<(&Part, &BTreeSet<String>)>,
        known: Option<Vec<Evidence>>,
    ) -> Result<Part> {
        let area = self.section_area(sec, values)?;
        let mut evidence = known;
        let mut sources = Sources::default();
        let mut portions = Vec::new();
        let mut empty = false;
        if sec.form == Form::Table {
            for f in &sec.fields {
                if let Some((old, rewrite)) = reuse {
                    let kept = old
                        .section
                        .portions
                        .iter()
                        .find(|p| p.field.as_deref() == Some(&f.name));
                    if let (Some(p), false) = (kept, rewrite.contains(&f.name)) {
                        let mut p = p.clone();
                        p.citations = p
                            .citations
                            .iter()
                            .map(|k| sources.number(old.cites[k - 1].clone()))
                            .collect();
                        portions.push(p);
                        continue;
                    }
                }
                let a = self.section_answer(s, &fill(&f.question, values), area.as_ref(), model)?;
                let said = sentences(&a.answer);
                let portion = match said.first() {
                    Some((text, nums)) if !a.abstained && !nums.is_empty() => {
                        let cited: Vec<usize> = nums
                            .iter()
                            .filter_map(|k| a.citations.iter().find(|c| c.n == *k))
                            .map(|c| sources.number(doc_citation(c)))
                            .collect();
                        Portion {
                            text: text.clone(),
                            marking: portion_mark(&sources, &cited)?,
                            citations: cited,
                            field: Some(f.name.clone()),
                        }
                    }
                    _ => Portion {
                        text: "unknown".into(),
                        marking: Marking::unclassified().portion(),
                        citations: Vec::new(),
                        field: Some(f.name.clone()),
                    },
                };
                portions.push(portion);
            }
            if evidence.is_none() {
                evidence = Some(self.section_evidence(s, sec, values)?);
            }
        } else {
            // Prose, bullets and the BLUF line are the best source statements themselves
            // (quote-first, like the span design of `ask`): each is supported by construction.
            let question = fill(sec.retrieval(), values);
            let mut req = AskRequest::new(&question, s.viewer.clone());
            req.area = area.clone();
            let found = self.assistant().statements(&req, sec.length())?;
            // The statements written are the section's evidence (what `section_evidence`
            // would find again).
            evidence.get_or_insert_with(|| {
                let mut e: Vec<Evidence> = found
                    .iter()
                    .map(|st| Evidence {
                        key: None,
                        source: st.citation.chunk_id.to_string(),
                        hash: sha256(&st.text),
                    })
                    .collect();
                e.sort();
                e.dedup();
                e
            });
            if found.is_empty() {
                empty = true;
                portions.push(Portion {
                    text: format!("No reporting found for: {question}"),
                    marking: Marking::unclassified().portion(),
                    citations: Vec::new(),
                    field: None,
                });
            }
            for st in found {
                let n = sources.number(doc_citation(&st.citation));
                portions.push(Portion {
                    text: st.text,
                    marking: portion_mark(&sources, &[n])?,
                    citations: vec![n],
                    field: None,
                });
            }
        }
        // Scopes the writer does not apply yet are said, never silently dropped.
        let mut unapplied = Vec::new();
        if let Some(t) = &sec.time {
            unapplied.push(format!("the time window {:?}", fill(t, values)));
        }
        if let Some(f) = &sec.feed {
            unapplied.push(format!("the feed {:?}", fill(f, values)));
        }
        if let Some(c) = &sec.connector {
            unapplied.push(format!("the connected system {c:?}"));
        }
        let flag = (!unapplied.is_empty()).then(|| {
            format!(
                "{} not applied yet: the statements come from all documents you may see",
                unapplied.join(" and ")
            )
        });
        Ok(Part {
            section: SectionOut {
                heading: sec.heading.clone(),
                form: sec.form,
                template_section: i,
                portions,
                empty,
                author_written: false,
                flag,
                instruction: instruction.map(str::to_string),
                evidence: evidence.unwrap_or_default(),
            },
            cites: sources.list,
        })
    }

    /// A version of `parts`: sources numbered across the report, the banner (the roll-up of
    /// every portion) and the authority block.
    fn assemble(
        s: &Session,
        n: u32,
        change: String,
        title: String,
        model: String,
        parts: Vec<Part>,
    ) -> Result<Version> {
        let mut sources = Sources::default();
        let mut sections = Vec::new();
        let mut banner = Marking::unclassified();
        for part in parts {
            let mut sec = part.section;
            for p in &mut sec.portions {
                p.citations = p
                    .citations
                    .iter()
                    .map(|k| sources.number(part.cites[k - 1].clone()))
                    .collect();
                banner = banner.join(&Marking::parse(&p.marking).map_err(AppError::internal)?);
            }
            sections.push(sec);
        }
        let unclassified = banner == Marking::unclassified();
        let titles: BTreeSet<String> = sources.list.iter().map(|c| c.title.clone()).collect();
        Ok(Version {
            n,
            created: sextant_report::store::now(),
            author: s.name.clone(),
            change,
            title,
            model,
            sections,
            citations: sources.list,
            banner: banner.banner(),
            authority: if unclassified {
                Authority {
                    classified_by: "not applicable (unclassified)".into(),
                    derived_from: "not applicable".into(),
                    declassify_on: "not applicable".into(),
                }
            } else {
                Authority {
                    classified_by: s.name.clone(),
                    derived_from: if titles.len() == 1 {
                        titles.into_iter().next().unwrap_or_default()
                    } else {
                        "Multiple Sources".into()
                    },
                    declassify_on: "25X1".into(),
                }
            },
        })
    }

    /// Generates a report from a template; `progress(done, total, section)` sees each section
    /// as it completes (returning false cancels). Audited as `report.generate`.
    pub fn report_new(
        &self,
        s: &Session,
        input: &ReportInput,
        mut progress: impl FnMut(usize, usize, &SectionOut) -> bool,
    ) -> Result<ReportView> {
        s.require(Role::Reader)?;
        let store = self.reports()?;
        let t = templates_for(s, &self.options.templates)?
            .into_iter()
            .find(|t| t.name == input.template)
            .ok_or_else(|| {
                AppError::BadRequest(format!(
                    "no template named {:?} (see `sextant report templates`)",
                    input.template
                ))
            })?;
        let values = t.bind(&input.params).map_err(AppError::BadRequest)?;
        for p in &t.params {
            let v = &values[&p.name];
            match p.kind {
                ParamType::Country => {
                    if let Some(g) = self.options.geo.as_deref() {
                        if g.country(v).is_none() {
                            return Err(AppError::BadRequest(format!(
                                "parameter {}: unknown country {v:?}",
                                p.name
                            )));
                        }
                    }
                }
                ParamType::Area => {
                    parse_area(v, self.options.geo.as_deref())
                        .map_err(|e| AppError::BadRequest(format!("parameter {}: {e}", p.name)))?;
                }
                ParamType::Model => {
                    self.assistant().model(Some(v))?;
                }
                _ => {}
            }
        }
        let model = input.model.as_deref();
        let model_id = self.assistant().model(model)?.id().to_string();
        let mut parts = Vec::new();
        let total = t.sections.len();
        for (i, sec) in t.sections.iter().enumerate() {
            let part = self.write_section(s, i, sec, &values, model, None, None, None)?;
            if !progress(i + 1, total, &part.section) {
                return Err(AppError::BadRequest("cancelled".into()));
            }
            parts.push(part);
        }
        let now = sextant_report::store::now();
        let version = App::assemble(
            s,
            1,
            "generated".into(),
            fill(&t.title, &values),
            model_id,
            parts,
        )?;
        let meta = ReportMeta {
            id: sextant_report::store::new_id(),
            template: t.name.clone(),
            params: values,
            owner: s.name.clone(),
            created: now,
        };
        store.create(&meta, &version).map_err(AppError::internal)?;
        self.record(
            &with_text(s.event("report.generate"), s, &version.banner)
                .query(version.title.clone())
                .docs(version.citations.iter().map(|c| c.source.clone()))
                .detail(format!(
                    "report {} version 1; template {}; {} sections, {} sources",
                    meta.id,
                    meta.template,
                    version.sections.len(),
                    version.citations.len()
                )),
        )?;
        Ok(ReportView::new(meta, vec![1], version))
    }

    /// The versions of report `id` that `s` may see: those before the first above their access
    /// (later ones too are withheld, so that the numbers they see have no gap).
    fn visible_versions(&self, s: &Session, id: &str) -> Result<(ReportMeta, Vec<u32>)> {
        let store = self.reports()?;
        let meta = store.meta(id).ok_or(AppError::NotFound)?;
        let nums: Vec<u32> = store
            .version_numbers(id)
            .into_iter()
            // Up to the first version above them: a gap in the numbers would tell of it.
            .take_while(|n| {
                store
                    .version(id, *n)
                    .is_some_and(|v| s.viewer.may_see(&v.banner))
            })
            .collect();
        if nums.is_empty() {
            return Err(AppError::NotFound);
        }
        Ok((meta, nums))
    }

    /// Report `id` at `version` (the newest `s` may see by default). Audited as `report.read`.
    pub fn report_get(&self, s: &Session, id: &str, version: Option<u32>) -> Result<ReportView> {
        s.require(Role::Reader)?;
        let (meta, nums) = self.visible_versions(s, id)?;
        let n = match version {
            Some(n) if nums.contains(&n) => n,
            Some(_) => return Err(AppError::NotFound),
            None => *nums.last().expect("not empty"),
        };
        let v = self.reports()?.version(id, n).ok_or(AppError::NotFound)?;
        self.record(
            &with_text(s.event("report.read"), s, &v.banner)
                .detail(format!("report {id} version {n}")),
        )?;
        Ok(ReportView::new(meta, nums, v))
    }

    /// The reports `s` may see: id, template, title and banner of the newest version they may
    /// see. Audited as `report.list`.
    pub fn report_list(&self, s: &Session) -> Result<Vec<serde_json::Value>> {
        s.require(Role::Reader)?;
        let store = self.reports()?;
        let mut out = Vec::new();
        let mut shown = Marking::unclassified();
        for id in store.ids() {
            let Ok((meta, nums)) = self.visible_versions(s, &id) else {
                continue;
            };
            let n = *nums.last().expect("not empty");
            let Some(v) = store.version(&id, n) else {
                continue;
            };
            if let Ok(m) = Marking::parse(&v.banner) {
                shown = shown.join(&m);
            }
            out.push(serde_json::json!({
                "id": id, "template": meta.template, "title": v.title, "version": n,
                "banner": v.banner, "owner": meta.owner, "created": meta.created,
            }));
        }
        self.record(
            &with_text(s.event("report.list"), s, &shown.banner())
                .detail(format!("{} reports", out.len())),
        )?;
        Ok(out)
    }
}

/// What a refinement does to one section of a report.
#[derive(Debug, Clone, PartialEq)]
pub enum Refinement {
    /// Regenerate the section as the instruction asks ("shorter", "focus on logistics").
    Instruction(String),
    /// Replace its text with the author's own under the author's portion mark; `[n]` markers
    /// name the report's sources and stay only where the source still supports the sentence.
    Text { text: String, marking: String },
    /// Take the section out.
    Remove,
    /// Move the section to position `k` (from 1).
    MoveTo(usize),
}

/// What a refresh did.
#[derive(Debug, Clone, Serialize)]
pub struct Refreshed {
    /// The report after the refresh (a new version only when something changed).
    pub report: ReportView,
    /// Sections (from 1) rewritten because what they rest on changed.
    pub regenerated: Vec<usize>,
    /// Author-written sections whose sources changed: kept as written, flagged for the author.
    pub flagged: Vec<usize>,
    /// Against the version refreshed; absent when nothing changed.
    pub diff: Option<sextant_report::diff::Diff>,
}

/// Splits an author's text into portions: a table's "Field: value" lines, a list's lines, or
/// paragraphs (blank-line separated).
fn author_portions(form: Form, text: &str) -> Result<Vec<(Option<String>, String)>> {
    let lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    let out: Vec<(Option<String>, String)> = match form {
        Form::Table => lines
            .map(|l| {
                l.split_once(':')
                    .map(|(k, v)| (Some(k.trim().to_string()), v.trim().to_string()))
                    .ok_or_else(|| {
                        AppError::BadRequest(format!(
                            "a table section takes \"Field: value\" lines; {l:?} is not one"
                        ))
                    })
            })
            .collect::<Result<_>>()?,
        Form::Bullets => lines
            .map(|l| {
                (
                    None,
                    l.trim_start_matches(['-', '*', '•']).trim().to_string(),
                )
            })
            .collect(),
        Form::Prose | Form::Bluf => text
            .split("\n\n")
            .map(|p| p.split_whitespace().collect::<Vec<_>>().join(" "))
            .filter(|p| !p.is_empty())
            .map(|p| (None, p))
            .collect(),
    };
    if out.is_empty() {
        return Err(AppError::BadRequest("the text is empty".into()));
    }
    Ok(out)
}

impl App {
    /// The newest version of `id` for a change by `s`, with the versions they may see. Only
    /// the owner changes a report: a refresh or regeneration reads under the changer's access,
    /// and anyone else's could raise the report above its owner (or write from sources its
    /// owner may not see). A report `s` may not see at all is missing; one they see but do not
    /// own is refused.
    fn head(&self, s: &Session, id: &str) -> Result<(ReportMeta, Vec<u32>, Version)> {
        let store = self.reports()?;
        let (meta, nums) = self.visible_versions(s, id)?;
        if meta.owner != s.name {
            return Err(AppError::Forbidden(
                "only the report's owner changes it".into(),
            ));
        }
        if store.version_numbers(id).last() != nums.last() {
            return Err(AppError::NotFound);
        }
        let v = store
            .version(id, *nums.last().expect("not empty"))
            .ok_or(AppError::NotFound)?;
        Ok((meta, nums, v))
    }

    /// The template a report was made from.
    fn template_of(&self, meta: &ReportMeta) -> Result<&Template> {
        self.options
            .templates
            .iter()
            .find(|t| t.name == meta.template)
            .ok_or_else(|| {
                AppError::BadRequest(format!(
                    "the template {:?} of this report is no longer installed",
                    meta.template
                ))
            })
    }

    /// The model a report was written with, when it is still loaded (else the default).
    fn model_of(&self, v: &Version) -> Option<String> {
        self.assistant()
            .model(Some(&v.model))
            .ok()
            .map(|_| v.model.clone())
    }

    /// Saves `version` as the next version of `id`.
    fn save_version(&self, id: &str, version: &Version) -> Result<()> {
        self.reports()?
            .add_version(id, version)
            .map_err(AppError::internal)
    }

    /// Refines section `n` (from 1) of report `id`: a new version. Only its owner refines a
    /// report. Audited as `report.refine`.
    pub fn report_refine(
        &self,
        s: &Session,
        id: &str,
        n: usize,
        how: Refinement,
    ) -> Result<ReportView> {
        s.require(Role::Reader)?;
        let (meta, mut nums, v) = self.head(s, id)?;
        let count = v.sections.len();
        if n == 0 || n > count {
            return Err(AppError::BadRequest(format!(
                "section {n}: the report has sections 1 to {count}"
            )));
        }
        let mut parts: Vec<Part> = (0..count).map(|i| Part::of(&v, i)).collect();
        let change = match &how {
            Refinement::Remove => {
                if count == 1 {
                    return Err(AppError::BadRequest(
                        "a report keeps at least one section".into(),
                    ));
                }
                parts.remove(n - 1);
                format!("removed section {n} ({})", v.sections[n - 1].heading)
            }
            Refinement::MoveTo(k) => {
                if *k == 0 || *k > count {
                    return Err(AppError::BadRequest(format!(
                        "move to {k}: the report has sections 1 to {count}"
                    )));
                }
                let p = parts.remove(n - 1);
                parts.insert(k - 1, p);
                format!("moved section {n} ({}) to {k}", v.sections[n - 1].heading)
            }
            Refinement::Instruction(text) => {
                let t = self.template_of(&meta)?;
                let old = &v.sections[n - 1];
                let base = t.sections.get(old.template_section).ok_or_else(|| {
                    AppError::BadRequest("the template no longer has this section".into())
                })?;
                let sec = base.with_instruction(text);
                let model = self.model_of(&v);
                parts[n - 1] = self.write_section(
                    s,
                    old.template_section,
                    &sec,
                    &meta.params,
                    model.as_deref(),
                    Some(text),
                    None,
                    None,
                )?;
                parts[n - 1].section.heading = old.heading.clone();
                format!("regenerated section {n} ({}): {text}", old.heading)
            }
            Refinement::Text { text, marking } => {
                let mark = Marking::parse(marking)
                    .map_err(|e| AppError::BadRequest(format!("marking {marking:?}: {e}")))?;
                if !s.viewer.may_see(&mark.banner()) {
                    return Err(AppError::BadRequest(
                        "an author marks their text at or below their own access".into(),
                    ));
                }
                let old = &parts[n - 1];
                let mut local = Sources::default();
                let mut portions = Vec::new();
                for (field, para) in author_portions(old.section.form, text)? {
                    let (plain, nums) = markers(&para);
                    let mut cited = Vec::new();
                    for k in nums {
                        let Some(c) = v.citations.iter().find(|c| c.n == k) else {
                            continue;
                        };
                        if sextant_assist::verify::supports(&plain, &c.quote, &c.title) {
                            cited.push(local.number(c.clone()));
                        }
                    }
                    let rolled = Marking::parse(&portion_mark(&local, &cited)?)
                        .map_err(AppError::internal)?;
                    if !mark.dominates(&rolled) {
                        return Err(AppError::BadRequest(format!(
                            "marking {} is below what the text cites ({})",
                            mark.portion(),
                            rolled.portion()
                        )));
                    }
                    portions.push(Portion {
                        text: plain,
                        marking: mark.portion(),
                        citations: cited,
                        field,
                    });
                }
                let sec = &mut parts[n - 1];
                sec.section.portions = portions;
                sec.section.author_written = true;
                sec.section.empty = false;
                sec.section.flag = None;
                sec.cites = local.list;
                format!(
                    "section {n} ({}) written by {}",
                    sec.section.heading, s.name
                )
            }
        };
        let next = v.n + 1;
        let model = match &how {
            Refinement::Instruction(_) => self
                .assistant()
                .model(self.model_of(&v).as_deref())?
                .id()
                .to_string(),
            _ => v.model.clone(),
        };
        let version = App::assemble(s, next, change, v.title.clone(), model, parts)?;
        self.save_version(id, &version)?;
        self.record(
            &with_text(s.event("report.refine"), s, &version.banner)
                .detail(format!("report {id} version {next}: {}", version.change)),
        )?;
        nums.push(next);
        Ok(ReportView::new(meta, nums, version))
    }

    /// Re-runs every section's retrieval and rewrites only those whose evidence changed (a
    /// table only in the fields that did); author-written sections are kept as written and
    /// flagged when a source they cite changed or went away. A new version only when something
    /// changed. Only the owner refreshes a report. Audited as `report.refresh`.
    pub fn report_refresh(&self, s: &Session, id: &str) -> Result<Refreshed> {
        s.require(Role::Reader)?;
        let (meta, mut nums, v) = self.head(s, id)?;
        let t = self.template_of(&meta)?;
        let model = self.model_of(&v);
        let mut parts = Vec::new();
        let (mut regenerated, mut flagged) = (Vec::new(), Vec::new());
        for (i, old) in v.sections.iter().enumerate() {
            let mut part = Part::of(&v, i);
            if old.author_written {
                let gone: Vec<usize> = part
                    .cites
                    .iter()
                    .filter(|c| !self.still_there(s, c))
                    .map(|c| c.n)
                    .collect();
                if !gone.is_empty() {
                    let flag = format!(
                        "{} of the sources this section cites changed or were removed: check it",
                        gone.len()
                    );
                    if part.section.flag.as_deref() != Some(flag.as_str()) {
                        part.section.flag = Some(flag);
                        flagged.push(i + 1);
                    }
                }
                parts.push(part);
                continue;
            }
            let Some(base) = t.sections.get(old.template_section) else {
                parts.push(part);
                continue;
            };
            let sec = match &old.instruction {
                Some(text) => base.with_instruction(text),
                None => base.clone(),
            };
            let now = self.section_evidence(s, &sec, &meta.params)?;
            if now == old.evidence {
                parts.push(part);
                continue;
            }
            let keys = |e: &[Evidence], k: &Option<String>| -> Vec<Evidence> {
                e.iter().filter(|x| &x.key == k).cloned().collect()
            };
            let changed: BTreeSet<String> = sec
                .fields
                .iter()
                .map(|f| Some(f.name.clone()))
                .filter(|k| keys(&now, k) != keys(&old.evidence, k))
                .flatten()
                .collect();
            let mut new = self.write_section(
                s,
                old.template_section,
                &sec,
                &meta.params,
                model.as_deref(),
                old.instruction.as_deref(),
                Some((&part, &changed)),
                Some(now),
            )?;
            new.section.heading = old.heading.clone();
            regenerated.push(i + 1);
            parts.push(new);
        }
        let changed = !regenerated.is_empty() || !flagged.is_empty();
        let (version, diff) = if changed {
            let mut what = Vec::new();
            if !regenerated.is_empty() {
                what.push(format!("sections {regenerated:?} rewritten"));
            }
            if !flagged.is_empty() {
                what.push(format!("sections {flagged:?} flagged"));
            }
            let next = v.n + 1;
            let version = App::assemble(
                s,
                next,
                format!("refreshed: {}", what.join("; ")),
                v.title.clone(),
                if regenerated.is_empty() {
                    v.model.clone()
                } else {
                    self.assistant().model(model.as_deref())?.id().to_string()
                },
                parts,
            )?;
            self.save_version(id, &version)?;
            nums.push(next);
            let diff = sextant_report::diff::diff(&v, &version);
            (version, Some(diff))
        } else {
            (v, None)
        };
        self.record(
            &with_text(s.event("report.refresh"), s, &version.banner).detail(format!(
                "report {id} version {}: {} rewritten, {} flagged",
                version.n,
                regenerated.len(),
                flagged.len()
            )),
        )?;
        Ok(Refreshed {
            report: ReportView::new(meta, nums, version),
            regenerated,
            flagged,
            diff,
        })
    }

    /// Whether a cited source still says what it was cited for (the document is there, under
    /// `s`'s access, and still holds the quote).
    fn still_there(&self, s: &Session, c: &Citation) -> bool {
        if c.kind != "document" {
            return true;
        }
        let Some(id) = sextant_types::DocId::parse(&c.source) else {
            return false;
        };
        matches!(
            self.store().document(&id, &s.viewer),
            Ok(Some(d)) if d.text.contains(&c.quote)
        )
    }
}

/// An export format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    Markdown,
    Html,
    Pdf,
    Docx,
}

impl std::str::FromStr for ExportFormat {
    type Err = AppError;
    fn from_str(s: &str) -> Result<ExportFormat> {
        match s {
            "md" | "markdown" => Ok(ExportFormat::Markdown),
            "html" => Ok(ExportFormat::Html),
            "pdf" => Ok(ExportFormat::Pdf),
            "docx" => Ok(ExportFormat::Docx),
            other => Err(AppError::BadRequest(format!(
                "format {other:?}: md, html, pdf or docx"
            ))),
        }
    }
}

impl ExportFormat {
    pub fn content_type(self) -> &'static str {
        match self {
            ExportFormat::Markdown => "text/markdown; charset=utf-8",
            ExportFormat::Html => "text/html; charset=utf-8",
            ExportFormat::Pdf => "application/pdf",
            ExportFormat::Docx => {
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
            }
        }
    }

    /// The file name extension.
    pub fn extension(self) -> &'static str {
        match self {
            ExportFormat::Markdown => "md",
            ExportFormat::Html => "html",
            ExportFormat::Pdf => "pdf",
            ExportFormat::Docx => "docx",
        }
    }
}

impl App {
    /// What changed from version `from` to `to` of report `id` (both visible to `s`). Audited
    /// as `report.diff`.
    pub fn report_diff(
        &self,
        s: &Session,
        id: &str,
        from: u32,
        to: u32,
    ) -> Result<sextant_report::diff::Diff> {
        s.require(Role::Reader)?;
        let (_, nums) = self.visible_versions(s, id)?;
        if !nums.contains(&from) || !nums.contains(&to) {
            return Err(AppError::NotFound);
        }
        let store = self.reports()?;
        let (a, b) = (
            store.version(id, from).ok_or(AppError::NotFound)?,
            store.version(id, to).ok_or(AppError::NotFound)?,
        );
        let shown = Marking::parse(&a.banner)
            .and_then(|x| Marking::parse(&b.banner).map(|y| x.join(&y)))
            .map_err(AppError::internal)?;
        self.record(
            &with_text(s.event("report.diff"), s, &shown.banner())
                .detail(format!("report {id} versions {from} and {to}")),
        )?;
        Ok(sextant_report::diff::diff(&a, &b))
    }

    /// Report `id` (its newest version `s` may see, or `version`) in `format`. Audited as
    /// `report.export`.
    pub fn report_export(
        &self,
        s: &Session,
        id: &str,
        version: Option<u32>,
        format: ExportFormat,
    ) -> Result<Vec<u8>> {
        let view = self.report_get(s, id, version)?;
        let v = &view.version;
        let out = match format {
            ExportFormat::Markdown => sextant_report::export::markdown(v).into_bytes(),
            ExportFormat::Html => sextant_report::export::html(v).into_bytes(),
            ExportFormat::Pdf => sextant_report::pdf::pdf(v).map_err(AppError::internal)?,
            ExportFormat::Docx => sextant_report::docx::docx(v).map_err(AppError::internal)?,
        };
        self.record(
            &with_text(s.event("report.export"), s, &view.version.banner).detail(format!(
                "report {id} version {} as {format:?}",
                view.version.n
            )),
        )?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_split_into_cited_sentences() {
        let s = sentences(
            "Nairobi is the capital [1]. Its population is 5.1 million.[2][3] No cite here.",
        );
        assert_eq!(
            s,
            vec![
                ("Nairobi is the capital.".to_string(), vec![1]),
                ("Its population is 5.1 million.".to_string(), vec![2, 3]),
                ("No cite here.".to_string(), vec![]),
            ]
        );
        assert_eq!(markers("A [x] b [12]."), ("A [x] b.".to_string(), vec![12]));
    }
}
