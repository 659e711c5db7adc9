//! A version of a report as Markdown and as self-contained HTML: the banner at the top and the
//! bottom, the classification authority block, a portion mark before every paragraph, bullet
//! and table row, numbered citations and the list of sources (document title, page, quote; an
//! API source with its request).

use crate::report::{Citation, Portion, SectionOut, Version};
use crate::template::Form;

/// " [1][2]": a portion's citation markers.
pub fn cites(p: &Portion) -> String {
    if p.citations.is_empty() {
        return String::new();
    }
    let n: Vec<String> = p.citations.iter().map(|c| format!("[{c}]")).collect();
    format!(" {}", n.join(""))
}

/// Where a citation comes from, in words.
pub fn source_line(c: &Citation) -> String {
    match c.kind.as_str() {
        "api" => format!(
            "{} — {} {}",
            c.title,
            c.source,
            c.path.as_deref().unwrap_or("")
        ),
        _ => match c.page {
            Some(p) => format!("{}, page {p}", c.title),
            None => c.title.clone(),
        },
    }
}

/// The colour of a banner (CAPCO display practice): green UNCLASSIFIED, blue CONFIDENTIAL,
/// red SECRET, orange TOP SECRET, yellow TOP SECRET with compartments.
pub fn banner_color(banner: &str) -> &'static str {
    use sextant_access::{Level, Marking};
    match Marking::parse(banner) {
        Ok(m) if m.level() == Level::TopSecret && !m.sci().is_empty() => "#b8a000",
        Ok(m) if m.level() == Level::TopSecret => "#e06c00",
        Ok(m) if m.level() == Level::Secret => "#c8102e",
        Ok(m) if m.level() == Level::Confidential => "#0033a0",
        Ok(_) => "#007a33",
        // Never shown lower than it may be: an unreadable banner is shown as the highest.
        Err(_) => "#e06c00",
    }
}

/// The authority block's lines.
pub fn authority_lines(v: &Version) -> [String; 3] {
    [
        format!("Classified by: {}", v.authority.classified_by),
        format!("Derived from: {}", v.authority.derived_from),
        format!("Declassify on: {}", v.authority.declassify_on),
    ]
}

fn markdown_section(s: &SectionOut, out: &mut String) {
    out.push_str(&format!("## {}\n\n", s.heading));
    if s.form == Form::Table && !s.empty {
        out.push_str("| Portion | Field | Value |\n|---|---|---|\n");
        for p in &s.portions {
            out.push_str(&format!(
                "| {} | {} | {}{} |\n",
                p.marking,
                p.field.as_deref().unwrap_or(""),
                p.text.replace('|', "\\|"),
                cites(p)
            ));
        }
        out.push('\n');
        return;
    }
    for p in &s.portions {
        let bullet = if s.form == Form::Bullets && !s.empty {
            "- "
        } else {
            ""
        };
        out.push_str(&format!("{bullet}{} {}{}\n", p.marking, p.text, cites(p)));
        if bullet.is_empty() {
            out.push('\n');
        }
    }
    if s.form == Form::Bullets {
        out.push('\n');
    }
}

/// The version as Markdown.
pub fn markdown(v: &Version) -> String {
    let mut out = format!("**{}**\n\n# {}\n\n", v.banner, v.title);
    for l in authority_lines(v) {
        out.push_str(&format!("{l}  \n"));
    }
    out.push('\n');
    for s in &v.sections {
        markdown_section(s, &mut out);
    }
    if !v.citations.is_empty() {
        out.push_str("## Sources\n\n");
        for c in &v.citations {
            out.push_str(&format!(
                "{}. {} {} — \"{}\"\n",
                c.n,
                c.marking,
                source_line(c),
                c.quote.replace('\n', " ")
            ));
        }
        out.push('\n');
    }
    out.push_str(&format!("**{}**\n", v.banner));
    out
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The version as one self-contained HTML page (no scripts, no external resources); the
/// banner is repeated at the top and bottom of every printed page.
pub fn html(v: &Version) -> String {
    let mut body = String::new();
    for s in &v.sections {
        body.push_str(&format!("<h2>{}</h2>\n", esc(&s.heading)));
        match (s.form, s.empty) {
            (Form::Table, false) => {
                body.push_str("<table><tr><th>Portion</th><th>Field</th><th>Value</th></tr>\n");
                for p in &s.portions {
                    body.push_str(&format!(
                        "<tr><td class=\"mark\">{}</td><td>{}</td><td>{}{}</td></tr>\n",
                        esc(&p.marking),
                        esc(p.field.as_deref().unwrap_or("")),
                        esc(&p.text),
                        esc(&cites(p))
                    ));
                }
                body.push_str("</table>\n");
            }
            (Form::Bullets, false) => {
                body.push_str("<ul>\n");
                for p in &s.portions {
                    body.push_str(&format!(
                        "<li><span class=\"mark\">{}</span> {}{}</li>\n",
                        esc(&p.marking),
                        esc(&p.text),
                        esc(&cites(p))
                    ));
                }
                body.push_str("</ul>\n");
            }
            _ => {
                for p in &s.portions {
                    body.push_str(&format!(
                        "<p><span class=\"mark\">{}</span> {}{}</p>\n",
                        esc(&p.marking),
                        esc(&p.text),
                        esc(&cites(p))
                    ));
                }
            }
        }
    }
    let mut sources = String::new();
    if !v.citations.is_empty() {
        sources.push_str("<h2>Sources</h2>\n<ol>\n");
        for c in &v.citations {
            sources.push_str(&format!(
                "<li value=\"{}\"><span class=\"mark\">{}</span> {} — <q>{}</q></li>\n",
                c.n,
                esc(&c.marking),
                esc(&source_line(c)),
                esc(&c.quote)
            ));
        }
        sources.push_str("</ol>\n");
    }
    let authority: Vec<String> = authority_lines(v).iter().map(|l| esc(l)).collect();
    let banner = esc(&v.banner);
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>\n\
<style>\n\
body {{ font-family: sans-serif; max-width: 48rem; margin: 3rem auto; line-height: 1.45; }}\n\
.banner {{ text-align: center; font-weight: bold; }}\n\
header.banner {{ position: fixed; top: 0; left: 0; right: 0; background: #fff; }}\n\
footer.banner {{ position: fixed; bottom: 0; left: 0; right: 0; background: #fff; }}\n\
.mark {{ font-weight: bold; }}\n\
.authority {{ font-size: 0.9em; border: 1px solid #999; padding: 0.4em; display: inline-block; }}\n\
table {{ border-collapse: collapse; }} td, th {{ border: 1px solid #999; padding: 0.2em 0.5em; }}\n\
</style></head><body>\n\
<header class=\"banner\">{banner}</header>\n\
<h1>{title}</h1>\n\
<div class=\"authority\">{authority}</div>\n\
{body}{sources}\
<footer class=\"banner\">{banner}</footer>\n\
</body></html>\n",
        title = esc(&v.title),
        authority = authority.join("<br>"),
    )
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::report::{Authority, Citation, Portion, SectionOut};

    pub(crate) fn sample() -> Version {
        let p = |text: &str, mark: &str, field: Option<&str>| Portion {
            text: text.into(),
            marking: mark.into(),
            citations: vec![1],
            field: field.map(str::to_string),
        };
        let sec = |heading: &str, form: Form, portions: Vec<Portion>| SectionOut {
            heading: heading.into(),
            form,
            template_section: 0,
            portions,
            empty: false,
            author_written: false,
            flag: None,
            instruction: None,
            evidence: Vec::new(),
        };
        Version {
            n: 1,
            created: 0,
            author: "ana".into(),
            change: "generated".into(),
            title: "Country brief: Kenya".into(),
            model: "m".into(),
            sections: vec![
                sec(
                    "Key facts",
                    Form::Table,
                    vec![p("Nairobi", "(U)", Some("Capital"))],
                ),
                sec(
                    "Economy",
                    Form::Prose,
                    vec![p("GDP grew <5%>.", "(S)", None)],
                ),
                sec(
                    "Security",
                    Form::Bullets,
                    vec![p("Border disputes.", "(U)", None)],
                ),
            ],
            citations: vec![Citation {
                n: 1,
                kind: "document".into(),
                marking: "(U)".into(),
                title: "Kenya".into(),
                source: "0123456789abcdef".into(),
                chunk_id: Some(7),
                page: Some(2),
                path: None,
                quote: "Capital: Nairobi".into(),
            }],
            banner: "SECRET".into(),
            authority: Authority {
                classified_by: "ana".into(),
                derived_from: "Multiple sources".into(),
                declassify_on: "25X1".into(),
            },
        }
    }

    #[test]
    fn markdown_and_html_carry_banners_marks_and_sources() {
        let v = sample();
        let md = markdown(&v);
        assert!(md.starts_with("**SECRET**"));
        assert!(md.trim_end().ends_with("**SECRET**"));
        assert!(md.contains("| (U) | Capital | Nairobi [1] |"), "{md}");
        assert!(md.contains("(S) GDP grew <5%>. [1]"));
        assert!(md.contains("- (U) Border disputes. [1]"));
        assert!(md.contains("1. (U) Kenya, page 2 — \"Capital: Nairobi\""));
        assert!(md.contains("Declassify on: 25X1"));
        let h = html(&v);
        assert_eq!(h.matches("class=\"banner\">SECRET<").count(), 2);
        assert!(h.contains("GDP grew &lt;5%&gt;."), "escaped");
        assert!(!h.contains("<script"));
        assert!(h.contains("<li><span class=\"mark\">(U)</span> Border disputes. [1]</li>"));
    }
}
