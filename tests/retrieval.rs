//! Retrieval while vectors catch up: with only half of the chunks embedded (the state of every
//! store for a while after an ingest), hybrid ranks the relevant documents at least as well as
//! BM25 alone — a chunk still waiting for its vector is fused on its BM25 evidence, not
//! penalised for the dense score it cannot have.

mod common;

use common::*;

#[test]
fn hybrid_is_never_worse_than_bm25_on_a_store_with_half_its_vectors() {
    let tmp = tempfile::tempdir().unwrap();
    let mut corpus = String::new();
    let mut queries = String::new();
    let mut qrels = String::from("query-id\tcorpus-id\tscore\n");
    for (i, md) in factbook_sample(&tmp.path().join("fb"), 60)
        .iter()
        .enumerate()
    {
        let text = std::fs::read_to_string(md).unwrap();
        let title = title_of(md);
        let id = md.file_name().unwrap().to_string_lossy().to_string();
        corpus.push_str(&serde_json::json!({"_id": id, "title": title, "text": text}).to_string());
        corpus.push('\n');
        for (j, q) in [
            format!("What is the capital of {title}?"),
            format!("What is the population of {title}?"),
            format!("What are the main exports of {title}?"),
        ]
        .iter()
        .enumerate()
        {
            let qid = format!("q{i}-{j}");
            queries.push_str(&serde_json::json!({"_id": qid, "text": q}).to_string());
            queries.push('\n');
            qrels.push_str(&format!("{qid}\t{id}\t1\n"));
        }
    }
    let (c, q, r) = (
        tmp.path().join("corpus.jsonl"),
        tmp.path().join("queries.jsonl"),
        tmp.path().join("qrels.tsv"),
    );
    std::fs::write(&c, corpus).unwrap();
    std::fs::write(&q, queries).unwrap();
    std::fs::write(&r, qrels).unwrap();
    let data = tmp.path().join("unused");
    let out = json(
        &data,
        &[
            "eval",
            "retrieval",
            "--corpus",
            c.to_str().unwrap(),
            "--queries",
            q.to_str().unwrap(),
            "--qrels",
            r.to_str().unwrap(),
            "--mode",
            "all",
            "--vectors",
            "0.5",
            "--json",
        ],
    );
    let chunks = out["chunks"].as_u64().unwrap();
    let vectors = out["vectors"].as_u64().unwrap();
    assert!(
        vectors > chunks / 3 && vectors < 2 * chunks / 3,
        "about half embedded: {out}"
    );
    let ndcg = |m: &str| out["modes"][m]["ndcg@10"].as_f64().unwrap();
    eprintln!(
        "half the vectors ({vectors} of {chunks}): bm25 {:.4}, dense {:.4}, hybrid {:.4}",
        ndcg("bm25"),
        ndcg("dense"),
        ndcg("hybrid")
    );
    assert!(ndcg("hybrid") >= ndcg("bm25"), "{out}");
}
