"""The serving state behind the HTTP routes: the loaded model, the engine, readiness and warm-up.

The HTTP server starts before the model loads, so probes and /metrics answer at once; generation
routes answer 503 and /healthz 503 until ``start`` has loaded the model and a warm-up generate
through the whole batching path has passed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import replace

from kaito_runtime.inference.adapters import COMBINED_ADAPTER
from kaito_runtime.inference.config import ServerConfig
from kaito_runtime.inference.engine import (
    Delta,
    Engine,
    EngineStopped,
    Failed,
    Finished,
    QueueFull,
    Runner,
    Sequence,
)
from kaito_runtime.inference.errors import APIError, invalid
from kaito_runtime.inference.loader import LoadedModel
from kaito_runtime.inference.metrics import Metrics
from kaito_runtime.inference.runner import BASE_ADAPTER
from kaito_runtime.inference.sampling import SamplingParams
from kaito_runtime.inference.translate import Translator

log = logging.getLogger(__name__)

WARMUP_PROMPT = "Hello"
RETRY_AFTER_SECONDS = 1


@contextmanager
def admission_errors() -> Iterator[None]:
    """Turns the engine's refusals into HTTP errors: 429 with Retry-After when full, 503 when stopping."""
    try:
        yield
    except QueueFull as exc:
        raise APIError(
            429,
            f"server busy: {exc}; retry later",
            code="queue_full",
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        ) from exc
    except EngineStopped as exc:
        raise APIError(503, str(exc), code="shutting_down") from exc


class InferenceService:
    """Holds what the routes share; ``start`` makes it ready, ``close`` stops the engine."""

    def __init__(self, config: ServerConfig, metrics: Metrics | None = None) -> None:
        self.config = config
        self.metrics = metrics or Metrics()
        self.loaded: LoadedModel | None = None
        self.engine: Engine | None = None
        self.translator: Translator | None = None
        self.ready = False

    async def start(self, loaded: LoadedModel, runner: Runner) -> None:
        """Starts the engine on ``runner``, runs the warm-up generate, then reports ready."""
        self.loaded = loaded
        default_adapter = COMBINED_ADAPTER if loaded.adapter_names else BASE_ADAPTER
        self.translator = Translator(
            loaded,
            self.config.served_model_name,
            default_adapter,
            max_batch_size=self.config.max_batch_size,
        )
        self.engine = Engine(
            runner,
            loaded.tokenizer,
            loaded.eos_token_ids,
            self.metrics,
            max_batch_size=self.config.max_batch_size,
            max_queue=self.config.max_queue,
        )
        self.engine.start()
        prompt = self.translator.text_prompt(WARMUP_PROMPT, "warmup")
        warm = self.sequences([(prompt.ids, SamplingParams(max_new_tokens=2))], 1, default_adapter)
        self.submit(warm)
        results = await self.collect(warm)
        log.info("warm-up generate passed (%d tokens)", results[0].completion_tokens)
        self.ready = True
        self.metrics.ready.set(1)

    def close(self) -> None:
        """Stops the engine; requests still waiting or running fail with 503."""
        self.ready = False
        self.metrics.ready.set(0)
        if self.engine is not None:
            self.engine.stop()

    @property
    def healthy(self) -> bool:
        """Ready, and the engine's generate loop is still running (a dead loop would answer nothing)."""
        return self.ready and self.engine is not None and self.engine.alive()

    def require_ready(self) -> tuple[Translator, Engine]:
        """The translator and engine, or 503 while the model is loading or the server is stopping."""
        if not self.ready or self.translator is None or self.engine is None:
            raise APIError(503, "the model is not ready yet", code="model_not_ready")
        return self.translator, self.engine

    def sequences(
        self,
        prompts: Iterable[tuple[list[int], SamplingParams]],
        n: int,
        adapter: str,
        *,
        stream: bool = False,
        decode_kwargs: dict[str, object] | None = None,
    ) -> list[Sequence]:
        """n sequences per prompt, sharing one event queue; choice i*n+j is prompt i's j-th sample
        (seeded with seed+j when the request has a seed)."""
        loop = asyncio.get_running_loop()
        events: asyncio.Queue[tuple[int, Delta | Finished | Failed]] = asyncio.Queue()
        out: list[Sequence] = []
        for prompt, params in prompts:
            for j in range(n):
                seeded = params if params.seed is None or j == 0 else _reseed(params, params.seed + j)
                out.append(
                    Sequence(
                        prompt=prompt,
                        params=seeded,
                        loop=loop,
                        stream=stream,
                        adapter=adapter,
                        decode_kwargs=dict(decode_kwargs or {"skip_special_tokens": True}),
                        index=len(out),
                        events=events,
                    )
                )
        return out

    def submit(self, seqs: list[Sequence]) -> None:
        """Queues the sequences; 429 with Retry-After when the queue is full, 503 when stopping, and
        400 when the request alone makes more sequences than the queue can ever hold."""
        if self.engine is None:
            raise APIError(503, "the model is not ready yet", code="model_not_ready")
        if len(seqs) > self.engine.max_queue:
            raise invalid(
                "n",
                f"the request makes {len(seqs)} sequences (prompts x n), more than the "
                f"{self.engine.max_queue} this server's queue holds (--max-queue); it could never be "
                "admitted, so send fewer prompts or a smaller n",
            )
        with admission_errors():
            self.engine.submit(seqs)

    async def collect(self, seqs: list[Sequence]) -> list[Finished]:
        """Waits for every sequence to finish; cancels the rest if the caller goes away or one fails."""
        results: dict[int, Finished] = {}
        try:
            while len(results) < len(seqs):
                index, event = await seqs[0].events.get()
                if isinstance(event, Finished):
                    results[index] = event
                elif isinstance(event, Failed):
                    raise failure(event.error)
        finally:
            for seq in seqs:
                if seq.index not in results:
                    seq.cancel()
        return [results[i] for i in range(len(seqs))]


def failure(error: BaseException) -> APIError:
    """The API error for a sequence the engine could not generate."""
    if isinstance(error, EngineStopped):
        return APIError(503, str(error), code="shutting_down")
    return APIError(500, f"generation failed: {type(error).__name__}: {error}", code="generation_failed")


def _reseed(params: SamplingParams, seed: int) -> SamplingParams:
    return replace(params, seed=seed)
