"""KAITO's ``POST /chat``: {"prompt", "generate_kwargs", ...} → {"Result": text}.

Requests whose ``generate_kwargs`` the batch loop implements join it; others (beam search, other
``GenerationConfig`` options) run transformers' ``generate`` between two batch steps. Which keys may
reach ``generate`` at all is decided in ``generate_kwargs``; ``generate``'s own refusal of a value is
a 400, and a server shutting down a 503.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

import msgspec
from aiohttp import web

from kaito_runtime.inference.engine import Engine, EngineStopped, GenerateJob
from kaito_runtime.inference.errors import from_msgspec, invalid
from kaito_runtime.inference.responses import json_response
from kaito_runtime.inference.schemas import KAITO_CHAT_DECODER
from kaito_runtime.inference.service import InferenceService, admission_errors, failure


def add_routes(router: web.UrlDispatcher, service: InferenceService) -> None:
    """Adds POST /chat."""

    async def chat(request: web.Request) -> web.Response:
        translator, engine = service.require_ready()
        try:
            req = KAITO_CHAT_DECODER.decode(await request.read())
        except msgspec.DecodeError as exc:
            raise from_msgspec(exc) from exc
        plan = translator.kaito_plan(req)
        if plan.params is not None:
            seqs = service.sequences(
                [(plan.prompt.ids, plan.params)],
                1,
                translator.default_adapter,
                decode_kwargs=plan.decode_kwargs,
            )
            service.submit(seqs)
            text = (await service.collect(seqs))[0].text
        else:
            assert plan.generate_kwargs is not None
            tokens = await _generate(
                engine, plan.prompt.ids, plan.generate_kwargs, translator.default_adapter
            )
            drop = _special_ids(plan.generate_kwargs)
            text = translator.tokenizer.decode([t for t in tokens if t not in drop], **plan.decode_kwargs)
        if req.return_full_text and req.prompt is not None:
            text = req.prompt + text
        return json_response({"Result": text})

    router.add_post("/chat", chat)


async def _generate(engine: Engine, prompt: list[int], kwargs: dict[str, Any], adapter: str) -> list[int]:
    loop = asyncio.get_running_loop()
    future: asyncio.Future[list[int]] = loop.create_future()
    job = GenerateJob(prompt, {**kwargs, "adapter": adapter}, random.getrandbits(31), loop, future)
    with admission_errors():
        engine.submit_generate(job)
    try:
        return await future
    except asyncio.CancelledError:
        job.cancel()  # the client went away: skip the job if it has not started
        raise
    except (ValueError, TypeError) as exc:  # generate's own checks of its keywords
        raise invalid("generate_kwargs", str(exc)) from exc
    except EngineStopped as exc:
        raise failure(exc) from exc


def _special_ids(kwargs: dict[str, Any]) -> set[int]:
    """End-of-sequence and padding ids, which ``generate`` leaves at the end of its output."""
    ids: set[int] = set()
    for key in ("eos_token_id", "pad_token_id"):
        value = kwargs.get(key)
        if isinstance(value, int):
            ids.add(value)
        elif isinstance(value, list):
            ids.update(v for v in value if isinstance(v, int))
    return ids
