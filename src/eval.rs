//! `sextant eval retrieval`: indexes a BEIR-format corpus into a temporary store and reports
//! nDCG@10, Recall@100 and MRR@10 per retrieval mode.

use anyhow::{bail, Context, Result};
use clap::Args;
use serde::Deserialize;
use sextant_config::Settings;
use sextant_ingest::{ChunkConfig, Format};
use sextant_retrieve::metrics::{mrr_at, ndcg_at, recall_at, Qrels};
use sextant_retrieve::{Fusion, Retriever, SearchRequest};
use sextant_store::Store;
use sextant_types::{DocId, SearchMode};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Instant;

#[derive(Args)]
pub struct RetrievalArgs {
    /// BEIR corpus: JSON lines {"_id","title","text"}, indexed into a temporary store.
    /// Without it the queries run over the store in --data-dir (e.g. the demo), read-only, and
    /// qrels name documents by the source they were ingested under (or its last part).
    #[arg(long)]
    corpus: Option<PathBuf>,
    /// BEIR queries: JSON lines {"_id","text"}
    #[arg(long)]
    queries: PathBuf,
    /// BEIR qrels: TSV with a header `query-id corpus-id score`
    #[arg(long)]
    qrels: PathBuf,
    /// bm25, dense, hybrid or all
    #[arg(long, default_value = "all")]
    mode: String,
    /// Also score hybrid with other fusions (RRF k=60 and score blends), to choose the default.
    #[arg(long)]
    fusion_sweep: bool,
    /// Embed only this share of the chunks (the oldest), as while vectors catch up after an
    /// ingest: hybrid must then rank no worse than BM25.
    #[arg(long, default_value_t = 1.0)]
    vectors: f64,
    #[arg(long)]
    json: bool,
}

#[derive(Deserialize)]
pub struct CorpusLine {
    #[serde(rename = "_id")]
    id: String,
    #[serde(default)]
    title: String,
    text: String,
}

#[derive(Deserialize)]
pub struct QueryLine {
    #[serde(rename = "_id")]
    pub id: String,
    pub text: String,
}

pub fn read_jsonl<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<Vec<T>> {
    let f = std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut out = Vec::new();
    for (i, line) in std::io::BufReader::new(f).lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        out.push(
            serde_json::from_str(&line)
                .with_context(|| format!("{}:{}: not a valid record", path.display(), i + 1))?,
        );
    }
    Ok(out)
}

fn read_qrels(path: &Path) -> Result<HashMap<String, Qrels>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default();
    if !header.starts_with("query-id") {
        bail!(
            "{}: expected a header line `query-id\\tcorpus-id\\tscore`",
            path.display()
        );
    }
    let mut out: HashMap<String, Qrels> = HashMap::new();
    for (i, line) in lines.enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let cols: Vec<&str> = line.split('\t').collect();
        if cols.len() < 3 {
            bail!(
                "{}:{}: expected 3 tab-separated columns",
                path.display(),
                i + 2
            );
        }
        let score: i64 = cols[2]
            .trim()
            .parse()
            .with_context(|| format!("{}:{}: bad score", path.display(), i + 2))?;
        out.entry(cols[0].to_string())
            .or_default()
            .insert(cols[1].to_string(), score.max(0) as u32);
    }
    Ok(out)
}

/// A BEIR corpus indexed into a temporary store.
pub struct Indexed {
    pub _dir: tempfile::TempDir,
    pub store: Arc<Store>,
    pub embedder: sextant_models::Embedder,
    pub beir_id: HashMap<DocId, String>,
    pub index_seconds: f64,
    pub embed_seconds: f64,
}

/// Indexes `corpus` (one document per record, committed in batches) into a temporary store,
/// with vectors when `embed`.
pub fn index_corpus(
    s: &Settings,
    path: &Path,
    corpus: &[CorpusLine],
    chunking: ChunkConfig,
    embed: bool,
) -> Result<Indexed> {
    index_corpus_part(s, path, corpus, chunking, if embed { 1.0 } else { 0.0 })
}

/// [`index_corpus`] with only the oldest `share` of the chunks embedded.
pub fn index_corpus_part(
    s: &Settings,
    path: &Path,
    corpus: &[CorpusLine],
    chunking: ChunkConfig,
    share: f64,
) -> Result<Indexed> {
    let embedder = sextant_models::load_default_embedder(&s.models_dir)
        .context("cannot load the embedding model")?;
    let dir = tempfile::tempdir()?;
    let store = Arc::new(Store::open(
        dir.path(),
        embedder.model_id(),
        embedder.dim(),
    )?);
    let t0 = Instant::now();
    let mut beir_id: HashMap<DocId, String> = HashMap::with_capacity(corpus.len());
    let mut batch = Vec::new();
    let mut seen = HashSet::new();
    for rec in corpus {
        if !seen.insert(rec.id.clone()) {
            bail!("{}: duplicate corpus id {:?}", path.display(), rec.id);
        }
        let origin = format!("beir:{}", rec.id);
        // Markdown (headings) is read as Markdown, so chunks carry their heading paths.
        let format = if rec.text.starts_with("# ") || rec.text.contains("\n## ") {
            Format::Markdown
        } else {
            Format::Text
        };
        let (mut doc, mut chunks) = match sextant_ingest::prepare(
            &origin,
            &rec.id,
            format,
            rec.text.as_bytes(),
            chunking,
            &sextant_ingest::MarkingPolicy::default(),
        ) {
            Ok(x) => x,
            Err(sextant_ingest::IngestError::Empty) => continue,
            Err(e) => return Err(e).with_context(|| format!("corpus record {}", rec.id)),
        };
        if !rec.title.trim().is_empty() {
            doc.meta.title = rec.title.clone();
            for c in &mut chunks {
                c.title = rec.title.clone();
            }
        }
        beir_id.insert(doc.meta.doc_id.clone(), rec.id.clone());
        batch.push((doc, chunks));
        if batch.len() >= 1024 {
            store.commit_documents(std::mem::take(&mut batch))?;
        }
    }
    store.commit_documents(batch)?;
    let index_seconds = t0.elapsed().as_secs_f64();
    let t1 = Instant::now();
    if share >= 1.0 {
        sextant_ingest::embed_pending(&store, &embedder, &AtomicBool::new(false))?;
    } else if share > 0.0 {
        let total = store.status(&sextant_store::Viewer::Unrestricted)?.chunks;
        let want = (total as f64 * share).round() as usize;
        let chunks = store.pending_chunks(want)?;
        let texts: Vec<String> = chunks
            .iter()
            .map(sextant_types::Chunk::embedding_text)
            .collect();
        let vectors = embedder.embed_background(&texts)?;
        let items: Vec<(u64, Vec<f32>)> =
            chunks.iter().map(|c| c.chunk_id.0).zip(vectors).collect();
        store.add_vectors(&items)?;
    }
    Ok(Indexed {
        _dir: dir,
        store,
        embedder,
        beir_id,
        index_seconds,
        embed_seconds: t1.elapsed().as_secs_f64(),
    })
}

pub fn retrieval(
    s: &Settings,
    args: RetrievalArgs,
    fusion: Fusion,
    chunking: ChunkConfig,
    viewer: sextant_store::Viewer,
) -> Result<i32> {
    let modes: Vec<SearchMode> = match args.mode.as_str() {
        "all" => SearchMode::ALL.to_vec(),
        m => vec![m.parse().map_err(anyhow::Error::msg)?],
    };
    let queries: Vec<QueryLine> = read_jsonl(&args.queries)?;
    let qrels = read_qrels(&args.qrels)?;
    let needs_dense = modes.iter().any(|m| *m != SearchMode::Bm25);
    let share = if needs_dense {
        args.vectors.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let (store, embedder, beir_id, index_seconds, embed_seconds, corpus_len, _dir) =
        match &args.corpus {
            Some(path) => {
                let corpus: Vec<CorpusLine> = read_jsonl(path)?;
                let indexed = index_corpus_part(s, path, &corpus, chunking, share)?;
                (
                    indexed.store,
                    indexed.embedder,
                    indexed.beir_id,
                    indexed.index_seconds,
                    indexed.embed_seconds,
                    corpus.len(),
                    Some(indexed._dir),
                )
            }
            None => {
                // The store's documents, named by their source (and its last part).
                let store = crate::open_existing(s)?;
                let mut names = HashMap::new();
                for m in store.text().documents()? {
                    names.insert(m.doc_id.clone(), m.source.clone());
                }
                let n = names.len();
                (store, crate::load_embedder(s)?, names, 0.0, 0.0, n, None)
            }
        };
    // A qrels name matches a document's whole source or its last path part.
    let matches = |name: &str, rel: &Qrels| -> Option<String> {
        if rel.contains_key(name) {
            return Some(name.to_string());
        }
        let last = name.rsplit('/').next().unwrap_or(name);
        rel.contains_key(last).then(|| last.to_string())
    };
    let status = store.status(&viewer)?;
    let retriever = Retriever::new(store.clone(), needs_dense.then_some(embedder));

    let mut runs: Vec<(String, SearchMode, Fusion)> =
        modes.iter().map(|m| (m.to_string(), *m, fusion)).collect();
    if args.fusion_sweep && modes.contains(&SearchMode::Hybrid) {
        for k in [10.0, 60.0] {
            runs.push((
                format!("hybrid_rrf_{k}"),
                SearchMode::Hybrid,
                Fusion::Rrf { k },
            ));
        }
        for w in [0.2, 0.3, 0.5, 0.7] {
            runs.push((
                format!("hybrid_blend_{w}"),
                SearchMode::Hybrid,
                Fusion::Blend { bm25_weight: w },
            ));
        }
    }
    let judged: Vec<&QueryLine> = queries
        .iter()
        .filter(|q| qrels.contains_key(&q.id))
        .collect();
    if judged.is_empty() {
        bail!(
            "no query in {} has relevance judgements in {}",
            args.queries.display(),
            args.qrels.display()
        );
    }
    let mut results: BTreeMap<String, serde_json::Value> = BTreeMap::new();
    for (name, mode, fusion) in &runs {
        let (mut ndcg, mut recall, mut mrr) = (0.0, 0.0, 0.0);
        let t = Instant::now();
        for q in &judged {
            let mut req = SearchRequest::new(q.text.clone(), 300, *mode);
            req.fusion = *fusion;
            let hits = retriever.search(&req, &viewer)?;
            // Chunk hits -> documents, best chunk first.
            let rel = &qrels[&q.id];
            let mut ranked: Vec<String> = Vec::new();
            let mut seen = HashSet::new();
            for h in hits {
                if let Some(id) = beir_id.get(&h.doc_id) {
                    let id = matches(id, rel).unwrap_or_else(|| id.clone());
                    if seen.insert(id.clone()) {
                        ranked.push(id);
                    }
                }
            }
            ndcg += ndcg_at(&ranked, rel, 10);
            recall += recall_at(&ranked, rel, 100);
            mrr += mrr_at(&ranked, rel, 10);
        }
        let n = judged.len() as f64;
        let ms_per_query = t.elapsed().as_secs_f64() * 1000.0 / n;
        results.insert(
            name.clone(),
            serde_json::json!({"ndcg@10": ndcg / n, "recall@100": recall / n, "mrr@10": mrr / n, "ms_per_query": ms_per_query}),
        );
    }
    if args.json {
        let out = serde_json::json!({
            "modes": results,
            "corpus": corpus_len, "queries": judged.len(), "chunks": status.chunks,
            "vectors": status.vectors,
            "index_seconds": index_seconds, "embed_seconds": embed_seconds,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        println!(
            "corpus {} documents ({} chunks), {} judged queries; indexed in {:.1}s, embedded in {:.1}s",
            corpus_len, status.chunks, judged.len(), index_seconds, embed_seconds
        );
        println!(
            "{:<20} {:>9} {:>11} {:>8} {:>10}",
            "mode", "nDCG@10", "Recall@100", "MRR@10", "ms/query"
        );
        for (name, v) in &results {
            println!(
                "{:<20} {:>9.4} {:>11.4} {:>8.4} {:>10.1}",
                name,
                v["ndcg@10"].as_f64().unwrap_or(0.0),
                v["recall@100"].as_f64().unwrap_or(0.0),
                v["mrr@10"].as_f64().unwrap_or(0.0),
                v["ms_per_query"].as_f64().unwrap_or(0.0)
            );
        }
    }
    Ok(0)
}
