#!/usr/bin/env python3
"""The plain retrieval baselines a user could assemble, on a BEIR-format set.

    retrieval_peer.py --corpus C.jsonl --queries Q.jsonl --qrels R.tsv [--model-dir MINILM] [--threads 2]

* bm25s: lowercase, English stopwords, Snowball (Porter2) English stemmer (PyStemmer), k1 1.5,
  b 0.75, over whole documents (title + text).
* rrf: reciprocal-rank fusion (k = 60) of that BM25 and MiniLM-L6 cosine (sentence-transformers,
  each document embedded as sentence-transformers does by default: title + text truncated at
  256 word pieces).

Prints one JSON line per method: {"method", "ndcg@10", "recall@100", "mrr@10", "queries"}.
Metrics as BEIR computes them (binary or graded qrels; nDCG with log2 discount).
"""
from __future__ import annotations

import argparse
import json
import math
import sys


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(l) for l in f if l.strip()]


def read_qrels(path):
    out = {}
    with open(path, encoding="utf-8") as f:
        next(f)
        for line in f:
            q, d, s = line.rstrip("\n").split("\t")[:3]
            out.setdefault(q, {})[d] = int(s)
    return out


def ndcg_at(ranked, rel, k):
    dcg = sum(rel.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranked[:k]) if rel.get(d, 0) > 0)
    ideal = sorted(rel.values(), reverse=True)[:k]
    idcg = sum(r / math.log2(i + 2) for i, r in enumerate(ideal) if r > 0)
    return dcg / idcg if idcg > 0 else 0.0


def recall_at(ranked, rel, k):
    relevant = [d for d, r in rel.items() if r > 0]
    if not relevant:
        return 0.0
    return len(set(ranked[:k]) & set(relevant)) / len(relevant)


def mrr_at(ranked, rel, k):
    for i, d in enumerate(ranked[:k]):
        if rel.get(d, 0) > 0:
            return 1.0 / (i + 1)
    return 0.0


def score(name, runs, qrels):
    n = len(runs)
    out = {
        "method": name,
        "ndcg@10": sum(ndcg_at(r, qrels[q], 10) for q, r in runs.items()) / n,
        "recall@100": sum(recall_at(r, qrels[q], 100) for q, r in runs.items()) / n,
        "mrr@10": sum(mrr_at(r, qrels[q], 10) for q, r in runs.items()) / n,
        "queries": n,
    }
    print(json.dumps(out), flush=True)
    return out


def main(argv):
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--queries", required=True)
    ap.add_argument("--qrels", required=True)
    ap.add_argument("--model-dir")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--depth", type=int, default=100)
    args = ap.parse_args(argv)

    import bm25s
    import Stemmer

    corpus = read_jsonl(args.corpus)
    qrels = read_qrels(args.qrels)
    queries = [q for q in read_jsonl(args.queries) if q["_id"] in qrels]
    ids = [c["_id"] for c in corpus]
    texts = [(c.get("title") or "") + "\n" + c["text"] for c in corpus]
    stemmer = Stemmer.Stemmer("english")
    tok = bm25s.tokenize(texts, stopwords="en", stemmer=stemmer, show_progress=False)
    retriever = bm25s.BM25(k1=1.5, b=0.75)
    retriever.index(tok, show_progress=False)
    depth = min(args.depth, len(ids))
    qtok = bm25s.tokenize([q["text"] for q in queries], stopwords="en", stemmer=stemmer, show_progress=False)
    docs, _scores = retriever.retrieve(qtok, k=depth, show_progress=False, n_threads=args.threads)
    bm25_runs = {q["_id"]: [ids[i] for i in docs[j]] for j, q in enumerate(queries)}
    score("bm25s", bm25_runs, qrels)

    if not args.model_dir:
        return 0
    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(args.threads)
    model = SentenceTransformer(args.model_dir, device="cpu")
    model.max_seq_length = 256
    dvec = model.encode(texts, batch_size=32, normalize_embeddings=True, convert_to_tensor=True)
    qvec = model.encode([q["text"] for q in queries], batch_size=32, normalize_embeddings=True, convert_to_tensor=True)
    sims = qvec @ dvec.T
    top = torch.topk(sims, k=depth, dim=1).indices.tolist()
    dense_runs = {q["_id"]: [ids[i] for i in top[j]] for j, q in enumerate(queries)}
    score("minilm", dense_runs, qrels)
    rrf_runs = {}
    for q in queries:
        acc = {}
        for run in (bm25_runs[q["_id"]], dense_runs[q["_id"]]):
            for r, d in enumerate(run):
                acc[d] = acc.get(d, 0.0) + 1.0 / (60 + r + 1)
        rrf_runs[q["_id"]] = [d for d, _ in sorted(acc.items(), key=lambda x: (-x[1], x[0]))]
    score("rrf60", rrf_runs, qrels)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
