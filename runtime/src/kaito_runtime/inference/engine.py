"""Dynamic batching: one generate loop in a worker thread that every concurrent request joins.

Requests wait in a bounded queue (``QueueFull`` when it is full; the server answers 429). Between two
decode steps the loop admits waiting sequences up to ``max_batch_size``, prefills them and splices them
into the running batch; each step then feeds one token per row. Every sequence keeps its own sampling
parameters, stop strings and token budget, and finishes on its own: its row leaves the batch and the
others go on. Text reaches the asyncio side through ``Sequence.events`` (deltas for streaming, then
one ``Finished``). Requests the loop cannot express (beam search, unknown ``generate`` keywords) run
as ``GenerateJob``s: transformers' ``generate`` alone, between two steps.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Protocol

import torch

from kaito_runtime.inference.metrics import Metrics
from kaito_runtime.inference.runner import BASE_ADAPTER
from kaito_runtime.inference.sampling import SamplingParams, TokenChooser

log = logging.getLogger(__name__)


class Runner(Protocol):
    """What the loop needs of the model: ``runner.ModelRunner``, or its broadcasting wrapper."""

    def prefill(self, prompts: list[list[int]], adapters: list[str] | None = None) -> torch.Tensor: ...
    def decode(self, tokens: list[int], adapters: list[str] | None = None) -> torch.Tensor: ...
    def keep(self, rows: list[int]) -> None: ...
    def reset(self) -> None: ...
    def generate(self, input_ids: list[int], kwargs: dict[str, Any], seed: int) -> list[int]: ...
    def idle(self) -> None: ...


class Decoder(Protocol):
    """The slice of a tokenizer the loop uses."""

    def decode(self, ids: list[int], **kwargs: Any) -> str: ...


class QueueFull(Exception):
    """The waiting queue is full; retry later."""


class EngineStopped(Exception):
    """The engine is shutting down or has stopped."""


@dataclass
class Delta:
    """New text of a streaming sequence."""

    text: str


@dataclass
class Finished:
    """The end of a sequence: its whole text, why it stopped, and how many tokens it generated."""

    text: str
    finish_reason: str
    completion_tokens: int


@dataclass
class Failed:
    """The sequence could not be generated."""

    error: BaseException


Event = Delta | Finished | Failed

_ids = itertools.count()


@dataclass(eq=False)
class Sequence:
    """One sequence to generate; a request with n choices submits n of them, sharing one event queue
    and told apart by ``index``."""

    prompt: list[int]
    params: SamplingParams
    loop: asyncio.AbstractEventLoop
    stream: bool = False
    adapter: str = BASE_ADAPTER
    decode_kwargs: dict[str, Any] = field(default_factory=dict)
    index: int = 0
    events: asyncio.Queue[tuple[int, Event]] = field(default_factory=asyncio.Queue)
    cancelled: bool = False
    id: int = field(default_factory=lambda: next(_ids))
    # State owned by the loop thread.
    generated: list[int] = field(default_factory=list)
    emitted: int = 0
    chooser: TokenChooser | None = None
    started: float = field(default_factory=time.monotonic)

    def cancel(self) -> None:
        """Asks the loop to drop this sequence at its next step (the client went away)."""
        self.cancelled = True


@dataclass(eq=False)
class GenerateJob:
    """A request for transformers' ``generate`` with keywords the batching loop does not implement."""

    prompt: list[int]
    kwargs: dict[str, Any]
    seed: int
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[list[int]]
    cancelled: bool = False

    def cancel(self) -> None:
        """Asks the loop to skip this job if it has not started (the client went away)."""
        self.cancelled = True


class Engine:
    """Owns the generate loop thread; ``submit`` from the event loop, results arrive as events."""

    def __init__(
        self,
        runner: Runner,
        tokenizer: Decoder,
        eos_token_ids: frozenset[int],
        metrics: Metrics,
        *,
        max_batch_size: int = 16,
        max_queue: int = 256,
        idle_tick: float = 60.0,
    ) -> None:
        self.runner = runner
        self.tokenizer = tokenizer
        self.eos_token_ids = eos_token_ids
        self.metrics = metrics
        self.max_batch_size = max_batch_size
        self.max_queue = max_queue
        self.idle_tick = idle_tick
        self._pending: deque[Sequence | GenerateJob] = deque()
        self._rows: list[Sequence] = []
        self._cond = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Starts the loop thread."""
        self._thread = threading.Thread(target=self._run, name="generate-loop", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Stops the loop; waiting and running sequences fail with ``EngineStopped``."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)

    def alive(self) -> bool:
        """Whether the loop thread is running and accepting work."""
        return self._thread is not None and self._thread.is_alive() and not self._stopping

    def running(self) -> int:
        """Sequences in the running batch."""
        return len(self._rows)

    def queue_depth(self) -> int:
        """Sequences waiting to join the batch."""
        return len(self._pending)

    def submit(self, sequences: list[Sequence]) -> None:
        """Queues all of ``sequences`` or none (``QueueFull``)."""
        self._enqueue(sequences)

    def submit_generate(self, job: GenerateJob) -> None:
        """Queues a ``generate`` call that runs between two steps of the batch."""
        self._enqueue([job])

    def _enqueue(self, items: list[Sequence] | list[GenerateJob]) -> None:
        with self._cond:
            if self._stopping:
                raise EngineStopped("the server is shutting down")
            if len(self._pending) + len(items) > self.max_queue:
                raise QueueFull(f"{len(self._pending)} requests are waiting (limit {self.max_queue})")
            self._pending.extend(items)
            self.metrics.queue_depth.set(len(self._pending))
            self._cond.notify()

    # ---- loop thread ----

    def _run(self) -> None:
        reason = EngineStopped("the server is shutting down")
        try:
            with torch.inference_mode():
                self._loop()
        except BaseException as exc:
            log.exception("the generate loop died")
            reason = EngineStopped(f"the generate loop died: {type(exc).__name__}: {exc}")
            raise
        finally:
            with self._cond:
                self._stopping = True  # refuse new work: nothing would run it
            self._fail_all(reason)

    def _loop(self) -> None:
        while True:
            admitted, job = self._wait_for_work()
            if admitted is None:
                return
            try:
                if job is not None:
                    self._run_job(job)
                elif admitted:
                    self._prefill(admitted)
                elif self._rows:
                    self._decode()
            except Exception as exc:  # a failed forward fails its batch, not the server
                log.exception("generate step failed; failing %d sequences", len(self._rows) + len(admitted))
                failed = {seq.id: seq for seq in self._rows + admitted}
                for seq in failed.values():
                    self._emit(seq, Failed(exc))
                self._rows = []
                self.runner.reset()

    def _wait_for_work(self) -> tuple[list[Sequence] | None, GenerateJob | None]:
        with self._cond:
            while not self._stopping and not self._pending and not self._rows:
                if not self._cond.wait(timeout=self.idle_tick):
                    self.runner.idle()
            if self._stopping:
                return None, None
            self._drop_cancelled()
            admitted: list[Sequence] = []
            while self._pending and len(self._rows) + len(admitted) < self.max_batch_size:
                head = self._pending[0]
                if isinstance(head, GenerateJob):
                    if admitted:
                        break
                    self._pending.popleft()
                    if head.cancelled:
                        self.metrics.cancelled.inc()
                        continue
                    self.metrics.queue_depth.set(len(self._pending))
                    return [], head
                self._pending.popleft()
                if not head.cancelled:
                    admitted.append(head)
            self.metrics.queue_depth.set(len(self._pending))
            return admitted, None

    def _drop_cancelled(self) -> None:
        if any(seq.cancelled for seq in self._rows):
            keep = [i for i, seq in enumerate(self._rows) if not seq.cancelled]
            self.metrics.cancelled.inc(len(self._rows) - len(keep))
            self.runner.keep(keep)
            self._rows = [self._rows[i] for i in keep]

    def _run_job(self, job: GenerateJob) -> None:
        try:
            result = self.runner.generate(job.prompt, dict(job.kwargs), job.seed)
        except Exception as exc:
            job.loop.call_soon_threadsafe(_set_exception, job.future, exc)
        else:
            job.loop.call_soon_threadsafe(_set_result, job.future, result)

    def _prefill(self, admitted: list[Sequence]) -> None:
        joining: list[Sequence] = []
        for seq in admitted:
            try:  # a sequence whose sampler cannot be built fails alone, before it joins
                seq.chooser = TokenChooser(seq.params, seq.params.eos_token_ids or self.eos_token_ids)
            except Exception as exc:
                log.exception("sequence %d failed to start; it does not join the batch", seq.id)
                self._emit(seq, Failed(exc))
                continue
            joining.append(seq)
            self.metrics.prompt_tokens.inc(len(seq.prompt))
        if not joining:
            return
        logits = self.runner.prefill([s.prompt for s in joining], [s.adapter for s in joining])
        self._rows.extend(joining)
        self._advance(joining, logits, first=True)

    def _decode(self) -> None:
        rows = self._rows
        self.metrics.batch_size.observe(len(rows))
        logits = self.runner.decode([s.generated[-1] for s in rows], [s.adapter for s in rows])
        self._advance(rows, logits, first=False)

    def _advance(self, seqs: list[Sequence], logits: torch.Tensor, *, first: bool) -> None:
        greedy = logits.argmax(-1).tolist()
        finished: set[int] = set()
        for i, seq in enumerate(seqs):
            try:  # a row whose token cannot be chosen fails alone and leaves the batch
                done = self._next_token(seq, logits[i], greedy[i], first=first)
            except Exception as exc:
                log.exception("sequence %d failed; it leaves the batch", seq.id)
                self._emit(seq, Failed(exc))
                done = True
            if done:
                finished.add(seq.id)
        if finished:
            keep = [i for i, seq in enumerate(self._rows) if seq.id not in finished]
            self.runner.keep(keep)
            self._rows = [self._rows[i] for i in keep]

    def _next_token(self, seq: Sequence, logits: torch.Tensor, greedy: int, *, first: bool) -> bool:
        """Chooses and appends ``seq``'s next token; returns whether the sequence is finished."""
        chooser = seq.chooser
        assert chooser is not None
        token = greedy if chooser.plain_greedy else chooser.choose(logits, seq.prompt, seq.generated)
        seq.generated.append(token)
        if first:
            self.metrics.time_to_first_token.observe(time.monotonic() - seq.started)
        return self._step_sequence(seq, token)

    def _step_sequence(self, seq: Sequence, token: int) -> bool:
        """Emits what the new token makes visible; returns whether the sequence is finished."""
        params = seq.params
        eos = params.eos_token_ids or self.eos_token_ids
        if token in eos and len(seq.generated) > params.min_new_tokens:
            self._finish(seq, seq.generated[:-1], "stop")
            return True
        if params.stop or seq.stream:
            text = self.tokenizer.decode(seq.generated, **seq.decode_kwargs)
            for stop in params.stop:
                at = text.find(stop)
                if at >= 0:
                    self._finish(seq, seq.generated, "stop", text=text[:at])
                    return True
            if seq.stream:
                hold = max((len(s) for s in params.stop), default=1) - 1
                end = len(text) - hold
                while end > seq.emitted and text[end - 1] == "\ufffd":
                    end -= 1
                if end > seq.emitted:
                    self._emit(seq, Delta(text[seq.emitted : end]))
                    seq.emitted = end
        if len(seq.generated) >= params.max_new_tokens:
            self._finish(seq, seq.generated, "length")
            return True
        return False

    def _finish(self, seq: Sequence, tokens: list[int], reason: str, *, text: str | None = None) -> None:
        if text is None:
            text = self.tokenizer.decode(tokens, **seq.decode_kwargs)
        if seq.stream and len(text) > seq.emitted:
            self._emit(seq, Delta(text[seq.emitted :]))
            seq.emitted = len(text)
        self.metrics.generated_tokens.inc(len(seq.generated))
        self._emit(seq, Finished(text, reason, len(seq.generated)))

    def _emit(self, seq: Sequence, event: Event) -> None:
        seq.loop.call_soon_threadsafe(seq.events.put_nowait, (seq.index, event))

    def _fail_all(self, exc: BaseException) -> None:
        with self._cond:
            pending = list(self._pending)
            self._pending.clear()
        for item in pending:
            if isinstance(item, GenerateJob):
                item.loop.call_soon_threadsafe(_set_exception, item.future, exc)
            else:
                self._emit(item, Failed(exc))
        for seq in self._rows:
            self._emit(seq, Failed(exc))
        self._rows = []


def _set_result(future: asyncio.Future[list[int]], result: list[int]) -> None:
    if not future.done():
        future.set_result(result)


def _set_exception(future: asyncio.Future[list[int]], exc: BaseException) -> None:
    if not future.done():
        future.set_exception(exc)
