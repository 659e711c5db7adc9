//! `sextant-bench`: prints throughput and latency figures for the embedder, ingest, queries and the
//! spatial index (against PostGIS).
//! `bench/run.sh` runs it in release mode next to the peers (sentence-transformers) so both are
//! measured in the same run on the same inputs.

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use rand::seq::{IndexedRandom, SliceRandom};
use rand::{Rng, SeedableRng};
use sextant_retrieve::{Retriever, SearchRequest};
use sextant_store::{Store, Viewer};
use sextant_types::{Chunk, ChunkId, DocId, Document, DocumentMeta, SearchMode};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

mod geo;

#[derive(Parser)]
struct Cli {
    #[arg(long, env = "SEXTANT_MODELS", default_value = "models")]
    models_dir: PathBuf,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// The Q8_0 matrix product of prompt processing: ours (register-tiled) against candle's
    /// `QMatMul` on the same quantised weights and tokens, on the chat models' layer shapes.
    Kernels {
        /// Tokens per product (prompt length).
        #[arg(long, value_delimiter = ',', default_value = "64,512")]
        tokens: Vec<usize>,
        #[arg(long, default_value_t = 5)]
        reps: usize,
    },
    /// Embedding throughput on chunks of exactly N word pieces; writes the texts for the peer.
    Embed {
        /// A directory of .txt files to cut chunks from.
        #[arg(long)]
        source: PathBuf,
        #[arg(long, default_value_t = 512)]
        n: usize,
        #[arg(long, value_delimiter = ',', default_value = "128,256")]
        tokens: Vec<usize>,
        /// Where to write texts-<tokens>.jsonl for the peer.
        #[arg(long)]
        out: PathBuf,
    },
    /// End-to-end ingest of directories into a fresh store.
    Ingest {
        #[arg(long)]
        data_dir: PathBuf,
        paths: Vec<PathBuf>,
    },
    /// Query latency per mode over a synthetic store of N chunks: real paragraphs (from a pool
    /// of 8,000), each with a random suffix; vectors are the paragraph's MiniLM embedding mixed
    /// with half of another's, plus Gaussian noise, so the index holds N distinct vectors
    /// shaped like real embeddings.
    Query {
        /// Directory of .md/.txt files whose paragraphs make up the synthetic chunks.
        #[arg(long)]
        source: PathBuf,
        #[arg(long, default_value_t = 100_000)]
        chunks: usize,
        #[arg(long, default_value_t = 200)]
        queries: usize,
        /// Keep the store here (reused when it already has the requested size).
        #[arg(long)]
        data_dir: PathBuf,
    },
    /// Answer latency (`ask`: retrieval, reading, checks) per question, on an idle machine and
    /// while the background embedder catches up on the same store (interactive work first):
    /// p50/p90 each, with the background embedding rate.
    Ask {
        /// A store with the documents (copied first: the background run adds vectors to it).
        #[arg(long)]
        data_dir: PathBuf,
        /// Questions, one per line.
        #[arg(long)]
        questions: PathBuf,
        #[arg(long)]
        model: String,
        /// Chunks to leave without vectors for the background embedder (the newest ones); 0:
        /// no run beside the embedder.
        #[arg(long, default_value_t = 4000)]
        pending: usize,
        /// Evidence budgets to compare: statements the reader chooses from (the prompt grows
        /// with them); the first also runs beside the embedder.
        #[arg(long, value_delimiter = ',', default_value = "6")]
        candidates: Vec<usize>,
    },
    /// Text-to-API latency against a connected system (bench/run.sh act starts pygeoapi):
    /// request to executed read-only call and to relayed answer, p50/p99, per model; grammar
    /// mask cost per token against the decode cost per token.
    Act {
        /// Directory of connector settings (`NAME.toml`).
        #[arg(long)]
        connectors: PathBuf,
        /// Requests, one per line.
        #[arg(long)]
        requests: PathBuf,
        #[arg(long)]
        model: String,
        /// Gazetteer data (`scripts/fetch-data.sh geo`), for places named in requests.
        #[arg(long)]
        geo_dir: PathBuf,
    },
    /// Chat model speed (prompt processing and generation tokens/s, time to first token, peak
    /// RSS) and a greedy answer check, for one model and weight format.
    Gen {
        #[arg(long)]
        model: String,
        /// native | q8_0 | f32 (default: the manifest's choice).
        #[arg(long)]
        format: Option<String>,
        #[arg(long, value_delimiter = ',', default_value = "512")]
        prompt_tokens: Vec<usize>,
        #[arg(long, default_value_t = 128)]
        gen_tokens: usize,
        #[arg(long, default_value_t = 1)]
        repeats: usize,
        /// Questions answered greedily (chat template) and printed, to judge quality per format.
        #[arg(long)]
        ask: Vec<String>,
    },
    /// Spatial index against PostGIS: p50/p99 per query kind (bbox, polygon, country-sized
    /// polygon, geodesic radius) on the same points, and an exact agreement check.
    Geo {
        #[arg(long, default_value_t = 1_000_000)]
        points: usize,
        /// Queries per kind (country-sized polygons: a quarter, at least 20).
        #[arg(long, default_value_t = 200)]
        queries: usize,
        /// libpq connection string of a PostGIS database; without it only our side runs.
        #[arg(long)]
        pg: Option<String>,
        /// GeoNames cities (JSON) to cluster points around
        /// (default: $SEXTANT_CACHE/data/geo/cities15000.json if present, else a built-in list).
        #[arg(long)]
        cities: Option<PathBuf>,
        /// Country polygons: world-atlas TopoJSON or a GeoJSON FeatureCollection; the ones with
        /// most corners are queried (default: $SEXTANT_CACHE/data/geo/countries-10m.json if present).
        #[arg(long)]
        countries: Option<PathBuf>,
        #[arg(long, default_value_t = 7)]
        seed: u64,
        /// Queries per kind also checked against a scan of every point.
        #[arg(long, default_value_t = 3)]
        verify: usize,
    },
}

fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).map(|l| {
                l.split_whitespace()
                    .nth(1)
                    .unwrap_or("0")
                    .parse::<f64>()
                    .unwrap_or(0.0)
            })
        })
        .unwrap_or(0.0)
        / 1024.0
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn read_dir_texts(dir: &Path) -> Result<Vec<String>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "txt" || e == "md"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|f| Ok(std::fs::read_to_string(f)?))
        .collect()
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.cmd {
        Cmd::Kernels { tokens, reps } => kernels(&tokens, reps),
        Cmd::Embed {
            source,
            n,
            tokens,
            out,
        } => embed(&cli.models_dir, &source, n, &tokens, &out),
        Cmd::Ingest { data_dir, paths } => ingest(&cli.models_dir, &data_dir, &paths),
        Cmd::Query {
            source,
            chunks,
            queries,
            data_dir,
        } => query(&cli.models_dir, &source, chunks, queries, &data_dir),
        Cmd::Ask {
            data_dir,
            questions,
            model,
            pending,
            candidates,
        } => ask_bench(
            &cli.models_dir,
            &data_dir,
            &questions,
            &model,
            pending,
            &candidates,
        ),
        Cmd::Act {
            connectors,
            requests,
            model,
            geo_dir,
        } => act_bench(&cli.models_dir, &connectors, &requests, &model, &geo_dir),
        Cmd::Gen {
            model,
            format,
            prompt_tokens,
            gen_tokens,
            repeats,
            ask,
        } => gen(
            &cli.models_dir,
            &model,
            format.as_deref(),
            &prompt_tokens,
            gen_tokens,
            repeats,
            &ask,
        ),
        Cmd::Geo {
            points,
            queries,
            pg,
            cities,
            countries,
            seed,
            verify,
        } => geo::run(&geo::GeoOpts {
            points,
            queries,
            pg,
            cities,
            countries,
            seed,
            verify,
        }),
    }
}

fn embed(models: &Path, source: &Path, n: usize, lengths: &[usize], out: &Path) -> Result<()> {
    let embedder = sextant_models::load_default_embedder(models)?;
    let mut tok = tokenizers::Tokenizer::from_file(models.join("all-minilm-l6-v2/tokenizer.json"))
        .map_err(anyhow::Error::msg)?;
    // The packaged tokenizer pads and truncates to 128; lengths must be measured raw.
    tok.with_padding(None);
    tok.with_truncation(None).map_err(anyhow::Error::msg)?;
    let words: Vec<String> = read_dir_texts(source)?
        .join(" ")
        .split_whitespace()
        .map(str::to_string)
        .collect();
    std::fs::create_dir_all(out)?;
    for &target in lengths {
        // Cut consecutive word runs whose encoding (with [CLS] and [SEP]) is exactly `target`
        // word pieces, or as close as a word boundary allows.
        let mut texts = Vec::with_capacity(n);
        let mut i = 0;
        while texts.len() < n && i < words.len() {
            let mut j = i + target / 2;
            loop {
                let text = words[i..j.min(words.len())].join(" ");
                let len = tok
                    .encode(text.as_str(), true)
                    .map_err(anyhow::Error::msg)?
                    .len();
                if len >= target || j >= words.len() {
                    texts.push(words[i..(j - 1).max(i + 1)].join(" "));
                    break;
                }
                j += 1;
            }
            i = j;
        }
        let file = out.join(format!("texts-{target}.jsonl"));
        std::fs::write(
            &file,
            texts
                .iter()
                .map(|t| serde_json::to_string(t).unwrap() + "\n")
                .collect::<String>(),
        )?;
        embedder.embed(&texts[..texts.len().min(32)])?; // warm-up
        let t0 = Instant::now();
        let v = embedder.embed(&texts)?;
        let secs = t0.elapsed().as_secs_f64();
        assert_eq!(v.len(), texts.len());
        println!(
            "{}",
            serde_json::json!({"bench": "embed", "impl": "sextant-candle", "tokens": target, "texts": texts.len(),
                "seconds": secs, "chunks_per_s": texts.len() as f64 / secs, "texts_file": file, "peak_rss_mb": peak_rss_mb()})
        );
    }
    Ok(())
}

/// Markings of the synthetic query-bench corpus, one per document in turn.
const MARKINGS: [&str; 3] = ["UNCLASSIFIED", "SECRET//NOFORN", "TOP SECRET//SI"];

fn ingest(models: &Path, data: &Path, paths: &[PathBuf]) -> Result<()> {
    let embedder = sextant_models::load_default_embedder(models)?;
    let store = Arc::new(Store::open(data, embedder.model_id(), embedder.dim())?);
    let t0 = Instant::now();
    let text_done = Arc::new(AtomicBool::new(false));
    let catchup = sextant_ingest::spawn_catch_up(
        store.clone(),
        embedder.clone(),
        text_done.clone(),
        Arc::new(AtomicBool::new(false)),
    );
    let report = sextant_ingest::ingest_files(
        &store,
        paths,
        &Default::default(),
        &Viewer::Unrestricted,
        &mut |_, _, _| {},
    )?;
    let text_s = t0.elapsed().as_secs_f64();
    text_done.store(true, Ordering::SeqCst);
    let vectors = catchup
        .join()
        .map_err(|_| anyhow::anyhow!("embedding thread panicked"))??;
    store.vectors().checkpoint()?;
    let total_s = t0.elapsed().as_secs_f64();
    let mb = report.bytes as f64 / 1e6;
    println!(
        "{}",
        serde_json::json!({"bench": "ingest", "files": report.files, "failed": report.failed.len(), "mb": mb, "chunks": report.chunks,
            "vectors": vectors, "bm25_searchable_s": text_s, "vectors_complete_s": total_s,
            "mb_per_s_text": mb / text_s, "mb_per_s_total": mb / total_s, "chunks_per_s_text": report.chunks as f64 / text_s,
            "chunks_per_s_embedded": vectors as f64 / total_s, "peak_rss_mb": peak_rss_mb()})
    );
    Ok(())
}

/// Distinct paragraphs the synthetic chunks of `query` are drawn from (each is embedded once).
const POOL: usize = 8_000;

fn query(
    models: &Path,
    source: &Path,
    n_chunks: usize,
    n_queries: usize,
    data: &Path,
) -> Result<()> {
    let embedder = sextant_models::load_default_embedder(models)?;
    let dim = embedder.dim();
    let store = Arc::new(Store::open(data, embedder.model_id(), dim)?);
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let texts = read_dir_texts(source)?;
    let paragraphs: Vec<&str> = texts
        .iter()
        .flat_map(|t| t.split("\n\n"))
        .map(str::trim)
        .filter(|p| p.len() > 40)
        .collect();
    // The pool the synthetic chunks are drawn from, and its embeddings.
    let pool: Vec<&str> = paragraphs
        .choose_multiple(&mut rng, POOL.min(paragraphs.len()))
        .copied()
        .collect();
    let have = store.status(&Viewer::Unrestricted)?;
    let t_build = Instant::now();
    let pool_vectors = if have.chunks < n_chunks || have.vectors < have.chunks {
        let texts: Vec<String> = pool.iter().map(|p| p.to_string()).collect();
        let mut vs = Vec::with_capacity(texts.len());
        for batch in texts.chunks(256) {
            vs.extend(embedder.embed(batch)?);
        }
        eprintln!(
            "query: {} pool paragraphs embedded in {:.0} s",
            vs.len(),
            t_build.elapsed().as_secs_f64()
        );
        vs
    } else {
        Vec::new()
    };
    let pool_index: std::collections::HashMap<&str, usize> =
        pool.iter().enumerate().map(|(i, p)| (*p, i)).collect();
    let have = have.chunks;
    if have < n_chunks {
        // Synthetic documents of 50 chunks, each chunk a real paragraph with a random suffix so
        // that the index holds n distinct texts.
        let mut next = have;
        while next < n_chunks {
            let mut batch = Vec::new();
            for d in 0..200 {
                let doc_id = DocId::from_digest(&(next as u64).to_le_bytes().repeat(2));
                // A mix of markings, so that filtered retrieval is measured on a realistic store.
                let marking = MARKINGS[(next / 50 + d) % MARKINGS.len()].to_string();
                let mut chunks = Vec::new();
                for o in 0..50 {
                    let p = pool[rng.random_range(0..pool.len())];
                    let text = format!("{p} (ref {})", rng.random::<u32>());
                    chunks.push(Chunk {
                        chunk_id: ChunkId(0),
                        doc_id: doc_id.clone(),
                        ordinal: o,
                        title: format!("Synthetic {next}"),
                        source: "bench".into(),
                        heading: vec![],
                        start: 0,
                        end: text.chars().count(),
                        text,
                        page: None,
                        marking: marking.clone(),
                        portions: Default::default(),
                        geo: Vec::new(),
                    });
                }
                let meta = DocumentMeta {
                    doc_id,
                    title: format!("Synthetic {next}"),
                    source: "bench".into(),
                    format: "text".into(),
                    content_hash: String::new(),
                    bytes: 0,
                    chunks: 50,
                    ingested_at: 0,
                    marking,
                    feed: None,
                    track: Vec::new(),
                    owner: None,
                };
                batch.push((
                    Document {
                        meta,
                        text: String::new(),
                    },
                    chunks,
                ));
                next += 50;
            }
            store.commit_documents(batch)?;
        }
    }
    if !pool_vectors.is_empty() {
        // Embedding 1M chunks takes hours on 2 cores: a chunk's vector is its paragraph's
        // embedding plus half of another pool paragraph's (drawn per chunk) plus Gaussian
        // noise of 0.02 per dimension, so the copies of one paragraph spread in different
        // directions instead of forming a tight cluster (cosine to the paragraph about 0.8).
        // Uniformly random unit vectors, used before, are HNSW's worst case and nothing like
        // embeddings (docs/vector-index.md: recall 0.17 at ef=128 on 100k of them).
        let mut noise = rand::rngs::StdRng::seed_from_u64(11);
        let pool_vectors = &pool_vectors;
        let mut mix = move |base: &[f32]| -> Vec<f32> {
            let other = &pool_vectors[noise.random_range(0..pool_vectors.len())];
            base.iter()
                .zip(other)
                .map(|(x, y)| {
                    // Box-Muller.
                    let (u1, u2) = (noise.random::<f32>().max(1e-12), noise.random::<f32>());
                    let g = (-2.0 * u1.ln()).sqrt() * (std::f32::consts::TAU * u2).cos();
                    x + 0.5 * y + 0.02 * g
                })
                .collect()
        };
        let mut pending = store.pending_chunks(10_000)?;
        while !pending.is_empty() {
            let items: Vec<(u64, Vec<f32>)> = pending
                .iter()
                .map(|c| {
                    let paragraph = c.text.rsplit_once(" (ref ").map_or(&c.text[..], |t| t.0);
                    let i = *pool_index
                        .get(paragraph)
                        .expect("a synthetic chunk's paragraph is in the pool");
                    (c.chunk_id.0, mix(&pool_vectors[i]))
                })
                .collect();
            store.add_vectors(&items)?;
            let done = store.vectors().len();
            if done % 100_000 < items.len() {
                eprintln!(
                    "query: {done} vectors after {:.0} s",
                    t_build.elapsed().as_secs_f64()
                );
            }
            pending = store.pending_chunks(10_000)?;
        }
        store.vectors().checkpoint()?;
    }
    let build_s = t_build.elapsed().as_secs_f64();
    let st = store.status(&Viewer::Unrestricted)?;
    // What calibration chose for unfiltered vector search: HNSW beam width, or exact scan.
    let settings = match store.vectors().search_settings() {
        (_, true) => "exact scan".to_string(),
        (ef, false) => format!("hnsw ef={ef}"),
    };
    // The query's own embedding, part of every dense and hybrid figure below.
    let mut embed_ms: Vec<f64> = paragraphs
        .iter()
        .take(110)
        .map(|p| {
            let q = p.split_whitespace().take(8).collect::<Vec<_>>().join(" ");
            let t = Instant::now();
            embedder
                .embed_one(&q)
                .map(|_| t.elapsed().as_secs_f64() * 1000.0)
        })
        .skip(10)
        .collect::<Result<_, _>>()?;
    embed_ms.sort_by(f64::total_cmp);
    println!(
        "{}",
        serde_json::json!({"bench": "query", "mode": "embed query", "queries": embed_ms.len(),
            "p50_ms": pct(&embed_ms, 0.5), "p99_ms": pct(&embed_ms, 0.99)})
    );
    let retriever = Retriever::new(store.clone(), Some(embedder));
    // An analyst cleared SECRET (no SCI, US) sees the UNCLASSIFIED and SECRET//NOFORN thirds.
    let analyst = Viewer::Cleared(sextant_access::Access::new(
        sextant_access::Level::Secret,
        Vec::<String>::new(),
        "USA",
    )?);
    let mut queries: Vec<String> = paragraphs
        .choose_multiple(&mut rng, n_queries)
        .map(|p| p.split_whitespace().take(8).collect::<Vec<_>>().join(" "))
        .collect();
    queries.shuffle(&mut rng);
    for (who, viewer) in [
        ("admin", &Viewer::Unrestricted),
        ("secret-analyst", &analyst),
    ] {
        for mode in SearchMode::ALL {
            for q in queries.iter().take(10) {
                retriever.search(&SearchRequest::new(q.clone(), 10, mode), viewer)?;
                // warm-up
            }
            let mut lat: Vec<f64> = Vec::with_capacity(queries.len());
            for q in &queries {
                let t = Instant::now();
                retriever.search(&SearchRequest::new(q.clone(), 10, mode), viewer)?;
                lat.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            lat.sort_by(f64::total_cmp);
            println!(
                "{}",
                serde_json::json!({"bench": "query", "viewer": who, "mode": mode.as_str(), "chunks": st.chunks, "vectors": st.vectors, "queries": lat.len(),
                    "p50_ms": pct(&lat, 0.5), "p99_ms": pct(&lat, 0.99), "build_s": build_s, "peak_rss_mb": peak_rss_mb(),
                    "vector_search": settings})
            );
        }
    }
    Ok(())
}

/// A fixed English text, tokenized and cut or repeated to exactly `n` tokens.
fn prompt_of(prompter: &sextant_models::generate::Prompter, n: usize) -> Result<Vec<u32>> {
    const TEXT: &str = "The Republic of Estonia is a country in Northern Europe. It is bordered to the north \
        by the Gulf of Finland, to the west by the Baltic Sea, to the south by Latvia, and to the east by \
        Lake Peipus and Russia. The territory of Estonia consists of the mainland and more than two thousand \
        islands in the Baltic Sea, covering a total area of 45,335 square kilometres. Tallinn, the capital, \
        and Tartu are the two largest urban areas of the country. ";
    let ids = prompter.encode(TEXT)?;
    Ok(ids.iter().copied().cycle().take(n).collect())
}

fn gen(
    models: &Path,
    id: &str,
    format: Option<&str>,
    prompt_lengths: &[usize],
    gen_tokens: usize,
    repeats: usize,
    questions: &[String],
) -> Result<()> {
    use sextant_models::generate::{ChatMessage, GenParams};
    let format = format.map(str::parse).transpose()?;
    let rss_before = peak_rss_mb();
    let mut engine = sextant_models::load_chat_engine(models, id, format)?;
    let info = engine.info().clone();
    let rss_loaded = peak_rss_mb();
    for q in questions {
        let mut sink = |_: &str| true;
        let g = engine.chat(
            &[ChatMessage::user(q.clone())],
            &GenParams {
                max_tokens: 48,
                ..Default::default()
            },
            &mut sink,
        )?;
        println!(
            "{}",
            serde_json::json!({"model": id, "format": info.format, "question": q, "answer": g.text})
        );
    }
    for &n in prompt_lengths {
        let prompt = prompt_of(engine.prompter(), n)?;
        let (mut best_pp, mut best_tg, mut best_ttft) = (0f64, 0f64, f64::INFINITY);
        for _ in 0..repeats.max(1) {
            let t = Instant::now();
            // Time to first token: prefill plus one sampled token.
            let first = engine.generate_exactly(&prompt, 1)?;
            best_ttft = best_ttft.min(t.elapsed().as_secs_f64() * 1e3);
            best_pp = best_pp.max(n as f64 / (first.prefill_ms / 1e3));
            let g = engine.generate_exactly(&prompt, gen_tokens)?;
            // The first token comes out of the prefill; the rest are decode steps.
            best_tg =
                best_tg.max((g.completion_tokens.saturating_sub(1)) as f64 / (g.generate_ms / 1e3));
        }
        println!(
            "{}",
            serde_json::json!({
                "engine": "sextant", "model": id, "format": info.format, "types": info.tensor_types,
                "threads": candle_core_threads(), "prompt_tokens": n, "gen_tokens": gen_tokens,
                "prefill_tok_s": best_pp, "ttft_ms": best_ttft, "gen_tok_s": best_tg,
                "load_ms": info.load_ms, "rss_loaded_mb": rss_loaded, "rss_before_mb": rss_before,
                "peak_rss_mb": peak_rss_mb(),
            })
        );
    }
    Ok(())
}

fn candle_core_threads() -> usize {
    std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// See [`Cmd::Ask`].
fn ask_bench(
    models_dir: &Path,
    data_dir: &Path,
    questions: &Path,
    model: &str,
    pending: usize,
    candidates: &[usize],
) -> Result<()> {
    // One question per line, optionally a tab and the gold answer; '#' starts a comment.
    let qs: Vec<(String, Option<String>)> = std::fs::read_to_string(questions)
        .with_context(|| format!("cannot read {}", questions.display()))?
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| match l.split_once('\t') {
            Some((q, g)) => (q.trim().to_string(), Some(g.trim().to_string())),
            None => (l.to_string(), None),
        })
        .collect();
    // Work on a copy: the background phase writes vectors.
    let tmp = tempfile::tempdir()?;
    let copy = tmp.path().join("store");
    copy_dir(data_dir, &copy)?;
    let store = Arc::new(Store::open_existing(&copy)?);
    // Leave the newest `pending` chunks without vectors.
    let mut keys = store.vectors().keys();
    keys.sort_unstable();
    let drop: Vec<u64> = keys.iter().rev().take(pending).copied().collect();
    store.vectors().remove(&drop)?;
    let embedder = sextant_models::load_default_embedder(models_dir)?;
    let retriever = Arc::new(Retriever::new(store.clone(), Some(embedder.clone())));
    let models = sextant_assist::load_models(models_dir, &[model.to_string()], 8, None);
    let pct = |t: &[f64], p: f64| t[((t.len() as f64 - 1.0) * p).round() as usize];
    let budgets = if candidates.is_empty() {
        vec![sextant_assist::Options::default().reader_candidates]
    } else {
        candidates.to_vec()
    };
    let mut assistant = sextant_assist::Assistant::new(
        retriever,
        models,
        model.to_string(),
        sextant_assist::Options::default(),
    );
    for (i, &n) in budgets.iter().enumerate() {
        assistant.options_mut().reader_candidates = n;
        let assistant = &assistant;
        // Latencies (sorted), mean prompt tokens, and answers right / abstained / wrong.
        let run = |label: &str| -> Result<(Vec<f64>, f64, [usize; 3])> {
            let (mut t, mut tokens, mut tally) = (Vec::new(), 0usize, [0usize; 3]);
            for (q, gold) in &qs {
                let start = Instant::now();
                let mut req = sextant_assist::AskRequest::new(q.clone(), Viewer::Unrestricted);
                req.model = Some(model.to_string());
                let a = assistant
                    .ask(&req, |_, _| true)
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                let s = start.elapsed().as_secs_f64();
                let verdict = match gold {
                    _ if a.abstained => 1,
                    Some(g) if a.answer.to_lowercase().contains(&g.to_lowercase()) => 0,
                    Some(_) => 2,
                    None => 0,
                };
                tally[verdict] += 1;
                tokens += a.usage.prompt_tokens;
                eprintln!("{label} {s:6.2}s {q} -> {}", a.answer);
                t.push(s);
            }
            t.sort_by(f64::total_cmp);
            Ok((t, tokens as f64 / qs.len().max(1) as f64, tally))
        };
        if i == 0 {
            // Warm-up (model pages, caches).
            let _ = run("warmup")?;
        }
        let (idle, tokens, tally) = run(&format!("idle c={n}"))?;
        let mut out = serde_json::json!({
            "bench": "ask", "model": model, "questions": qs.len(), "reader_candidates": n,
            "mean_prompt_tokens": tokens,
            "idle_p50_s": pct(&idle, 0.5), "idle_p90_s": pct(&idle, 0.9), "idle_p99_s": pct(&idle, 0.99),
            "right": tally[0], "abstained": tally[1], "wrong": tally[2],
        });
        if i == 0 && pending > 0 {
            let stop = Arc::new(AtomicBool::new(false));
            let bg = {
                let (store, embedder, stop) = (store.clone(), embedder.clone(), stop.clone());
                std::thread::spawn(move || {
                    let t = Instant::now();
                    let n = sextant_ingest::embed_pending(&store, &embedder, &stop).unwrap_or(0);
                    (n, t.elapsed().as_secs_f64())
                })
            };
            let (busy, _, _) = run("busy")?;
            stop.store(true, Ordering::SeqCst);
            let (embedded, secs) = bg
                .join()
                .map_err(|_| anyhow::anyhow!("embedder panicked"))?;
            out["busy_p50_s"] = pct(&busy, 0.5).into();
            out["busy_p90_s"] = pct(&busy, 0.9).into();
            out["background_chunks_embedded"] = embedded.into();
            out["background_seconds"] = secs.into();
        }
        println!("{out}");
    }
    Ok(())
}

/// `sextant act` as the server runs it (gazetteer for places, embeddings for the catalogue).
fn act_bench(
    models_dir: &Path,
    connectors: &Path,
    requests: &Path,
    model: &str,
    geo_dir: &Path,
) -> Result<()> {
    let reqs: Vec<String> = std::fs::read_to_string(requests)
        .with_context(|| format!("cannot read {}", requests.display()))?
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect();
    let (loaded, errors) = sextant_connect::load_dir(connectors);
    if let Some(e) = errors.first() {
        anyhow::bail!("{e}");
    }
    let tmp = tempfile::tempdir()?;
    let store = Arc::new(Store::open(&tmp.path().join("store"), "none", 1)?);
    let embedder = sextant_models::load_default_embedder(models_dir)?;
    let retriever = Arc::new(Retriever::new(store, Some(embedder)));
    let models = sextant_assist::load_models(models_dir, &[model.to_string()], 8, None);
    let assistant = Arc::new(sextant_assist::Assistant::new(
        retriever,
        models,
        model.to_string(),
        sextant_assist::Options::default(),
    ));
    let connect = sextant_app::act::Connect::new(
        loaded,
        sextant_connect::record::CallStore::open(&tmp.path().join("calls"))?,
    );
    let geo = sextant_geodata::GeoData::load(geo_dir)
        .map_err(|e| anyhow::anyhow!("{}: {e}", geo_dir.display()))?;
    let app = sextant_app::App::new(
        assistant,
        Arc::new(sextant_audit::AuditLog::disabled()),
        sextant_app::AppOptions {
            geo: Some(Arc::new(geo)),
            ..Default::default()
        },
    )
    .with_connect(Arc::new(connect));
    let session = sextant_app::Session::administrator("bench", "bench");
    let (mut to_call, mut to_answer) = (Vec::new(), Vec::new());
    let (mut mask, mut gen, mut tokens, mut executed) = (0.0, 0.0, 0usize, 0usize);
    for (i, r) in reqs.iter().enumerate() {
        let t = Instant::now();
        let a = app
            .act(
                &session,
                &sextant_app::act::ActInput {
                    request: r.clone(),
                    connectors: Vec::new(),
                    model: Some(model.to_string()),
                },
            )
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let total = t.elapsed().as_secs_f64() * 1e3;
        let tm = a.timings.clone().unwrap_or_default();
        eprintln!(
            "{:>6.0} ms {} {} -> {}",
            total,
            a.status,
            r,
            a.calls
                .iter()
                .map(|c| format!("{} {}", c.method, c.url))
                .collect::<Vec<_>>()
                .join(", ")
        );
        // The first request loads the grammar engine's vocabulary: measured, not counted.
        if i == 0 && reqs.len() > 1 {
            continue;
        }
        if a.status == "executed" {
            executed += 1;
            to_call.push(tm.prefill_ms + tm.generate_ms + tm.calls_ms);
            to_answer.push(total);
        }
        mask += tm.mask_ms;
        gen += tm.generate_ms;
        tokens += tm.completion_tokens;
    }
    to_call.sort_by(f64::total_cmp);
    to_answer.sort_by(f64::total_cmp);
    let pct = |t: &[f64], p: f64| {
        t.get(((t.len().max(1) - 1) as f64 * p).round() as usize)
            .copied()
            .unwrap_or(f64::NAN)
    };
    let per_token = |x: f64| {
        if tokens == 0 {
            f64::NAN
        } else {
            x / tokens as f64
        }
    };
    println!(
        "{}",
        serde_json::json!({
            "bench": "act", "model": model, "requests": reqs.len(), "executed": executed,
            "to_call_p50_ms": pct(&to_call, 0.5), "to_call_p99_ms": pct(&to_call, 0.99),
            "to_answer_p50_ms": pct(&to_answer, 0.5), "to_answer_p99_ms": pct(&to_answer, 0.99),
            "mask_ms_per_token": per_token(mask), "decode_ms_per_token": per_token(gen - mask),
            "mask_share_of_decode": if gen > mask { mask / (gen - mask) } else { f64::NAN },
        })
    );
    Ok(())
}

fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to)?;
    for e in std::fs::read_dir(from)? {
        let e = e?;
        let target = to.join(e.file_name());
        if e.file_type()?.is_dir() {
            copy_dir(&e.path(), &target)?;
        } else {
            std::fs::copy(e.path(), &target)?;
        }
    }
    Ok(())
}

/// Prints, per shape, GFLOP/s of our tiled Q8_0 product and of candle's on the same inputs
/// (best of `reps`), and their ratio.
fn kernels(tokens: &[usize], reps: usize) -> Result<()> {
    use candle_core::quantized::{GgmlDType, QMatMul, QTensor};
    use candle_core::{Device, Module, Tensor};
    use sextant_models::kernels::q8;
    // (model, layer, k = inputs, n = outputs, weight type): SmolLM2-135M (Q8_0 after
    // re-quantisation at load) and Qwen2.5-0.5B (Q5_0 as shipped; Q8_0 for comparison).
    let shapes = [
        ("smollm2", "attn q/o", 576, 576, GgmlDType::Q8_0),
        ("smollm2", "ffn gate/up", 576, 1536, GgmlDType::Q8_0),
        ("smollm2", "ffn down", 1536, 576, GgmlDType::Q8_0),
        ("qwen2.5-0.5b", "attn q/o", 896, 896, GgmlDType::Q8_0),
        ("qwen2.5-0.5b", "ffn gate/up", 896, 4864, GgmlDType::Q8_0),
        ("qwen2.5-0.5b", "attn q/o", 896, 896, GgmlDType::Q5_0),
        ("qwen2.5-0.5b", "ffn gate/up", 896, 4864, GgmlDType::Q5_0),
    ];
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    for &m in tokens {
        for &(model, layer, k, n, dtype) in &shapes {
            let w: Vec<f32> = (0..n * k).map(|_| rng.random_range(-1.0..1.0)).collect();
            let x: Vec<f32> = (0..m * k).map(|_| rng.random_range(-2.0..2.0)).collect();
            // Distinct copies of the weight, used in turn, so that (as in a forward pass over
            // many layers) the weights come from memory rather than the cache.
            let copies = (256 << 20) / (n * k) + 1;
            let wt = Tensor::from_vec(w, (n, k), &Device::Cpu)?;
            let qts = (0..copies)
                .map(|_| Ok(Arc::new(QTensor::quantize(&wt, dtype)?)))
                .collect::<Result<Vec<_>>>()?;
            let qms = qts
                .iter()
                .map(|q| Ok(QMatMul::from_arc(q.clone())?))
                .collect::<Result<Vec<_>>>()?;
            let xt = Tensor::from_vec(x.clone(), (m, k), &Device::Cpu)?;
            let bytes = qts
                .iter()
                .map(|q| q.data())
                .collect::<candle_core::Result<Vec<_>>>()?;
            let mut a = Vec::new();
            let mut out = vec![0f32; m * n];
            let mut turn = 0usize;
            let mut best = |f: &mut dyn FnMut(usize)| {
                f(0);
                (0..reps)
                    .map(|_| {
                        turn = (turn + 1) % copies;
                        let t = Instant::now();
                        f(turn);
                        t.elapsed().as_secs_f64()
                    })
                    .fold(f64::MAX, f64::min)
            };
            let ours = best(&mut |c| {
                q8::quantize_rows(&x, k, &mut a);
                let w = q8::Weights::new(dtype, &bytes[c]).expect("aligned blocks");
                q8::matmul(&a, w, m, n, k, &mut out);
            });
            let theirs = best(&mut |c| {
                qms[c].forward(&xt).expect("candle matmul");
            });
            let gflop = 2.0 * (m * n * k) as f64 / 1e9;
            println!(
                "{{\"bench\":\"quantized matmul\",\"weights\":\"{dtype:?}\",\"model\":\"{model}\",\"layer\":\"{layer}\",\"tokens\":{m},\"k\":{k},\"n\":{n},\"sextant_gflops\":{:.1},\"candle_gflops\":{:.1},\"ratio\":{:.2}}}",
                gflop / ours,
                gflop / theirs,
                theirs / ours
            );
        }
    }
    Ok(())
}
