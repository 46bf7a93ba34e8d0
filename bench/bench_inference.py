"""Inference server throughput: generated tokens/s through the batching server vs sequential ``generate``.

The same random Phi-3 (default: hidden 512, 8 layers, 21.5M parameters, built offline) serves
both sides in one process. Baseline: transformers ``generate`` on one prompt at a time, greedy, with
exactly ``--tokens`` new tokens each. Server: the aiohttp server in-process, on 127.0.0.1, answering
``/v1/completions`` with the same token budget, first for 1 client sending requests back to back,
then for 8 concurrent clients. The three are measured in rounds, one after the other, so that load
drifting on a shared machine hits all of them; medians and per-round ratios are printed (target:
>= 4x at 8 clients on the CPU). Each round also times bare model forwards at batch 1 and 8: their
ratio is the ceiling this machine's kernels allow batching at this model size.

Usage: ``python bench/run.py inference`` or ``python bench/bench_inference.py
[--hidden 512 --layers 8 --tokens 64 --requests 8 --rounds 3 --dtype float32]``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import torch
from aiohttp import ClientSession, web
from transformers import AutoModelForCausalLM, AutoTokenizer, DynamicCache

from kaito_runtime.inference import loader
from kaito_runtime.inference.app import create_runner
from kaito_runtime.inference.config import ServerConfig
from kaito_runtime.inference.runner import ModelRunner
from kaito_runtime.inference.service import InferenceService
from kaito_runtime.tinymodel import build_tiny_phi3

PROMPTS = [
    "Kubernetes schedules pods onto nodes",
    "What is the capital of France?",
    "Write a haiku about autumn leaves",
    "Explain the difference between a deployment and a statefulset.",
    "Fine tuning with LoRA trains small adapter matrices",
    "The quick brown fox",
    "Batching many requests together keeps the accelerator busy",
    "Hello! How can I help you today?",
]


class Baseline:
    """Plain transformers ``generate`` on its own copy of the model, one request after another."""

    def __init__(self, model_dir: Path, dtype: torch.dtype) -> None:
        self.tok = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
        self.model = AutoModelForCausalLM.from_pretrained(
            model_dir, local_files_only=True, dtype=dtype
        ).eval()

    def tokens_per_second(self, tokens: int, requests: int) -> float:
        prompts = [self.tok(PROMPTS[i % len(PROMPTS)], return_tensors="pt") for i in range(requests)]
        with torch.inference_mode():
            started = time.perf_counter()
            generated = 0
            for p in prompts:
                out = self.model.generate(**p, max_new_tokens=tokens, min_new_tokens=tokens, do_sample=False)
                generated += out.shape[1] - p["input_ids"].shape[1]
        return generated / (time.perf_counter() - started)

    def forward_tokens_per_second(self, tokens: int, batch: int) -> float:
        """Bare greedy decode steps of ``batch`` equal prompts: no server, no padding, no sampling code.
        Batch 8 against batch 1 is the most batching can gain on this machine at this model size."""
        ids = self.tok([PROMPTS[0]] * batch, return_tensors="pt")["input_ids"]
        with torch.inference_mode():
            cache = DynamicCache()
            out = self.model(input_ids=ids, past_key_values=cache, use_cache=True, logits_to_keep=1)
            started = time.perf_counter()
            for _ in range(tokens):
                step = out.logits[:, -1].argmax(-1, keepdim=True)
                out = self.model(input_ids=step, past_key_values=cache, use_cache=True, logits_to_keep=1)
        return batch * tokens / (time.perf_counter() - started)


async def server_tokens_per_second(url: str, tokens: int, requests: int, clients: int) -> float:
    """Tokens/s through the server with ``clients`` concurrent clients sharing ``requests`` requests."""
    counts: list[int] = []

    async def client(session: ClientSession, index: int) -> None:
        for i in range(index, requests, clients):
            body = {
                "prompt": PROMPTS[i % len(PROMPTS)],
                "max_tokens": tokens,
                "min_tokens": tokens,
                "temperature": 0,
            }
            async with session.post(url, json=body) as r:
                r.raise_for_status()
                counts.append((await r.json())["usage"]["completion_tokens"])

    async with ClientSession() as session:
        started = time.perf_counter()
        await asyncio.gather(*(client(session, c) for c in range(clients)))
        elapsed = time.perf_counter() - started
    return sum(counts) / elapsed


async def measure(
    model_dir: Path, dtype: str, tokens: int, requests: int, rounds: int
) -> dict[str, list[float]]:
    """Rounds of (baseline, server with 1 client, server with 8 clients), so load drift hits all three."""
    config = ServerConfig(
        model=str(model_dir),
        served_model_name="bench",
        adapters_dir=str(model_dir / "none"),
        device_map=None,
        dtype=dtype,
        max_batch_size=8,
    )
    service = InferenceService(config)
    http = create_runner(service)
    await http.setup()
    await web.TCPSite(http, "127.0.0.1", 0).start()
    url = f"http://127.0.0.1:{http.addresses[0][1]}/v1/completions"
    results: dict[str, list[float]] = {
        "generate": [],
        "server-1": [],
        "server-8": [],
        "forward-1": [],
        "forward-8": [],
    }
    try:
        loaded = loader.load(config)
        await service.start(loaded, ModelRunner(loaded.model, loaded.pad_token_id))
        baseline = Baseline(model_dir, getattr(torch, dtype))
        baseline.tokens_per_second(tokens, 2)  # warm-up, as the server's own warm-up
        await server_tokens_per_second(url, tokens, 2, 1)
        for _ in range(rounds):
            results["generate"].append(baseline.tokens_per_second(tokens, requests))
            results["server-1"].append(await server_tokens_per_second(url, tokens, requests, 1))
            results["server-8"].append(await server_tokens_per_second(url, tokens, requests, 8))
            results["forward-1"].append(baseline.forward_tokens_per_second(tokens, 1))
            results["forward-8"].append(baseline.forward_tokens_per_second(tokens, 8))
    finally:
        service.close()
        await http.cleanup()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--hidden", type=int, default=512)
    parser.add_argument("--layers", type=int, default=8)
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--requests", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    args = parser.parse_args()
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = build_tiny_phi3(
            Path(tmp) / "model",
            hidden_size=args.hidden,
            num_layers=args.layers,
            num_heads=max(args.hidden // 64, 1),
        )
        params = sum(p.numel() for p in AutoModelForCausalLM.from_pretrained(model_dir).parameters())
        device = "cuda" if torch.cuda.is_available() else "cpu"
        print(
            f"model: random Phi-3, hidden {args.hidden}, {args.layers} layers, {params / 1e6:.1f}M params, "
            f"{args.dtype}, device {device}, torch threads {torch.get_num_threads()}"
        )
        print(
            f"each request: greedy, exactly {args.tokens} new tokens; "
            f"{args.requests} requests per measurement"
        )
        results = asyncio.run(measure(model_dir, args.dtype, args.tokens, args.requests, args.rounds))
        base = statistics.median(results["generate"])
        for name, label in (
            ("generate", "sequential generate"),
            ("server-1", "server, 1 client"),
            ("server-8", "server, 8 concurrent clients"),
        ):
            rates = results[name]
            med = statistics.median(rates)
            per_round = ", ".join(f"{r:.1f}" for r in rates)
            print(f"{label:30s} {med:9.1f} tok/s  {med / base:5.2f}x   (rounds: {per_round})")
        ratios = [s8 / g for s8, g in zip(results["server-8"], results["generate"], strict=True)]
        print(f"8 clients vs sequential generate, per round: {', '.join(f'{r:.2f}x' for r in ratios)}")
        gain = statistics.median(results["server-8"]) / statistics.median(results["server-1"])
        print(f"batching gain inside the server (8 clients vs 1): {gain:.2f}x")
        ceiling = statistics.median(results["forward-8"]) / statistics.median(results["forward-1"])
        achieved = statistics.median(ratios)
        print(
            f"ceiling on this machine: a bare batch-8 forward makes {ceiling:.2f}x the tokens/s of batch 1; "
            f"the server reaches {achieved / ceiling:.0%} of it"
        )


if __name__ == "__main__":
    main()
