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
    /// Corpus: JSON lines {"_id","title","text"}
    #[arg(long)]
    corpus: PathBuf,
    /// Queries: JSON lines {"_id","text"}
    #[arg(long)]
    queries: PathBuf,
    /// Gold answers: JSON lines {"_id","answers":[...]}; an empty list marks a question the
    /// corpus does not answer (the right response is to abstain).
    #[arg(long)]
    answers: PathBuf,
    /// Chat model id (default: the configured default model).
    #[arg(long)]
    model: Option<String>,
    /// Load the model with this weight format instead of its pinned one (native, q8_0, f32),
    /// to compare answer quality per format.
    #[arg(long)]
    weights: Option<String>,
    /// Score only the first N queries that have gold answers.
    #[arg(long)]
    limit: Option<usize>,
    /// Write each question's answer as JSON lines here.
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
}

pub fn qa(
    s: &Settings,
    args: QaArgs,
    chunking: ChunkConfig,
    viewer: sextant_store::Viewer,
) -> Result<i32> {
    let corpus: Vec<CorpusLine> = read_jsonl(&args.corpus)?;
    let queries: Vec<QueryLine> = read_jsonl(&args.queries)?;
    let gold: HashMap<String, Vec<String>> = read_jsonl::<AnswerLine>(&args.answers)?
        .into_iter()
        .map(|a| (a.id, a.answers))
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
    let indexed = index_corpus(s, &args.corpus, &corpus, chunking, true)?;
    let retriever = Arc::new(Retriever::new(
        indexed.store.clone(),
        Some(indexed.embedder),
    ));
    let model_id = args
        .model
        .clone()
        .unwrap_or_else(|| s.assist.default_model.clone());
    let weights = args.weights.as_deref().map(str::parse).transpose()?;
    let assistant = crate::assistant_with(s, retriever, &[model_id.clone()], weights)?;
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
    let mut m = Tally::default();
    for q in &judged {
        let answers = &gold[&q.id];
        let mut req = AskRequest::new(q.text.clone(), viewer.clone());
        req.model = Some(model_id.clone());
        let a = assistant
            .ask(&req, |_| true)
            .map_err(|e| anyhow::anyhow!("query {}: {e}", q.id))?;
        m.add(answers, &a);
        if let Some(w) = dump.as_mut() {
            use std::io::Write;
            writeln!(
                w,
                "{}",
                serde_json::json!({"_id": q.id, "question": q.text, "gold": answers, "answer": a})
            )?;
        }
    }
    let seconds = t.elapsed().as_secs_f64();
    let mut out = m.report(&model_id, seconds);
    out["weights"] = serde_json::json!(args.weights.unwrap_or_else(|| "pinned".into()));
    if args.json {
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        println!(
            "{} questions ({} answerable, {} unanswerable) with {model_id}, {:.1}s per question",
            m.n,
            m.answerable,
            m.n - m.answerable,
            seconds / m.n as f64
        );
        for key in [
            "exact_match",
            "token_f1",
            "answer_in_quote",
            "abstention_rate",
            "abstained_when_answerable",
            "abstained_when_unanswerable",
            "generated_share",
            "extractive_share",
        ] {
            println!("{key:<28} {:.4}", out[key].as_f64().unwrap_or(f64::NAN));
        }
    }
    Ok(0)
}

#[derive(Default)]
struct Tally {
    n: usize,
    answerable: usize,
    em: f64,
    f1: f64,
    in_quote: f64,
    abstained: usize,
    abstained_answerable: usize,
    abstained_unanswerable: usize,
    generated: usize,
    extractive: usize,
}

impl Tally {
    fn add(&mut self, gold: &[String], a: &sextant_assist::Answer) {
        self.n += 1;
        match a.strategy {
            Strategy::Generated => self.generated += 1,
            Strategy::Extractive => self.extractive += 1,
            Strategy::Abstained => {}
        }
        if a.abstained {
            self.abstained += 1;
        }
        if gold.is_empty() {
            if a.abstained {
                self.abstained_unanswerable += 1;
            }
            return;
        }
        self.answerable += 1;
        if a.abstained {
            self.abstained_answerable += 1;
            return;
        }
        self.em += exact_match(&a.answer, gold) as u8 as f64;
        self.f1 += token_f1(&a.answer, gold);
        self.in_quote += a.citations.iter().any(|c| contains_answer(&c.quote, gold)) as u8 as f64;
    }

    fn report(&self, model: &str, seconds: f64) -> serde_json::Value {
        let div = |a: f64, b: usize| if b == 0 { f64::NAN } else { a / b as f64 };
        let unanswerable = self.n - self.answerable;
        serde_json::json!({
            "model": model,
            "questions": self.n,
            "answerable": self.answerable,
            "unanswerable": unanswerable,
            "exact_match": div(self.em, self.answerable),
            "token_f1": div(self.f1, self.answerable),
            "answer_in_quote": div(self.in_quote, self.answerable),
            "abstention_rate": div(self.abstained as f64, self.n),
            "abstained_when_answerable": div(self.abstained_answerable as f64, self.answerable),
            "abstained_when_unanswerable": div(self.abstained_unanswerable as f64, unanswerable),
            "generated_share": div(self.generated as f64, self.n),
            "extractive_share": div(self.extractive as f64, self.n),
            "seconds_per_question": seconds / self.n as f64,
        })
    }
}
