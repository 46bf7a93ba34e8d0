"""KAITO's POST /chat: its schema, defaults and the {"Result": text} answer."""

from __future__ import annotations

from typing import Any

import aiohttp
from inference_helpers import Server

from kaito_runtime.inference.schemas import KAITO_CHAT_DECODER


async def post_chat(server: Server, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession() as s, s.post(server.url + "/chat", json=body) as r:
        return r.status, await r.json()


async def test_chat_answers_greedy_generate_with_the_prompt_in_front(
    server: Server, tokenizer: Any, reference: Any
) -> None:
    prompt = "The operator creates machines"
    status, body = await post_chat(
        server, {"prompt": prompt, "generate_kwargs": {"do_sample": False, "max_length": 20}}
    )
    assert status == 200
    ids = tokenizer(prompt)["input_ids"]
    expected = reference(ids, 20 - len(ids))
    if tokenizer.eos_token_id in expected:
        expected = expected[: expected.index(tokenizer.eos_token_id)]
    assert body == {"Result": prompt + tokenizer.decode(expected, skip_special_tokens=True)}


async def test_return_full_text_false_gives_only_the_generated_text(server: Server) -> None:
    kwargs = {"do_sample": False, "max_new_tokens": 6}
    _, full = await post_chat(server, {"prompt": "Hello", "generate_kwargs": kwargs})
    _, bare = await post_chat(
        server, {"prompt": "Hello", "return_full_text": False, "generate_kwargs": kwargs}
    )
    assert full["Result"] == "Hello" + bare["Result"]


async def test_default_generate_kwargs_are_kaitos(server: Server, tokenizer: Any) -> None:
    status, body = await post_chat(server, {"prompt": "Hello"})
    assert status == 200
    assert body["Result"].startswith("Hello")
    translator = server.service.translator
    assert translator is not None
    plan = translator.kaito_plan(KAITO_CHAT_DECODER.decode(b'{"prompt": "Hello"}'))
    assert plan.params is not None
    prompt_tokens = len(tokenizer("Hello")["input_ids"])
    assert plan.params.max_new_tokens == 200 - prompt_tokens  # max_length 200 counts the prompt
    assert (plan.params.do_sample, plan.params.top_k, plan.params.temperature) == (True, 10, 1.0)
    assert (plan.params.top_p, plan.params.typical_p, plan.params.repetition_penalty) == (1.0, 1.0, 1.0)
    assert plan.decode_kwargs["clean_up_tokenization_spaces"] is False


async def test_beam_search_runs_through_transformers_generate(server: Server) -> None:
    status, body = await post_chat(
        server,
        {
            "prompt": "Hello",
            "return_full_text": False,
            "generate_kwargs": {"num_beams": 2, "max_new_tokens": 5},
        },
    )
    assert status == 200
    assert isinstance(body["Result"], str)


async def test_a_combination_generate_refuses_is_a_400_naming_generate_kwargs(server: Server) -> None:
    kwargs = {"num_beams": 2, "num_return_sequences": 3, "max_new_tokens": 2}
    status, body = await post_chat(server, {"prompt": "Hello", "generate_kwargs": kwargs})
    assert status == 400
    assert body["error"]["param"] == "generate_kwargs"
    assert "num_return_sequences" in body["error"]["message"]


async def test_hole_drops_the_start_of_a_prompt_too_long_for_the_context(server: Server) -> None:
    long_prompt = "the quick brown fox " * 200
    kwargs = {"do_sample": False, "max_new_tokens": 4}
    status, _ = await post_chat(server, {"prompt": long_prompt, "generate_kwargs": kwargs})
    assert status == 400
    status, body = await post_chat(
        server, {"prompt": long_prompt, "handle_long_generation": "hole", "generate_kwargs": kwargs}
    )
    assert status == 200
    assert body["Result"].startswith(long_prompt)


async def test_messages_are_rendered_with_the_chat_template(server: Server) -> None:
    status, body = await post_chat(
        server, {"messages": [{"role": "user", "content": "Hi"}], "generate_kwargs": {"max_new_tokens": 4}}
    )
    assert status == 200
    assert isinstance(body["Result"], str)
