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
use std::collections::BTreeMap;

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
    /// The report-wide number of an answer's citation.
    fn number(&mut self, c: &sextant_assist::Citation) -> usize {
        if let Some(x) = self
            .list
            .iter()
            .find(|x| x.chunk_id == Some(c.chunk_id) && x.quote == c.quote)
        {
            return x.n;
        }
        let n = self.list.len() + 1;
        self.list.push(Citation {
            n,
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
        });
        n
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

    /// Writes section `i` of a template with `values`, numbering its sources into `sources`.
    fn write_section(
        &self,
        s: &Session,
        i: usize,
        sec: &Section,
        values: &BTreeMap<String, String>,
        model: Option<&str>,
        sources: &mut Sources,
    ) -> Result<SectionOut> {
        let area = match &sec.area {
            Some(a) => Some(
                parse_area(&fill(a, values), self.options.geo.as_deref())
                    .map_err(AppError::BadRequest)?,
            ),
            None => None,
        };
        let mut portions = Vec::new();
        let mut evidence = Vec::new();
        let mut note = |a: &Answer, sources: &mut Sources, nums: &[usize]| -> Vec<usize> {
            nums.iter()
                .filter_map(|k| a.citations.iter().find(|c| c.n == *k))
                .map(|c| {
                    evidence.push(Evidence {
                        source: c.chunk_id.to_string(),
                        hash: sha256(&c.quote),
                    });
                    sources.number(c)
                })
                .collect()
        };
        let mut empty = false;
        if sec.form == Form::Table {
            for f in &sec.fields {
                let a = self.section_answer(s, &fill(&f.question, values), area.as_ref(), model)?;
                let said = sentences(&a.answer);
                let portion = match said.first() {
                    Some((text, nums)) if !a.abstained && !nums.is_empty() => {
                        let cited = note(&a, sources, nums);
                        Portion {
                            text: text.clone(),
                            marking: portion_mark(sources, &cited)?,
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
        } else {
            // Prose, bullets and the BLUF line are the best source statements themselves
            // (quote-first, like the span design of `ask`): each is supported by construction.
            let question = fill(sec.retrieval(), values);
            let mut req = AskRequest::new(&question, s.viewer.clone());
            req.area = area.clone();
            let found = self.assistant().statements(&req, sec.length())?;
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
                evidence.push(Evidence {
                    source: st.citation.chunk_id.to_string(),
                    hash: sha256(&st.citation.quote),
                });
                let n = sources.number(&st.citation);
                portions.push(Portion {
                    text: st.text,
                    marking: portion_mark(sources, &[n])?,
                    citations: vec![n],
                    field: None,
                });
            }
        }
        evidence.sort();
        evidence.dedup();
        Ok(SectionOut {
            heading: sec.heading.clone(),
            form: sec.form,
            template_section: i,
            portions,
            empty,
            author_written: false,
            flag: None,
            instruction: None,
            evidence,
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
        let mut sources = Sources::default();
        let mut sections = Vec::new();
        let total = t.sections.len();
        for (i, sec) in t.sections.iter().enumerate() {
            let out = self.write_section(s, i, sec, &values, model, &mut sources)?;
            if !progress(i + 1, total, &out) {
                return Err(AppError::BadRequest("cancelled".into()));
            }
            sections.push(out);
        }
        let mut banner = Marking::unclassified();
        for p in sections.iter().flat_map(|x| &x.portions) {
            banner = banner.join(&Marking::parse(&p.marking).map_err(AppError::internal)?);
        }
        let now = sextant_report::store::now();
        let unclassified = banner == Marking::unclassified();
        let titles: std::collections::BTreeSet<String> =
            sources.list.iter().map(|c| c.title.clone()).collect();
        let version = Version {
            n: 1,
            created: now,
            author: s.name.clone(),
            change: "generated".into(),
            title: fill(&t.title, &values),
            model: model_id,
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
        };
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

    /// The versions of report `id` that `s` may see (all but those above their access).
    fn visible_versions(&self, s: &Session, id: &str) -> Result<(ReportMeta, Vec<u32>)> {
        let store = self.reports()?;
        let meta = store.meta(id).ok_or(AppError::NotFound)?;
        let nums: Vec<u32> = store
            .version_numbers(id)
            .into_iter()
            .filter(|n| {
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

/// An export format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    Markdown,
    Html,
}

impl std::str::FromStr for ExportFormat {
    type Err = AppError;
    fn from_str(s: &str) -> Result<ExportFormat> {
        match s {
            "md" | "markdown" => Ok(ExportFormat::Markdown),
            "html" => Ok(ExportFormat::Html),
            other => Err(AppError::BadRequest(format!(
                "format {other:?}: md or html (pdf and docx are not available yet)"
            ))),
        }
    }
}

impl ExportFormat {
    pub fn content_type(self) -> &'static str {
        match self {
            ExportFormat::Markdown => "text/markdown; charset=utf-8",
            ExportFormat::Html => "text/html; charset=utf-8",
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
    ) -> Result<String> {
        let view = self.report_get(s, id, version)?;
        let out = match format {
            ExportFormat::Markdown => sextant_report::export::markdown(&view.version),
            ExportFormat::Html => sextant_report::export::html(&view.version),
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
