"""The OpenAI-compatible API, driven by the official ``openai`` client, unmodified."""

from __future__ import annotations

from typing import Any

from inference_helpers import SERVED, Server
from openai import AsyncOpenAI


def client(server: Server) -> AsyncOpenAI:
    return AsyncOpenAI(base_url=server.v1, api_key="unused", max_retries=0)


def chat_prompt_ids(tokenizer: Any, content: str) -> list[int]:
    text = tokenizer.apply_chat_template(
        [{"role": "user", "content": content}], tokenize=False, add_generation_prompt=True
    )
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


async def test_chat_completion_matches_greedy_generate_and_counts_tokens(
    server: Server, tokenizer: Any, reference: Any
) -> None:
    out = await client(server).chat.completions.create(
        model=SERVED,
        messages=[{"role": "user", "content": "What is Kubernetes?"}],
        max_tokens=12,
        temperature=0,
    )
    prompt = chat_prompt_ids(tokenizer, "What is Kubernetes?")
    expected = reference(prompt, 12)
    choice = out.choices[0]
    assert choice.message.role == "assistant"
    assert out.usage is not None
    assert out.usage.prompt_tokens == len(prompt)
    eos = tokenizer.eos_token_id
    if eos in expected:
        expected = expected[: expected.index(eos)]
        assert choice.finish_reason == "stop"
    else:
        assert choice.finish_reason == "length"
        assert out.usage.completion_tokens == 12
    assert choice.message.content == tokenizer.decode(expected, skip_special_tokens=True)
    assert out.usage.total_tokens == out.usage.prompt_tokens + out.usage.completion_tokens


async def test_streamed_chat_concatenates_to_the_same_text_and_ends_with_usage(server: Server) -> None:
    api = client(server)
    messages = [{"role": "user", "content": "Write a haiku about autumn"}]
    whole = await api.chat.completions.create(model=SERVED, messages=messages, max_tokens=16, temperature=0)
    stream = await api.chat.completions.create(
        model=SERVED,
        messages=messages,
        max_tokens=16,
        temperature=0,
        stream=True,
        stream_options={"include_usage": True},
    )
    parts, finish, usage, roles = [], None, None, []
    async for chunk in stream:
        if chunk.usage is not None:
            usage = chunk.usage
        for choice in chunk.choices:
            if choice.delta.role:
                roles.append(choice.delta.role)
            if choice.delta.content:
                parts.append(choice.delta.content)
            if choice.finish_reason:
                finish = choice.finish_reason
    assert roles == ["assistant"]
    assert "".join(parts) == whole.choices[0].message.content
    assert finish == whole.choices[0].finish_reason
    assert usage is not None and whole.usage is not None
    assert usage.completion_tokens == whole.usage.completion_tokens


async def test_raw_stream_ends_with_done(server: Server) -> None:
    import aiohttp

    body = {"model": SERVED, "prompt": "Hello", "max_tokens": 4, "stream": True, "temperature": 0}
    async with aiohttp.ClientSession() as s, s.post(server.v1 + "/completions", json=body) as r:
        assert r.status == 200
        assert r.headers["Content-Type"].startswith("text/event-stream")
        text = await r.text()
    events = [line for line in text.split("\n\n") if line]
    assert all(e.startswith("data: ") for e in events)
    assert events[-1] == "data: [DONE]"


async def test_completion_with_echo_n_and_list_prompts(server: Server) -> None:
    out = await client(server).completions.create(
        model=SERVED,
        prompt=["Hello there", "The quick brown fox"],
        max_tokens=5,
        n=2,
        temperature=0,
        echo=True,
    )
    assert [c.index for c in out.choices] == [0, 1, 2, 3]
    assert out.choices[0].text.startswith("Hello there")
    assert out.choices[2].text.startswith("The quick brown fox")
    # greedy: both samples of one prompt agree
    assert out.choices[0].text == out.choices[1].text


async def test_stop_sequence_truncates_and_reports_stop(server: Server) -> None:
    api = client(server)
    free = await api.completions.create(model=SERVED, prompt="Numbers like", max_tokens=20, temperature=0)
    text = free.choices[0].text
    stop = text[len(text) // 2 : len(text) // 2 + 2]
    assert stop.strip(), f"greedy text too short to pick a stop sequence: {text!r}"
    cut = await api.completions.create(
        model=SERVED, prompt="Numbers like", max_tokens=20, temperature=0, stop=[stop]
    )
    assert cut.choices[0].text == text[: text.index(stop)]
    assert cut.choices[0].finish_reason == "stop"
    streamed = await api.completions.create(
        model=SERVED, prompt="Numbers like", max_tokens=20, temperature=0, stop=stop, stream=True
    )
    pieces = [c.choices[0].text async for c in streamed if c.choices]
    assert "".join(pieces) == cut.choices[0].text


async def test_seed_makes_sampling_reproducible_and_n_gives_independent_samples(server: Server) -> None:
    api = client(server)
    kwargs: dict[str, Any] = {
        "model": SERVED,
        "prompt": "Hello",
        "max_tokens": 12,
        "temperature": 1.5,
        "n": 3,
    }
    first = await api.completions.create(seed=7, **kwargs)
    again = await api.completions.create(seed=7, **kwargs)
    assert [c.text for c in first.choices] == [c.text for c in again.choices]
    assert len({c.text for c in first.choices}) > 1


async def test_models_lists_the_served_model(server: Server) -> None:
    models = await client(server).models.list()
    assert [m.id for m in models.data] == [SERVED]


async def test_max_tokens_defaults_to_the_rest_of_the_context(server: Server) -> None:
    out = await client(server).chat.completions.create(
        model=SERVED,
        messages=[{"role": "user", "content": "Hi"}],
        temperature=0,
        extra_body={"min_tokens": 3},
    )
    assert out.usage is not None
    assert 3 <= out.usage.completion_tokens <= 512 - out.usage.prompt_tokens
