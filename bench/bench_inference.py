"""Inference server throughput: generated tokens/s through the batching server vs sequential ``generate``.

The same random Phi-3 (default: hidden 512, 8 layers, about 26M parameters, built offline) serves
both sides in one process. Baseline: transformers ``generate`` on one prompt at a time, greedy, with
exactly ``--tokens`` new tokens each. Server: the aiohttp server in-process, on 127.0.0.1, answering
``/v1/completions`` with the same token budget, first for 1 client sending requests back to back,
then for 8 concurrent clients. Prints tokens/s and the ratios against the baseline (target: >= 4x at
8 clients on the CPU). Usage: ``python bench/run.py inference`` or ``python bench/bench_inference.py
[--hidden 512 --layers 8 --tokens 64 --requests 16 --dtype float32]``.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

import torch
from aiohttp import ClientSession, web
from transformers import AutoModelForCausalLM, AutoTokenizer

from kaito_runtime.inference import loader
from kaito_runtime.inference.app import create_app
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


def sequential_generate(model_dir: Path, dtype: torch.dtype, tokens: int, requests: int) -> float:
    """Tokens/s of plain ``generate``, one request after another."""
    tok = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(model_dir, local_files_only=True, dtype=dtype).eval()
    prompts = [tok(PROMPTS[i % len(PROMPTS)], return_tensors="pt") for i in range(requests)]
    with torch.inference_mode():
        model.generate(**prompts[0], max_new_tokens=4, do_sample=False)  # warm-up
        started = time.perf_counter()
        generated = 0
        for p in prompts:
            out = model.generate(**p, max_new_tokens=tokens, min_new_tokens=tokens, do_sample=False)
            generated += out.shape[1] - p["input_ids"].shape[1]
    return generated / (time.perf_counter() - started)


async def server_throughput(model_dir: Path, dtype: str, tokens: int, requests: int, clients: int) -> float:
    """Tokens/s through the server with ``clients`` concurrent clients sharing ``requests`` requests."""
    config = ServerConfig(
        model=str(model_dir),
        served_model_name="bench",
        adapters_dir=str(model_dir / "none"),
        device_map=None,
        dtype=dtype,
        max_batch_size=max(clients, 1),
    )
    service = InferenceService(config)
    http = web.AppRunner(create_app(service), access_log=None)
    await http.setup()
    await web.TCPSite(http, "127.0.0.1", 0).start()
    url = f"http://127.0.0.1:{http.addresses[0][1]}/v1/completions"
    try:
        loaded = loader.load(config)
        await service.start(loaded, ModelRunner(loaded.model, loaded.pad_token_id))
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
    finally:
        service.close()
        await http.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--hidden", type=int, default=512)
    parser.add_argument("--layers", type=int, default=8)
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--requests", type=int, default=16)
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
        # The baseline is measured before and after the server, and the ratios use the mean of the two,
        # so that load drifting on a shared machine does not favour either side.
        before = sequential_generate(model_dir, getattr(torch, args.dtype), args.tokens, args.requests)
        rates = {
            clients: asyncio.run(
                server_throughput(model_dir, args.dtype, args.tokens, args.requests, clients)
            )
            for clients in (1, 8)
        }
        after = sequential_generate(model_dir, getattr(torch, args.dtype), args.tokens, args.requests)
        base = (before + after) / 2
        print(
            f"sequential generate          {base:9.1f} tok/s   1.00x "
            f"(baseline: {before:.1f} before, {after:.1f} after)"
        )
        for clients, rate in rates.items():
            print(f"server, {clients} concurrent client(s) {rate:9.1f} tok/s   {rate / base:.2f}x")


if __name__ == "__main__":
    main()
