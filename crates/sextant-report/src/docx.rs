//! A version as DOCX (Office Open XML, through `docx-rs`): the banner in the page header and
//! footer of every page, a portion mark before every paragraph, bullet and table row, numbered
//! citations and the source list.

use docx_rs::{AlignmentType, Docx, Footer, Header, Paragraph, Run, Table, TableCell, TableRow};

use crate::export::{authority_lines, banner_color, cites, source_line};
use crate::report::Version;
use crate::template::Form;

fn banner(v: &Version) -> Paragraph {
    Paragraph::new()
        .add_run(
            Run::new()
                .add_text(&v.banner)
                .bold()
                .color(banner_color(&v.banner).trim_start_matches('#')),
        )
        .align(AlignmentType::Center)
}

fn marked(mark: &str, text: &str, cites: &str) -> Paragraph {
    Paragraph::new()
        .add_run(Run::new().add_text(format!("{mark} ")).bold())
        .add_run(Run::new().add_text(format!("{text}{cites}")))
}

fn cell(p: Paragraph) -> TableCell {
    TableCell::new().add_paragraph(p)
}

/// The version as a .docx file.
pub fn docx(v: &Version) -> Result<Vec<u8>, String> {
    let mut doc = Docx::new()
        .header(Header::new().add_paragraph(banner(v)))
        .footer(Footer::new().add_paragraph(banner(v)))
        .add_paragraph(
            Paragraph::new()
                .add_run(Run::new().add_text(&v.title).bold().size(32))
                .align(AlignmentType::Center),
        );
    for l in authority_lines(v) {
        doc = doc.add_paragraph(Paragraph::new().add_run(Run::new().add_text(l).size(18)));
    }
    for s in &v.sections {
        doc = doc.add_paragraph(
            Paragraph::new()
                .add_run(Run::new().add_text(&s.heading).bold().size(26))
                .style("Heading1"),
        );
        if let Some(flag) = &s.flag {
            doc = doc.add_paragraph(
                Paragraph::new().add_run(Run::new().add_text(format!("Note: {flag}")).italic()),
            );
        }
        match (s.form, s.empty) {
            (Form::Table, false) => {
                let head = TableRow::new(vec![
                    cell(Paragraph::new().add_run(Run::new().add_text("Portion").bold())),
                    cell(Paragraph::new().add_run(Run::new().add_text("Field").bold())),
                    cell(Paragraph::new().add_run(Run::new().add_text("Value").bold())),
                ]);
                let mut rows = vec![head];
                for p in &s.portions {
                    rows.push(TableRow::new(vec![
                        cell(Paragraph::new().add_run(Run::new().add_text(&p.marking).bold())),
                        cell(
                            Paragraph::new()
                                .add_run(Run::new().add_text(p.field.as_deref().unwrap_or(""))),
                        ),
                        cell(Paragraph::new().add_run(Run::new().add_text(format!(
                            "{}{}",
                            p.text,
                            cites(p)
                        )))),
                    ]));
                }
                doc = doc.add_table(Table::new(rows));
            }
            (Form::Bullets, false) => {
                for p in &s.portions {
                    doc =
                        doc.add_paragraph(marked(&format!("• {}", p.marking), &p.text, &cites(p)));
                }
            }
            _ => {
                for p in &s.portions {
                    doc = doc.add_paragraph(marked(&p.marking, &p.text, &cites(p)));
                }
            }
        }
    }
    if !v.citations.is_empty() {
        doc = doc.add_paragraph(
            Paragraph::new()
                .add_run(Run::new().add_text("Sources").bold().size(26))
                .style("Heading1"),
        );
        for c in &v.citations {
            let quote = c.quote.split_whitespace().collect::<Vec<_>>().join(" ");
            doc = doc.add_paragraph(
                Paragraph::new()
                    .add_run(Run::new().add_text(format!("[{}] ", c.n)))
                    .add_run(Run::new().add_text(format!("{} ", c.marking)).bold())
                    .add_run(Run::new().add_text(format!("{} — “{quote}”", source_line(c)))),
            );
        }
    }
    let mut out = std::io::Cursor::new(Vec::new());
    doc.build()
        .pack(&mut out)
        .map_err(|e| format!("DOCX export failed: {e}"))?;
    Ok(out.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(file: &std::path::Path, name: &str) -> String {
        let out = std::process::Command::new("unzip")
            .arg("-p")
            .arg(file)
            .arg(name)
            .output()
            .expect("unzip");
        assert!(out.status.success(), "{name}");
        String::from_utf8(out.stdout).unwrap()
    }

    /// The banner is in the header and the footer (so on every page), every portion has its
    /// mark, and the sources are listed; text is escaped as XML.
    #[test]
    fn docx_carries_banners_marks_and_sources() {
        let v = crate::export::tests::sample();
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("r.docx");
        std::fs::write(&file, docx(&v).unwrap()).unwrap();
        assert!(part(&file, "word/header1.xml").contains(">SECRET<"));
        assert!(part(&file, "word/footer1.xml").contains(">SECRET<"));
        let body = part(&file, "word/document.xml");
        assert!(body.contains("GDP grew &lt;5%&gt;. [1]"), "{body}");
        for needle in [
            ">(S) <",
            ">(U) <",
            ">• (U) <",
            "Declassify on: 25X1",
            "Kenya, page 2",
        ] {
            assert!(body.contains(needle), "{needle}: {body}");
        }
    }
}
