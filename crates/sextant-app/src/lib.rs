//! The use-case layer (level 6): one function per thing a person can do — search (in an area
//! too), ask, geo ask, chat, compare, upload, feed push, read or delete a document, status,
//! audit read. Each takes a [`Session`] (who, what they may see, where they write, from where)
//! and does the role check, the access scope, the audit record and the marking roll-up once.
//! The CLI and the HTTP server are adapters: they parse, call one of these, and render.
//!
//! Invariants:
//! - Nothing is returned before its audit record is written (a record that cannot be written
//!   fails the call); uploads, deletes and feed pushes are recorded before success is reported.
//! - Every output carries the roll-up marking of everything it shows, and the audit record
//!   carries the roll-up of everything it names.
//! - Functions here block (indexes, models, the audit file): async callers run them on a
//!   blocking thread.

pub mod act;
mod answers;
pub mod conversations;
mod documents;
pub mod report;
mod search;
pub mod users;

pub use answers::{AskInput, CompareInput};
pub use documents::{
    DocumentFilter, DocumentList, FeedInput, Upload, UploadOutcome, UploadStatus, Uploaded,
};
pub use search::{SearchInput, Searched};

use sextant_access::Marking;
use sextant_assist::{AssistError, Assistant};
use sextant_audit::{AuditLog, Event};
use sextant_auth::{Principal, Role};
use sextant_geodata::GeoData;
use sextant_ingest::ChunkConfig;
use sextant_retrieve::{Fusion, Retriever};
use sextant_store::{Store, Viewer};
use std::collections::BTreeSet;
use std::sync::Arc;

/// Questions and queries longer than this are refused.
pub const MAX_QUESTION_BYTES: usize = 4096;

/// Who is acting, what they may see, where their documents live, and from where.
#[derive(Debug, Clone)]
pub struct Session {
    pub name: String,
    pub viewer: Viewer,
    pub roles: BTreeSet<Role>,
    /// Client address (`ip:port`), or `cli`.
    pub client: String,
    /// Whether what they ingest goes into their own namespace (every named user).
    namespaced: bool,
}

impl Session {
    /// A named user: sees what their access allows, writes into `user:<name>`.
    pub fn user(p: Principal, client: impl Into<String>) -> Session {
        Session {
            name: p.name,
            viewer: Viewer::Cleared(p.access),
            roles: p.roles,
            client: client.into(),
            namespaced: true,
        }
    }

    /// The local administrator (the CLI without `--as`, or `serve --insecure-dev`): whoever
    /// can read the data directory can read all of it anyway.
    pub fn administrator(name: impl Into<String>, client: impl Into<String>) -> Session {
        Session {
            name: name.into(),
            viewer: Viewer::Unrestricted,
            roles: [Role::Reader, Role::Ingester, Role::Admin].into(),
            client: client.into(),
            namespaced: false,
        }
    }

    /// `Forbidden` unless the session holds `role`. Roles are not secret, so saying which is
    /// missing leaks nothing.
    pub fn require(&self, role: Role) -> Result<()> {
        if self.roles.contains(&role) {
            Ok(())
        } else {
            Err(AppError::Forbidden(format!(
                "this needs the {} role",
                role.as_str()
            )))
        }
    }

    pub fn is_admin(&self) -> bool {
        self.roles.contains(&Role::Admin)
    }

    /// Where the session's documents live: `user:<name>` for every named user; `None` for
    /// the local administrator. The one place this rule is written.
    pub fn namespace(&self) -> Option<String> {
        self.namespaced.then(|| format!("user:{}", self.name))
    }

    /// An audit event by this session.
    pub fn event(&self, action: &str) -> Event {
        Event::new(self.name.clone(), action).client(self.client.clone())
    }

    /// The marking of what this person writes (a query, a question): its classification is
    /// unknown, so it is taken as high as they may know — their level, every SCI control they
    /// hold, releasable only to their country (NOFORN for a US person). `None` where that
    /// cannot be written as a marking (SAP programs; the unrestricted administrator): the text
    /// is then shown to no cleared reader.
    pub fn ceiling(&self) -> Option<Marking> {
        let Viewer::Cleared(a) = &self.viewer else {
            return None;
        };
        let grants = a.grants();
        // The most specific terms only: "SI-G ABCD" stands for "SI-G" and "SI".
        let terms: Vec<&String> = grants
            .iter()
            .filter(|g| {
                !grants.iter().any(|o| {
                    o != *g && (o.starts_with(&format!("{g}-")) || o.starts_with(&format!("{g} ")))
                })
            })
            .collect();
        let mut banner = a.level().name().to_string();
        if !terms.is_empty() {
            banner.push_str("//");
            banner.push_str(
                &terms
                    .iter()
                    .map(|t| t.as_str())
                    .collect::<Vec<_>>()
                    .join("/"),
            );
        }
        if a.citizenship() == "USA" {
            banner.push_str("//NOFORN");
        } else {
            banner.push_str(&format!("//REL TO USA, {}", a.citizenship()));
        }
        let m = Marking::parse(&banner).ok()?;
        // A marking the person could not read back (an unparsed grant) shows to nobody.
        a.may_see(&m).then_some(m)
    }
}

#[derive(thiserror::Error, Debug)]
pub enum AppError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Forbidden(String),
    /// Absent, or above the caller's access: the same answer for both.
    #[error("not found")]
    NotFound,
    #[error(transparent)]
    Assist(#[from] AssistError),
    /// Details for the log only.
    #[error("internal error: {0}")]
    Internal(String),
}

impl AppError {
    pub fn internal(e: impl std::fmt::Display) -> AppError {
        AppError::Internal(e.to_string())
    }
}

pub type Result<T> = std::result::Result<T, AppError>;

/// Settings the use cases share.
#[derive(Debug, Clone)]
pub struct AppOptions {
    pub default_k: usize,
    pub fusion: Fusion,
    pub chunking: ChunkConfig,
    pub default_marking: Marking,
    /// Gazetteer and country polygons (country areas, geotagging uploads).
    pub geo: Option<Arc<GeoData>>,
    /// Report templates (`config/templates`).
    pub templates: Arc<Vec<sextant_report::Template>>,
}

impl Default for AppOptions {
    fn default() -> Self {
        AppOptions {
            default_k: 10,
            fusion: Fusion::default(),
            chunking: ChunkConfig::default(),
            default_marking: Marking::unclassified(),
            geo: None,
            templates: Arc::default(),
        }
    }
}

/// The use cases over one store, its models and its audit log.
pub struct App {
    assistant: Arc<Assistant>,
    audit: Arc<AuditLog>,
    pub options: AppOptions,
    /// Connected systems (text-to-API), when configured.
    connect: Option<Arc<act::Connect>>,
    /// The report store, when the data directory has one open.
    reports: Option<Arc<sextant_report::store::ReportStore>>,
    /// The conversation store, when the data directory has one open.
    conversations: Option<Arc<conversations::ConversationStore>>,
}

impl App {
    pub fn new(assistant: Arc<Assistant>, audit: Arc<AuditLog>, options: AppOptions) -> App {
        App {
            assistant,
            audit,
            options,
            connect: None,
            reports: None,
            conversations: None,
        }
    }

    /// Adds the connected systems.
    pub fn with_connect(mut self, connect: Arc<act::Connect>) -> App {
        self.connect = Some(connect);
        self
    }

    pub fn with_reports(mut self, reports: Arc<sextant_report::store::ReportStore>) -> App {
        self.reports = Some(reports);
        self
    }

    pub fn with_conversations(mut self, c: Arc<conversations::ConversationStore>) -> App {
        self.conversations = Some(c);
        self
    }

    /// The conversation store with the audit log its calls write to.
    pub fn conversations(&self) -> Result<(&conversations::ConversationStore, &AuditLog)> {
        match &self.conversations {
            Some(c) => Ok((c, &self.audit)),
            None => Err(AppError::internal(
                "conversations are unavailable: their directory could not be opened",
            )),
        }
    }

    pub fn assistant(&self) -> &Arc<Assistant> {
        &self.assistant
    }

    pub fn retriever(&self) -> &Arc<Retriever> {
        self.assistant.retriever()
    }

    pub fn store(&self) -> &Arc<Store> {
        self.retriever().store()
    }

    pub fn audit_log(&self) -> &Arc<AuditLog> {
        &self.audit
    }

    /// Writes an audit record; a record that cannot be written fails the call.
    pub fn record(&self, ev: &Event) -> Result<()> {
        self.audit
            .record(ev)
            .map(|_| ())
            .map_err(AppError::internal)
    }

    /// Counts of what the session may see.
    pub fn status(&self, s: &Session) -> Result<sextant_store::StoreStatus> {
        self.store().status(&s.viewer).map_err(AppError::internal)
    }

    /// The newest `n` audit records, each as the session may read it (admins only; records
    /// about what is above their access are redacted).
    pub fn audit_read(&self, s: &Session, n: usize) -> Result<Vec<serde_json::Value>> {
        s.require(Role::Admin)?;
        self.record(
            &s.event("audit.read")
                .marking(Marking::unclassified().banner()),
        )?;
        let Some(path) = self.audit.path() else {
            return Ok(Vec::new());
        };
        let mut records = sextant_audit::tail(path, n.min(10_000)).map_err(AppError::internal)?;
        for r in &mut records {
            sextant_audit::redact(r, |m| s.viewer.may_see(m));
        }
        Ok(records)
    }
}

impl App {
    /// Checks the audit chain from its first record (admins only), audited as `audit.verify`.
    /// `None` when this process keeps no audit file.
    pub fn audit_verify(&self, s: &Session) -> Result<Option<sextant_audit::Verification>> {
        s.require(Role::Admin)?;
        let Some(path) = self.audit.path() else {
            return Ok(None);
        };
        let v = sextant_audit::verify(path).map_err(AppError::internal)?;
        self.record(
            &s.event("audit.verify")
                .marking("UNCLASSIFIED")
                .detail(match &v.broken {
                    None => format!("{} records, chain intact", v.records),
                    Some(b) => format!("broken at line {}: {}", b.line, b.reason),
                }),
        )?;
        Ok(Some(v))
    }
}

/// The marking of an audit record that holds `s`'s own text (a query, a question) beside
/// objects marked `objects`: both roll up, and text of unknown marking makes it unknown.
pub(crate) fn with_text(ev: Event, s: &Session, objects: &str) -> Event {
    let objects = Marking::parse(objects).ok();
    match (s.ceiling(), objects) {
        (Some(c), Some(o)) => ev.marking(c.join(&o).banner()),
        _ => ev,
    }
}

/// The roll-up of `markings` as a banner.
pub(crate) fn banner<'a>(markings: impl IntoIterator<Item = &'a str>) -> Result<String> {
    Ok(sextant_assist::rollup(markings)
        .map_err(AppError::internal)?
        .banner())
}

pub(crate) fn check_text(what: &str, text: &str) -> Result<()> {
    if text.len() > MAX_QUESTION_BYTES {
        return Err(AppError::BadRequest(format!(
            "the {what} is longer than {MAX_QUESTION_BYTES} bytes"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sextant_access::{Access, Level};

    fn session(level: Level, grants: &[&str], country: &str) -> Session {
        Session::user(
            Principal {
                name: "p".into(),
                access: Access::new(level, grants, country).unwrap(),
                roles: [Role::Reader].into(),
            },
            "test",
        )
    }

    /// What a person writes is marked as high as they may know, and they can read it back.
    #[test]
    fn ceilings_are_markings_their_authors_may_read() {
        for (level, grants, country, want) in [
            (Level::Secret, &[][..], "USA", "SECRET//NOFORN"),
            (
                Level::TopSecret,
                &["SI", "TK"][..],
                "USA",
                "TOP SECRET//SI/TK//NOFORN",
            ),
            (
                Level::TopSecret,
                &["SI-G ABCD"][..],
                "GBR",
                "TOP SECRET//SI-G ABCD//REL TO USA, GBR",
            ),
            (
                Level::Confidential,
                &[][..],
                "AUS",
                "CONFIDENTIAL//REL TO USA, AUS",
            ),
        ] {
            let s = session(level, grants, country);
            let c = s.ceiling().unwrap_or_else(|| panic!("{want}"));
            assert_eq!(c.banner(), want);
            let lower = session(Level::Secret, &[], "USA");
            if level > Level::Secret || !grants.is_empty() {
                assert!(!lower.viewer.may_see(&c.banner()), "{want}");
            }
        }
        assert!(Session::administrator("a", "cli").ceiling().is_none());
    }
}
