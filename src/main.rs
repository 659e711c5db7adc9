//! `sextant`: the command-line interface and server entry point. The only place (with the
//! server crate) that knows about clap, terminals, exit codes and the tracing subscriber.

mod eval;
mod qa;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use sextant_config::{FusionKind, Settings};
use sextant_ingest::{ChunkConfig, IngestOptions};
use sextant_models::{fetch, Manifest};
use sextant_retrieve::{Fusion, Retriever, SearchRequest};
use sextant_server::wire::{SearchResponse, WireHit};
use sextant_store::Store;
use sextant_types::{DocId, SearchMode};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Parser)]
#[command(
    name = "sextant",
    version,
    about = "Air-gapped retrieval assistant: ingest documents, search them, offline."
)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args)]
struct Global {
    /// Data directory [env: SEXTANT_DATA] [default: ./sextant-data]
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    /// Models directory [env: SEXTANT_MODELS] [default: ./models]
    #[arg(long, global = true)]
    models_dir: Option<PathBuf>,
    /// Settings file [env: SEXTANT_CONFIG] [default: ./config/sextant.toml if present]
    #[arg(long, global = true)]
    config: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Command {
    /// Fetch, verify and list the local models.
    Models {
        #[command(subcommand)]
        command: ModelsCommand,
    },
    /// Ingest files and directories (recursively): .txt .md .html .htm .pdf .docx
    Ingest {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Print the summary as JSON.
        #[arg(long)]
        json: bool,
        /// Commit the text only (BM25-searchable at once) and leave the embeddings to
        /// `sextant serve`, which computes them in the background, or to the next ingest.
        #[arg(long)]
        no_embed: bool,
    },
    /// Remove a document by id or by the path it was ingested from.
    Delete { target: String },
    /// Search the store.
    Search {
        query: String,
        #[arg(long, default_value_t = 10)]
        k: usize,
        #[arg(long, default_value = "hybrid")]
        mode: SearchMode,
        #[arg(long)]
        json: bool,
    },
    /// Answer a question from the documents, with verified citations (or an abstention).
    Ask {
        question: String,
        /// Chat model id (see `sextant models list`).
        #[arg(long)]
        model: Option<String>,
        /// Chunks to retrieve.
        #[arg(long)]
        k: Option<usize>,
        #[arg(long)]
        json: bool,
    },
    /// Answer one question with several models over the same retrieval, side by side.
    Compare {
        question: String,
        /// Comma-separated model ids.
        #[arg(long, value_delimiter = ',', required = true)]
        models: Vec<String>,
        #[arg(long)]
        k: Option<usize>,
        #[arg(long)]
        json: bool,
    },
    /// Counts of documents, chunks and vectors.
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Evaluations.
    Eval {
        #[command(subcommand)]
        command: EvalCommand,
    },
    /// Serve the HTTP API.
    Serve {
        /// Address to bind [env: SEXTANT_ADDR] [default: 127.0.0.1:8080]
        #[arg(long)]
        addr: Option<String>,
    },
}

#[derive(Subcommand)]
enum ModelsCommand {
    /// Download (through the cache), verify and install every model in the manifest.
    Fetch {
        /// Only these model ids.
        #[arg(long, value_delimiter = ',')]
        only: Vec<String>,
    },
    /// Show each model and whether it is installed and verified.
    List {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum EvalCommand {
    /// nDCG@10, Recall@100 and MRR@10 on a BEIR-format set, indexed into a temporary store.
    Retrieval(eval::RetrievalArgs),
    /// Exact match, token F1, answer-in-quote and abstention rates on a QA set.
    Qa(qa::QaArgs),
}

fn main() {
    let cli = Cli::parse();
    let serving = matches!(cli.command, Command::Serve { .. });
    let default_level = if serving { "info" } else { "warn" };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level)),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(cli) {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::exit(1);
        }
    }
}

fn settings(g: &Global) -> Result<Settings> {
    let mut s = Settings::load(g.config.as_deref())?;
    if let Some(d) = &g.data_dir {
        s.data_dir = d.clone();
    }
    if let Some(d) = &g.models_dir {
        s.models_dir = d.clone();
    }
    Ok(s)
}

fn fusion(s: &Settings) -> Fusion {
    match s.search.fusion {
        FusionKind::Rrf => Fusion::Rrf { k: s.search.rrf_k },
        FusionKind::Blend => Fusion::Blend {
            bm25_weight: s.search.blend_bm25_weight,
        },
    }
}

fn chunking(s: &Settings) -> ChunkConfig {
    ChunkConfig {
        min_chars: s.ingest.chunk_min_chars,
        target_chars: s.ingest.chunk_target_chars,
    }
}

fn load_embedder(s: &Settings) -> Result<sextant_models::Embedder> {
    sextant_models::load_default_embedder(&s.models_dir).context("cannot load the embedding model")
}

/// Opens (or creates) the store for writing, with the embedder it was built for.
fn open_for_writing(s: &Settings) -> Result<(Arc<Store>, sextant_models::Embedder)> {
    let embedder = load_embedder(s)?;
    let store = Store::open(&s.data_dir, embedder.model_id(), embedder.dim())
        .with_context(|| format!("cannot open data directory {}", s.data_dir.display()))?;
    store.reconcile().context("reconciling the vector index")?;
    Ok((Arc::new(store), embedder))
}

fn open_existing(s: &Settings) -> Result<Arc<Store>> {
    let store = Store::open_existing(&s.data_dir)
        .with_context(|| format!("cannot open data directory {}", s.data_dir.display()))?;
    Ok(Arc::new(store))
}

fn run(cli: Cli) -> Result<i32> {
    let s = settings(&cli.global)?;
    match cli.command {
        Command::Models { command } => models(&s, command),
        Command::Ingest {
            paths,
            json,
            no_embed,
        } => ingest(&s, &paths, json, no_embed),
        Command::Delete { target } => delete(&s, &target),
        Command::Search {
            query,
            k,
            mode,
            json,
        } => search(&s, &query, k, mode, json),
        Command::Status { json } => status(&s, json),
        Command::Ask {
            question,
            model,
            k,
            json,
        } => ask(&s, &question, model, k, json),
        Command::Compare {
            question,
            models,
            k,
            json,
        } => compare(&s, &question, &models, k, json),
        Command::Eval {
            command: EvalCommand::Qa(args),
        } => qa::qa(&s, args, chunking(&s)),
        Command::Eval {
            command: EvalCommand::Retrieval(args),
        } => eval::retrieval(&s, args, fusion(&s), chunking(&s)),
        Command::Serve { addr } => serve(&s, addr),
    }
}

fn models(s: &Settings, cmd: ModelsCommand) -> Result<i32> {
    let manifest = Manifest::builtin();
    match cmd {
        ModelsCommand::Fetch { only } => {
            let cache = fetch::default_cache_dir();
            for spec in &manifest.models {
                if !only.is_empty() && !only.contains(&spec.id) {
                    continue;
                }
                let t0 = Instant::now();
                let report = fetch::fetch_model(spec, &s.models_dir, &cache)
                    .with_context(|| format!("model {}", spec.id))?;
                for (file, what) in report {
                    let what = match what {
                        fetch::Fetched::AlreadyVerified => "already verified",
                        fetch::Fetched::Installed => "installed and verified",
                    };
                    println!("{:<30} {:<18} {what}", spec.id, file);
                }
                tracing::info!(model = %spec.id, seconds = t0.elapsed().as_secs_f64(), "model ready");
            }
            if let Some(bad) = only.iter().find(|id| manifest.get(id).is_none()) {
                bail!("no model {bad:?} in the manifest");
            }
            Ok(0)
        }
        ModelsCommand::List { json } => {
            let mut rows = Vec::new();
            for spec in &manifest.models {
                let states = fetch::model_state(spec, &s.models_dir)?;
                let status = if states
                    .iter()
                    .all(|(_, st)| *st == fetch::FileState::Verified)
                {
                    "verified"
                } else if states
                    .iter()
                    .any(|(_, st)| *st == fetch::FileState::Mismatch)
                {
                    "corrupt"
                } else {
                    "missing"
                };
                let packages: Vec<String> = spec
                    .sources
                    .iter()
                    .map(|p| {
                        format!(
                            "{}:{}@{}",
                            match p.registry {
                                sextant_models::manifest::Registry::Pypi => "pypi",
                                sextant_models::manifest::Registry::Npm => "npm",
                            },
                            p.package,
                            p.version
                        )
                    })
                    .collect();
                rows.push(serde_json::json!({
                    "id": spec.id,
                    "kind": match spec.kind { sextant_models::ModelKind::Embedding => "embedding", sextant_models::ModelKind::Chat => "chat" },
                    "status": status,
                    "license": spec.license,
                    "packages": packages,
                    "files": states.iter().map(|(n, st)| serde_json::json!({"name": n, "state": format!("{st:?}").to_lowercase()})).collect::<Vec<_>>(),
                }));
            }
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&serde_json::json!({ "models": rows }))?
                );
            } else {
                println!("{:<30} {:<10} {:<9} packages", "MODEL", "KIND", "STATUS");
                for r in &rows {
                    println!(
                        "{:<30} {:<10} {:<9} {}",
                        r["id"].as_str().unwrap_or(""),
                        r["kind"].as_str().unwrap_or(""),
                        r["status"].as_str().unwrap_or(""),
                        r["packages"]
                            .as_array()
                            .map(|a| a
                                .iter()
                                .filter_map(|v| v.as_str())
                                .collect::<Vec<_>>()
                                .join(" "))
                            .unwrap_or_default()
                    );
                }
                println!("models directory: {}", s.models_dir.display());
            }
            Ok(0)
        }
    }
}

fn ingest(s: &Settings, paths: &[PathBuf], json: bool, no_embed: bool) -> Result<i32> {
    let (store, embedder) = open_for_writing(s)?;
    let t0 = Instant::now();
    // Vectors catch up on their own thread while text is parsed and committed.
    let text_done = Arc::new(AtomicBool::new(false));
    // With --no-embed the catch-up loop is stopped from the start.
    let skip = Arc::new(AtomicBool::new(no_embed));
    let catchup =
        sextant_ingest::spawn_catch_up(store.clone(), embedder.clone(), text_done.clone(), skip);
    let bar = if std::io::stderr().is_terminal() && !json {
        let b = indicatif::ProgressBar::new(0);
        b.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} {wide_msg}",
            )
            .expect("valid template"),
        );
        Some(b)
    } else {
        None
    };
    let opts = IngestOptions {
        chunking: chunking(s),
        batch_docs: s.ingest.batch_docs,
        ..Default::default()
    };
    let report = sextant_ingest::ingest_files(&store, paths, opts, &mut |done, total, path| {
        if let Some(b) = &bar {
            b.set_length(total as u64);
            b.set_position(done as u64);
            b.set_message(
                path.file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            );
        }
    });
    let text_seconds = t0.elapsed().as_secs_f64();
    text_done.store(true, Ordering::SeqCst);
    if let Some(b) = &bar {
        b.set_message("embedding…");
    }
    let vectors = catchup
        .join()
        .map_err(|_| anyhow::anyhow!("the embedding thread panicked"))?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let report = report.context("ingest failed")?;
    let vectors = vectors
        .context("embedding failed (text is committed; rerun ingest to finish the vectors)")?;
    store
        .vectors()
        .checkpoint()
        .context("snapshotting the vector index")?;
    let status = store.status()?;
    let total_seconds = t0.elapsed().as_secs_f64();
    if json {
        let out = serde_json::json!({
            "files": report.files, "new": report.new, "replaced": report.replaced, "unchanged": report.unchanged,
            "chunks": report.chunks, "bytes": report.bytes, "vectors_added": vectors,
            "skipped": report.skipped.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
            "failed": report.failed.iter().map(|(p, e)| serde_json::json!({"path": p.display().to_string(), "error": e})).collect::<Vec<_>>(),
            "documents": report.outcomes.iter().map(|(p, o)| serde_json::json!({"path": p.display().to_string(), "doc_id": o.doc_id().to_string()})).collect::<Vec<_>>(),
            "text_seconds": text_seconds, "seconds": total_seconds,
            "store": {"documents": status.documents, "chunks": status.chunks, "vectors": status.vectors, "vectors_pending": status.vectors_pending},
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        for (p, e) in &report.failed {
            eprintln!("failed: {}: {e}", p.display());
        }
        let vectors_line = if status.vectors_complete() {
            format!("vectors complete after {total_seconds:.1}s")
        } else {
            format!(
                "{} chunks still need vectors (`sextant serve` computes them)",
                status.vectors_pending
            )
        };
        println!(
            "{} files: {} new, {} replaced, {} unchanged, {} skipped, {} failed; {} chunks, {} vectors added; searchable (BM25) after {:.1}s, {vectors_line}",
            report.files, report.new, report.replaced, report.unchanged, report.skipped.len(), report.failed.len(),
            report.chunks, vectors, text_seconds
        );
    }
    Ok(if report.failed.is_empty() { 0 } else { 2 })
}

fn delete(s: &Settings, target: &str) -> Result<i32> {
    let store = open_existing(s)?;
    let id = match DocId::parse(target) {
        Some(id) if store.document_meta(&id)?.is_some() => id,
        _ => {
            let p = Path::new(target);
            let abs = std::fs::canonicalize(p).or_else(|_| std::path::absolute(p))?;
            sextant_ingest::doc_id_for(&abs.to_string_lossy())
        }
    };
    if store.delete_document(&id)? {
        println!("deleted {id}");
        Ok(0)
    } else {
        eprintln!("error: no document {target:?} in {}", s.data_dir.display());
        Ok(1)
    }
}

fn search(s: &Settings, query: &str, k: usize, mode: SearchMode, json: bool) -> Result<i32> {
    let store = open_existing(s)?;
    let embedder = match mode {
        SearchMode::Bm25 => None,
        _ => Some(load_embedder(s)?),
    };
    let retriever = Retriever::new(store, embedder);
    let mut req = SearchRequest::new(query, k, mode);
    req.fusion = fusion(s);
    let hits = retriever.search(&req)?;
    if json {
        let resp = SearchResponse {
            hits: hits.into_iter().map(WireHit::from).collect(),
        };
        println!("{}", serde_json::to_string(&resp)?);
    } else if hits.is_empty() {
        println!("no results");
    } else {
        for (i, h) in hits.iter().enumerate() {
            let page = h.page.map(|p| format!(" p.{p}")).unwrap_or_default();
            println!(
                "{:>2}. {:.4}  {} [{}]{}  ({}:{}..{})",
                i + 1,
                h.score,
                h.title,
                h.doc_id,
                page,
                h.source,
                h.start,
                h.end
            );
            let snippet: String = h
                .text
                .chars()
                .take(240)
                .collect::<String>()
                .replace('\n', " ");
            println!("    {snippet}");
        }
    }
    Ok(0)
}

fn status(s: &Settings, json: bool) -> Result<i32> {
    let store = open_existing(s)?;
    let st = store.status()?;
    let m = store.manifest();
    if json {
        println!(
            "{}",
            serde_json::json!({
                "data_dir": s.data_dir.display().to_string(), "format_version": m.format_version,
                "embedding_model": m.embedding_model, "embedding_dim": m.embedding_dim,
                "documents": st.documents, "chunks": st.chunks, "vectors": st.vectors,
                "vectors_pending": st.vectors_pending, "vectors_complete": st.vectors_complete(),
            })
        );
    } else {
        println!(
            "data directory: {} (format {})",
            s.data_dir.display(),
            m.format_version
        );
        println!(
            "embedding model: {} ({} dims)",
            m.embedding_model, m.embedding_dim
        );
        println!(
            "documents: {}\nchunks: {}\nvectors: {}",
            st.documents, st.chunks, st.vectors
        );
        if st.vectors_complete() {
            println!("vectors: complete");
        } else {
            println!("vectors: INCOMPLETE, {} chunks waiting (BM25 finds them already; `sextant serve` or `sextant ingest` finishes them)", st.vectors_pending);
        }
    }
    Ok(0)
}

/// The assistant over `retriever`, with the chat models `ids` loaded (failures are kept and
/// reported per model).
fn assistant(
    s: &Settings,
    retriever: Arc<Retriever>,
    ids: &[String],
) -> Result<sextant_assist::Assistant> {
    assistant_with(s, retriever, ids, None)
}

fn assistant_with(
    s: &Settings,
    retriever: Arc<Retriever>,
    ids: &[String],
    weights: Option<sextant_models::WeightFormat>,
) -> Result<sextant_assist::Assistant> {
    let a = &s.assist;
    let options = sextant_assist::Options {
        k: a.k,
        max_sources: a.max_sources,
        max_tokens: a.max_tokens,
        min_coverage: a.min_coverage,
        min_evidence: a.min_evidence,
        ..Default::default()
    };
    let models = sextant_assist::load_models(&s.models_dir, ids, a.queue, weights);
    Ok(sextant_assist::Assistant::new(
        retriever,
        models,
        a.default_model.clone(),
        options,
    ))
}

fn print_answer(a: &sextant_assist::Answer) {
    println!("{}", a.answer);
    for c in &a.citations {
        let page = c.page.map(|p| format!(", page {p}")).unwrap_or_default();
        println!(
            "  [{}] {} ({}{page}, characters {}-{}): \"{}\"",
            c.n, c.title, c.source, c.start, c.end, c.quote
        );
    }
}

fn ask(
    s: &Settings,
    question: &str,
    model: Option<String>,
    k: Option<usize>,
    json: bool,
) -> Result<i32> {
    let store = open_existing(s)?;
    let retriever = Arc::new(Retriever::new(store, Some(load_embedder(s)?)));
    let id = model.unwrap_or_else(|| s.assist.default_model.clone());
    let assistant = assistant(s, retriever, std::slice::from_ref(&id))?;
    let mut req = sextant_assist::AskRequest::new(question);
    req.model = Some(id);
    req.k = k;
    let answer = assistant
        .ask(&req, |_| true)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    if json {
        println!("{}", serde_json::to_string_pretty(&answer)?);
    } else {
        print_answer(&answer);
    }
    Ok(0)
}

fn compare(
    s: &Settings,
    question: &str,
    models: &[String],
    k: Option<usize>,
    json: bool,
) -> Result<i32> {
    let store = open_existing(s)?;
    let retriever = Arc::new(Retriever::new(store, Some(load_embedder(s)?)));
    let assistant = assistant(s, retriever, models)?;
    let c = assistant
        .compare(question, models, k)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let failed: Vec<String> = c
        .answers
        .iter()
        .filter_map(|side| {
            side.error
                .as_ref()
                .map(|e| format!("model {}: {e}", side.model))
        })
        .collect();
    if json {
        println!("{}", serde_json::to_string_pretty(&c)?);
    } else {
        for side in &c.answers {
            println!(
                "== {} ({:.0} ms, {:.1} tokens/s)",
                side.model, side.latency_ms, side.tokens_per_s
            );
            match (&side.answer, &side.error) {
                (Some(a), _) => {
                    print_answer(a);
                    println!("  supported sentences: {:.0}%", 100.0 * a.supported_share);
                }
                (None, Some(e)) => println!("error: {e}"),
                _ => {}
            }
        }
    }
    for f in &failed {
        eprintln!("error: {f}");
    }
    Ok(if failed.is_empty() { 0 } else { 1 })
}

fn serve(s: &Settings, addr: Option<String>) -> Result<i32> {
    let addr = addr.unwrap_or_else(|| s.server.addr.clone());
    let (store, embedder) = open_for_writing(s)?;
    let retriever = Arc::new(Retriever::new(store, Some(embedder)));
    let assistant = Arc::new(assistant(s, retriever, &s.assist.models)?);
    let options = sextant_server::ServerOptions {
        request_timeout: Duration::from_secs(s.server.request_timeout_secs),
        max_upload_bytes: s.server.max_upload_bytes,
        max_json_bytes: s.server.max_json_bytes,
        default_k: s.search.default_k,
        fusion: fusion(s),
        chunking: chunking(s),
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&addr)
            .await
            .with_context(|| format!("cannot bind {addr}"))?;
        let local = listener.local_addr()?;
        tracing::info!(addr = %local, "listening");
        eprintln!("sextant listening on http://{local}");
        sextant_server::serve(listener, assistant, options).await?;
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(0)
}
