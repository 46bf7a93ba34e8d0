"""Dynamic batching: concurrent requests share one generate loop and still get their own answers."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from inference_helpers import SERVED, Server, make_config, running_server
from openai import AsyncOpenAI, RateLimitError

PROMPTS = [
    "Hello",
    "What is the capital of France?",
    "Kubernetes schedules pods onto nodes that have the resources they request.",
    "Write a haiku",
    "Explain the difference between a deployment and a statefulset.",
    "Numbers like 1 2 3",
    "The quick brown fox jumps over the lazy dog near the river bank.",
    "Adapters",
]


def batch_sizes(metrics_text: str) -> tuple[float, float]:
    """(sum, count) of the batch-size histogram."""
    values = {}
    for line in metrics_text.splitlines():
        if line.startswith("kaito_inference_batch_size_sum") or line.startswith(
            "kaito_inference_batch_size_count"
        ):
            name, value = line.split()
            values[name] = float(value)
    return values["kaito_inference_batch_size_sum"], values["kaito_inference_batch_size_count"]


async def test_eight_concurrent_clients_get_correct_independent_answers(
    server: Server, tokenizer: Any, reference: Any
) -> None:
    async with aiohttp.ClientSession() as s, s.get(server.url + "/metrics") as r:
        before = batch_sizes(await r.text())
    api = AsyncOpenAI(base_url=server.v1, api_key="unused", max_retries=0)
    budgets = [12 + 2 * i for i in range(len(PROMPTS))]  # per-request max_tokens differ

    async def ask(prompt: str, max_tokens: int) -> Any:
        return await api.completions.create(
            model=SERVED,
            prompt=prompt,
            max_tokens=max_tokens,
            temperature=0,
            extra_body={"min_tokens": max_tokens},
        )

    answers = await asyncio.gather(*(ask(p, n) for p, n in zip(PROMPTS, budgets, strict=True)))
    for prompt, budget, answer in zip(PROMPTS, budgets, answers, strict=True):
        ids = list(tokenizer(prompt)["input_ids"])
        assert answer.usage.completion_tokens == budget
        assert answer.choices[0].finish_reason == "length"
        expected = reference(ids, budget, min_new_tokens=budget)
        assert answer.choices[0].text == tokenizer.decode(expected, skip_special_tokens=True), prompt
    async with aiohttp.ClientSession() as s, s.get(server.url + "/metrics") as r:
        after = batch_sizes(await r.text())
    steps = after[1] - before[1]
    mean_batch = (after[0] - before[0]) / steps
    assert mean_batch > 2, f"requests did not share decode steps (mean batch {mean_batch:.2f})"


async def wait_for(condition: Any, what: str) -> None:
    for _ in range(500):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"timed out waiting until {what}")


async def test_full_queue_answers_429_with_retry_after(tiny_model_dir: Path) -> None:
    config = make_config(tiny_model_dir, max_batch_size=1, max_queue=1)
    async with running_server(config) as busy:
        engine = busy.service.engine
        assert engine is not None
        api = AsyncOpenAI(base_url=busy.v1, api_key="unused", max_retries=0)
        long = {"model": SERVED, "prompt": "Hello", "max_tokens": 60, "extra_body": {"min_tokens": 60}}
        running = asyncio.create_task(api.completions.create(**long))
        await wait_for(lambda: engine.running() == 1, "the first request fills the batch of one")
        waiting = asyncio.create_task(api.completions.create(**long))
        await wait_for(lambda: engine.queue_depth() == 1, "the second request fills the queue of one")
        body = {"prompt": "Hi", "max_tokens": 2}
        async with aiohttp.ClientSession() as s, s.post(busy.v1 + "/completions", json=body) as r:
            assert r.status == 429
            assert r.headers["Retry-After"] == "1"
            assert (await r.json())["error"]["code"] == "queue_full"
        with pytest.raises(RateLimitError):
            await api.completions.create(model=SERVED, prompt="Hi", max_tokens=2)
        assert (await running).usage.completion_tokens == 60
        assert (await waiting).usage.completion_tokens == 60


async def test_a_client_that_disconnects_mid_stream_leaves_the_batch(server: Server) -> None:
    engine = server.service.engine
    assert engine is not None
    cancelled = server.service.metrics.cancelled._value.get()
    body = {"prompt": "Hello", "max_tokens": 480, "min_tokens": 480, "stream": True, "temperature": 0}
    async with aiohttp.ClientSession() as s:
        r = await s.post(server.v1 + "/completions", json=body)
        assert r.status == 200
        await r.content.readline()  # the first event: the sequence is generating
        r.close()  # the client goes away
    await wait_for(lambda: engine.running() == 0, "the sequence leaves the batch")
    assert server.service.metrics.cancelled._value.get() == cancelled + 1
