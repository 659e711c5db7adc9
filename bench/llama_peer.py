#!/usr/bin/env python3
"""Peer side of the generation benchmark: llama.cpp (llama-cpp-python) on CPU.

    llama_peer.py --model PATH.gguf [--threads 2] [--prompt-tokens 512] [--gen-tokens 128]
                  [--ctx 4096] [--repeats 3] [--flash-attn]

Loads the model (n_threads = n_threads_batch = --threads, n_batch 512, n_ctx --ctx, verbose
off), builds a prompt of exactly N tokens (a fixed English text, repeated and cut to N
tokens; the model's BOS, if it adds one, counts), then per repeat, after clearing the KV cache:

  prefill   Llama.eval(prompt) -- llama_decode in batches of 512; the first token is then
            picked by argmax over the last logits: ttft_ms = prefill + that pick
  generate  greedy decoding (argmax of the logits, EOS ignored) until exactly M tokens exist:
            M-1 single-token decodes after the first token; gen_tok_s = (M-1) / their time

One untimed warm-up pass (32 prompt tokens, 4 generated) runs first. "other_cpu_cores_busy" is
the average number of cores other processes kept busy during the timed passes (from /proc):
well above 0 means the machine was shared and the figures are low. The figures reported are
the median over --repeats (per-repeat values in "runs"). Peak RSS is ru_maxrss, read after
loading and at the end (the GGUF is mmap'ed: touched weight pages count). Prints exactly one
JSON line on stdout:

    {"engine": "llama.cpp", "version": "0.3.36", "model": ..., "threads": 2, "prompt_tokens": N,
     "gen_tokens": M, "prefill_tok_s": ..., "ttft_ms": ..., "gen_tok_s": ..., "peak_rss_mb": ..., ...}

Run it with the venv from bench/setup-llamacpp.sh:  "$(bench/setup-llamacpp.sh | tail -n1)" bench/llama_peer.py ...
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import time

import numpy as np

try:
    import llama_cpp
    from llama_cpp import Llama
except ImportError:
    sys.exit("llama_peer: llama_cpp is missing; use the venv from bench/setup-llamacpp.sh")

# fixed prompt text (public-domain style prose), repeated until it has enough tokens
PROMPT_TEXT = (
    "The history of navigation is the story of people learning to find their way across open water "
    "without landmarks. Early sailors kept close to the coast, reading the colour of the sea, the "
    "flight of birds and the shape of the clouds that gather over islands. Later, mariners measured "
    "the height of the sun at noon and of the pole star at night to estimate their latitude, and "
    "they recorded speed and heading in a log so that they could work out their position by dead "
    "reckoning. The sextant, introduced in the eighteenth century, made those angle measurements "
    "precise enough to fix a ship's position within a few miles, provided the navigator also knew "
    "the exact time at a reference meridian. Accurate marine chronometers solved that last problem, "
    "and for almost two hundred years the combination of sextant, chronometer and printed tables "
    "was the standard way to cross an ocean. Today satellites give a position in seconds, yet "
    "navigators are still taught to use the old instruments, because a method that needs no "
    "electricity and no signal from the sky is the one that still works when everything else fails. "
)


def rss_mb() -> float:
    # ru_maxrss is in KiB on Linux (bytes on macOS)
    scale = 1 if sys.platform == "darwin" else 1024
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 2**20, 1)


def cpu_snapshot() -> tuple[float, float] | None:
    """(busy seconds of the whole machine, CPU seconds of this process), from /proc; None elsewhere."""
    try:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
    except OSError:
        return None
    hz = os.sysconf("SC_CLK_TCK")
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    busy = sum(fields[:8]) - idle  # user nice system idle iowait irq softirq steal
    t = os.times()
    return busy / hz, t.user + t.system


def build_prompt(llm: Llama, n: int) -> list[int]:
    text = PROMPT_TEXT
    while True:
        toks = llm.tokenize(text.encode("utf-8"), add_bos=True, special=False)
        if len(toks) >= n:
            return toks[:n]
        text += PROMPT_TEXT


def greedy(llm: Llama, n_vocab: int) -> int:
    ptr = llama_cpp.llama_get_logits_ith(llm._ctx.ctx, -1)
    if not ptr:
        raise RuntimeError("llama_get_logits_ith returned NULL")
    return int(np.argmax(np.ctypeslib.as_array(ptr, shape=(n_vocab,))))


def one_pass(llm: Llama, prompt: list[int], gen: int, n_vocab: int) -> dict:
    llm.reset()
    llm._ctx.kv_cache_clear()
    t0 = time.perf_counter()
    llm.eval(prompt)
    t_prefill = time.perf_counter() - t0
    tok = greedy(llm, n_vocab)
    t_first = time.perf_counter() - t0
    out = [tok]
    t1 = time.perf_counter()
    while len(out) < gen:
        llm.eval([tok])
        tok = greedy(llm, n_vocab)
        out.append(tok)
    t_gen = time.perf_counter() - t1
    return {
        "prefill_s": t_prefill,
        "prefill_tok_s": len(prompt) / t_prefill,
        "ttft_ms": t_first * 1000,
        "gen_s": t_gen,
        "gen_tok_s": (len(out) - 1) / t_gen if len(out) > 1 and t_gen > 0 else None,
        "tokens": out,
    }


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True, help="path to a .gguf file")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--prompt-tokens", type=int, default=512)
    ap.add_argument("--gen-tokens", type=int, default=128)
    ap.add_argument("--ctx", type=int, default=4096)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--flash-attn", action="store_true", help="enable flash attention (default off, as in llama-cpp-python)")
    args = ap.parse_args(argv)
    if args.prompt_tokens < 1 or args.gen_tokens < 1 or args.repeats < 1:
        ap.error("--prompt-tokens, --gen-tokens and --repeats must be >= 1")
    if args.prompt_tokens + args.gen_tokens > args.ctx:
        ap.error(f"--prompt-tokens + --gen-tokens ({args.prompt_tokens + args.gen_tokens}) exceed --ctx {args.ctx}")
    if not os.path.isfile(args.model):
        ap.error(f"no such model file: {args.model}")

    t0 = time.perf_counter()
    llm = Llama(model_path=args.model, n_threads=args.threads, n_threads_batch=args.threads,
                n_batch=512, n_ctx=args.ctx, flash_attn=args.flash_attn, verbose=False)
    load_s = time.perf_counter() - t0
    rss_load = rss_mb()
    n_vocab = llm.n_vocab()
    prompt = build_prompt(llm, args.prompt_tokens)
    if len(prompt) != args.prompt_tokens:
        raise SystemExit(f"llama_peer: built a {len(prompt)}-token prompt, want {args.prompt_tokens}")

    one_pass(llm, prompt[:32], 4, n_vocab)  # warm-up, not timed
    snap0, w0 = cpu_snapshot(), time.perf_counter()
    runs = [one_pass(llm, prompt, args.gen_tokens, n_vocab) for _ in range(args.repeats)]
    snap1, wall = cpu_snapshot(), time.perf_counter() - w0
    # CPU cores kept busy by *other* processes during the timed passes: > ~0.2 means the
    # figures are contaminated by competing load (e.g. a build running alongside)
    other_cores = None
    if snap0 and snap1 and wall > 0:
        other_cores = round(max(0.0, (snap1[0] - snap0[0]) - (snap1[1] - snap0[1])) / wall, 2)
    for r in runs:
        if len(r["tokens"]) != args.gen_tokens:
            raise SystemExit(f"llama_peer: generated {len(r['tokens'])} tokens, want {args.gen_tokens}")
    deterministic = all(r["tokens"] == runs[0]["tokens"] for r in runs)

    def med(key: str):
        vals = [r[key] for r in runs if r[key] is not None]
        return round(statistics.median(vals), 2) if vals else None

    result = {
        "engine": "llama.cpp",
        "version": llama_cpp.__version__,
        "model": os.path.abspath(args.model),
        "threads": args.threads,
        "prompt_tokens": len(prompt),
        "gen_tokens": len(runs[0]["tokens"]),
        "prefill_tok_s": med("prefill_tok_s"),
        "ttft_ms": med("ttft_ms"),
        "gen_tok_s": med("gen_tok_s"),
        "peak_rss_mb": rss_mb(),
        "rss_after_load_mb": rss_load,
        "load_s": round(load_s, 3),
        "ctx": args.ctx,
        "n_batch": 512,
        "flash_attn": args.flash_attn,
        "repeats": args.repeats,
        "stat": "median",
        "greedy_deterministic": deterministic,
        "other_cpu_cores_busy": other_cores,
        "sample_text": llm.detokenize(runs[0]["tokens"][:24]).decode("utf-8", "replace"),
        "runs": [{k: round(v, 2) for k, v in r.items() if k in ("prefill_tok_s", "ttft_ms", "gen_tok_s") and v is not None}
                 for r in runs],
    }
    print(json.dumps(result, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
