//! Templated reports (SITREP, INTSUM, SALUTE spot report, country brief, BLUF memo): the
//! template format, checked at load with errors that name the file and line; reports with
//! their versions, marked portions, citations and evidence; the crash-safe report store.
//!
//! Invariants:
//! * A template that loads is usable: every `{param}` a section or the title uses is a
//!   declared parameter, every table has named fields, every form and type is known.
//! * `load_dir` returns the templates that load beside the errors of those that do not; a
//!   broken template never hides the others.

pub mod diff;
pub mod docx;
pub mod export;
pub mod pdf;
pub mod report;
pub mod store;
pub mod template;

pub use template::{
    fill, load_dir, Field, Form, Param, ParamType, Section, Template, TemplateError,
};
