//! The template format (`config/templates/NAME.toml`; the file's stem is the template's name).
//!
//! ```toml
//! title = "Country brief: {country}"
//! description = "A one-page brief on a country"
//!
//! [[params]]
//! name = "country"
//! type = "country"          # text | country | area | time | feed | connector | model
//! description = "The country"
//! # default = "Kenya"       # a parameter without a default is required
//!
//! [[sections]]
//! heading = "Key facts"
//! form = "table"            # prose | bullets | table | bluf
//! instruction = "The country's key figures"
//! fields = [
//!   { name = "Capital", question = "What is the capital of {country}?" },
//!   { name = "Population", question = "What is the population of {country}?" },
//! ]
//!
//! [[sections]]
//! heading = "Economy"
//! form = "prose"
//! question = "What is the state of the economy of {country}?"   # or query = "search terms"
//! instruction = "Summarise the economy: growth, main sectors, trade partners."
//! length = 4                # sentences (prose), bullets, or 1 (bluf); tables: one row per field
//! # area = "{area}"  time = "{window}"  feed = "{feed}"  (filters, from parameters of those types)
//! # connector = "geo"  operation = "getAircraftFeatures"  (a connected system's read-only call)
//! ```

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("{}{}: {message}", file.display(), line.map(|l| format!(" line {l}")).unwrap_or_default())]
pub struct TemplateError {
    pub file: PathBuf,
    pub line: Option<usize>,
    pub message: String,
}

/// What a parameter holds; the use case checks values of the typed ones (a country the
/// gazetteer knows, an area that parses, a feed or connector the author may use).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParamType {
    Text,
    Country,
    /// An area as the API takes it: `minlon,minlat,maxlon,maxlat`, a country, or a place and
    /// radius.
    Area,
    /// A time window: `START/END` in ISO 8601 (either side may be open).
    Time,
    Feed,
    Connector,
    Model,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Param {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: ParamType,
    #[serde(default)]
    pub description: String,
    /// Without one the parameter is required.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
}

/// How a section is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Form {
    /// Sentences, each cited.
    Prose,
    /// One cited statement per bullet.
    Bullets,
    /// Named fields (SALUTE: size, activity, location, unit, time, equipment), each a verified
    /// value with its citation or "unknown".
    Table,
    /// One bottom-line-up-front sentence.
    Bluf,
}

/// A named field of a table section, answered by its own question.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Field {
    pub name: String,
    pub question: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Section {
    pub heading: String,
    pub form: Form,
    /// What the section should say, for the model.
    #[serde(default)]
    pub instruction: String,
    /// Search terms for retrieval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    /// A question for retrieval and evidence selection (as `ask` takes it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub question: Option<String>,
    /// Sentences (prose), bullets, or 1 (bluf); tables have one row per field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub length: Option<usize>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<Field>,
    /// `{param}` of an area parameter: only sources in the area.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub area: Option<String>,
    /// `{param}` of a time parameter: only sources in the window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<String>,
    /// `{param}` of a feed parameter: only that feed's records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feed: Option<String>,
    /// A connector (name or `{param}`) and one of its read-only operations, called with
    /// arguments the model derives from the section's question.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connector: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
}

/// Most sentences, bullets or rows of a section.
pub const MAX_LENGTH: usize = 20;

impl Section {
    /// Sentences, bullets or rows the section asks for.
    pub fn length(&self) -> usize {
        match self.form {
            Form::Table => self.fields.len(),
            Form::Bluf => 1,
            Form::Prose => self.length.unwrap_or(4),
            Form::Bullets => self.length.unwrap_or(5),
        }
    }

    /// What retrieval is asked (the question, else the query), before parameters are filled.
    pub fn retrieval(&self) -> &str {
        self.question
            .as_deref()
            .or(self.query.as_deref())
            .unwrap_or(&self.heading)
    }

    /// The section as an author's instruction asks for it. Sections are made of verified
    /// source statements, so an instruction can change how many ("shorter", "longer", "more
    /// detail") and what they are about ("focus on logistics": the words after "focus on" join
    /// the retrieval question); it cannot ask for unsourced text.
    pub fn with_instruction(&self, instruction: &str) -> Section {
        let mut out = self.clone();
        let lower = instruction.to_lowercase();
        let has = |words: &[&str]| words.iter().any(|w| lower.contains(w));
        if self.form != Form::Table && self.form != Form::Bluf {
            let n = self.length();
            if has(&["shorter", "brief", "concise", "less", "fewer", "summar"]) {
                out.length = Some(n.div_ceil(2).max(1));
            } else if has(&["longer", "more", "detail", "expand"]) {
                out.length = Some((n * 2).min(MAX_LENGTH));
            }
        }
        let focus = ["focus on ", "focus ", "about ", "emphasise ", "emphasize "]
            .iter()
            .find_map(|p| lower.find(p).map(|i| &instruction[i + p.len()..]));
        if let Some(topic) = focus {
            let topic = topic.trim().trim_end_matches('.');
            if !topic.is_empty() && self.form != Form::Table {
                out.question = Some(format!("{} {topic}", self.retrieval()));
            }
        }
        out
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    title: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    params: Vec<Param>,
    #[serde(default)]
    sections: Vec<Section>,
}

/// A report template.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Template {
    pub name: String,
    /// With `{param}` placeholders.
    pub title: String,
    pub description: String,
    pub params: Vec<Param>,
    pub sections: Vec<Section>,
    #[serde(skip)]
    pub file: PathBuf,
}

/// `{name}` placeholders of a text, in order.
pub fn placeholders(text: &str) -> Vec<&str> {
    text.split('{')
        .skip(1)
        .filter_map(|s| s.split_once('}').map(|(v, _)| v))
        .collect()
}

fn is_name(s: &str) -> bool {
    let mut c = s.chars();
    c.next().is_some_and(|f| f.is_ascii_lowercase())
        && s.len() <= 40
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

impl Template {
    /// Reads and checks `file`.
    pub fn load(file: &Path) -> Result<Template, TemplateError> {
        let err = |line: Option<usize>, message: String| TemplateError {
            file: file.to_path_buf(),
            line,
            message,
        };
        let name = file
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        if !name.split('-').all(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        }) {
            return Err(err(
                None,
                format!("template name {name:?}: use lowercase letters, digits and '-'"),
            ));
        }
        let text = std::fs::read_to_string(file).map_err(|e| err(None, e.to_string()))?;
        let raw: Raw = toml::from_str(&text).map_err(|e| {
            let line = e
                .span()
                .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
            err(line, e.message().trim().to_string())
        })?;
        let line_of = |needle: &str| {
            text.find(needle)
                .map(|at| text[..at].matches('\n').count() + 1)
        };
        let t = Template {
            name,
            title: raw.title,
            description: raw.description,
            params: raw.params,
            sections: raw.sections,
            file: file.to_path_buf(),
        };
        t.check()
            .map_err(|(needle, message)| err(needle.and_then(|n| line_of(&n)), message))?;
        Ok(t)
    }

    /// The first problem, with text to find its line by.
    fn check(&self) -> Result<(), (Option<String>, String)> {
        if self.title.trim().is_empty() {
            return Err((Some("title".into()), "the title is empty".into()));
        }
        if self.sections.is_empty() {
            return Err((None, "no [[sections]]".into()));
        }
        let mut seen = Vec::new();
        for p in &self.params {
            let at = Some(format!("\"{}\"", p.name));
            if !is_name(&p.name) {
                return Err((
                    at,
                    format!(
                        "parameter name {:?}: lowercase letters, digits and '_', starting with a letter",
                        p.name
                    ),
                ));
            }
            if seen.contains(&p.name.as_str()) {
                return Err((at, format!("parameter {:?} is declared twice", p.name)));
            }
            seen.push(&p.name);
        }
        let declared = |text: &str, what: &str, at: &str| -> Result<(), (Option<String>, String)> {
            for v in placeholders(text) {
                if !self.params.iter().any(|p| p.name == v) {
                    return Err((
                        Some(at.to_string()),
                        format!("{what} uses {{{v}}}, which is not a declared parameter"),
                    ));
                }
            }
            Ok(())
        };
        declared(&self.title, "the title", &self.title)?;
        for (i, s) in self.sections.iter().enumerate() {
            let n = i + 1;
            let here = format!("heading = \"{}\"", s.heading);
            let what = format!("section {n} ({:?})", s.heading);
            if s.heading.trim().is_empty() {
                return Err((None, format!("section {n} has no heading")));
            }
            for text in [Some(&s.instruction), s.query.as_ref(), s.question.as_ref()]
                .into_iter()
                .flatten()
            {
                declared(text, &what, text)?;
            }
            for f in &s.fields {
                declared(&f.question, &what, &f.question)?;
                if f.name.trim().is_empty() || f.question.trim().is_empty() {
                    return Err((
                        Some(here.clone()),
                        format!("{what}: every field needs a name and a question"),
                    ));
                }
            }
            match (s.form, s.fields.is_empty()) {
                (Form::Table, true) => {
                    return Err((
                        Some(here),
                        format!(
                        "{what} is a table without fields: give fields = [{{ name, question }}, …]"
                    ),
                    ))
                }
                (Form::Table, false) if s.fields.len() > MAX_LENGTH => {
                    return Err((Some(here), format!("{what}: at most {MAX_LENGTH} fields")))
                }
                (Form::Prose | Form::Bullets | Form::Bluf, false) => {
                    return Err((Some(here), format!("{what}: only a table has fields")))
                }
                _ => {}
            }
            if s.form != Form::Table
                && s.query.is_none()
                && s.question.is_none()
                && s.connector.is_none()
            {
                return Err((
                    Some(here),
                    format!("{what} says nothing of what to look for: give a question or a query (or a connector)"),
                ));
            }
            if let Some(l) = s.length {
                if l == 0 || l > MAX_LENGTH {
                    return Err((
                        Some(here),
                        format!("{what}: length {l} is not between 1 and {MAX_LENGTH}"),
                    ));
                }
            }
            for (value, kind, key) in [
                (&s.area, ParamType::Area, "area"),
                (&s.time, ParamType::Time, "time"),
                (&s.feed, ParamType::Feed, "feed"),
            ] {
                let Some(v) = value else { continue };
                let name = v.strip_prefix('{').and_then(|r| r.strip_suffix('}'));
                let ok =
                    name.is_some_and(|n| self.params.iter().any(|p| p.name == n && p.kind == kind));
                if !ok {
                    return Err((
                        Some(format!("{key} = \"{v}\"")),
                        format!(
                            "{what}: {key} must be {{name}} of a parameter of type {}",
                            serde_json::to_value(kind).unwrap().as_str().unwrap_or(key)
                        ),
                    ));
                }
            }
            if s.connector.is_some() != s.operation.is_some() {
                return Err((
                    Some(here),
                    format!("{what}: give connector and operation together"),
                ));
            }
            if let Some(c) = &s.connector {
                declared(c, &what, c)?;
            }
        }
        Ok(())
    }

    /// The parameter values for a report: every given one declared, every required one
    /// given, defaults filled in. Values are trimmed; an empty value is a missing one.
    pub fn bind(
        &self,
        given: &BTreeMap<String, String>,
    ) -> Result<BTreeMap<String, String>, String> {
        if let Some(k) = given
            .keys()
            .find(|k| !self.params.iter().any(|p| &p.name == *k))
        {
            let names: Vec<&str> = self.params.iter().map(|p| p.name.as_str()).collect();
            return Err(format!(
                "template {} has no parameter {k:?} (it has: {})",
                self.name,
                names.join(", ")
            ));
        }
        let mut out = BTreeMap::new();
        for p in &self.params {
            let v = given
                .get(&p.name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
                .or_else(|| p.default.clone());
            match v {
                Some(v) if v.chars().count() > 500 => {
                    return Err(format!("parameter {}: longer than 500 characters", p.name))
                }
                Some(v) => {
                    out.insert(p.name.clone(), v);
                }
                None => {
                    return Err(format!(
                        "template {} needs --param {}=… ({})",
                        self.name,
                        p.name,
                        if p.description.is_empty() {
                            serde_json::to_value(p.kind)
                                .unwrap()
                                .as_str()
                                .unwrap_or("")
                                .to_string()
                        } else {
                            p.description.clone()
                        }
                    ))
                }
            }
        }
        Ok(out)
    }
}

/// `text` with every `{param}` replaced by its value.
pub fn fill(text: &str, values: &BTreeMap<String, String>) -> String {
    let mut out = text.to_string();
    for (k, v) in values {
        out = out.replace(&format!("{{{k}}}"), v);
    }
    out
}

/// Every `*.toml` in `dir`, by name: the templates that load, and the errors of those that do
/// not (a missing directory holds none).
pub fn load_dir(dir: &Path) -> (Vec<Template>, Vec<TemplateError>) {
    let mut files: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(rd) => rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect(),
        Err(_) => Vec::new(),
    };
    files.sort();
    let (mut ok, mut bad) = (Vec::new(), Vec::new());
    for f in files {
        match Template::load(&f) {
            Ok(t) => ok.push(t),
            Err(e) => bad.push(e),
        }
    }
    (ok, bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    const GOOD: &str = r#"
title = "Brief: {country}"
[[params]]
name = "country"
type = "country"
[[params]]
name = "window"
type = "time"
default = "2024-01-01/"
[[sections]]
heading = "Facts"
form = "table"
fields = [{ name = "Capital", question = "What is the capital of {country}?" }]
[[sections]]
heading = "Economy"
form = "prose"
question = "What is the economy of {country}?"
time = "{window}"
"#;

    #[test]
    fn a_good_template_loads_and_binds() {
        let tmp = tempfile::tempdir().unwrap();
        let t = Template::load(&write(tmp.path(), "brief.toml", GOOD)).unwrap();
        assert_eq!(t.name, "brief");
        assert_eq!(t.sections[0].length(), 1);
        assert_eq!(t.sections[1].length(), 4);
        let v = t
            .bind(&BTreeMap::from([("country".into(), " Kenya ".into())]))
            .unwrap();
        assert_eq!(v["country"], "Kenya");
        assert_eq!(v["window"], "2024-01-01/");
        assert_eq!(fill(&t.title, &v), "Brief: Kenya");
        assert!(t
            .bind(&BTreeMap::new())
            .unwrap_err()
            .contains("--param country"));
        assert!(t
            .bind(&BTreeMap::from([
                ("country".into(), "Kenya".into()),
                ("colour".into(), "red".into())
            ]))
            .unwrap_err()
            .contains("no parameter \"colour\""));
    }

    #[test]
    fn bad_templates_say_what_and_where() {
        let tmp = tempfile::tempdir().unwrap();
        let bad = |text: &str| {
            let e = Template::load(&write(tmp.path(), "t.toml", text)).unwrap_err();
            (e.line, e.message)
        };
        let (line, msg) = bad(&GOOD.replace("{country}?\"\ntime", "{nation}?\"\ntime"));
        assert!(msg.contains("{nation}"), "{msg}");
        assert_eq!(line, Some(17));
        let (_, msg) = bad(&GOOD.replace("form = \"prose\"", "form = \"poem\""));
        assert!(msg.contains("poem"), "{msg}");
        let (line, msg) = bad(&GOOD.replace("time = \"{window}\"", "time = \"{country}\""));
        assert!(msg.contains("type time"), "{msg}");
        assert_eq!(line, Some(18));
        let (_, msg) = bad(&GOOD.replace(
            "fields = [{ name = \"Capital\", question = \"What is the capital of {country}?\" }]",
            "",
        ));
        assert!(msg.contains("table without fields"), "{msg}");
        let (_, msg) = bad(&GOOD.replace("question = \"What is the economy of {country}?\"", ""));
        assert!(msg.contains("nothing of what to look for"), "{msg}");
        let (line, msg) =
            bad(&GOOD.replace("heading = \"Economy\"", "heading = \"Economy\"\ncolour = 1"));
        assert!(msg.contains("colour"), "{msg}");
        assert_eq!(line, Some(16));
        let (_, msg) = bad("title = \"x\"\n");
        assert!(msg.contains("no [[sections]]"), "{msg}");
        let e = Template::load(&write(tmp.path(), "Bad_Name.toml", GOOD)).unwrap_err();
        assert!(e.message.contains("template name"), "{e}");
    }

    #[test]
    fn a_directory_loads_what_it_can() {
        let tmp = tempfile::tempdir().unwrap();
        write(tmp.path(), "a.toml", GOOD);
        write(tmp.path(), "b.toml", "title = ");
        let (ok, bad) = load_dir(tmp.path());
        assert_eq!(ok.len(), 1);
        assert_eq!(bad.len(), 1);
        assert!(bad[0].to_string().contains("b.toml line 1"), "{}", bad[0]);
        assert!(load_dir(&tmp.path().join("none")).0.is_empty());
    }
}

#[cfg(test)]
mod shipped {
    use super::*;

    /// The templates in `config/templates` all load, and include the five the product promises.
    #[test]
    fn the_shipped_templates_load() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/templates");
        let (ok, bad) = load_dir(&dir);
        assert!(bad.is_empty(), "{bad:?}");
        let names: Vec<&str> = ok.iter().map(|t| t.name.as_str()).collect();
        for n in ["bluf-memo", "country-brief", "intsum", "salute", "sitrep"] {
            assert!(names.contains(&n), "{names:?}");
        }
    }
}
