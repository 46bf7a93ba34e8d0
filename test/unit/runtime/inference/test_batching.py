"""Dynamic batching: concurrent requests share one generate loop and still get their own answers."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from inference_helpers import SERVED, Server, make_config, running_server, wait_for
from openai import AsyncOpenAI, RateLimitError

from kaito_runtime.inference.errors import APIError
from kaito_runtime.inference.sampling import SamplingParams

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


async def test_a_sequence_that_fails_leaves_the_rest_of_the_batch_its_exact_answers(
    server: Server, tokenizer: Any, reference: Any
) -> None:
    service, engine = server.service, server.service.engine
    assert engine is not None
    adapter = server.service.translator.default_adapter  # type: ignore[union-attr]
    ids = list(tokenizer("Hello")["input_ids"])
    greedy = SamplingParams(max_new_tokens=40, min_new_tokens=40)
    expected = tokenizer.decode(reference(ids, 40, min_new_tokens=40), skip_special_tokens=True)
    running = service.sequences([(ids, greedy)], 1, adapter)
    service.submit(running)
    await wait_for(lambda: engine.running() == 1, "the first sequence is generating")
    # Past the request checks on purpose: a sampler torch refuses to seed, and an end-of-sequence id
    # the model's logits do not have. Both join the running batch together with another good sequence.
    unseedable = SamplingParams(max_new_tokens=4, do_sample=True, seed=2**64)
    bad_eos = SamplingParams(max_new_tokens=4, min_new_tokens=2, eos_token_ids=frozenset({999999}))
    joining = [service.sequences([(ids, p)], 1, adapter) for p in (unseedable, bad_eos, greedy)]
    for seqs in joining:
        service.submit(seqs)
    for bad in joining[:2]:
        with pytest.raises(APIError) as err:
            await service.collect(bad)
        assert err.value.status == 500
    assert [r.text for r in await service.collect(joining[2])] == [expected]
    assert [r.text for r in await service.collect(running)] == [expected]
    assert engine.running() == 0


async def test_a_bad_request_next_to_a_good_one_is_a_400_and_the_good_one_is_exact(
    server: Server, tokenizer: Any, reference: Any
) -> None:
    engine = server.service.engine
    assert engine is not None
    ids = list(tokenizer("Hello")["input_ids"])
    expected = tokenizer.decode(reference(ids, 40, min_new_tokens=40), skip_special_tokens=True)
    good = {"prompt": "Hello", "max_tokens": 40, "min_tokens": 40, "temperature": 0}
    bad_chat = {"prompt": "Hi", "generate_kwargs": {"eos_token_id": 999999, "min_new_tokens": 2}}
    bad_seed = {"prompt": "Hi", "max_tokens": 4, "seed": 2**64 - 1, "n": 2}
    async with aiohttp.ClientSession() as s:
        answer = asyncio.create_task(s.post(server.v1 + "/completions", json=good))
        await wait_for(lambda: engine.running() == 1, "the good request is generating")
        async with s.post(server.url + "/chat", json=bad_chat) as r:
            assert r.status == 400
        async with s.post(server.v1 + "/completions", json=bad_seed) as r:
            assert r.status == 400
        async with await answer as r:
            assert r.status == 200
            assert (await r.json())["choices"][0]["text"] == expected


@pytest.mark.parametrize("path", ["/v1/completions", "/chat"])
async def test_a_client_that_disconnects_from_a_plain_request_leaves_the_batch(
    server: Server, path: str
) -> None:
    engine = server.service.engine
    assert engine is not None
    cancelled = server.service.metrics.cancelled._value.get()
    if path == "/chat":
        body: dict[str, Any] = {
            "prompt": "Hello",
            "generate_kwargs": {"max_new_tokens": 480, "min_new_tokens": 480},
        }
    else:
        body = {"prompt": "Hello", "max_tokens": 480, "min_tokens": 480, "temperature": 0}
    async with aiohttp.ClientSession() as s:
        with pytest.raises(asyncio.TimeoutError):
            async with s.post(server.url + path, json=body, timeout=aiohttp.ClientTimeout(total=0.3)) as r:
                await r.read()
    await wait_for(lambda: server.service.metrics.cancelled._value.get() == cancelled + 1, "it is cancelled")
    assert engine.running() == 0


async def test_a_queued_generate_job_whose_client_left_never_runs(tiny_model_dir: Path) -> None:
    async with running_server(make_config(tiny_model_dir, max_batch_size=1)) as busy:
        engine = busy.service.engine
        assert engine is not None
        calls: list[Any] = []
        real_generate = engine.runner.generate
        engine.runner.generate = lambda *a: calls.append(a) or real_generate(*a)  # type: ignore[method-assign]
        long = {"prompt": "Hello", "max_tokens": 300, "min_tokens": 300, "temperature": 0}
        generate_only = {"prompt": "Hi", "generate_kwargs": {"no_repeat_ngram_size": 2, "max_new_tokens": 4}}
        async with aiohttp.ClientSession() as s:
            running = asyncio.create_task(s.post(busy.v1 + "/completions", json=long))
            await wait_for(lambda: engine.running() == 1, "the long request is generating")
            with pytest.raises(asyncio.TimeoutError):
                async with s.post(
                    busy.url + "/chat", json=generate_only, timeout=aiohttp.ClientTimeout(total=0.3)
                ):
                    pass
            async with await running as r:
                assert r.status == 200
            await wait_for(lambda: engine.queue_depth() == 0, "the queue is drained")
        assert calls == []
