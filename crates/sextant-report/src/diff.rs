//! What changed between two versions of a report, section by section, line by line (the
//! `similar` crate's Myers diff over the portions as they read: mark, text, citations).

use serde::Serialize;
use similar::{ChangeTag, TextDiff};

use crate::report::{SectionOut, Version};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Unchanged,
    Changed,
    Added,
    Removed,
}

/// One line of a section's diff: `+` new, `-` gone, ` ` kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Line {
    pub op: char,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SectionDiff {
    pub heading: String,
    pub status: Status,
    pub lines: Vec<Line>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diff {
    pub from: u32,
    pub to: u32,
    pub sections: Vec<SectionDiff>,
}

/// A section as lines: one per portion, `(MARK) text [n, m]`.
fn lines(s: &SectionOut) -> String {
    let mut out = String::new();
    for p in &s.portions {
        let field = p
            .field
            .as_deref()
            .map(|f| format!("{f}: "))
            .unwrap_or_default();
        let cites = if p.citations.is_empty() {
            String::new()
        } else {
            let n: Vec<String> = p.citations.iter().map(|c| c.to_string()).collect();
            format!(" [{}]", n.join(", "))
        };
        out.push_str(&format!("{} {field}{}{cites}\n", p.marking, p.text));
    }
    out
}

/// Sections are matched by the template section they come from (then by heading), so a
/// reordered section is not reported as removed and added.
pub fn diff(a: &Version, b: &Version) -> Diff {
    let key = |s: &SectionOut| (s.template_section, s.heading.clone());
    let mut sections = Vec::new();
    for sb in &b.sections {
        let Some(sa) = a.sections.iter().find(|sa| key(sa) == key(sb)) else {
            sections.push(SectionDiff {
                heading: sb.heading.clone(),
                status: Status::Added,
                lines: lines(sb)
                    .lines()
                    .map(|t| Line {
                        op: '+',
                        text: t.to_string(),
                    })
                    .collect(),
            });
            continue;
        };
        let (ta, tb) = (lines(sa), lines(sb));
        let d = TextDiff::from_lines(&ta, &tb);
        let out: Vec<Line> = d
            .iter_all_changes()
            .map(|c| Line {
                op: match c.tag() {
                    ChangeTag::Insert => '+',
                    ChangeTag::Delete => '-',
                    ChangeTag::Equal => ' ',
                },
                text: c.value().trim_end_matches('\n').to_string(),
            })
            .collect();
        let changed = out.iter().any(|l| l.op != ' ');
        sections.push(SectionDiff {
            heading: sb.heading.clone(),
            status: if changed {
                Status::Changed
            } else {
                Status::Unchanged
            },
            lines: out,
        });
    }
    for sa in &a.sections {
        if !b.sections.iter().any(|sb| key(sa) == key(sb)) {
            sections.push(SectionDiff {
                heading: sa.heading.clone(),
                status: Status::Removed,
                lines: lines(sa)
                    .lines()
                    .map(|t| Line {
                        op: '-',
                        text: t.to_string(),
                    })
                    .collect(),
            });
        }
    }
    Diff {
        from: a.n,
        to: b.n,
        sections,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{Authority, Portion};
    use crate::template::Form;

    fn section(i: usize, heading: &str, texts: &[&str]) -> SectionOut {
        SectionOut {
            heading: heading.into(),
            form: Form::Prose,
            template_section: i,
            portions: texts
                .iter()
                .map(|t| Portion {
                    text: t.to_string(),
                    marking: "(U)".into(),
                    citations: vec![1],
                    field: None,
                })
                .collect(),
            empty: false,
            author_written: false,
            flag: None,
            instruction: None,
            evidence: Vec::new(),
        }
    }

    fn version(n: u32, sections: Vec<SectionOut>) -> Version {
        Version {
            n,
            created: 0,
            author: "a".into(),
            change: "x".into(),
            title: "t".into(),
            model: "m".into(),
            sections,
            citations: Vec::new(),
            banner: "UNCLASSIFIED".into(),
            authority: Authority {
                classified_by: "a".into(),
                derived_from: "b".into(),
                declassify_on: "c".into(),
            },
        }
    }

    #[test]
    fn changes_are_shown_per_section() {
        let a = version(
            1,
            vec![
                section(0, "Facts", &["Population is 50 million."]),
                section(1, "Economy", &["GDP grew 5%."]),
                section(2, "Old", &["Gone soon."]),
            ],
        );
        let b = version(
            2,
            vec![
                section(1, "Economy", &["GDP grew 5%."]),
                section(0, "Facts", &["Population is 53 million."]),
                section(3, "New", &["Fresh."]),
            ],
        );
        let d = diff(&a, &b);
        assert_eq!((d.from, d.to), (1, 2));
        let by = |h: &str| d.sections.iter().find(|s| s.heading == h).unwrap();
        assert_eq!(by("Economy").status, Status::Unchanged);
        let facts = by("Facts");
        assert_eq!(facts.status, Status::Changed);
        assert!(facts.lines.contains(&Line {
            op: '-',
            text: "(U) Population is 50 million. [1]".into()
        }));
        assert!(facts.lines.contains(&Line {
            op: '+',
            text: "(U) Population is 53 million. [1]".into()
        }));
        assert_eq!(by("New").status, Status::Added);
        assert_eq!(by("Old").status, Status::Removed);
    }
}
