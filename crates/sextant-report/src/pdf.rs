//! A version as PDF, typeset in-process by Typst with the fonts compiled into the binary
//! (Libertinus Serif, New Computer Modern, DejaVu Sans Mono): no system fonts, no package
//! downloads, no file access. The layout is `report.typ`; the report goes in as one JSON string
//! input, so its text is always set as text, never read as markup.

use std::sync::OnceLock;

use typst::diag::{FileError, FileResult};
use typst::foundations::{Bytes, Datetime, Dict, IntoValue};
use typst::syntax::{FileId, Source};
use typst::text::{Font, FontBook};
use typst::utils::LazyHash;
use typst::{Library, LibraryExt, World};
use typst_kit::fonts::FontStore;

use crate::export::{authority_lines, banner_color, cites, source_line};
use crate::report::Version;
use crate::template::Form;

const LAYOUT: &str = include_str!("report.typ");

fn fonts() -> &'static FontStore {
    static FONTS: OnceLock<FontStore> = OnceLock::new();
    FONTS.get_or_init(|| {
        let mut store = FontStore::new();
        store.extend(typst_kit::fonts::embedded());
        store
    })
}

/// The report as the layout reads it.
fn input(v: &Version) -> serde_json::Value {
    let sections: Vec<serde_json::Value> = v
        .sections
        .iter()
        .map(|s| {
            let form = match s.form {
                Form::Table => "table",
                Form::Bullets => "bullets",
                Form::Prose => "prose",
                Form::Bluf => "bluf",
            };
            let rows: Vec<serde_json::Value> = s
                .portions
                .iter()
                .map(|p| {
                    serde_json::json!({
                        "mark": p.marking, "field": p.field.clone().unwrap_or_default(),
                        "text": p.text, "cites": cites(p),
                    })
                })
                .collect();
            serde_json::json!({
                "heading": s.heading, "form": form, "empty": s.empty, "flag": s.flag, "rows": rows,
            })
        })
        .collect();
    let sources: Vec<serde_json::Value> = v
        .citations
        .iter()
        .map(|c| {
            serde_json::json!({
                "n": c.n, "mark": c.marking, "line": source_line(c),
                "quote": c.quote.split_whitespace().collect::<Vec<_>>().join(" "),
            })
        })
        .collect();
    serde_json::json!({
        "title": v.title, "banner": v.banner, "color": banner_color(&v.banner),
        "authority": authority_lines(v), "sections": sections, "sources": sources,
    })
}

struct ReportWorld {
    library: LazyHash<Library>,
    source: Source,
}

impl World for ReportWorld {
    fn library(&self) -> &LazyHash<Library> {
        &self.library
    }
    fn book(&self) -> &LazyHash<FontBook> {
        fonts().book()
    }
    fn main(&self) -> FileId {
        self.source.id()
    }
    fn source(&self, id: FileId) -> FileResult<Source> {
        if id == self.source.id() {
            Ok(self.source.clone())
        } else {
            Err(FileError::AccessDenied)
        }
    }
    fn file(&self, _: FileId) -> FileResult<Bytes> {
        Err(FileError::AccessDenied)
    }
    fn font(&self, index: usize) -> Option<Font> {
        fonts().font(index)
    }
    fn today(&self, _: Option<typst::foundations::Duration>) -> Option<Datetime> {
        None
    }
}

/// The version as a PDF: the banner in every page's header and footer, a portion mark before
/// every paragraph, bullet and table row, numbered citations and the source list.
pub fn pdf(v: &Version) -> Result<Vec<u8>, String> {
    let mut inputs = Dict::new();
    inputs.insert("report".into(), input(v).to_string().into_value());
    let world = ReportWorld {
        library: LazyHash::new(Library::builder().with_inputs(inputs).build()),
        source: Source::detached(LAYOUT),
    };
    let doc = typst::compile::<typst_layout::PagedDocument>(&world)
        .output
        .map_err(|e| {
            let msgs: Vec<String> = e.iter().map(|d| d.message.to_string()).collect();
            format!("typesetting failed: {}", msgs.join("; "))
        })?;
    typst_pdf::pdf(&doc, &typst_pdf::PdfOptions::default()).map_err(|e| {
        let msgs: Vec<String> = e.iter().map(|d| d.message.to_string()).collect();
        format!("PDF export failed: {}", msgs.join("; "))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A report long enough for several pages: every page has the banner at its top and
    /// bottom; marks, citations and sources are there as text (read back with pdftotext, from
    /// poppler-utils, which scripts/test.sh installs). Text that looks like Typst markup is
    /// set as text.
    #[test]
    fn pdf_pages_carry_banners_marks_and_sources() {
        let mut v = crate::export::tests::sample();
        let sections = v.sections.clone();
        for _ in 0..12 {
            v.sections.extend(sections.clone());
        }
        v.sections[1].portions[0].text = "Markup #set text(red) *bold* $x$ stays text.".into();
        let bytes = pdf(&v).unwrap();
        assert!(bytes.starts_with(b"%PDF-"));
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("r.pdf");
        std::fs::write(&file, &bytes).unwrap();
        let out = std::process::Command::new("pdftotext")
            .arg("-layout")
            .arg(&file)
            .arg("-")
            .output()
            .expect("pdftotext (poppler-utils)");
        assert!(out.status.success());
        let text = String::from_utf8(out.stdout).unwrap();
        let pages: Vec<&str> = text
            .split('\u{c}')
            .filter(|p| !p.trim().is_empty())
            .collect();
        assert!(pages.len() >= 2, "{} pages", pages.len());
        for (i, page) in pages.iter().enumerate() {
            let lines: Vec<&str> = page.lines().filter(|l| !l.trim().is_empty()).collect();
            assert_eq!(lines[0].trim(), "SECRET", "page {i}: {page}");
            assert!(
                lines.iter().rev().take(2).any(|l| l.trim() == "SECRET"),
                "page {i}: {page}"
            );
            assert!(
                page.contains(&format!("{} of {}", i + 1, pages.len())),
                "{page}"
            );
        }
        assert!(
            text.contains("Markup #set text(red) *bold* $x$ stays text."),
            "{text}"
        );
        assert!(text.contains("(U)") && text.contains("(S)") && text.contains("[1]"));
        assert!(text.contains("Kenya, page 2"), "{text}");
        assert!(text.contains("Declassify on: 25X1"));
    }
}
