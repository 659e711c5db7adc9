#!/usr/bin/env python3
"""OpenAI client compatibility check: drive an OpenAI-compatible server with the official client.

    PY="$(scripts/setup-pyenv.sh | tail -n1)"
    "$PY" tests/py/openai_client.py --base-url http://127.0.0.1:PORT/v1 --model MODEL_ID \\
        [--question Q] [--expect SUBSTRING] [--max-tokens N] [--timeout S]

Checks, in order (api_key from $SEXTANT_API_KEY, else the dummy "sextant"):
  models     client.models.list() lists MODEL_ID
  chat       non-streaming chat.completions.create(temperature=0): choices[0].message.content is a
             non-empty string, finish_reason is "stop" or "length", usage.prompt_tokens and
             usage.completion_tokens are ints, and the content contains --expect (case-insensitive)
  stream     the same request with stream=True: at least 2 chunks, the last chunk carrying choices
             has a finish_reason, and the concatenated delta.content equals the non-streaming text
             (greedy decoding is deterministic)
Prints one JSON summary on stdout; exit 0 when every check passes, 1 on a failed check (the
reason on stderr and in the summary's "error"), 2 on bad usage. Needs only the `openai` package.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

try:
    import openai
    from openai import OpenAI
except ImportError:  # pragma: no cover - environment problem
    sys.exit("openai_client: the 'openai' package is missing; use the venv from scripts/setup-pyenv.sh")


class CheckFailed(Exception):
    def __init__(self, step: str, message: str):
        super().__init__(f"[{step}] {message}")
        self.step = step


def check(cond: bool, step: str, message: str) -> None:
    if not cond:
        raise CheckFailed(step, message)


def is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def run(args: argparse.Namespace, summary: dict) -> None:
    client = OpenAI(base_url=args.base_url, api_key=os.environ.get("SEXTANT_API_KEY") or "sextant",
                    timeout=args.timeout, max_retries=0)
    request = {"model": args.model, "messages": [{"role": "user", "content": args.question}], "temperature": 0}
    if args.max_tokens is not None:
        request["max_tokens"] = args.max_tokens

    # (a) models
    step = "models"
    try:
        ids = [m.id for m in client.models.list()]
    except openai.OpenAIError as e:
        raise CheckFailed(step, f"GET /models failed: {type(e).__name__}: {e}") from e
    summary["models"] = ids
    check(args.model in ids, step, f"model {args.model!r} not among the listed ids {ids}")

    # (b) non-streaming chat completion
    step = "chat"
    t0 = time.perf_counter()
    try:
        resp = client.chat.completions.create(**request)
    except openai.OpenAIError as e:
        raise CheckFailed(step, f"POST /chat/completions failed: {type(e).__name__}: {e}") from e
    summary["chat_ms"] = round((time.perf_counter() - t0) * 1000, 1)
    check(bool(resp.choices), step, "response has no choices")
    choice = resp.choices[0]
    content = choice.message.content
    check(isinstance(content, str) and content.strip() != "", step,
          f"choices[0].message.content is not a non-empty string: {content!r}")
    check(choice.finish_reason in ("stop", "length"), step,
          f"finish_reason is {choice.finish_reason!r}, want 'stop' or 'length'")
    usage = resp.usage
    check(usage is not None, step, "response has no usage")
    check(is_int(usage.prompt_tokens) and is_int(usage.completion_tokens), step,
          f"usage.prompt_tokens / completion_tokens are not ints: {usage!r}")
    summary.update(content=content, finish_reason=choice.finish_reason,
                   usage={"prompt_tokens": usage.prompt_tokens, "completion_tokens": usage.completion_tokens})
    if args.expect is not None:
        check(args.expect.lower() in content.lower(), step,
              f"content does not contain {args.expect!r}: {content!r}")

    # (c) streaming chat completion
    step = "stream"
    t0 = time.perf_counter()
    parts: list[str] = []
    n_chunks = 0
    last_with_choices = None
    ttft_ms = None
    try:
        stream = client.chat.completions.create(**request, stream=True)
        for chunk in stream:
            n_chunks += 1
            if not chunk.choices:  # e.g. a trailing usage-only chunk
                continue
            last_with_choices = chunk
            delta = chunk.choices[0].delta
            if delta is not None and delta.content:
                if ttft_ms is None:
                    ttft_ms = round((time.perf_counter() - t0) * 1000, 1)
                parts.append(delta.content)
    except openai.OpenAIError as e:
        raise CheckFailed(step, f"streaming POST /chat/completions failed after {n_chunks} chunk(s): "
                                f"{type(e).__name__}: {e}") from e
    summary.update(stream_ms=round((time.perf_counter() - t0) * 1000, 1), stream_ttft_ms=ttft_ms,
                   stream_chunks=n_chunks)
    check(n_chunks >= 2, step, f"only {n_chunks} chunk(s) arrived, want at least 2")
    check(last_with_choices is not None, step, "no chunk carried choices")
    stream_finish = last_with_choices.choices[0].finish_reason
    summary["stream_finish_reason"] = stream_finish
    check(stream_finish is not None, step, "the last chunk with choices has no finish_reason")
    streamed = "".join(parts)
    if streamed != content:
        print(f"openai_client: non-streaming text:\n{content!r}\nstreamed text:\n{streamed!r}", file=sys.stderr)
        raise CheckFailed(step, "streamed text differs from the non-streaming text (both printed above)")
    check(stream_finish == choice.finish_reason, step,
          f"stream finish_reason {stream_finish!r} differs from non-streaming {choice.finish_reason!r}")

    # (d) function calling: `tools` -> schema-valid `tool_calls`
    step = "tools"
    weather = {"type": "function", "function": {
        "name": "get_weather", "description": "Current weather for a city.",
        "parameters": {"type": "object", "properties": {
            "city": {"type": "string"}, "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
            "required": ["city"], "additionalProperties": False}}}
    try:
        resp = client.chat.completions.create(
            model=args.model, temperature=0, tools=[weather],
            messages=[{"role": "user", "content": "What is the weather in Nairobi in celsius?"}])
    except openai.OpenAIError as e:
        raise CheckFailed(step, f"POST /chat/completions with tools failed: {type(e).__name__}: {e}") from e
    choice = resp.choices[0]
    calls = choice.message.tool_calls or []
    check(choice.finish_reason == "tool_calls", step, f"finish_reason {choice.finish_reason!r}, want 'tool_calls'")
    check(len(calls) >= 1, step, f"no tool_calls: {choice.message!r}")
    call = calls[0]
    check(call.type == "function" and call.function.name == "get_weather", step, f"wrong call {call!r}")
    arguments = json.loads(call.function.arguments)
    check(isinstance(arguments.get("city"), str) and "nairobi" in arguments["city"].lower(), step,
          f"arguments {arguments!r}")
    check(set(arguments) <= {"city", "unit"} and arguments.get("unit", "celsius") in ("celsius", "fahrenheit"),
          step, f"arguments outside the schema: {arguments!r}")
    summary["tool_call"] = {"name": call.function.name, "arguments": arguments}
    # tool_choice "none": a plain answer, no calls.
    resp = client.chat.completions.create(
        model=args.model, temperature=0, tools=[weather], tool_choice="none",
        messages=[{"role": "user", "content": args.question}])
    check(not resp.choices[0].message.tool_calls, step, "tool_choice='none' still returned tool_calls")


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base-url", required=True, help="e.g. http://127.0.0.1:8080/v1")
    ap.add_argument("--model", required=True, help="model id the server must list and answer with")
    ap.add_argument("--question", default="What is the capital of France?")
    ap.add_argument("--expect", default=None, help="substring the answer must contain (case-insensitive)")
    ap.add_argument("--max-tokens", type=int, default=None, help="max_tokens to send (default: none)")
    ap.add_argument("--timeout", type=float, default=300.0, help="per-request timeout in seconds")
    args = ap.parse_args(argv)

    summary: dict = {"ok": False, "openai": openai.__version__, "base_url": args.base_url,
                     "model": args.model, "question": args.question}
    try:
        run(args, summary)
    except CheckFailed as e:
        summary.update(failed_step=e.step, error=str(e))
        print(json.dumps(summary, ensure_ascii=False))
        print(f"openai_client: FAIL {e}", file=sys.stderr)
        return 1
    summary["ok"] = True
    print(json.dumps(summary, ensure_ascii=False))
    print("openai_client: OK (models, chat, stream, tools)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
