//! `sextant eval qa`: answers every query of a QA set over its corpus and scores the answers
//! (exact match, token F1, gold answer inside a cited quote, abstention).

use anyhow::{bail, Context, Result};
use clap::Args;
use serde::Deserialize;
use sextant_assist::qa_metrics::{contains_answer, exact_match, token_f1};
use sextant_assist::{AskRequest, Strategy};
use sextant_config::Settings;
use sextant_ingest::ChunkConfig;
use sextant_retrieve::Retriever;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use crate::eval::{index_corpus, read_jsonl, CorpusLine, QueryLine};

#[derive(Args)]
pub struct QaArgs {
    /// Corpus: JSON lines {"_id","title","text"}, indexed into a temporary store. Without it the
    /// questions run over the store in --data-dir (e.g. the demo), read-only.
    #[arg(long)]
    corpus: Option<PathBuf>,
    /// Queries: JSON lines {"_id","text"}
    #[arg(long)]
    queries: PathBuf,
    /// Gold answers: JSON lines {"_id","answers":[...]} with optional "docs" (the documents
    /// that hold the answer: corpus ids, or source names/titles of the store's documents) and
    /// "kind" (a label to break the figures down by). An empty answer list marks a question
    /// the corpus does not answer (the right response is to abstain).
    #[arg(long)]
    answers: PathBuf,
    /// Chat model id (default: the configured default model).
    #[arg(long)]
    model: Option<String>,
    /// Load the model with this weight format instead of its pinned one (native, q8_0, f32),
    /// to compare answer quality per format.
    #[arg(long)]
    weights: Option<String>,
    /// Answer design to run (span, generate), to compare them.
    #[arg(long)]
    design: Option<String>,
    /// Judge threshold override (least P(yes) for an answer to stand).
    #[arg(long)]
    judge_threshold: Option<f32>,
    /// Reader "NO ANSWER" threshold override (1 never declines: the dump then holds every
    /// question's p(no answer), to sweep the threshold offline).
    #[arg(long)]
    none_threshold: Option<f32>,
    /// Early-abstention coverage threshold override.
    #[arg(long)]
    min_coverage: Option<f32>,
    /// Statement-coverage threshold override (0 records every answer's coverage in the dump,
    /// to sweep the threshold offline).
    #[arg(long)]
    min_statement_coverage: Option<f32>,
    /// Score only the first N queries.
    #[arg(long)]
    limit: Option<usize>,
    /// Write each question's answer, with its diagnostics (retrieved, evidence shown to the
    /// model, the model's draft, every check's verdict), as JSON lines here.
    #[arg(long)]
    dump: Option<PathBuf>,
    #[arg(long)]
    json: bool,
}

#[derive(Deserialize)]
struct AnswerLine {
    #[serde(rename = "_id")]
    id: String,
    answers: Vec<String>,
    #[serde(default)]
    docs: Vec<String>,
    #[serde(default)]
    kind: Option<String>,
}

pub fn qa(
    s: &Settings,
    args: QaArgs,
    chunking: ChunkConfig,
    viewer: sextant_store::Viewer,
) -> Result<i32> {
    let queries: Vec<QueryLine> = read_jsonl(&args.queries)?;
    let gold: HashMap<String, AnswerLine> = read_jsonl::<AnswerLine>(&args.answers)?
        .into_iter()
        .map(|a| (a.id.clone(), a))
        .collect();
    let mut judged: Vec<&QueryLine> = queries
        .iter()
        .filter(|q| gold.contains_key(&q.id))
        .collect();
    if let Some(n) = args.limit {
        judged.truncate(n);
    }
    if judged.is_empty() {
        bail!(
            "no query in {} has an entry in {}",
            args.queries.display(),
            args.answers.display()
        );
    }
    // The documents, as the gold's "docs" name them: corpus ids, or the store's source names.
    let (store, embedder, _dir, beir_id) = match &args.corpus {
        Some(path) => {
            let corpus: Vec<CorpusLine> = read_jsonl(path)?;
            let indexed = index_corpus(s, path, &corpus, chunking, true)?;
            (
                indexed.store,
                indexed.embedder,
                Some(indexed._dir),
                indexed.beir_id,
            )
        }
        None => (
            crate::open_existing(s)?,
            crate::load_embedder(s)?,
            None,
            HashMap::new(),
        ),
    };
    let retriever = Arc::new(Retriever::new(store, Some(embedder)));
    let model_id = args
        .model
        .clone()
        .unwrap_or_else(|| s.assist.default_model.clone());
    let weights = args.weights.as_deref().map(str::parse).transpose()?;
    let mut assistant = crate::assistant_with(s, retriever, &[model_id.clone()], weights)?;
    if let Some(d) = &args.design {
        assistant.options_mut().design = d.parse().map_err(anyhow::Error::msg)?;
    }
    if let Some(t) = args.judge_threshold {
        assistant.options_mut().judge_threshold = t;
    }
    if let Some(t) = args.none_threshold {
        assistant.options_mut().none_threshold = t;
    }
    if let Some(t) = args.min_coverage {
        assistant.options_mut().min_coverage = t;
    }
    if let Some(t) = args.min_statement_coverage {
        assistant.options_mut().min_statement_coverage = t;
    }
    assistant
        .model(Some(&model_id))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut dump = match &args.dump {
        Some(p) => Some(std::io::BufWriter::new(
            std::fs::File::create(p).with_context(|| format!("cannot create {}", p.display()))?,
        )),
        None => None,
    };
    let t = Instant::now();
    let mut all = Tally::default();
    let mut kinds: std::collections::BTreeMap<String, Tally> = Default::default();
    let mut latencies = Vec::new();
    for q in &judged {
        let g = &gold[&q.id];
        let mut req = AskRequest::new(q.text.clone(), viewer.clone());
        req.model = Some(model_id.clone());
        req.trace = true;
        let t0 = Instant::now();
        let a = assistant
            .ask(&req, |_, _| true)
            .map_err(|e| anyhow::anyhow!("query {}: {e}", q.id))?;
        latencies.push(t0.elapsed().as_secs_f64());
        let cited_docs: Vec<String> = a
            .citations
            .iter()
            .map(|c| {
                sextant_types::DocId::parse(&c.doc_id)
                    .and_then(|d| beir_id.get(&d).cloned())
                    .unwrap_or_else(|| c.source.clone())
            })
            .collect();
        let titles: Vec<&str> = a.citations.iter().map(|c| c.title.as_str()).collect();
        let outcome = Outcome::of(&g.answers, &g.docs, &a, &cited_docs, &titles);
        all.add(&outcome, &a);
        if let Some(k) = &g.kind {
            kinds.entry(k.clone()).or_default().add(&outcome, &a);
        }
        if let Some(w) = dump.as_mut() {
            use std::io::Write;
            writeln!(
                w,
                "{}",
                serde_json::json!({"_id": q.id, "question": q.text, "kind": g.kind, "gold": g.answers,
                    "gold_docs": g.docs, "outcome": outcome, "answer": a})
            )?;
        }
    }
    let seconds = t.elapsed().as_secs_f64();
    latencies.sort_by(f64::total_cmp);
    let p50 = latencies[latencies.len() / 2];
    let mut out = all.report(&model_id, seconds);
    out["p50_seconds"] = serde_json::json!(p50);
    out["weights"] = serde_json::json!(args.weights.unwrap_or_else(|| "pinned".into()));
    out["design"] = serde_json::json!(assistant.options().design);
    out["kinds"] = serde_json::json!(kinds
        .iter()
        .map(|(k, t)| (k.clone(), t.report(&model_id, f64::NAN)))
        .collect::<serde_json::Map<_, _>>());
    if args.json {
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        println!(
            "{} questions ({} answerable, {} unanswerable) with {model_id}, {:.1}s per question, p50 {p50:.1}s",
            all.n,
            all.answerable,
            all.n - all.answerable,
            seconds / all.n as f64
        );
        for key in KEYS {
            println!("{key:<28} {:.4}", out[key].as_f64().unwrap_or(f64::NAN));
        }
        println!(
            "{:<26} {:>4} {:>8} {:>8} {:>8} {:>8}",
            "kind", "n", "correct", "in_quote", "abst_ans", "abst_un"
        );
        for (k, t) in &kinds {
            let r = t.report(&model_id, f64::NAN);
            let f = |key: &str| {
                r[key]
                    .as_f64()
                    .map(|v| format!("{v:.2}"))
                    .unwrap_or_else(|| "-".into())
            };
            println!(
                "{k:<26} {:>4} {:>8} {:>8} {:>8} {:>8}",
                t.n,
                f("correct"),
                f("answer_in_quote_right_doc"),
                f("abstained_when_answerable"),
                f("abstained_when_unanswerable")
            );
        }
    }
    Ok(0)
}

const KEYS: &[&str] = &[
    "correct",
    "answer_in_quote",
    "answer_in_quote_right_doc",
    "exact_match",
    "token_f1",
    "abstention_rate",
    "abstained_when_answerable",
    "abstained_when_unanswerable",
    "wrong_when_answered",
];

/// How one answer fared against its gold.
#[derive(Debug, Default, serde::Serialize)]
struct Outcome {
    answerable: bool,
    abstained: bool,
    /// A gold answer inside the answer text (a factoid), or inside a cited quote of the right
    /// document for an answer that is a statement.
    correct: bool,
    in_quote: bool,
    in_quote_right_doc: bool,
    right_doc: bool,
    em: bool,
    f1: f64,
}

impl Outcome {
    fn of(
        gold: &[String],
        docs: &[String],
        a: &sextant_assist::Answer,
        cited_docs: &[String],
        titles: &[&str],
    ) -> Outcome {
        let mut o = Outcome {
            answerable: !gold.is_empty(),
            abstained: a.abstained,
            ..Default::default()
        };
        if gold.is_empty() || a.abstained {
            return o;
        }
        let is_doc = |i: usize| {
            docs.is_empty()
                || docs.iter().any(|d| {
                    cited_docs[i] == *d
                        || cited_docs[i].ends_with(&format!("/{d}"))
                        || titles[i].eq_ignore_ascii_case(d)
                })
        };
        o.right_doc = (0..a.citations.len()).any(is_doc);
        o.in_quote = a.citations.iter().any(|c| contains_answer(&c.quote, gold));
        o.in_quote_right_doc = a
            .citations
            .iter()
            .enumerate()
            .any(|(i, c)| is_doc(i) && contains_answer(&c.quote, gold));
        let in_text = contains_answer(&a.answer, gold);
        o.correct = if a.answer_type.is_factoid() || a.strategy == Strategy::Compared {
            in_text && (o.right_doc || a.strategy == Strategy::Compared)
        } else {
            (in_text || o.in_quote_right_doc) && o.right_doc
        };
        o.em = exact_match(&a.answer, gold);
        o.f1 = token_f1(&a.answer, gold);
        o
    }
}

#[derive(Default)]
struct Tally {
    n: usize,
    answerable: usize,
    correct: usize,
    em: f64,
    f1: f64,
    in_quote: usize,
    in_quote_right_doc: usize,
    abstained: usize,
    abstained_answerable: usize,
    abstained_unanswerable: usize,
    /// Answered (not abstained) but not correct: the worst outcome, counted separately.
    wrong: usize,
    answered: usize,
    by_strategy: HashMap<&'static str, usize>,
}

impl Tally {
    fn add(&mut self, o: &Outcome, a: &sextant_assist::Answer) {
        self.n += 1;
        let name = match a.strategy {
            Strategy::Generated => "generated",
            Strategy::Extractive => "extractive",
            Strategy::Span => "span",
            Strategy::Compared => "compared",
            Strategy::Abstained => "abstained",
        };
        *self.by_strategy.entry(name).or_default() += 1;
        if o.abstained {
            self.abstained += 1;
        } else {
            self.answered += 1;
        }
        if !o.answerable {
            if o.abstained {
                self.abstained_unanswerable += 1;
            } else {
                self.wrong += 1;
            }
            return;
        }
        self.answerable += 1;
        if o.abstained {
            self.abstained_answerable += 1;
            return;
        }
        self.correct += o.correct as usize;
        self.wrong += !o.correct as usize;
        self.em += o.em as u8 as f64;
        self.f1 += o.f1;
        self.in_quote += o.in_quote as usize;
        self.in_quote_right_doc += o.in_quote_right_doc as usize;
    }

    fn report(&self, model: &str, seconds: f64) -> serde_json::Value {
        let div = |a: f64, b: usize| if b == 0 { f64::NAN } else { a / b as f64 };
        let unanswerable = self.n - self.answerable;
        serde_json::json!({
            "model": model,
            "questions": self.n,
            "answerable": self.answerable,
            "unanswerable": unanswerable,
            "correct": div(self.correct as f64, self.answerable),
            "exact_match": div(self.em, self.answerable),
            "token_f1": div(self.f1, self.answerable),
            "answer_in_quote": div(self.in_quote as f64, self.answerable),
            "answer_in_quote_right_doc": div(self.in_quote_right_doc as f64, self.answerable),
            "abstention_rate": div(self.abstained as f64, self.n),
            "abstained_when_answerable": div(self.abstained_answerable as f64, self.answerable),
            "abstained_when_unanswerable": div(self.abstained_unanswerable as f64, unanswerable),
            "wrong_when_answered": div(self.wrong as f64, self.answered),
            "strategies": self.by_strategy,
            "seconds_per_question": seconds / self.n as f64,
        })
    }
}
