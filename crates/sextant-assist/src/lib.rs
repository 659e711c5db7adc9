//! Cited answers over retrieved sources.
//!
//! One question goes: retrieve → [`evidence`] (sentences scored against the question) →
//! abstain early when the sources do not cover the question → prompt the chat model with
//! numbered sources → [`verify`] every generated sentence against the source it cites →
//! the verified answer, or the best extract verbatim when nothing generated survives, or an
//! abstention. Correctness rests on retrieval and verification, not on the model's size: a
//! small model can only phrase what the sources already say.

pub mod ask;
pub mod compare;
pub mod evidence;
pub mod geo;
pub mod ground;
pub mod judge;
pub mod qa_metrics;
pub mod question;
pub mod reader;
pub mod rewrite;
pub mod statements;
pub mod verify;
pub mod versus;
mod words;

pub use compare::{Comparison, Contender};
pub use ground::Grounding;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;
use sextant_access::Marking;
use sextant_models::generate::{ChatMessage, ChatModel, GenParams, Generation};
use sextant_models::ModelError;
use sextant_retrieve::{Retriever, SearchRequest};
use sextant_spatial::Area;
use sextant_store::Viewer;
use sextant_types::{Hit, SearchMode};

use evidence::{QuestionTerms, Scored};
use question::{AnswerType, Question};
use sextant_types::DocId;
use verify::{Source, Verified};

/// Longest verbatim extract returned when nothing generated is supported.
const EXTRACT_CHARS: usize = 300;

/// The documents a question names are read whole up to this many chunks.
const WHOLE_DOC_CHUNKS: usize = 160;

/// Weight of a statement outside the documents a question names that does not mention the
/// name either.
const OTHER_ENTITY_WEIGHT: f32 = 0.6;

/// What an abstaining answer says.
pub const ABSTAIN_TEXT: &str = "The documents available to me do not answer this question.";

#[derive(thiserror::Error, Debug)]
pub enum AssistError {
    #[error("{0}")]
    Retrieve(#[from] sextant_retrieve::RetrieveError),
    #[error("unknown model {0:?}")]
    UnknownModel(String),
    #[error("model {id} is unavailable: {reason}")]
    ModelUnavailable { id: String, reason: String },
    #[error("{0}")]
    Busy(String),
    #[error("{0}")]
    Model(ModelError),
    #[error("{0}")]
    BadRequest(String),
    /// A stored marking that does not parse: nothing is shown rather than something mislabelled.
    #[error("stored marking {0:?} does not parse")]
    Marking(String),
}

/// The roll-up of canonical markings (UNCLASSIFIED for none).
pub fn rollup<'a>(markings: impl IntoIterator<Item = &'a str>) -> Result<Marking> {
    let mut acc = Marking::unclassified();
    for m in markings {
        acc = acc.join(&Marking::parse(m).map_err(|_| AssistError::Marking(m.to_string()))?);
    }
    Ok(acc)
}

/// The marking of a quote `[start, end)` (document offsets) taken from `hit`: its title and
/// headings, and every portion the quote overlaps. A quote outside every recorded portion cannot
/// be placed and takes the whole chunk's marking.
pub fn quote_marking(hit: &Hit, start: usize, end: usize) -> Result<Marking> {
    let overlapping: Vec<&str> = hit
        .portions
        .spans
        .iter()
        .filter(|p| p.start < end && p.end > start)
        .map(|p| p.marking.as_str())
        .collect();
    if overlapping.is_empty() {
        return rollup([hit.marking.as_str()]);
    }
    rollup(std::iter::once(hit.portions.context.as_str()).chain(overlapping))
}

impl From<ModelError> for AssistError {
    fn from(e: ModelError) -> Self {
        match e {
            ModelError::Busy(m) => AssistError::Busy(m),
            e => AssistError::Model(e),
        }
    }
}

pub type Result<T> = std::result::Result<T, AssistError>;

#[derive(Debug, Clone, Serialize)]
pub struct Options {
    /// Chunks retrieved per question.
    pub k: usize,
    /// Numbered sources shown to the model.
    pub max_sources: usize,
    /// Best sentences of each source shown to the model.
    pub sentences_per_source: usize,
    pub max_tokens: usize,
    /// Abstain when the best chunk covers less than this IDF-weighted share of the question.
    pub min_coverage: f32,
    /// Abstain when the best sentence scores below this.
    pub min_evidence: f32,
    /// How answers are made.
    pub design: Design,
    /// Statements the reader chooses from.
    pub reader_candidates: usize,
    /// Least P(yes) from the judge for an answer to stand (0: no judge).
    pub judge_threshold: f32,
    /// Abstain when the reader gave "NO ANSWER" at least this probability, even if it copied
    /// a span.
    pub none_threshold: f32,
    /// Abstain when the statement an answer was copied from covers less than this
    /// IDF-weighted share of the question.
    pub min_statement_coverage: f32,
}

/// How an answer is made (both kept while they are compared on the dev sets:
/// `docs/answers.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Design {
    /// The model copies the answer out of the evidence under a span constraint; the answer is
    /// typed, judged by meaning, and cited to the statement it was copied from.
    Span,
    /// The model writes sentences; each is verified against its citation by word overlap;
    /// the best statement verbatim when none holds.
    Generate,
}

impl std::str::FromStr for Design {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "span" => Ok(Design::Span),
            "generate" => Ok(Design::Generate),
            _ => Err(format!("unknown answer design {s:?} (span, generate)")),
        }
    }
}

impl Default for Options {
    fn default() -> Self {
        Options {
            k: 8,
            max_sources: 4,
            sentences_per_source: 3,
            max_tokens: 96,
            min_coverage: 0.6,
            min_evidence: 0.45,
            design: Design::Span,
            reader_candidates: 6,
            judge_threshold: 0.0,
            none_threshold: 0.5,
            min_statement_coverage: 0.6,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Citation {
    pub n: usize,
    /// Portion marking of what the citation shows: the quote's portions, title and headings.
    pub marking: String,
    pub doc_id: String,
    pub chunk_id: u64,
    pub title: String,
    pub source: String,
    pub page: Option<u32>,
    /// Character offsets of `quote` in the document's extracted text.
    pub start: usize,
    pub end: usize,
    pub quote: String,
}

#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Usage {
    pub prompt_tokens: usize,
    pub completion_tokens: usize,
}

#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Timing {
    pub retrieve: f64,
    pub prefill: f64,
    pub generate: f64,
}

/// How the answer was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Strategy {
    /// The model's sentences, each verified against its citation.
    Generated,
    /// Nothing generated was supported: the best source sentence, verbatim.
    Extractive,
    /// The model copied the answer out of a source statement (span-first design).
    Span,
    /// Two named things compared by a value each one's source states.
    Compared,
    Abstained,
}

#[derive(Debug, Clone, Serialize)]
pub struct Answer {
    /// Banner of the answer: the roll-up of its citations' markings (UNCLASSIFIED when it cites
    /// nothing: an abstention says nothing about any document).
    pub marking: String,
    pub answer: String,
    pub citations: Vec<Citation>,
    pub abstained: bool,
    pub model: String,
    pub usage: Usage,
    pub timing_ms: Timing,
    pub strategy: Strategy,
    /// The query retrieval ran (the question, rewritten when it follows up on history).
    pub retrieval_query: String,
    /// Share of the generated sentences that their citations support (before dropping).
    pub supported_share: f32,
    /// The model's raw text, before verification. Never sent to clients: it may come from any
    /// source in the prompt, so it would need the roll-up of all of them, which the answer's
    /// banner (the roll-up of what it cites) does not promise. For `eval qa` diagnostics.
    #[serde(skip_serializing, default)]
    pub generated: String,
    /// What kind of answer the question expects.
    pub answer_type: AnswerType,
    /// How the answer was reached, step by step (for `eval qa` diagnostics; not sent to
    /// clients).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace: Option<Trace>,
}

/// The steps behind one answer: what was retrieved, which statements the model saw, what it
/// wrote, and every check's verdict.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Trace {
    pub entities: Vec<String>,
    /// Titles of the documents the question names.
    pub entity_docs: Vec<String>,
    /// Titles of the retrieved chunks, in order.
    pub retrieved: Vec<String>,
    /// The statements shown to the reader: `context: text (score)`.
    pub candidates: Vec<String>,
    pub read: Option<reader::Read>,
    /// IDF-weighted share of the question's terms in the chosen statement and its headings.
    pub statement_coverage: Option<f32>,
    pub verdict: Option<judge::Verdict>,
    /// Each check, in order: `name: outcome`.
    pub checks: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct AskRequest {
    pub question: String,
    /// Earlier turns, oldest first.
    pub history: Vec<ChatMessage>,
    pub model: Option<String>,
    pub k: Option<usize>,
    /// Whose question: retrieval sees only what they may see, so the model never reads anything
    /// else (no instruction inside a document can make it reveal what it was never given).
    pub viewer: Viewer,
    /// Only sources with a place in this area (a geofiltered question).
    pub area: Option<Area>,
    /// Keep the answer's [`Trace`] (evaluation diagnostics; never sent to clients).
    pub trace: bool,
}

impl AskRequest {
    pub fn new(question: impl Into<String>, viewer: Viewer) -> Self {
        AskRequest {
            question: question.into(),
            history: Vec::new(),
            model: None,
            k: None,
            viewer,
            area: None,
            trace: false,
        }
    }
}

/// A chat model slot: loaded, or why not.
pub enum Slot {
    Ready(ChatModel),
    Failed(String),
}

#[derive(Debug, Clone, Serialize)]
pub struct ModelStatus {
    pub id: String,
    pub ready: bool,
    pub error: Option<String>,
    pub context: Option<usize>,
    pub format: Option<String>,
}

pub struct Assistant {
    retriever: Arc<Retriever>,
    models: BTreeMap<String, Slot>,
    default_model: String,
    options: Options,
}

impl Assistant {
    pub fn new(
        retriever: Arc<Retriever>,
        models: BTreeMap<String, Slot>,
        default_model: String,
        options: Options,
    ) -> Self {
        Assistant {
            retriever,
            models,
            default_model,
            options,
        }
    }

    pub fn retriever(&self) -> &Arc<Retriever> {
        &self.retriever
    }

    pub fn options(&self) -> &Options {
        &self.options
    }

    pub fn options_mut(&mut self) -> &mut Options {
        &mut self.options
    }

    pub fn default_model(&self) -> &str {
        &self.default_model
    }

    pub fn models(&self) -> Vec<ModelStatus> {
        self.models
            .iter()
            .map(|(id, slot)| match slot {
                Slot::Ready(m) => ModelStatus {
                    id: id.clone(),
                    ready: true,
                    error: None,
                    context: Some(m.info().context),
                    format: Some(m.info().format.to_string()),
                },
                Slot::Failed(e) => ModelStatus {
                    id: id.clone(),
                    ready: false,
                    error: Some(e.clone()),
                    context: None,
                    format: None,
                },
            })
            .collect()
    }

    pub fn model(&self, id: Option<&str>) -> Result<&ChatModel> {
        let id = id.unwrap_or(&self.default_model);
        match self.models.get(id) {
            Some(Slot::Ready(m)) => Ok(m),
            Some(Slot::Failed(reason)) => Err(AssistError::ModelUnavailable {
                id: id.to_string(),
                reason: reason.clone(),
            }),
            None => Err(AssistError::UnknownModel(id.to_string())),
        }
    }
}

/// Loads each chat model onto its own worker; a model that fails to load is kept as
/// [`Slot::Failed`] with the reason, so the others keep serving.
/// `weights` overrides each model's pinned weight format (evaluations compare formats).
pub fn load_models(
    models_dir: &std::path::Path,
    ids: &[String],
    queue: usize,
    weights: Option<sextant_models::WeightFormat>,
) -> BTreeMap<String, Slot> {
    ids.iter()
        .map(|id| {
            let slot = match sextant_models::load_chat_engine(models_dir, id, weights) {
                Ok(engine) => Slot::Ready(ChatModel::spawn(engine, queue)),
                Err(e) => {
                    tracing::error!(model = %id, error = %e, "chat model failed to load");
                    Slot::Failed(e.to_string())
                }
            };
            (id.clone(), slot)
        })
        .collect()
}

const EXAMPLE_QUESTION: &str = "Sources:\n[1] Vardania > Economy: Exports: timber, wool, fish\n[2] Vardania > Government: Capital: Name: Kelmport Geographic coordinates: 12 30 N, 40 10 E\n\nQuestion: What is the capital of Vardania?\nAnswer in one short sentence using only the sources, and cite the source number like [1].";
const EXAMPLE_ANSWER: &str = "The capital of Vardania is Kelmport [2].";

const SYSTEM_PROMPT: &str =
    "You answer questions using only the numbered sources the user gives you. \
Answer in one short sentence and cite the source you used like [1]. \
Never use knowledge that is not in the sources. \
If the sources do not contain the answer, reply exactly: NOT IN SOURCES";

#[cfg(test)]
mod tests {
    use super::*;
    use sextant_types::{Portion, Portions};

    #[test]
    fn a_quote_carries_the_marking_of_the_portions_it_overlaps() {
        let portion = |start, end, marking: &str| Portion {
            start,
            end,
            marking: marking.into(),
        };
        let hit = Hit {
            doc_id: sextant_types::DocId::parse("0123456789abcdef").unwrap(),
            chunk_id: sextant_types::ChunkId(1),
            title: "Harbor".into(),
            source: "h.txt".into(),
            heading: vec![],
            text: "(U) Open. (S//NF) Closed.".into(),
            score: 1.0,
            page: None,
            start: 100,
            end: 125,
            marking: "SECRET//NOFORN".into(),
            portions: Portions {
                context: "UNCLASSIFIED".into(),
                spans: vec![
                    portion(100, 109, "UNCLASSIFIED"),
                    portion(110, 125, "SECRET//NOFORN"),
                ],
            },
            geo: Vec::new(),
            geometry: None,
            distance_km: None,
        };
        let check =
            |s, e, want: &str| assert_eq!(quote_marking(&hit, s, e).unwrap().banner(), want);
        check(100, 109, "UNCLASSIFIED");
        check(110, 125, "SECRET//NOFORN");
        check(105, 115, "SECRET//NOFORN");
        check(200, 210, "SECRET//NOFORN");
        assert_eq!(rollup([]).unwrap().banner(), "UNCLASSIFIED");
        assert!(matches!(rollup(["SECRT"]), Err(AssistError::Marking(_))));
    }
}
