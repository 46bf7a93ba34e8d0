"""PEFT adapters: each loaded by name, all combined by strength, and both change the output."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from inference_helpers import SERVED, Server, make_config, running_server
from openai import AsyncOpenAI, NotFoundError

from kaito_runtime.inference import adapters

MSG = [{"role": "user", "content": "What is the capital of France?"}]


@pytest.fixture(scope="module")
async def adapter_server(tiny_model_dir: Path, adapters_dir: Path) -> AsyncIterator[Server]:
    async with running_server(make_config(tiny_model_dir, adapters_dir=str(adapters_dir))) as s:
        yield s


async def answer(server: Server, model: str) -> str:
    api = AsyncOpenAI(base_url=server.v1, api_key="unused", max_retries=0)
    out = await api.chat.completions.create(
        model=model, messages=MSG, max_tokens=10, temperature=0, extra_body={"min_tokens": 10}
    )
    return out.choices[0].message.content or ""


async def test_adapters_are_listed_as_models(adapter_server: Server) -> None:
    api = AsyncOpenAI(base_url=adapter_server.v1, api_key="unused", max_retries=0)
    models = await api.models.list()
    assert [m.id for m in models.data] == [SERVED, "alpha", "beta"]


async def test_each_adapter_and_their_combination_change_the_output(
    server: Server, adapter_server: Server
) -> None:
    base = await answer(server, SERVED)
    combined = await answer(adapter_server, SERVED)
    alpha = await answer(adapter_server, "alpha")
    beta = await answer(adapter_server, "beta")
    assert len({base, combined, alpha, beta}) == 4


async def test_adapter_answers_are_independent_of_batch_neighbours(adapter_server: Server) -> None:
    import asyncio

    alone = await answer(adapter_server, "alpha")
    together = await asyncio.gather(
        answer(adapter_server, "alpha"), answer(adapter_server, "beta"), answer(adapter_server, SERVED)
    )
    assert together[0] == alone


async def test_strength_zero_leaves_the_base_output(
    server: Server, tiny_model_dir: Path, adapters_dir: Path
) -> None:
    config = make_config(
        tiny_model_dir, adapters_dir=str(adapters_dir), adapter_strengths={"alpha": 0.0, "beta": 0.0}
    )
    async with running_server(config) as muted:
        assert await answer(muted, SERVED) == await answer(server, SERVED)


async def test_unknown_adapter_is_404(adapter_server: Server) -> None:
    with pytest.raises(NotFoundError):
        await answer(adapter_server, "gamma")


def test_discover_finds_only_directories_with_an_adapter_config(tmp_path: Path) -> None:
    (tmp_path / "one").mkdir()
    (tmp_path / "one" / "adapter_config.json").write_text("{}")
    (tmp_path / "empty").mkdir()
    (tmp_path / "file.txt").write_text("x")
    assert list(adapters.discover(tmp_path)) == ["one"]
    assert adapters.discover(tmp_path / "missing") == {}


def test_strength_comes_from_flag_then_environment_then_one() -> None:
    got = adapters.strengths(["a", "b", "c"], {"a": 0.5}, {"a": "9", "b": "0.25"})
    assert got == {"a": 0.5, "b": 0.25, "c": 1.0}


def test_bad_strengths_are_errors_naming_the_adapter() -> None:
    with pytest.raises(adapters.AdapterError, match="environment variable b"):
        adapters.strengths(["b"], {}, {"b": "strong"})
    with pytest.raises(adapters.AdapterError, match="zeta"):
        adapters.strengths(["b"], {"zeta": 1.0}, {})
