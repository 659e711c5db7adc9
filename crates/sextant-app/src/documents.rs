//! Writing and reading documents: upload, feed push, list, get, delete.

use crate::{banner, with_text, App, AppError, Result, Session};
use sextant_access::Marking;
use sextant_audit::Outcome as Audited;
use sextant_auth::Role;
use sextant_feeds::{CsvColumns, FeedFormat};
use sextant_ingest::{Deleted, FeedReport, IngestOptions, MarkingPolicy, Outcome};
use sextant_store::Viewer;
use sextant_types::{DocId, Document, DocumentMeta};

/// Which documents a list shows.
#[derive(Debug, Clone, Default)]
pub struct DocumentFilter {
    /// Words the title or source must hold (case-insensitive substring).
    pub text: Option<String>,
    /// The classification level the banner must start with ("SECRET" matches "SECRET//NOFORN").
    pub marking: Option<String>,
    /// Feed records instead of documents.
    pub records: bool,
    pub limit: usize,
    pub offset: usize,
}

/// A page of documents, newest first.
#[derive(Debug, Clone)]
pub struct DocumentList {
    pub documents: Vec<DocumentMeta>,
    /// How many the filter matched among what the session may see.
    pub total: usize,
    /// Roll-up of the page.
    pub marking: String,
}

/// One uploaded file: its name (final path component only) and bytes.
pub struct Upload {
    pub name: String,
    pub bytes: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadStatus {
    New,
    Replaced,
    Unchanged,
    Failed,
}

/// What happened to one file.
#[derive(Debug, Clone)]
pub struct UploadOutcome {
    pub name: String,
    pub status: UploadStatus,
    pub doc_id: Option<String>,
    pub chunks: Option<usize>,
    /// Why it failed, in words fit for the uploader (never a path or an internal error).
    pub error: Option<String>,
}

pub struct Uploaded {
    pub files: Vec<UploadOutcome>,
    /// Roll-up of the documents written.
    pub marking: String,
}

/// A push of records into a feed.
pub struct FeedInput {
    pub feed: String,
    pub format: FeedFormat,
    pub bytes: Vec<u8>,
    /// Marking of records that carry none (default: the configured default marking).
    pub marking: Option<Marking>,
    /// Where the records came from, as readers see it (default `feed:<feed>`).
    pub source: Option<String>,
}

/// Feed names: 1-128 letters, digits, '-', '_' and '.'.
fn check_feed_name(feed: &str) -> Result<()> {
    let ok = !feed.is_empty()
        && feed.len() <= 128
        && feed
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    if ok {
        Ok(())
    } else {
        Err(AppError::BadRequest(
            "feed names are 1-128 characters of letters, digits, '-', '_' and '.'".into(),
        ))
    }
}

impl App {
    fn ingest_options(&self, s: &Session, explicit: Option<Marking>) -> IngestOptions {
        IngestOptions {
            chunking: self.options.chunking,
            marking: MarkingPolicy {
                explicit,
                default: self.options.default_marking.clone(),
            },
            namespace: s.namespace(),
            geo: self.options.geo.clone(),
            ..Default::default()
        }
    }

    /// The roll-up marking of documents just written (as stored: the marking ingest decided).
    fn written_marking<'a>(&self, docs: impl Iterator<Item = &'a DocId>) -> Result<String> {
        let marks: Vec<String> = docs
            .filter_map(|d| {
                self.store()
                    .document_meta(d, &Viewer::Unrestricted)
                    .ok()
                    .flatten()
            })
            .map(|m| m.marking)
            .collect();
        banner(marks.iter().map(String::as_str))
    }

    /// Ingests files and directories of the local file system (the CLI's `ingest`) into the
    /// session's namespace, with `opts` as the caller chose them (chunking, batches, marking
    /// policy, feed columns); audited (as `ingest`, marked with the roll-up of the documents
    /// written) before it returns. Vectors are the caller's to compute.
    pub fn ingest_files(
        &self,
        s: &Session,
        paths: &[std::path::PathBuf],
        mut opts: IngestOptions,
        progress: &mut dyn FnMut(usize, usize, &std::path::Path),
    ) -> Result<sextant_ingest::IngestReport> {
        s.require(Role::Ingester)?;
        opts.namespace = s.namespace();
        let store = self.store();
        let report = sextant_ingest::ingest_files(store, paths, &opts, &s.viewer, progress)
            .map_err(AppError::internal)?;
        let marking = self.written_marking(report.outcomes.iter().map(|(_, o)| o.doc_id()))?;
        self.record(
            &s.event("ingest")
                .marking(marking)
                .outcome(if report.failed.is_empty() {
                    Audited::Success
                } else {
                    Audited::Failure
                })
                .docs(report.outcomes.iter().map(|(_, o)| o.doc_id().to_string()))
                .detail(format!(
                    "{} files: {} new, {} replaced, {} unchanged, {} failed",
                    report.files,
                    report.new,
                    report.replaced,
                    report.unchanged,
                    report.failed.len()
                )),
        )?;
        Ok(report)
    }

    /// Ingests uploaded files into the session's namespace, each on its own; audited (as
    /// `ingest`) before it returns.
    pub fn upload(
        &self,
        s: &Session,
        files: Vec<Upload>,
        explicit: Option<Marking>,
    ) -> Result<Uploaded> {
        s.require(Role::Ingester)?;
        if files.is_empty() {
            return Err(AppError::BadRequest("no file in the upload".into()));
        }
        let opts = self.ingest_options(s, explicit);
        let store = self.store();
        let mut out = Vec::with_capacity(files.len());
        let mut written = Vec::new();
        for f in files {
            match sextant_ingest::ingest_upload(store, &f.name, &f.bytes, &opts, &s.viewer) {
                Ok(o) => {
                    written.push(o.doc_id().clone());
                    let (status, chunks) = match &o {
                        Outcome::New { chunks, .. } => (UploadStatus::New, Some(*chunks)),
                        Outcome::Replaced { chunks, .. } => (UploadStatus::Replaced, Some(*chunks)),
                        Outcome::Unchanged { .. } => (UploadStatus::Unchanged, None),
                    };
                    out.push(UploadOutcome {
                        name: f.name,
                        status,
                        doc_id: Some(o.doc_id().to_string()),
                        chunks,
                        error: None,
                    });
                }
                Err(e) => {
                    tracing::info!(file = %f.name, error = %e, "upload rejected");
                    out.push(UploadOutcome {
                        name: f.name,
                        status: UploadStatus::Failed,
                        doc_id: None,
                        chunks: None,
                        error: Some(e.for_user()),
                    });
                }
            }
        }
        let ok = out
            .iter()
            .filter(|r| r.status != UploadStatus::Failed)
            .count();
        // Every document named here is one the uploader may see.
        let marking = self.written_marking(written.iter())?;
        self.record(
            &with_text(s.event("ingest"), s, &marking)
                .outcome(if ok == 0 {
                    Audited::Failure
                } else {
                    Audited::Success
                })
                .docs(out.iter().filter_map(|r| r.doc_id.clone()))
                .detail(
                    out.iter()
                        .map(|r| format!("{}: {:?}", r.name, r.status))
                        .collect::<Vec<_>>()
                        .join("; "),
                ),
        )?;
        Ok(Uploaded {
            files: out,
            marking,
        })
    }

    /// Records pushed into a feed, in one atomic commit; audited (as `feed.push`, or
    /// `feed.cot` for the CoT listener's `source`) before it returns. Features above the
    /// pusher's access are refused one by one, exactly as if no such record existed.
    pub fn feed_push(&self, s: &Session, input: FeedInput) -> Result<FeedReport> {
        s.require(Role::Ingester)?;
        check_feed_name(&input.feed)?;
        let features =
            sextant_ingest::parse_feed(input.format, &input.bytes, &CsvColumns::default())
                .map_err(|e| AppError::BadRequest(e.to_string()))?;
        self.feed_records(s, input, features)
    }

    /// [`App::feed_push`] of records already parsed (a Cursor-on-Target stream).
    pub fn feed_records(
        &self,
        s: &Session,
        input: FeedInput,
        features: Vec<sextant_ingest::FeatureRead>,
    ) -> Result<FeedReport> {
        s.require(Role::Ingester)?;
        check_feed_name(&input.feed)?;
        let mut opts = self.ingest_options(s, input.marking);
        opts.geo = None;
        let action = if input.source.is_some() {
            "feed.cot"
        } else {
            "feed.push"
        };
        let source = input
            .source
            .unwrap_or_else(|| format!("feed:{}", input.feed));
        let report = sextant_ingest::ingest_features(
            self.store(),
            &input.feed,
            &source,
            input.format,
            features,
            &opts,
            &s.viewer,
        )
        .map_err(AppError::internal)?;
        self.record(
            &with_text(s.event(action), s, &report.marking)
                .outcome(if report.failed.is_empty() {
                    Audited::Success
                } else {
                    Audited::Failure
                })
                .docs(report.doc_ids.iter().cloned())
                .detail(format!(
                    "feed {}: {} features, {} new, {} replaced, {} unchanged, {} failed",
                    report.feed,
                    report.features,
                    report.new,
                    report.replaced,
                    report.unchanged,
                    report.failed.len()
                )),
        )?;
        Ok(report)
    }

    /// The documents (or feed records) the session may see, filtered and paged, newest first.
    /// Hidden documents count nowhere: not in the page, not in the total.
    pub fn documents(&self, s: &Session, f: &DocumentFilter) -> Result<DocumentList> {
        s.require(Role::Reader)?;
        let text = f
            .text
            .as_deref()
            .map(str::to_lowercase)
            .filter(|t| !t.trim().is_empty());
        let level = f
            .marking
            .as_deref()
            .map(|m| m.trim().to_uppercase())
            .filter(|m| !m.is_empty());
        let mut all = self
            .store()
            .documents(&s.viewer)
            .map_err(AppError::internal)?;
        all.retain(|m| {
            m.feed.is_some() == f.records
                && text.as_ref().is_none_or(|t| {
                    m.title.to_lowercase().contains(t) || m.source.to_lowercase().contains(t)
                })
                && level
                    .as_ref()
                    .is_none_or(|l| m.marking == *l || m.marking.starts_with(&format!("{l}//")))
        });
        all.sort_by(|a, b| {
            b.ingested_at
                .cmp(&a.ingested_at)
                .then_with(|| a.title.cmp(&b.title))
        });
        let total = all.len();
        let documents: Vec<DocumentMeta> = all
            .into_iter()
            .skip(f.offset)
            .take(f.limit.clamp(1, 1000))
            .collect();
        let marking = banner(documents.iter().map(|d| d.marking.as_str()))?;
        let ev = s
            .event("document.list")
            .docs(documents.iter().map(|d| d.doc_id.to_string()));
        self.record(&with_text(ev, s, &marking).detail(format!("{} of {total}", documents.len())))?;
        Ok(DocumentList {
            documents,
            total,
            marking,
        })
    }

    /// A document the session may see; `NotFound` for one that is absent or hidden alike.
    pub fn document(&self, s: &Session, raw_id: &str) -> Result<Document> {
        s.require(Role::Reader)?;
        let ev = s.event("document.read").docs([raw_id.to_string()]);
        let doc = match DocId::parse(raw_id) {
            Some(id) => self
                .store()
                .document(&id, &s.viewer)
                .map_err(AppError::internal)?,
            None => None,
        };
        match doc {
            Some(doc) => {
                self.record(&ev.marking(&doc.meta.marking))?;
                Ok(doc)
            }
            None => {
                self.record(&ev.outcome(Audited::Failure))?;
                Err(AppError::NotFound)
            }
        }
    }

    /// Deletes a document: administrators anything within their access, ingesters what they
    /// ingested. Hidden and absent documents answer alike.
    pub fn delete(&self, s: &Session, raw_id: &str) -> Result<()> {
        if !s.is_admin() {
            s.require(Role::Ingester)?;
        }
        let ev = s.event("delete").docs([raw_id.to_string()]);
        let done = match DocId::parse(raw_id) {
            Some(id) => sextant_ingest::delete_document(
                self.store(),
                &id,
                &s.viewer,
                s.namespace().as_deref(),
                s.is_admin(),
            )
            .map_err(AppError::internal)?,
            None => Deleted::NotFound,
        };
        match done {
            Deleted::Deleted { marking } => self.record(&ev.marking(marking)),
            Deleted::NotOwner { marking } => {
                self.record(&ev.marking(marking).outcome(Audited::Denied))?;
                Err(AppError::Forbidden(
                    "only whoever ingested this document, or an administrator, may delete it"
                        .into(),
                ))
            }
            Deleted::NotFound => {
                self.record(&ev.outcome(Audited::Failure))?;
                Err(AppError::NotFound)
            }
        }
    }
}
