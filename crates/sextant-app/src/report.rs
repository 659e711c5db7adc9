//! Templated reports: the templates a session may use.

use sextant_auth::Role;
use sextant_report::Template;

use crate::{App, Result, Session};

/// The templates `s` may use: every template, for anyone who may read (templates hold no
/// data; what a report shows is scoped when it is generated).
pub fn templates_for<'a>(s: &Session, all: &'a [Template]) -> Result<Vec<&'a Template>> {
    s.require(Role::Reader)?;
    Ok(all.iter().collect())
}

impl App {
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
}
