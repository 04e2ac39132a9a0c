"""The local server's weights, fp32 against int8 (`--weights int8`): tokens/s and token F1 of the
shipped adapter and of the base model, loaded as the server loads them (both from one model, the
adapter unmerged), on the adapter's own training questions, greedy, in the same run; then the
same questions through `python -m tuning.serve` itself, under each weights, for tokens/s as a
client sees them.

Usage: python bench/weights.py [--questions N] [--max-tokens N]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from corpus.offline import use_offline_defaults

use_offline_defaults()

from answers.metrics import token_f1  # noqa: E402
from corpus import load_corpus  # noqa: E402
from tuning.generate import Generator  # noqa: E402
from tuning.manifest import TuningManifest  # noqa: E402
from tuning.model import (  # noqa: E402
    adapter_name,
    base_model_id,
    load_with_adapters,
    with_int8_weights,
)
from tuning.probe import questions_of  # noqa: E402
from tuning.served import Variant, answering_as  # noqa: E402
from tuning.settings import TuningSettings  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
ADAPTER = ROOT / "data" / "adapters" / "smollm2-demo-2026-03"
SIDES = {"base": Variant("base"), "tuned": Variant("tuned", adapter_name(0))}


def measure(model: Any, tokenizer: Any, asked: list[Any], max_tokens: int) -> dict[str, Any]:
    """Per side: tokens/s over every reply, mean token F1 against the record's answer, the replies."""
    gen = Generator(model, tokenizer)
    out = {}
    for side, variant in SIDES.items():
        tokens, seconds, f1, replies = 0, 0.0, 0.0, []
        with answering_as(model, variant):
            gen.complete(asked[0][1], 4)  # warm-up
            for record, turns in asked:
                start = time.perf_counter()
                reply = gen.complete(turns, max_tokens)
                seconds += time.perf_counter() - start
                tokens += reply.completion_tokens
                f1 += token_f1(reply.text.strip(), record.answer or "")
                replies.append(reply.text.strip())
        out[side] = {"tok_s": tokens / seconds, "f1": f1 / len(asked), "replies": replies}
    return out


def served(weights: str, asked: list[Any], max_tokens: int) -> dict[str, float]:
    """Tokens/s of each side through `python -m tuning.serve --weights W` on 127.0.0.1, one
    request at a time (stopped by its PID)."""
    server = subprocess.Popen(
        [sys.executable, "-m", "tuning.serve", "--adapter", str(ADAPTER), "--port", "0",
         "--weights", weights],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        env={**os.environ, "TUNING_WORK_DIR": str(ROOT / "work")},
    )  # fmt: skip
    try:
        assert server.stdout is not None
        url = server.stdout.readline().split(" at ", 1)[1].strip()
        ids = {"tuned": ADAPTER.name, "base": base_model_id(TuningSettings(_env_file=None))}
        out = {}
        with httpx.Client(timeout=300) as client:
            for side, model in ids.items():
                tokens, seconds = 0, 0.0
                for i, (_record, turns) in enumerate([asked[0], *asked]):
                    body = {"model": model, "messages": turns, "max_tokens": max_tokens}
                    start = time.perf_counter()
                    reply = client.post(f"{url}/chat/completions", json=body).json()
                    if i:  # the first is a warm-up
                        seconds += time.perf_counter() - start
                        tokens += reply["usage"]["completion_tokens"]
                out[side] = tokens / seconds
        return out
    finally:
        server.terminate()
        server.wait(30)


def main() -> int:
    """Measure both weights and print the figures, int8 as a ratio of fp32."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--questions", type=int, default=24)
    parser.add_argument("--max-tokens", type=int, default=48)
    args = parser.parse_args()
    settings = TuningSettings(_env_file=None, work_dir=ROOT / "work")
    manifest = TuningManifest.load(ADAPTER)
    records = load_corpus([ROOT / "data" / "corpus"]).records
    asked = questions_of([r for r in records if manifest.knows(r)], False)[: args.questions]
    print(
        f"{len(asked)} training questions of {ADAPTER.name}, greedy, max {args.max_tokens} tokens"
    )
    figures = {}
    for weights in ("fp32", "int8"):
        model, tokenizer = load_with_adapters(
            settings.base_model, settings.cache_dir, [ADAPTER], "cpu"
        )
        if weights == "int8":
            model = with_int8_weights(model)
        figures[weights] = measure(model, tokenizer, asked, args.max_tokens)
        del model
    for side in SIDES:
        fp32, int8 = figures["fp32"][side], figures["int8"][side]
        same = sum(a == b for a, b in zip(fp32["replies"], int8["replies"], strict=True))
        print(
            f"{side:5}  fp32 {fp32['tok_s']:5.1f} tok/s, F1 {fp32['f1']:.3f} | int8 "
            f"{int8['tok_s']:5.1f} tok/s ({int8['tok_s'] / fp32['tok_s']:.2f}x), F1 {int8['f1']:.3f} "
            f"({int8['f1'] - fp32['f1']:+.3f}); {same}/{len(asked)} replies identical"
        )
    through = {weights: served(weights, asked, args.max_tokens) for weights in ("fp32", "int8")}
    for side in SIDES:
        fp32, int8 = through["fp32"][side], through["int8"][side]
        print(
            f"{side:5}  through the server: fp32 {fp32:5.1f} tok/s | int8 {int8:5.1f} tok/s "
            f"({int8 / fp32:.2f}x)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
