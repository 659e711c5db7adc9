//! `sextant eval tools`: a Berkeley Function Calling Leaderboard file through the same tool
//! prompt, grammar and threshold as `sextant act`, scored with BFCL's AST rules.

use anyhow::{Context, Result};
use clap::Args;
use sextant_act::bfcl::{self, Category};
use sextant_act::catalogue;
use sextant_act::tools::{self, Tool};
use sextant_config::Settings;
use sextant_models::Embedder;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

#[derive(Args, Debug)]
pub(crate) struct ToolsArgs {
    /// A BFCL question file (`BFCL_v4_simple_python.json`, …: `scripts/fetch-data.sh bfcl`).
    #[arg(long)]
    bfcl: PathBuf,
    /// Its possible answers [default: possible_answer/<same name> beside it].
    #[arg(long)]
    answers: Option<PathBuf>,
    /// Chat model id [default: the configured default model].
    #[arg(long)]
    model: Option<String>,
    /// Only the first N questions.
    #[arg(long)]
    limit: Option<usize>,
    /// Write one line per question: {"id","calls":[{"name","arguments"}]} (with the model's
    /// probability of calling, the calls it proposed before the relevance rule, their
    /// similarity to the request and the verdict, for sweeps).
    #[arg(long, value_name = "OUT.jsonl")]
    dump: Option<PathBuf>,
    /// Least probability of calling at all [default: the threshold `sextant act` uses].
    #[arg(long)]
    threshold: Option<f32>,
    /// Offer each question the K functions of the whole file most relevant to it (the act
    /// catalogue's ranking: shared words plus embedding similarity) instead of its own, and
    /// report how often its expected functions were among them.
    #[arg(long, value_name = "K")]
    pool: Option<usize>,
    /// Least embedding similarity between the request and a called function that shares no
    /// word with it [default: the floor `sextant act` uses; 0 keeps every call].
    #[arg(long)]
    relevance: Option<f32>,
    #[arg(long)]
    json: bool,
}

pub(crate) fn tools(s: &Settings, args: ToolsArgs) -> Result<i32> {
    let category = Category::from_file_name(&args.bfcl).with_context(|| {
        format!(
            "{}: not a BFCL category file name (BFCL_v4_<category>.json)",
            args.bfcl.display()
        )
    })?;
    let mut questions = bfcl::read_questions(&args.bfcl).map_err(anyhow::Error::msg)?;
    let embedder = sextant_models::load_default_embedder(&s.models_dir)?;
    let floor = args.relevance.unwrap_or(sextant_app::act::RELEVANCE_FLOOR);
    let pool = match args.pool {
        Some(k) => Some(Pool::new(&embedder, &questions, k)?),
        None => None,
    };
    if let Some(n) = args.limit {
        questions.truncate(n);
    }
    let answers: BTreeMap<String, bfcl::Expected> = if category.has_answers() {
        let path = args.answers.clone().unwrap_or_else(|| {
            let name = args.bfcl.file_name().unwrap_or_default();
            args.bfcl.with_file_name("possible_answer").join(name)
        });
        bfcl::read_answers(&path)
            .map_err(anyhow::Error::msg)?
            .into_iter()
            .map(|e| (e.id.clone(), e))
            .collect()
    } else {
        BTreeMap::new()
    };
    let id = args.model.unwrap_or_else(|| s.assist.default_model.clone());
    let engine = sextant_models::load_chat_engine(&s.models_dir, &id, None)?;
    let model = sextant_models::ChatModel::spawn(engine, 1);
    let threshold = args.threshold.unwrap_or(sextant_app::act::CALL_THRESHOLD);
    let mut dump = match &args.dump {
        Some(p) => Some(std::io::BufWriter::new(
            std::fs::File::create(p).with_context(|| format!("cannot write {}", p.display()))?,
        )),
        None => None,
    };
    let (mut correct, mut calls_n, mut valid_n, mut found) = (0usize, 0usize, 0usize, 0usize);
    let mut errors: BTreeMap<String, usize> = BTreeMap::new();
    let (mut ms, mut mask_ms, mut gen_ms, mut tokens) = (Vec::new(), 0.0f64, 0.0f64, 0usize);
    for (i, q) in questions.iter().enumerate() {
        let turns: Vec<&str> = q.turns.iter().map(String::as_str).collect();
        let t = Instant::now();
        let offered = match &pool {
            Some(pool) => {
                let offered = pool.offer(&q.turns.join("\n"))?;
                let expected = answers.get(&q.id).map(|e| {
                    e.ground_truth
                        .iter()
                        .flat_map(|call| call.keys().cloned())
                        .collect::<Vec<_>>()
                });
                if expected
                    .is_some_and(|names| names.iter().all(|n| offered.iter().any(|t| &t.name == n)))
                {
                    found += 1;
                }
                offered
            }
            None => q.tools.clone(),
        };
        let mut p = tools::propose(
            &model,
            &offered,
            tools::prompt(&offered, q.system.as_deref(), &turns),
            threshold,
        )?;
        // The act path's relevance floor: a call on a function far from the request is dropped.
        let said = q.turns.join("\n");
        let (request, asked) = (embedder.embed_one(&said)?, catalogue::words(&said));
        let mut relevance = Vec::new();
        let mut keep = true;
        for c in &p.calls {
            if let Some(t) = offered.iter().find(|t| t.name == c.name) {
                let sim = catalogue::cosine(&request, &embedder.embed_one(&tool_text(t))?);
                let about = format!("{} {}", t.name.replace(['.', '_'], " "), t.description);
                keep &= catalogue::relevant(&asked, &about, sim, floor);
                relevance.push(sim);
            }
        }
        // What the model proposed, kept in the dump for sweeps of the floor.
        let proposed = p.calls.clone();
        if !keep {
            p.calls.clear();
        }
        ms.push(t.elapsed().as_secs_f64() * 1e3);
        mask_ms += p.mask_ms;
        gen_ms += p.generate_ms;
        tokens += p.completion_tokens;
        for c in &p.calls {
            calls_n += 1;
            let schema = offered
                .iter()
                .find(|t| t.name == c.name)
                .map(|t| &t.parameters);
            if schema.is_some_and(|s| sextant_connect::call::check(s, &c.arguments).is_ok()) {
                valid_n += 1;
            }
        }
        let verdict = bfcl::score(category, q, &p.calls, answers.get(&q.id));
        if verdict.correct {
            correct += 1;
        } else if let Some(e) = &verdict.error {
            *errors.entry(e.clone()).or_default() += 1;
        }
        if let Some(w) = dump.as_mut() {
            writeln!(
                w,
                "{}",
                serde_json::json!({"id": q.id, "calls": p.calls, "proposed": proposed, "relevance": relevance,
                    "call_probability": p.call_probability, "correct": verdict.correct})
            )?;
        }
        if !args.json {
            eprintln!(
                "[{}/{}] {} {} ({:.1} s)",
                i + 1,
                questions.len(),
                q.id,
                if verdict.correct {
                    "ok"
                } else {
                    verdict.error.as_deref().unwrap_or("wrong")
                },
                ms.last().unwrap() / 1e3
            );
        }
    }
    if let Some(mut w) = dump {
        w.flush()?;
    }
    let n = questions.len();
    ms.sort_by(f64::total_cmp);
    let pct = |q: f64| {
        ms.get(((ms.len() as f64 - 1.0) * q).round() as usize)
            .copied()
            .unwrap_or(0.0)
    };
    let mut report = serde_json::json!({
        "category": category.name(), "model": id, "n": n,
        "accuracy": if n == 0 { 0.0 } else { correct as f64 / n as f64 },
        "schema_valid": if calls_n == 0 { 1.0 } else { valid_n as f64 / calls_n as f64 },
        "calls": calls_n, "errors": errors, "threshold": threshold, "relevance_floor": floor,
        "latency_ms": {"p50": pct(0.5), "p99": pct(0.99)},
        "mask_ms_per_token": if tokens == 0 { 0.0 } else { mask_ms / tokens as f64 },
        "decode_ms_per_token": if tokens == 0 { 0.0 } else { gen_ms / tokens as f64 },
    });
    if let Some(pool) = &pool {
        report["pool"] = serde_json::json!({
            "functions": pool.tools.len(), "offered": pool.k,
            "expected_offered": if n == 0 || !category.has_answers() { None } else { Some(found as f64 / n as f64) },
        });
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!(
            "{} {}: accuracy {:.1}% over {n}, schema-valid calls {:.1}% ({calls_n}), errors {}",
            category.name(),
            id,
            report["accuracy"].as_f64().unwrap() * 100.0,
            report["schema_valid"].as_f64().unwrap() * 100.0,
            report["errors"]
        );
    }
    Ok(0)
}

/// Every function of a file, with its embedding, to offer each question the most relevant.
struct Pool<'a> {
    tools: Vec<Tool>,
    texts: Vec<String>,
    vectors: Vec<Vec<f32>>,
    embedder: &'a Embedder,
    k: usize,
}

/// What a function is about, as embedded (like an operation in `act`): its name in words,
/// description and parameter names.
fn tool_text(t: &Tool) -> String {
    let params: Vec<&str> = t.parameters["properties"]
        .as_object()
        .map(|m| m.keys().map(String::as_str).collect())
        .unwrap_or_default();
    format!(
        "{} {} {}",
        t.name.replace(['.', '_'], " "),
        t.description,
        params.join(" ")
    )
}

impl<'a> Pool<'a> {
    fn new(embedder: &'a Embedder, questions: &[bfcl::Question], k: usize) -> Result<Pool<'a>> {
        let mut tools: Vec<Tool> = Vec::new();
        for t in questions.iter().flat_map(|q| &q.tools) {
            if !tools.iter().any(|x| x.name == t.name) {
                tools.push(t.clone());
            }
        }
        let texts: Vec<String> = tools.iter().map(tool_text).collect();
        let vectors = embedder.embed(&texts)?;
        Ok(Pool {
            tools,
            texts,
            vectors,
            embedder,
            k,
        })
    }

    /// The `k` functions most relevant to `request`.
    fn offer(&self, request: &str) -> Result<Vec<Tool>> {
        let asked = catalogue::words(request);
        let q = self.embedder.embed_one(request)?;
        let scores: Vec<f32> = (self.texts.iter().zip(&self.vectors))
            .map(|(t, v)| catalogue::score(&asked, t, catalogue::cosine(&q, v)))
            .collect();
        Ok(catalogue::top(&scores, self.k)
            .into_iter()
            .map(|i| self.tools[i].clone())
            .collect())
    }
}
