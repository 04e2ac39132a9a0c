"""Local tuned side: server tokens/s and latency vs raw `model.generate`, the server's
generation path (`model.generate` with a streamer and stop checks) vs a hand-written KV-cache
loop (the earlier implementation, kept here as the reference), the shipped adapter unmerged
(how the server serves it beside the base model) vs merged into the weights, training tokens/s
vs a plain forward+backward loop, all measured in the same run on the same model.

Usage: python bench/tuning_bench.py [--requests N] [--max-tokens N] [--steps N]
"""

from __future__ import annotations

import argparse
import inspect
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from corpus.offline import use_offline_defaults

use_offline_defaults()

import httpx  # noqa: E402
import torch  # noqa: E402

from tuning.api import build_app  # noqa: E402
from tuning.data import Example, batches_by_length, collate  # noqa: E402
from tuning.generate import Generator, Sampling  # noqa: E402
from tuning.loop import TrainConfig, run_epochs  # noqa: E402
from tuning.model import (  # noqa: E402
    adapter_name,
    load_base,
    load_for_inference,
    load_with_adapters,
)
from tuning.serve import serve_in_thread  # noqa: E402
from tuning.served import Variant, answering_as  # noqa: E402
from tuning.settings import TuningSettings  # noqa: E402

QUESTIONS = [
    "What is the capital of France?",
    "Name three primary colours.",
    "How many legs does a spider have?",
    "Сколько дней в неделе?",
    "What is photosynthesis?",
    "Give one tip for writing clear emails.",
]


def bench_generate(
    model: Any, tokenizer: Any, n: int, max_tokens: int
) -> tuple[float, list[float]]:
    """Baseline: greedy `model.generate` on the chat prompt; (tokens/s, per-request seconds)."""
    times, tokens = [], 0
    for i in range(n):
        msgs = [{"role": "user", "content": QUESTIONS[i % len(QUESTIONS)]}]
        ids = tokenizer.apply_chat_template(
            msgs, add_generation_prompt=True, return_tensors="pt", return_dict=True
        )
        started = time.perf_counter()
        with torch.inference_mode():
            out = model.generate(
                **ids,
                max_new_tokens=max_tokens,
                do_sample=False,
                pad_token_id=tokenizer.eos_token_id,
            )
        times.append(time.perf_counter() - started)
        tokens += out.shape[1] - ids["input_ids"].shape[1]
    return tokens / sum(times), times


def hand_loop(model: Any, prompt: list[int], max_tokens: int, stop_ids: set[int]) -> int:
    """The reference: greedy decoding by hand with a KV cache (tokens produced)."""
    # the cache's argument name changed in transformers 5.23 (`cache`, was `past_key_values`)
    key = "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"
    out: list[int] = []
    step, past = torch.tensor([prompt]), None
    with torch.inference_mode():
        for _ in range(max_tokens):
            result = model(input_ids=step, use_cache=True, **{key: past})
            past = getattr(result, key)
            token = int(torch.argmax(result.logits[0, -1]))
            if token in stop_ids:
                break
            out.append(token)
            step = torch.tensor([[token]])
    return len(out)


def bench_paths(model: Any, tokenizer: Any, n: int, max_tokens: int) -> tuple[float, float]:
    """(Generator tokens/s, hand loop tokens/s), interleaved request by request."""
    gen = Generator(model, tokenizer)
    spent = {"generator": 0.0, "hand": 0.0}
    made = {"generator": 0, "hand": 0}
    for i in range(n):
        prompt = gen.prompt_ids([{"role": "user", "content": QUESTIONS[i % len(QUESTIONS)]}])
        order = ("generator", "hand") if i % 2 == 0 else ("hand", "generator")
        for label in order:
            started = time.perf_counter()
            if label == "generator":
                made[label] += gen.run(prompt, Sampling(max_tokens)).completion_tokens
            else:
                made[label] += hand_loop(model, prompt, max_tokens, gen.stop_ids)
            spent[label] += time.perf_counter() - started
    return made["generator"] / spent["generator"], made["hand"] / spent["hand"]


ADAPTER = Path(__file__).resolve().parent.parent / "data" / "adapters" / "smollm2-demo-2026-03"


def bench_variants(
    plain: Any, tokenizer: Any, settings: TuningSettings, n: int, max_tokens: int
) -> tuple[dict[str, float], float]:
    """Tokens/s of the shipped adapter merged into the weights vs unmerged beside the base (PEFT,
    switched per request), and of the base model plain vs through the PEFT model with its adapter
    switched off, interleaved request by request; and the seconds one merge + unmerge takes (the
    price of switching by merging)."""
    merged, _ = load_for_inference(settings.base_model, settings.cache_dir, ADAPTER, "cpu")
    peft, _ = load_with_adapters(settings.base_model, settings.cache_dir, [ADAPTER], "cpu")
    runs = {
        "adapter merged": (Generator(merged, tokenizer), Variant("m")),
        "adapter unmerged": (Generator(peft, tokenizer), Variant("a", adapter_name(0))),
        "base plain": (Generator(plain, tokenizer), Variant("p")),
        "base, adapter off": (Generator(peft, tokenizer), Variant("b")),
    }
    spent, made = dict.fromkeys(runs, 0.0), dict.fromkeys(runs, 0)
    for i in range(n):
        prompt = runs["base plain"][0].prompt_ids(
            [{"role": "user", "content": QUESTIONS[i % len(QUESTIONS)]}]
        )
        labels = list(runs)
        for label in labels[i % 4 :] + labels[: i % 4]:  # each goes first in turn
            gen, variant = runs[label]
            started = time.perf_counter()
            with answering_as(gen.model, variant):
                made[label] += gen.run(prompt, Sampling(max_tokens)).completion_tokens
            spent[label] += time.perf_counter() - started
    started = time.perf_counter()
    peft.merge_adapter()
    peft.unmerge_adapter()
    return {k: made[k] / spent[k] for k in runs}, time.perf_counter() - started


def bench_server(
    url: str, n: int, max_tokens: int, stream: bool
) -> tuple[float, list[float], list[float]]:
    """Through HTTP: (tokens/s, per-request seconds, time to first token when streaming)."""
    times: list[float] = []
    first: list[float] = []
    tokens = 0
    with httpx.Client(timeout=120) as client:
        for i in range(n):
            body = {"messages": [{"role": "user", "content": QUESTIONS[i % len(QUESTIONS)]}],
                    "max_tokens": max_tokens, "stream": stream,
                    "stream_options": {"include_usage": True}}  # fmt: skip
            started = time.perf_counter()
            if stream:
                with client.stream("POST", f"{url}/v1/chat/completions", json=body) as reply:
                    for line in reply.iter_lines():
                        if (
                            '"content": "' in line
                            and '"content": ""' not in line
                            and len(first) <= i
                        ):
                            first.append(time.perf_counter() - started)
                        if '"usage": {' in line:
                            tokens += int(line.split('"completion_tokens": ')[1].split(",")[0])
            else:
                tokens += client.post(f"{url}/v1/chat/completions", json=body).json()["usage"][
                    "completion_tokens"
                ]
            times.append(time.perf_counter() - started)
    return tokens / sum(times), times, first


def synthetic_examples(n: int, rng: random.Random) -> list[Example]:
    """Chat-shaped examples of 40–160 tokens, answer tokens labelled, like a FAQ corpus."""
    out = []
    for i in range(n):
        length = rng.randint(40, 160)
        ids = [rng.randint(100, 40000) for _ in range(length)]
        cut = length - rng.randint(10, 30)
        out.append(Example(str(i), ids, [-100] * cut + ids[cut:]))
    return out


def bench_training(model: Any, pad_id: int, steps: int) -> tuple[float, float]:
    """(our loop's real tokens/s, plain forward+backward on unsorted batches, real tokens/s).

    Our loop adds length buckets and the answer-only vocabulary projection (`answer_loss`).
    """
    from peft import LoraConfig, get_peft_model

    from tuning.train import TARGET_MODULES

    lora = get_peft_model(
        model,
        LoraConfig(r=16, lora_alpha=32, target_modules=list(TARGET_MODULES), task_type="CAUSAL_LM"),
    )
    examples = synthetic_examples(steps * 8, random.Random(0))
    # baseline: batches in corpus order (no length bucketing), forward + backward only
    started, real = time.perf_counter(), 0
    for i in range(0, len(examples), 8):
        batch = collate(examples[i : i + 8], pad_id)
        lora(**batch).loss.backward()  # the model's own loss: logits for every token
        real += int(batch["attention_mask"].sum())
    baseline = real / (time.perf_counter() - started)
    lora.zero_grad()
    config = TrainConfig(epochs=1, batch_size=8, max_steps=steps)
    started = time.perf_counter()
    _losses, tokens = run_epochs(lora, examples, pad_id, "cpu", config, progress=False)
    ours = tokens / (time.perf_counter() - started)
    assert len(batches_by_length(examples, 8)) == steps
    return ours, baseline


def summary(times: list[float]) -> str:
    return f"median {statistics.median(times) * 1000:.0f} ms, max {max(times) * 1000:.0f} ms"


def main(argv: list[str] | None = None) -> int:
    """Print the figures; 0 always (timings are reported, never asserted)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=6)
    parser.add_argument("--max-tokens", type=int, default=48)
    parser.add_argument("--steps", type=int, default=6)
    args = parser.parse_args(argv)
    settings = TuningSettings(_env_file=None)
    model, tokenizer = load_base(settings.base_model, settings.cache_dir, "cpu")
    model.eval()
    print(
        f"SmolLM2-135M-Instruct, CPU, {torch.get_num_threads()} threads, greedy, max {args.max_tokens} tokens"
    )
    bench_generate(model, tokenizer, 1, 8)  # warm-up
    gen_tps, gen_times = bench_generate(model, tokenizer, args.requests, args.max_tokens)
    print(f"model.generate (baseline): {gen_tps:.1f} tokens/s, {summary(gen_times)} per request")
    ours_tps, hand_tps = bench_paths(model, tokenizer, args.requests, args.max_tokens)
    print(
        f"generation path (model.generate + streamer + stop checks): {ours_tps:.1f} tokens/s vs "
        f"hand-written KV-cache loop {hand_tps:.1f} ({ours_tps / hand_tps:.2f}x), interleaved"
    )
    rates, switch_s = bench_variants(model, tokenizer, settings, args.requests, args.max_tokens)
    merged, unmerged = rates["adapter merged"], rates["adapter unmerged"]
    print(
        f"shipped adapter: unmerged {unmerged:.1f} tokens/s vs merged {merged:.1f} "
        f"({unmerged / merged:.2f}x); base model through the PEFT model with the adapter off "
        f"{rates['base, adapter off']:.1f} vs plain {rates['base plain']:.1f} "
        f"({rates['base, adapter off'] / rates['base plain']:.2f}x); one merge + unmerge "
        f"{switch_s:.2f} s, interleaved"
    )
    with serve_in_thread(build_app(Generator(model, tokenizer), "bench")) as url:
        srv_tps, srv_times, _ = bench_server(url, args.requests, args.max_tokens, stream=False)
        st_tps, st_times, first = bench_server(url, args.requests, args.max_tokens, stream=True)
    print(
        f"server, plain:     {srv_tps:.1f} tokens/s ({srv_tps / gen_tps:.2f}x baseline), {summary(srv_times)} per request"
    )
    print(
        f"server, streaming: {st_tps:.1f} tokens/s ({st_tps / gen_tps:.2f}x baseline), {summary(st_times)}, first token median {statistics.median(first) * 1000:.0f} ms"
    )
    model.train()
    ours, baseline = bench_training(model, tokenizer.pad_token_id, args.steps)
    print(
        f"training, batch 8, 40–160 tokens: {ours:.0f} real tokens/s with length buckets + AdamW "
        f"vs {baseline:.0f} for plain forward+backward on unsorted batches ({ours / baseline:.2f}x)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
