//! `sextant search`, `status`, `ask` and `compare`: thin adapters over the use cases of `sextant-app`.

use crate::*;

pub(crate) fn search(
    s: &Settings,
    actor: &Session,
    query: &str,
    k: usize,
    mode: SearchMode,
    json: bool,
    area: &AreaArgs,
) -> Result<i32> {
    let area = area.resolve(s)?;
    if area.is_none() && query.trim().is_empty() {
        anyhow::bail!("the query is empty: give one, or an area (--bbox, --within, --near, --country) to list what lies in it");
    }
    let embedder = match mode {
        SearchMode::Bm25 => None,
        _ => Some(load_embedder(s)?),
    };
    let found = app(s, embedder, &[])?.search(
        actor,
        sextant_app::SearchInput {
            query: query.to_string(),
            k: Some(k),
            mode,
            area,
        },
    )?;
    let (marking, hits) = (found.marking, found.hits);
    if json {
        let resp = SearchResponse {
            marking,
            hits: hits.into_iter().map(WireHit::from).collect(),
        };
        println!("{}", serde_json::to_string(&resp)?);
    } else if hits.is_empty() {
        println!("{marking}\nno results");
    } else {
        println!("{marking}");
        for (i, h) in hits.iter().enumerate() {
            let page = h.page.map(|p| format!(" p.{p}")).unwrap_or_default();
            println!(
                "{:>2}. {:.4}  ({}) {} [{}]{}  ({}:{}..{})",
                i + 1,
                h.score,
                h.marking,
                h.title,
                h.doc_id,
                page,
                h.source,
                h.start,
                h.end
            );
            if let Some(g) = &h.geometry {
                let at = g
                    .anchor()
                    .map(|[lon, lat]| format!("{lat:.4}, {lon:.4}"))
                    .unwrap_or_default();
                let km = h
                    .distance_km
                    .map(|d| format!(", {d:.1} km away"))
                    .unwrap_or_default();
                println!("    place: {at}{km}");
            }
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

pub(crate) fn status(s: &Settings, actor: &Session, json: bool) -> Result<i32> {
    let app = app(s, None, &[])?;
    let st = app.status(actor)?;
    let m = app.store().manifest();
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

pub(crate) fn print_answer(a: &sextant_assist::Answer) {
    println!("{}", a.marking);
    println!("{}", a.answer);
    for c in &a.citations {
        let page = c.page.map(|p| format!(", page {p}")).unwrap_or_default();
        println!(
            "  [{}] ({}) {} ({}{page}, characters {}-{}): \"{}\"",
            c.n, c.marking, c.title, c.source, c.start, c.end, c.quote
        );
    }
}

pub(crate) fn ask(
    s: &Settings,
    actor: &Session,
    question: &str,
    model: Option<String>,
    k: Option<usize>,
    json: bool,
    area: &AreaArgs,
) -> Result<i32> {
    let area = area.resolve(s)?;
    let id = model.unwrap_or_else(|| s.assist.default_model.clone());
    let app = app(s, Some(load_embedder(s)?), std::slice::from_ref(&id))?;
    let mut input = sextant_app::AskInput::new(question);
    input.model = Some(id);
    input.k = k;
    if area.is_some() {
        input.area = area;
        let geo = app.geo_ask(actor, input)?;
        if json {
            println!("{}", serde_json::to_string_pretty(&geo)?);
        } else {
            print_answer(&geo.answer);
            for p in &geo.pins.features {
                if let Some([lon, lat]) = p.geometry.anchor() {
                    println!(
                        "  pin [{}] ({}) {} at {lat:.4}, {lon:.4}",
                        p.properties.citation, p.properties.marking, p.properties.name
                    );
                }
            }
        }
        return Ok(0);
    }
    let answer = app.ask(actor, "ask", input, |_, _| true)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&answer)?);
    } else {
        print_answer(&answer);
    }
    Ok(0)
}

pub(crate) fn compare(
    s: &Settings,
    actor: &Session,
    question: &str,
    models: &[String],
    k: Option<usize>,
    json: bool,
) -> Result<i32> {
    let c = app(s, Some(load_embedder(s)?), models)?.compare(
        actor,
        sextant_app::CompareInput {
            question: question.to_string(),
            models: models.to_vec(),
            k,
        },
    )?;
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
        println!("{}", c.marking);
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
