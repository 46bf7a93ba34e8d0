"""/healthz tells the truth about readiness; /metrics exposes Prometheus text."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
from inference_helpers import Server, make_config, running_server, wait_for


async def test_healthz_is_503_until_the_model_is_loaded_and_warmed_up(tiny_model_dir: Path) -> None:
    async with (
        running_server(make_config(tiny_model_dir), start=False) as loading,
        aiohttp.ClientSession() as s,
    ):
        async with s.get(loading.url + "/healthz") as r:
            assert r.status == 503
        async with s.post(loading.url + "/chat", json={"prompt": "Hi"}) as r:
            assert r.status == 503
            assert (await r.json())["error"]["code"] == "model_not_ready"
        async with s.get(loading.url + "/metrics") as r:
            assert r.status == 200
            assert "kaito_inference_ready 0.0" in await r.text()


async def test_healthz_is_200_after_warm_up(server: Server) -> None:
    async with aiohttp.ClientSession() as s, s.get(server.url + "/healthz") as r:
        assert r.status == 200
        assert await r.json() == {"status": "Healthy"}
    # the warm-up went through the batching loop
    assert server.service.metrics.generated_tokens._value.get() >= 2


async def test_metrics_count_requests_tokens_and_latencies(server: Server) -> None:
    async with aiohttp.ClientSession() as s:
        async with s.post(
            server.url + "/chat", json={"prompt": "Hi", "generate_kwargs": {"max_new_tokens": 3}}
        ) as r:
            assert r.status == 200
        async with s.post(server.url + "/chat", json={"prompt": ""}) as r:
            assert r.status == 400
        async with s.get(server.url + "/metrics") as r:
            assert r.headers["Content-Type"].startswith("text/plain")
            text = await r.text()
    for name in (
        'kaito_inference_requests_total{route="/chat",status="200"}',
        'kaito_inference_requests_total{route="/chat",status="400"}',
        "kaito_inference_prompt_tokens_total",
        "kaito_inference_generated_tokens_total",
        "kaito_inference_time_to_first_token_seconds_count",
        'kaito_inference_request_duration_seconds_count{route="/chat"}',
        "kaito_inference_queue_depth",
        "kaito_inference_batch_size_count",
        "kaito_inference_ready 1.0",
    ):
        assert name in text, name


async def test_root_says_the_server_is_running(server: Server) -> None:
    async with aiohttp.ClientSession() as s, s.get(server.url + "/") as r:
        assert await r.json() == {"message": "Server is running"}


async def test_healthz_notices_a_dead_generate_loop_and_requests_get_503(tiny_model_dir: Path) -> None:
    async with running_server(make_config(tiny_model_dir)) as broken, aiohttp.ClientSession() as s:
        engine = broken.service.engine
        assert engine is not None

        def crash() -> None:
            raise RuntimeError("the loop thread hit a bug")

        engine._drop_cancelled = crash  # type: ignore[method-assign]
        body = {"prompt": "Hi", "generate_kwargs": {"max_new_tokens": 2}}
        async with s.post(broken.url + "/chat", json=body, timeout=aiohttp.ClientTimeout(total=10)) as r:
            assert r.status == 503
            assert (await r.json())["error"]["code"] == "shutting_down"
        async with s.get(broken.url + "/healthz") as r:
            assert r.status == 503
            assert (await r.json())["status"] == "Unhealthy"
        async with s.post(broken.url + "/chat", json=body, timeout=aiohttp.ClientTimeout(total=10)) as r:
            assert r.status == 503


async def test_a_chat_generate_job_cut_off_by_shutdown_is_503(tiny_model_dir: Path) -> None:
    async with running_server(make_config(tiny_model_dir, max_batch_size=1)) as stopping:
        engine = stopping.service.engine
        assert engine is not None
        long = {"prompt": "Hello", "max_tokens": 300, "min_tokens": 300, "temperature": 0}
        generate_only = {"prompt": "Hi", "generate_kwargs": {"no_repeat_ngram_size": 2, "max_new_tokens": 4}}
        async with aiohttp.ClientSession() as s:
            running = asyncio.create_task(s.post(stopping.v1 + "/completions", json=long))
            await wait_for(lambda: engine.running() == 1, "the long request is generating")
            job = asyncio.create_task(s.post(stopping.url + "/chat", json=generate_only))
            await wait_for(lambda: engine.queue_depth() == 1, "the generate job is queued")
            await asyncio.to_thread(engine.stop)
            for task in (job, running):
                async with await task as r:
                    assert r.status == 503
                    assert (await r.json())["error"]["code"] == "shutting_down"
