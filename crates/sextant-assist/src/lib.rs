//! Cited answers over retrieved sources.
//!
//! One question goes: retrieve → [`evidence`] (sentences scored against the question) →
//! abstain early when the sources do not cover the question → prompt the chat model with
//! numbered sources → [`verify`] every generated sentence against the source it cites →
//! the verified answer, or the best extract verbatim when nothing generated survives, or an
//! abstention. Correctness rests on retrieval and verification, not on the model's size: a
//! small model can only phrase what the sources already say.

pub mod compare;
pub mod evidence;
pub mod geo;
pub mod judge;
pub mod qa_metrics;
pub mod question;
pub mod reader;
pub mod rewrite;
pub mod verify;
mod words;

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

/// The retrieved and scored material behind one question, shared by every model in a comparison.
pub struct Grounding {
    pub query: String,
    pub question: Question,
    pub hits: Vec<Hit>,
    pub ranked: Vec<Scored>,
    pub terms: QuestionTerms,
    pub coverage: f32,
    pub retrieve_ms: f64,
    /// Documents whose title the question names, with the name: the documents about what is
    /// asked.
    pub entity_docs: Vec<(String, DocId, String)>,
    /// For a comparison: each side's best statement of the compared value.
    pub sides: Vec<compare::Side>,
}

impl Grounding {
    pub fn best(&self) -> Option<&Scored> {
        self.ranked.first()
    }
}

/// One model's side of a comparison.
#[derive(Debug, Clone, Serialize)]
pub struct Contender {
    pub model: String,
    #[serde(flatten)]
    pub answer: Option<Answer>,
    pub error: Option<String>,
    pub latency_ms: f64,
    pub tokens_per_s: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    /// Roll-up of every answer's marking.
    pub marking: String,
    pub question: String,
    pub retrieval_query: String,
    pub retrieve_ms: f64,
    pub answers: Vec<Contender>,
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

    /// Retrieval and evidence scoring for a question (with its history), over what `viewer` may
    /// see: every search and every term statistic runs inside their scope.
    ///
    /// A question that names something with a document of its own ("the chief of state of
    /// France") also searches inside that document, and statements from other documents that
    /// do not mention the name rank lower: the document about it must win over a document
    /// that merely mentions it (Andorra's co-prince is France's president).
    pub fn ground(
        &self,
        question: &str,
        history: &[ChatMessage],
        k: Option<usize>,
        viewer: &Viewer,
        area: Option<&Area>,
    ) -> Result<Grounding> {
        if question.trim().is_empty() {
            return Err(AssistError::BadRequest("the question is empty".into()));
        }
        let _priority = sextant_models::priority::interactive();
        let t = Instant::now();
        let query = rewrite::standalone_query(question, history);
        let analysed = Question::analyse(&query);
        let k = k.unwrap_or(self.options.k).clamp(1, 50);
        let scope = self
            .retriever
            .store()
            .scope(viewer)
            .map_err(sextant_retrieve::RetrieveError::from)?;
        let entity_docs = self.entity_docs(&analysed.entities, &scope, area)?;
        let mut hits: Vec<Hit> = Vec::new();
        let add = |found: Vec<Hit>, hits: &mut Vec<Hit>| {
            for h in found {
                if !hits.iter().any(|x| x.chunk_id == h.chunk_id) {
                    hits.push(h);
                }
            }
        };
        let search = |q: &str, k: usize, mode: SearchMode, docs: Option<Vec<DocId>>| {
            self.retriever.search_in(
                &SearchRequest::new(q, k, mode)
                    .in_area(area.cloned())
                    .in_docs(docs),
                &scope,
            )
        };
        if !entity_docs.is_empty() {
            // Deeper inside the named documents: a long profile holds many fields, and the
            // one asked about may share no word with the question ("How many people live in
            // …" / "Population").
            let docs: Vec<DocId> = entity_docs.iter().map(|(_, d, _)| d.clone()).collect();
            add(
                search(&query, 2 * k, SearchMode::Hybrid, Some(docs.clone()))?,
                &mut hits,
            );
            add(search(&query, k, SearchMode::Bm25, Some(docs))?, &mut hits);
        }
        // Hybrid retrieval ranks documents well but can bury the one chunk that states a fact
        // (the "Capital" field of a long country profile); BM25's best chunks join the pool and
        // the sentence scoring below picks the evidence.
        add(search(&query, k, SearchMode::Hybrid, None)?, &mut hits);
        add(
            search(&query, k.div_ceil(2), SearchMode::Bm25, None)?,
            &mut hits,
        );
        // The named documents whole, when they are short enough to read through: a profile's
        // field ("Population: 23,415,126") may sit in a chunk that neither BM25 nor the
        // embedding ranks high for the question, but its statement, under its own heading,
        // scores well. Inside an area, only what lies there.
        if !entity_docs.is_empty() && area.is_none() {
            let docs: Vec<DocId> = entity_docs.iter().map(|(_, d, _)| d.clone()).collect();
            if let Some(all) = self
                .retriever
                .chunks_of_docs(&docs, &scope, WHOLE_DOC_CHUNKS)?
            {
                add(all, &mut hits);
            }
        }
        // A comparison: each side's value, from that side's own document.
        let mut sides = Vec::new();
        if let Some(c) = &analysed.comparison {
            for name in [&c.a, &c.b] {
                let docs = self.entity_docs(std::slice::from_ref(name), &scope, area)?;
                if docs.is_empty() {
                    continue;
                }
                let ids: Vec<DocId> = docs.iter().map(|(_, d, _)| d.clone()).collect();
                let found = search(&c.attribute, 6, SearchMode::Bm25, Some(ids))?;
                let side = compare::side(name, &c.attribute, &found);
                if let Some(v) = &side.value {
                    add(
                        found
                            .into_iter()
                            .filter(|h| h.chunk_id == v.chunk)
                            .collect(),
                        &mut hits,
                    );
                }
                sides.push(side);
            }
        }
        let text = self.retriever.store().text();
        let terms = QuestionTerms::new(&query, |w| {
            text.idf(w, scope.visible())
                .unwrap_or_else(|_| vec![1.0; w.len()])
        });
        let mut terms = terms;
        terms.wants_quantity |= analysed.answer_type == AnswerType::Number;
        terms.wants_date = analysed.answer_type == AnswerType::Date;
        let embed = |texts: &[String]| self.retriever.embedder().and_then(|e| e.embed(texts).ok());
        let mut ranked = evidence::rank(&terms, &query, &hits, Some(&embed));
        if !entity_docs.is_empty() {
            // Statements outside the named documents that do not mention the name either.
            let named: Vec<String> = entity_docs
                .iter()
                .map(|(e, _, _)| e.to_lowercase())
                .collect();
            for s in &mut ranked {
                let hit = &hits[s.sentence.hit];
                let inside = entity_docs.iter().any(|(_, d, _)| *d == hit.doc_id);
                let mentions = {
                    let t = s.sentence.text.to_lowercase();
                    named.iter().any(|n| t.contains(n.as_str()))
                };
                if !inside && !mentions {
                    s.score *= OTHER_ENTITY_WEIGHT;
                }
            }
            ranked.sort_by(|a, b| b.score.total_cmp(&a.score));
        }
        let coverage = evidence::chunk_coverage(&terms, &hits);
        Ok(Grounding {
            query,
            question: analysed,
            hits,
            ranked,
            terms,
            coverage,
            retrieve_ms: t.elapsed().as_secs_f64() * 1e3,
            entity_docs,
            sides,
        })
    }

    /// The documents the question's names are the titles of: `(name, doc, title)`. A name
    /// matches a title holding all its words ("Congo" matches "Congo, Republic of the"); when
    /// the question also gives a year and some matching titles hold it, only those stay (the
    /// 1862 address of Lincoln, not all four). At most three documents.
    fn entity_docs(
        &self,
        entities: &[String],
        scope: &sextant_store::Scope,
        area: Option<&Area>,
    ) -> Result<Vec<(String, DocId, String)>> {
        let years: Vec<&String> = entities
            .iter()
            .filter(|e| e.len() == 4 && e.chars().all(|c| c.is_ascii_digit()))
            .collect();
        let mut found: Vec<(String, DocId, String, usize)> = Vec::new();
        for name in entities.iter().filter(|e| !years.contains(e)) {
            let want = words::words(name);
            if want.is_empty() {
                continue;
            }
            // With the question's years, so that among a person's many documents the one of
            // that year is among the hits (titles weigh most: "1862-abraham-lincoln").
            let query = std::iter::once(name.as_str())
                .chain(years.iter().map(|y| y.as_str()))
                .collect::<Vec<_>>()
                .join(" ");
            let hits = self.retriever.search_in(
                &SearchRequest::new(query, 60, SearchMode::Bm25).in_area(area.cloned()),
                scope,
            )?;
            for h in hits {
                let title = words::words(&h.title);
                if !want.iter().all(|w| title.contains(w)) {
                    continue;
                }
                if found.iter().any(|(_, d, _, _)| *d == h.doc_id) {
                    continue;
                }
                let year_hits = years.iter().filter(|y| title.contains(*y)).count();
                // Shorter titles first among equals: "France" before "Saint Pierre and
                // Miquelon (France)".
                found.push((name.clone(), h.doc_id.clone(), h.title.clone(), year_hits));
            }
        }
        if let Some(best) = found.iter().map(|f| f.3).max() {
            found.retain(|f| f.3 == best);
        }
        found.sort_by_key(|(_, _, t, _)| t.len());
        // Per name, the titles closest to the name itself.
        let mut out: Vec<(String, DocId, String)> = Vec::new();
        for (name, doc, title, _) in found {
            let exact = title.eq_ignore_ascii_case(&name);
            let have_exact = out
                .iter()
                .any(|(n, _, t)| *n == name && t.eq_ignore_ascii_case(n));
            if have_exact && !exact {
                continue;
            }
            if out.len() < 3 {
                out.push((name, doc, title));
            }
        }
        Ok(out)
    }

    /// Whether the evidence is too weak to answer from at all.
    pub fn unsupported(&self, g: &Grounding) -> bool {
        match g.best() {
            None => true,
            Some(best) => {
                g.coverage < self.options.min_coverage || best.score < self.options.min_evidence
            }
        }
    }

    /// Answers a question. `on_text` gets the answer's text and its marking once it has passed
    /// every check (returning false cancels); the returned [`Answer`] is what to show.
    pub fn ask(&self, req: &AskRequest, on_text: impl FnMut(&str, &str) -> bool) -> Result<Answer> {
        Ok(self.ask_grounded(req, on_text)?.0)
    }

    /// Answers a question about an area: the answer, and its citations' places as map pins.
    pub fn ask_geo(
        &self,
        req: &AskRequest,
        on_text: impl FnMut(&str, &str) -> bool,
    ) -> Result<geo::GeoAnswer> {
        let (answer, g) = self.ask_grounded(req, on_text)?;
        let pins = geo::pins(&answer, &g.hits, req.area.as_ref())?;
        Ok(geo::GeoAnswer { answer, pins })
    }

    /// [`Assistant::ask`], keeping the grounding the answer was made from.
    fn ask_grounded(
        &self,
        req: &AskRequest,
        on_text: impl FnMut(&str, &str) -> bool,
    ) -> Result<(Answer, Grounding)> {
        let model = self.model(req.model.as_deref())?;
        let g = self.ground(
            &req.question,
            &req.history,
            req.k,
            &req.viewer,
            req.area.as_ref(),
        )?;
        let mut answer = self.answer(model, &req.question, &req.history, &g, on_text)?;
        if !req.trace {
            answer.trace = None;
        }
        Ok((answer, g))
    }

    /// Answers from an existing grounding with `model`. `on_text` receives the answer's text
    /// once it has passed every check — never a draft that could still be withdrawn.
    pub fn answer(
        &self,
        model: &ChatModel,
        question: &str,
        history: &[ChatMessage],
        g: &Grounding,
        mut on_text: impl FnMut(&str, &str) -> bool,
    ) -> Result<Answer> {
        let _priority = sextant_models::priority::interactive();
        let mut answer = Answer {
            marking: Marking::unclassified().banner(),
            answer: ABSTAIN_TEXT.to_string(),
            citations: Vec::new(),
            abstained: true,
            model: model.id().to_string(),
            usage: Usage::default(),
            timing_ms: Timing {
                retrieve: g.retrieve_ms,
                ..Default::default()
            },
            strategy: Strategy::Abstained,
            retrieval_query: g.query.clone(),
            supported_share: 0.0,
            generated: String::new(),
            answer_type: g.question.answer_type,
            trace: None,
        };
        let mut trace = Trace {
            entities: g.question.entities.clone(),
            entity_docs: g.entity_docs.iter().map(|(_, _, t)| t.clone()).collect(),
            retrieved: g.hits.iter().map(|h| h.title.clone()).collect(),
            ..Default::default()
        };
        if g.question.comparison.is_some() && self.options.design == Design::Span {
            let done = compare::answer(&g.question, &g.sides, &g.hits, &mut trace);
            if let Some(v) = done {
                answer.strategy = Strategy::Compared;
                self.fill(&mut answer, &v, g)?;
            }
        } else if self.unsupported(g) {
            trace.checks.push(format!(
                "evidence: too weak (coverage {:.2}, best {:.2})",
                g.coverage,
                g.best().map(|b| b.score).unwrap_or(0.0)
            ));
        } else {
            match self.options.design {
                Design::Span => self.answer_span(model, question, g, &mut answer, &mut trace)?,
                Design::Generate => {
                    self.answer_generated(model, question, history, g, &mut answer)?
                }
            }
        }
        answer.trace = Some(trace);
        on_text(&answer.answer, &answer.marking);
        Ok(answer)
    }

    /// The span-first design: the reader copies the answer out of the best statements; it
    /// stands only if it is of the type the question asks for, comes from a document about
    /// what the question names, and the judge finds that its statement says so.
    fn answer_span(
        &self,
        model: &ChatModel,
        question: &str,
        g: &Grounding,
        answer: &mut Answer,
        trace: &mut Trace,
    ) -> Result<()> {
        let candidates = self.candidates(g);
        trace.candidates = candidates
            .iter()
            .map(|c| {
                format!(
                    "{}: {} ({:.2})",
                    c.sentence.context, c.sentence.text, c.score
                )
            })
            .collect();
        let t = g.question.answer_type;
        let read = reader::read(model, question, t, &candidates, self.options.none_threshold)?;
        answer.usage = Usage {
            prompt_tokens: read.prompt_tokens,
            completion_tokens: read.completion_tokens,
        };
        answer.timing_ms.prefill = read.prefill_ms;
        answer.timing_ms.generate = read.generate_ms;
        answer.generated = if read.found() {
            read.span.clone()
        } else {
            reader::NO_ANSWER.to_string()
        };
        trace.read = Some(read.clone());
        let Some(i) = read.candidate else {
            trace.checks.push("reader: no answer".into());
            return Ok(());
        };

        if let Some(n) = model.info().reader_agreement {
            if i >= n {
                trace.checks.push(format!(
                    "reader: statement {} is outside the best {n} this model may answer from",
                    i + 1
                ));
                return Ok(());
            }
        }
        let chosen = candidates[i];
        let hit = &g.hits[chosen.sentence.hit];
        // The answer: the span for a factoid, the whole statement for a description; cited to
        // the statement it was copied from.
        let quote_start = chosen.sentence.start;
        let quote_end = chosen.sentence.end;
        let mut text = if t.is_factoid() {
            // The whole value the span belongs to ("4 February 1948", not "1948"), a whole
            // list when the question asks for several things.
            let st = &chosen.sentence.text;
            let char_start = read.start - chosen.sentence.start;
            let b0 = st
                .char_indices()
                .nth(char_start)
                .map_or(st.len(), |(b, _)| b);
            let b1 = (b0 + read.span.len()).min(st.len());
            let (mut a, mut b) = reader::value_around(st, b0, b1, 60);
            if g.question.plural {
                // A whole list, when the span is an item of one ("tea, coffee, fish").
                let (la, lb) = reader::value_around(st, b0, b1, 200);
                if reader::is_list(&st[la..lb]) {
                    (a, b) = (la, lb);
                }
            }
            st[a..b].to_string()
        } else {
            chosen.sentence.text.clone()
        };
        // The span's type, and what the value it grew into is: "1,000" is a number, but
        // "14.46 births/1,000 population" a rate. A value that grew past its type ("The
        // capital is Ulaanbaatar") is shown as the span itself.
        if t == question::AnswerType::Number && !g.question.asks_rate && question::is_rate(&text) {
            trace
                .checks
                .push(format!("type: {text:?} is a rate, not a count"));
            return Ok(());
        }
        if t.is_factoid() && !question::fits_question(&g.question, &text) {
            text = read.span.clone();
        }
        if t.is_factoid() && !question::fits_question(&g.question, &read.span) {
            trace
                .checks
                .push(format!("type: {:?} does not fit {:?}", read.span, t));
            return Ok(());
        }
        if t.is_factoid() && question::echoes(question, &read.span) {
            trace
                .checks
                .push(format!("type: {:?} only repeats the question", read.span));
            return Ok(());
        }
        // A year an estimate is dated by ("2.18% (2015 est.)") is no event's date.
        if t == question::AnswerType::Date {
            let text = chosen.sentence.text.to_lowercase();
            let span = read.span.trim().to_lowercase();
            if text.contains(&format!("{span} est")) || span.ends_with("est.)") {
                trace
                    .checks
                    .push(format!("type: {:?} dates an estimate", read.span));
                return Ok(());
            }
        }
        trace.checks.push("type: fits".into());
        // The statement must say what the question asks about, not just hold a value of the
        // right type: every distinctive term of the question (weighted by rarity) is in it or
        // its headings. Questions that look answerable but are not (another person, another
        // year, "last" for "first") fail here.
        let bag: std::collections::HashSet<String> = words::content_words(&format!(
            "{} {}",
            chosen.sentence.context, chosen.sentence.text
        ))
        .into_iter()
        .collect();
        let coverage = g.terms.coverage(&bag);
        trace.statement_coverage = Some(coverage);
        if !g.question.names_counted(&bag) {
            trace
                .checks
                .push("coverage: the statement does not name what is counted".into());
            return Ok(());
        }
        if coverage < self.options.min_statement_coverage {
            trace.checks.push(format!(
                "coverage: {coverage:.2} of the question in the statement"
            ));
            return Ok(());
        }
        // The document it comes from is about what the question names.
        if !g.entity_docs.is_empty() {
            let inside = g.entity_docs.iter().any(|(_, d, _)| *d == hit.doc_id);
            let text = chosen.sentence.text.to_lowercase();
            let mentions = g
                .entity_docs
                .iter()
                .any(|(e, _, _)| text.contains(&e.to_lowercase()));
            if !inside && !mentions {
                trace.checks.push(format!(
                    "entity: {:?} is not about {:?}",
                    hit.title, g.question.entities
                ));
                return Ok(());
            }
        }
        trace.checks.push("entity: ok".into());
        // Meaning: does the statement say this answers the question?
        if self.options.judge_threshold <= 0.0 {
            trace.checks.push("judge: off".into());
        }
        let verdict = if self.options.judge_threshold <= 0.0 {
            judge::Verdict {
                supported: true,
                reversal: None,
                p_yes: None,
            }
        } else {
            judge::answers(
                model,
                question,
                &read.span,
                &chosen.sentence.context,
                &chosen.sentence.text,
                self.options.judge_threshold,
            )?
        };
        trace.checks.push(format!(
            "judge: p(yes) {:.3} -> {}",
            verdict.p_yes.unwrap_or(0.0),
            if verdict.supported {
                "supported"
            } else {
                "rejected"
            }
        ));
        let supported = verdict.supported;
        trace.verdict = Some(verdict);
        if !supported {
            return Ok(());
        }
        let v = Verified {
            text: format!(
                "{} [1]",
                text.split_whitespace().collect::<Vec<_>>().join(" ")
            ),
            supports: vec![verify::Support {
                hit: chosen.sentence.hit,
                start: quote_start,
                end: quote_end,
                quote: chosen.sentence.text.clone(),
            }],
            claims: 1,
            supported: 1,
            invalid_markers: 0,
        };
        answer.strategy = Strategy::Span;
        answer.supported_share = 1.0;
        self.fill(answer, &v, g)
    }

    /// The statements the reader chooses from: the best ones, at most three per chunk.
    fn candidates<'g>(&self, g: &'g Grounding) -> Vec<&'g Scored> {
        let mut per_hit: std::collections::HashMap<usize, usize> = Default::default();
        let mut out = Vec::new();
        for s in &g.ranked {
            let n = per_hit.entry(s.sentence.hit).or_default();
            if *n >= 3 {
                continue;
            }
            *n += 1;
            out.push(s);
            if out.len() == self.options.reader_candidates {
                break;
            }
        }
        out
    }

    /// The generate-then-verify design.
    fn answer_generated(
        &self,
        model: &ChatModel,
        question: &str,
        history: &[ChatMessage],
        g: &Grounding,
        answer: &mut Answer,
    ) -> Result<()> {
        let (messages, sources) = self.prompt(model, question, history, g);
        let params = GenParams {
            max_tokens: self.options.max_tokens,
            stop: vec!["\n\n".into(), "Question:".into(), "Sources:".into()],
            ..Default::default()
        };
        let generation: Generation = model.chat(messages, params, |_| true)?;
        answer.usage = Usage {
            prompt_tokens: generation.prompt_tokens,
            completion_tokens: generation.completion_tokens,
        };
        answer.timing_ms.prefill = generation.prefill_ms;
        answer.timing_ms.generate = generation.generate_ms;
        answer.generated = generation.text.clone();

        let verified = verify::verify(
            &generation.text,
            &g.terms,
            self.options.min_coverage,
            &g.hits,
            &sources,
        );
        answer.supported_share = verified.supported_share();
        if verified.supported > 0 {
            answer.strategy = Strategy::Generated;
            self.fill(answer, &verified, g)?;
        } else if let Some(best) = g.best() {
            // Nothing the model said holds up (or it declined): give the best evidence verbatim.
            answer.strategy = Strategy::Extractive;
            let span = evidence::extract(&g.hits[best.sentence.hit], &best.sentence, EXTRACT_CHARS);
            let v = Verified {
                text: format!(
                    "{} [1]",
                    span.quote.split_whitespace().collect::<Vec<_>>().join(" ")
                ),
                supports: vec![verify::Support {
                    hit: best.sentence.hit,
                    start: span.start,
                    end: span.end,
                    quote: span.quote,
                }],
                ..Default::default()
            };
            self.fill(answer, &v, g)?;
        }
        Ok(())
    }

    fn fill(&self, answer: &mut Answer, v: &Verified, g: &Grounding) -> Result<()> {
        answer.abstained = false;
        answer.answer = v.text.clone();
        answer.citations = v
            .supports
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let hit = &g.hits[s.hit];
                Ok(Citation {
                    n: i + 1,
                    marking: quote_marking(hit, hit.start + s.start, hit.start + s.end)?.banner(),
                    doc_id: hit.doc_id.to_string(),
                    chunk_id: hit.chunk_id.0,
                    title: hit.title.clone(),
                    source: hit.source.clone(),
                    page: hit.page,
                    start: hit.start + s.start,
                    end: hit.start + s.end,
                    quote: s.quote.clone(),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        answer.marking = rollup(answer.citations.iter().map(|c| c.marking.as_str()))?.banner();
        Ok(())
    }

    /// The chat messages for `question` and the numbered sources they show: the chunks of the
    /// best sentences, each cut to its best sentences, within the model's context budget.
    fn prompt(
        &self,
        model: &ChatModel,
        question: &str,
        history: &[ChatMessage],
        g: &Grounding,
    ) -> (Vec<ChatMessage>, Vec<Source>) {
        let mut order: Vec<usize> = Vec::new();
        for s in &g.ranked {
            if !order.contains(&s.sentence.hit) {
                order.push(s.sentence.hit);
            }
            if order.len() == self.options.max_sources {
                break;
            }
        }
        let budget = model
            .info()
            .context
            .saturating_sub(self.options.max_tokens + 256);
        let prompter = model.prompter();
        let mut used = prompter.count_tokens(question) + 64;
        let mut listing = String::new();
        let mut sources = Vec::new();
        for hit in order {
            let mut best: Vec<&Scored> = g
                .ranked
                .iter()
                .filter(|s| s.sentence.hit == hit)
                .take(self.options.sentences_per_source)
                .collect();
            best.sort_by_key(|s| s.sentence.start);
            let base = evidence::context_of(&g.hits[hit]);
            let body: Vec<String> = best
                .iter()
                .map(|s| {
                    // The in-chunk heading ("Capital") tells the model what a bare value is.
                    let local = s.sentence.context.strip_prefix(base.as_str()).unwrap_or("");
                    let local = local.trim_start_matches(" > ");
                    if local.is_empty() {
                        s.sentence.text.clone()
                    } else {
                        format!("{local}: {}", s.sentence.text)
                    }
                })
                .collect();
            let entry = format!("[{}] {base}: {}\n", sources.len() + 1, body.join(" "));
            let cost = prompter.count_tokens(&entry);
            if used + cost > budget {
                break;
            }
            used += cost;
            listing.push_str(&entry);
            sources.push(Source { hit });
        }
        let mut messages = vec![
            ChatMessage::system(SYSTEM_PROMPT),
            // One worked example: small models copy the source listing without it.
            ChatMessage::user(EXAMPLE_QUESTION),
            ChatMessage::assistant(EXAMPLE_ANSWER),
        ];
        // The last exchange gives a follow-up its referents; older turns only cost context.
        let keep = history.len().saturating_sub(2);
        messages.extend(history[keep..].iter().cloned());
        messages.push(ChatMessage::user(format!(
            "Sources:\n{listing}\nQuestion: {question}\nAnswer in one short sentence using only the sources, and cite the source number like [1]."
        )));
        (messages, sources)
    }

    /// Several models answer the same question over one retrieval.
    pub fn compare(
        &self,
        question: &str,
        models: &[String],
        k: Option<usize>,
        viewer: &Viewer,
    ) -> Result<Comparison> {
        if models.is_empty() {
            return Err(AssistError::BadRequest("name at least one model".into()));
        }
        for m in models {
            if !self.models.contains_key(m) {
                return Err(AssistError::UnknownModel(m.clone()));
            }
        }
        let g = self.ground(question, &[], k, viewer, None)?;
        let mut answers = Vec::new();
        for id in models {
            let t = Instant::now();
            let r = self
                .model(Some(id))
                .and_then(|m| self.answer(m, question, &[], &g, |_, _| true))
                .map(|mut a| {
                    a.trace = None;
                    a
                });
            let latency_ms = t.elapsed().as_secs_f64() * 1e3 + g.retrieve_ms;
            answers.push(match r {
                Ok(a) => Contender {
                    model: id.clone(),
                    tokens_per_s: if a.timing_ms.generate > 0.0 {
                        a.usage.completion_tokens as f64 / (a.timing_ms.generate / 1e3)
                    } else {
                        0.0
                    },
                    answer: Some(a),
                    error: None,
                    latency_ms,
                },
                Err(e) => Contender {
                    model: id.clone(),
                    answer: None,
                    error: Some(e.to_string()),
                    latency_ms,
                    tokens_per_s: 0.0,
                },
            });
        }
        let marking = rollup(
            answers
                .iter()
                .filter_map(|c| c.answer.as_ref().map(|a| a.marking.as_str())),
        )?
        .banner();
        Ok(Comparison {
            marking,
            question: question.to_string(),
            retrieval_query: g.query.clone(),
            retrieve_ms: g.retrieve_ms,
            answers,
        })
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
