//! `sextant ingest` and `sextant delete`: files and directories into the store, and out.

use crate::*;

pub(crate) fn ingest(
    s: &Settings,
    actor: &Session,
    paths: &[PathBuf],
    json: bool,
    no_embed: bool,
    marking: Option<String>,
    feed: FeedArgs,
) -> Result<i32> {
    let policy = marking_policy(s, marking.as_deref())?;
    let (store, embedder) = open_for_writing(s)?;
    let app = app_over(s, store.clone(), None, &[])?;
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
        marking: policy,
        geo: geo_data(s),
        feed: feed.feed,
        csv: CsvColumns {
            lat: feed.lat_column,
            lon: feed.lon_column,
        },
        ..Default::default()
    };
    let report = app.ingest_files(actor, paths, opts, &mut |done, total, path| {
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
    let status = store.status(&actor.viewer)?;
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

pub(crate) fn delete(s: &Settings, actor: &Session, target: &str) -> Result<i32> {
    // A path names the document it was ingested from (in the actor's namespace).
    let id = match DocId::parse(target) {
        Some(id) => id.to_string(),
        None => {
            let abs = std::fs::canonicalize(target).unwrap_or_else(|_| PathBuf::from(target));
            sextant_ingest::doc_id_for(&sextant_ingest::namespaced(
                actor.namespace().as_deref(),
                &abs.to_string_lossy(),
            ))
            .to_string()
        }
    };
    match app(s, None, &[])?.delete(actor, &id) {
        Ok(()) => {
            println!("deleted {id}");
            Ok(0)
        }
        Err(sextant_app::AppError::NotFound) => {
            eprintln!("error: no document {target:?} in {}", s.data_dir.display());
            Ok(1)
        }
        Err(e) => Err(e.into()),
    }
}
