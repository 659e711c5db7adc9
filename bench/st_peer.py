#!/usr/bin/env python3
"""Peer side of the embedding throughput benchmark: sentence-transformers on CPU.

    st_peer.py --model-dir DIR --texts FILE.jsonl [--batch-size 32] [--threads 2]

FILE.jsonl holds one JSON string per line (a JSON object with a "text" field is
accepted too, e.g. a BEIR corpus.jsonl). The texts are encoded with
normalize_embeddings=True after a warm-up pass over the first batch; the timed
pass covers all texts. Prints exactly one JSON line on stdout:

    {"peer": "sentence-transformers", "torch": "...", "texts": n, "seconds": s, "chunks_per_s": x, ...}

Run it with the venv from bench/setup-peer.sh:  "$(bench/setup-peer.sh)" bench/st_peer.py ...
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time


def load_texts(path: str) -> list[str]:
    texts = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            value = json.loads(line)
            if isinstance(value, dict):
                value = value.get("text")
            if not isinstance(value, str):
                raise SystemExit(f"st_peer: {path}:{lineno}: expected a JSON string (or object with 'text')")
            texts.append(value)
    if not texts:
        raise SystemExit(f"st_peer: no texts in {path}")
    return texts


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model-dir", required=True)
    ap.add_argument("--texts", required=True)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--max-seq-length", type=int, default=None, help="override the model's (256 for MiniLM)")
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args(argv)

    # Thread limits must be in place before torch / tokenizers start their pools.
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "RAYON_NUM_THREADS"):
        os.environ[var] = str(args.threads)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "true")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

    import torch

    torch.set_num_threads(args.threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    import sentence_transformers
    from sentence_transformers import SentenceTransformer

    texts = load_texts(args.texts)
    model = SentenceTransformer(args.model_dir, device=args.device)
    if args.max_seq_length:
        model.max_seq_length = args.max_seq_length
    model.eval()

    def encode(batch: list[str]):
        with torch.inference_mode():
            return model.encode(
                batch,
                batch_size=args.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )

    encode(texts[: args.batch_size])  # warm-up
    start = time.perf_counter()
    vecs = encode(texts)
    seconds = time.perf_counter() - start
    assert vecs.shape[0] == len(texts)

    print(json.dumps({
        "peer": "sentence-transformers",
        "torch": torch.__version__,
        "texts": len(texts),
        "seconds": round(seconds, 4),
        "chunks_per_s": round(len(texts) / seconds, 2),
        "sentence_transformers": sentence_transformers.__version__,
        "batch_size": args.batch_size,
        "threads": args.threads,
        "max_seq_length": model.max_seq_length,
        "dim": int(vecs.shape[1]),
        "device": args.device,
    }))
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
