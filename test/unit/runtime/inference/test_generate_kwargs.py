"""KAITO /chat ``generate_kwargs``: only GenerationConfig options reach ``generate``; keys that load code
or take objects, token ids outside the vocabulary and oversized beam searches are 400s naming the key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import pytest
from inference_helpers import Server

from kaito_runtime.inference.generate_kwargs import ACCEPTED, REFUSED

CODE_OR_OBJECT_KEYS = [
    "trust_remote_code",
    "custom_generate",
    "assistant_model",
    "streamer",
    "logits_processor",
    "stopping_criteria",
    "prefix_allowed_tokens_fn",
    "synced_gpus",
    "assistant_tokenizer",
    "tokenizer",
]


async def post_chat(server: Server, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession() as s, s.post(server.url + "/chat", json=body) as r:
        return r.status, await r.json()


def test_accepted_keys_come_from_generation_config_less_the_refused_ones() -> None:
    assert {"num_beams", "no_repeat_ngram_size", "length_penalty", "max_new_tokens"} <= ACCEPTED
    assert not ACCEPTED & set(REFUSED)
    assert set(CODE_OR_OBJECT_KEYS) <= set(REFUSED)


async def test_custom_generate_from_a_directory_is_refused_and_its_code_never_runs(
    server: Server, tmp_path: Path
) -> None:
    marker = tmp_path / "ran"
    (tmp_path / "custom_generate").mkdir()
    (tmp_path / "custom_generate" / "generate.py").write_text(
        f"import pathlib\ndef generate(model, **kw):\n    pathlib.Path({str(marker)!r}).write_text('ran')\n"
    )
    kwargs = {"max_new_tokens": 2, "custom_generate": str(tmp_path), "trust_remote_code": True}
    status, body = await post_chat(server, {"prompt": "Hi", "generate_kwargs": kwargs})
    assert status == 400
    assert body["error"]["param"] in {"generate_kwargs.custom_generate", "generate_kwargs.trust_remote_code"}
    assert "code" in body["error"]["message"]
    assert not marker.exists()


@pytest.mark.parametrize("key", CODE_OR_OBJECT_KEYS)
async def test_keys_that_load_code_or_take_objects_are_refused(server: Server, key: str) -> None:
    status, body = await post_chat(server, {"prompt": "Hi", "generate_kwargs": {key: "x"}})
    assert status == 400
    assert body["error"]["param"] == f"generate_kwargs.{key}"
    assert "not accepted" in body["error"]["message"]


async def test_an_unknown_key_is_refused_before_generate(server: Server) -> None:
    status, body = await post_chat(server, {"prompt": "Hi", "generate_kwargs": {"no_such_option": 3}})
    assert status == 400
    assert body["error"]["param"] == "generate_kwargs.no_such_option"
    assert "GenerationConfig" in body["error"]["message"]


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("eos_token_id", 999999),
        ("eos_token_id", [2, 999999]),
        ("pad_token_id", 999999),
        ("pad_token_id", -1),
        ("bad_words_ids", [[5, 999999]]),
        ("suppress_tokens", [999999]),
        ("sequence_bias", [[[999999], 1.0]]),
    ],
)
async def test_token_ids_outside_the_vocabulary_are_refused(server: Server, key: str, value: Any) -> None:
    kwargs = {"max_new_tokens": 2, "min_new_tokens": 2, "num_beams": 2, key: value}
    for path_kwargs in (kwargs, {k: v for k, v in kwargs.items() if k != "num_beams"}):
        status, body = await post_chat(server, {"prompt": "Hi", "generate_kwargs": path_kwargs})
        assert status == 400, path_kwargs
        assert body["error"]["param"] == f"generate_kwargs.{key}"
        assert "vocabulary" in body["error"]["message"]


@pytest.mark.parametrize("key", ["num_beams", "num_return_sequences"])
async def test_rows_of_one_generate_are_capped_at_the_batch_size(server: Server, key: str) -> None:
    cap = server.service.config.max_batch_size
    status, body = await post_chat(
        server, {"prompt": "Hi", "generate_kwargs": {"max_new_tokens": 2, key: cap + 1}}
    )
    assert status == 400
    assert body["error"]["param"] == f"generate_kwargs.{key}"
    assert "--max-batch-size" in body["error"]["message"]
    kwargs = {"max_new_tokens": 2, "num_beams": cap, "num_return_sequences": cap}
    status, _ = await post_chat(server, {"prompt": "Hi", "generate_kwargs": kwargs})
    assert status == 200


async def test_beam_search_is_bounded_by_the_context_window(server: Server) -> None:
    context = server.service.translator.context  # type: ignore[union-attr]
    for kwargs in ({"max_new_tokens": context}, {"max_length": context + 1}):
        status, body = await post_chat(
            server, {"prompt": "Hi", "generate_kwargs": {"num_beams": 2, **kwargs}}
        )
        assert status == 400, kwargs
        assert body["error"]["param"] in {"prompt", "generate_kwargs.max_length"}


async def test_other_generation_config_options_still_run_through_generate(server: Server) -> None:
    kwargs = {"max_new_tokens": 4, "do_sample": False, "no_repeat_ngram_size": 2, "eos_token_id": [0, 1]}
    status, body = await post_chat(server, {"prompt": "Hi", "generate_kwargs": kwargs})
    assert status == 200
    assert body["Result"].startswith("Hi")
