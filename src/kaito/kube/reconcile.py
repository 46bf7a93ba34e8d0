"""The reconciler contract (controller-runtime pkg/reconcile).

A Request names an object and nothing else: reconcile reads the current state by key (from the
cache) and drives the world towards it; a missing object means it was deleted. Return Result()
when done, Result(requeue_after=s) to look again later, raise to retry with backoff, or raise
TerminalError when retrying cannot help (an invalid spec waits for the user to change it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Request:
    """The key of the object to reconcile; `namespace` is "" for cluster-scoped objects."""

    name: str
    namespace: str = ""

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}" if self.namespace else self.name


@dataclass(frozen=True, slots=True)
class Result:
    """`requeue_after` > 0: reconcile again after that many seconds; `requeue`: again soon, with backoff."""

    requeue_after: float = 0.0
    requeue: bool = False


class TerminalError(Exception):
    """A reconcile error that retrying will not fix: logged and counted, not requeued."""


class Reconciler(Protocol):
    """Anything with `async reconcile(request) -> Result`."""

    async def reconcile(self, request: Request) -> Result: ...
