"""OpenAI-compatible routes: ``POST /v1/chat/completions``, ``POST /v1/completions``, ``GET /v1/models``.

``stream=true`` answers Server-Sent Events: one ``data: {chunk}`` per piece of text, a last chunk per
choice with its ``finish_reason``, a usage chunk when ``stream_options.include_usage`` is set, then
``data: [DONE]``. If the client goes away its sequences leave the batch at the next step.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import msgspec
from aiohttp import web

from kaito_runtime.inference.engine import Delta, Failed, Finished, Sequence
from kaito_runtime.inference.errors import APIError, from_msgspec
from kaito_runtime.inference.responses import json_response
from kaito_runtime.inference.schemas import CHAT_COMPLETION_DECODER, COMPLETION_DECODER
from kaito_runtime.inference.service import InferenceService, failure

_encode = msgspec.json.encode
ChunkMaker = Callable[[int, str | None, str | None], dict[str, Any]]


def _decode(decoder: msgspec.json.Decoder[Any], body: bytes) -> Any:
    try:
        return decoder.decode(body)
    except msgspec.DecodeError as exc:
        raise from_msgspec(exc) from exc


def _usage(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


def add_routes(router: web.UrlDispatcher, service: InferenceService) -> None:
    """Adds the /v1 routes."""

    async def models(_: web.Request) -> web.Response:
        translator, _engine = service.require_ready()
        created = int(time.time())
        base = service.config.served_model_name
        data = [
            {
                "id": base,
                "object": "model",
                "created": created,
                "owned_by": "kaito",
                "root": base,
                "parent": None,
            }
        ]
        for name in translator.loaded.adapter_names:
            data.append(
                {
                    "id": name,
                    "object": "model",
                    "created": created,
                    "owned_by": "kaito",
                    "root": base,
                    "parent": base,
                }
            )
        return json_response({"object": "list", "data": data})

    async def chat_completions(request: web.Request) -> web.StreamResponse:
        translator, _engine = service.require_ready()
        req = _decode(CHAT_COMPLETION_DECODER, await request.read())
        translator.check_chat_unsupported(req)
        adapter = translator.adapter_for(req.model)
        prompt = translator.chat_prompt(req.messages)
        max_tokens = req.max_completion_tokens if req.max_completion_tokens is not None else req.max_tokens
        params = translator.openai_params(req, len(prompt.ids), max_tokens)
        seqs = service.sequences([(prompt.ids, params)], req.n, adapter, stream=req.stream)
        service.submit(seqs)
        rid, created, model = (
            f"chatcmpl-{uuid.uuid4().hex}",
            int(time.time()),
            req.model or translator.served_model_name,
        )

        if req.stream:

            def chunk(index: int, text: str | None, finish: str | None) -> dict[str, Any]:
                delta: dict[str, Any] = {} if text is None else {"content": text}
                if text == "" and finish is None:
                    delta["role"] = "assistant"
                return {
                    "id": rid,
                    "object": "chat.completion.chunk",
                    "created": created,
                    "model": model,
                    "choices": [{"index": index, "delta": delta, "finish_reason": finish, "logprobs": None}],
                }

            include_usage = bool(req.stream_options and req.stream_options.include_usage)
            opening = {seq.index: "" for seq in seqs}
            return await _stream(
                request, seqs, chunk, opening, len(prompt.ids), include_usage, rid, created, model
            )

        results = await service.collect(seqs)
        choices = [
            {
                "index": i,
                "message": {"role": "assistant", "content": r.text},
                "finish_reason": r.finish_reason,
                "logprobs": None,
            }
            for i, r in enumerate(results)
        ]
        return json_response(
            {
                "id": rid,
                "object": "chat.completion",
                "created": created,
                "model": model,
                "choices": choices,
                "usage": _usage(len(prompt.ids), sum(r.completion_tokens for r in results)),
            }
        )

    async def completions(request: web.Request) -> web.StreamResponse:
        translator, _engine = service.require_ready()
        req = _decode(COMPLETION_DECODER, await request.read())
        translator.check_completion_unsupported(req)
        adapter = translator.adapter_for(req.model)
        prompts = translator.completion_prompts(req)
        params = [translator.openai_params(req, len(p.ids), req.max_tokens) for p in prompts]
        pairs = [(prompt.ids, p) for prompt, p in zip(prompts, params, strict=True)]
        seqs = service.sequences(pairs, req.n, adapter, stream=req.stream)
        service.submit(seqs)
        prompt_tokens = sum(len(p.ids) for p in prompts)
        rid, created, model = (
            f"cmpl-{uuid.uuid4().hex}",
            int(time.time()),
            req.model or translator.served_model_name,
        )
        prompt_text = {i: prompts[i // req.n].text for i in range(len(seqs))}

        if req.stream:

            def chunk(index: int, text: str | None, finish: str | None) -> dict[str, Any]:
                return {
                    "id": rid,
                    "object": "text_completion",
                    "created": created,
                    "model": model,
                    "choices": [
                        {"index": index, "text": text or "", "finish_reason": finish, "logprobs": None}
                    ],
                }

            include_usage = bool(req.stream_options and req.stream_options.include_usage)
            opening = prompt_text if req.echo else {}
            return await _stream(
                request, seqs, chunk, opening, prompt_tokens, include_usage, rid, created, model
            )

        results = await service.collect(seqs)
        choices = [
            {
                "index": i,
                "text": (prompt_text[i] if req.echo else "") + r.text,
                "finish_reason": r.finish_reason,
                "logprobs": None,
            }
            for i, r in enumerate(results)
        ]
        return json_response(
            {
                "id": rid,
                "object": "text_completion",
                "created": created,
                "model": model,
                "choices": choices,
                "usage": _usage(prompt_tokens, sum(r.completion_tokens for r in results)),
            }
        )

    router.add_get("/v1/models", models)
    router.add_post("/v1/chat/completions", chat_completions)
    router.add_post("/v1/completions", completions)


async def _stream(
    request: web.Request,
    seqs: list[Sequence],
    chunk: ChunkMaker,
    opening: dict[int, str],
    prompt_tokens: int,
    include_usage: bool,
    rid: str,
    created: int,
    model: str,
) -> web.StreamResponse:
    """Writes the sequences' events as SSE; cancels unfinished sequences if the client disconnects."""
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
    finished: set[int] = set()
    completion_tokens = 0
    try:
        await response.prepare(request)

        async def send(payload: object) -> None:
            await response.write(b"data: " + _encode(payload) + b"\n\n")

        for index, text in opening.items():
            await send(chunk(index, text, None))
        events = seqs[0].events
        while len(finished) < len(seqs):
            index, event = await events.get()
            if isinstance(event, Delta):
                await send(chunk(index, event.text, None))
            elif isinstance(event, Finished):
                finished.add(index)
                completion_tokens += event.completion_tokens
                await send(chunk(index, None, event.finish_reason))
            elif isinstance(event, Failed):
                err: APIError = failure(event.error)
                await send(err.body())
                break
        else:
            if include_usage:
                await send(
                    {
                        "id": rid,
                        "object": chunk(0, None, None)["object"],
                        "created": created,
                        "model": model,
                        "choices": [],
                        "usage": _usage(prompt_tokens, completion_tokens),
                    }
                )
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
    except (ConnectionResetError, ConnectionError):
        pass  # the client went away; its sequences are cancelled below
    finally:
        for seq in seqs:
            if seq.index not in finished:
                seq.cancel()
    return response
