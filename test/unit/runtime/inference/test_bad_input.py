"""Bad input gets OpenAI's JSON error naming the field, and the server stays up."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from inference_helpers import SERVED, Server

LONG = "the quick brown fox " * 200
CHAT = "/v1/chat/completions"
MSG = [{"role": "user", "content": "Hi"}]

CASES: list[tuple[str, str, Any, int, str | None]] = [
    # (case, path, body (bytes are sent raw), status, param)
    ("malformed json", CHAT, b'{"messages": [', 400, None),
    ("body not an object", CHAT, b"[1, 2]", 400, None),
    ("messages wrong type", CHAT, {"messages": "hello"}, 400, "messages"),
    ("max_tokens wrong type", CHAT, {"messages": MSG, "max_tokens": "ten"}, 400, "max_tokens"),
    ("empty messages", CHAT, {"messages": []}, 400, "messages"),
    ("max_tokens zero", CHAT, {"messages": MSG, "max_tokens": 0}, 400, "max_tokens"),
    ("max_tokens negative", CHAT, {"messages": MSG, "max_tokens": -5}, 400, "max_tokens"),
    ("max_tokens beyond context", CHAT, {"messages": MSG, "max_tokens": 100000}, 400, "max_tokens"),
    ("prompt longer than context", CHAT, {"messages": [{"role": "user", "content": LONG}]}, 400, "messages"),
    ("temperature out of range", CHAT, {"messages": MSG, "temperature": 3}, 400, "temperature"),
    ("n zero", CHAT, {"messages": MSG, "n": 0}, 400, "n"),
    ("empty stop", CHAT, {"messages": MSG, "stop": [""]}, 400, "stop"),
    ("logprobs unsupported", CHAT, {"messages": MSG, "logprobs": True}, 400, "logprobs"),
    (
        "image content",
        CHAT,
        {"messages": [{"role": "user", "content": [{"type": "image_url"}]}]},
        400,
        "messages[0].content[0]",
    ),
    ("unknown model", CHAT, {"model": "gpt-4", "messages": MSG}, 404, "model"),
    ("empty completion prompt", "/v1/completions", {"prompt": ""}, 400, "prompt"),
    ("empty prompt list", "/v1/completions", {"prompt": []}, 400, "prompt"),
    ("completion prompt too long", "/v1/completions", {"prompt": LONG}, 400, "prompt"),
    ("unknown adapter", "/v1/completions", {"model": "no-such-adapter", "prompt": "Hi"}, 404, "model"),
    ("chat without prompt", "/chat", {"generate_kwargs": {}}, 400, "prompt"),
    ("chat empty prompt", "/chat", {"prompt": ""}, 400, "prompt"),
    ("chat prompt wrong type", "/chat", {"prompt": 5}, 400, "prompt"),
    (
        "chat kwargs wrong type",
        "/chat",
        {"prompt": "Hi", "generate_kwargs": {"top_k": "ten"}},
        400,
        "generate_kwargs",
    ),
    (
        "chat max_length too small",
        "/chat",
        {"prompt": "Hello there", "generate_kwargs": {"max_length": 1}},
        400,
        "generate_kwargs.max_length",
    ),
    (
        "chat temperature zero sampling",
        "/chat",
        {"prompt": "Hi", "generate_kwargs": {"temperature": 0}},
        400,
        "generate_kwargs.temperature",
    ),
    ("logit_bias non-ascii digit", CHAT, {"messages": MSG, "logit_bias": {"\u00b2": 1}}, 400, "logit_bias"),
    ("seed beyond torch's range", CHAT, {"messages": MSG, "seed": 2**64}, 400, "seed"),
    ("seed + n - 1 beyond torch's range", CHAT, {"messages": MSG, "seed": 2**64 - 1, "n": 2}, 400, "seed"),
    ("seed below torch's range", "/v1/completions", {"prompt": "Hi", "seed": -(2**63) - 1}, 400, "seed"),
    (
        "chat eos token outside the vocabulary",
        "/chat",
        {"prompt": "Hi", "generate_kwargs": {"eos_token_id": 999999, "min_new_tokens": 2}},
        400,
        "generate_kwargs.eos_token_id",
    ),
    (
        "chat beams beyond the batch size",
        "/chat",
        {"prompt": "Hi", "generate_kwargs": {"num_beams": 256, "max_new_tokens": 4}},
        400,
        "generate_kwargs.num_beams",
    ),
    (
        "more sequences than the queue can ever hold",
        "/v1/completions",
        {"prompt": ["Hi"] * 17, "n": 16, "max_tokens": 1},
        400,
        "n",
    ),
    ("body over the size limit", CHAT, {"messages": [{"role": "user", "content": "x" * 70000}]}, 413, None),
]


@pytest.mark.parametrize(
    ("path", "body", "status", "param"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
async def test_bad_request_gets_a_json_error(
    server: Server, path: str, body: Any, status: int, param: str | None
) -> None:
    async with aiohttp.ClientSession() as s:
        kwargs = (
            {"data": body, "headers": {"Content-Type": "application/json"}}
            if isinstance(body, bytes)
            else {"json": body}
        )
        async with s.post(server.url + path, **kwargs) as r:
            assert r.status == status
            assert r.content_type == "application/json"
            error = (await r.json())["error"]
        assert error["message"]
        assert error["type"]
        assert error["param"] == param
        assert "Retry-After" not in r.headers
        async with s.get(server.url + "/healthz") as r:
            assert r.status == 200


async def test_unknown_route_and_method_get_json_errors(server: Server) -> None:
    async with aiohttp.ClientSession() as s:
        async with s.get(server.url + "/v2/nothing") as r:
            assert r.status == 404
            assert "error" in await r.json()
        async with s.get(server.url + CHAT) as r:
            assert r.status == 405
            assert "error" in await r.json()


async def test_server_still_answers_after_the_bad_input_table(server: Server) -> None:
    async with aiohttp.ClientSession() as s:
        body = {"model": SERVED, "messages": MSG, "max_tokens": 3}
        async with s.post(server.url + CHAT, json=body) as r:
            assert r.status == 200
