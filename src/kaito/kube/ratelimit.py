"""Work-queue rate limiters (client-go util/workqueue/default_rate_limiters.go).

`when(item)` returns how long to wait before the item's next attempt and counts the attempt;
`forget(item)` clears its history. The controller default is the max of a per-item exponential
(5 ms · 2^failures, capped at 1000 s) and an overall token bucket (10 per second, burst 100).
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Protocol

from kaito.kube.clock import Clock, RealClock


class RateLimiter(Protocol):
    """Decides retry delays per item."""

    def when(self, item: Hashable) -> float: ...

    def forget(self, item: Hashable) -> None: ...

    def num_requeues(self, item: Hashable) -> int: ...


class ItemExponentialFailureRateLimiter:
    """base · 2^(failures so far), capped at max_delay; per item."""

    def __init__(self, base_delay: float = 0.005, max_delay: float = 1000.0) -> None:
        if base_delay <= 0 or max_delay < base_delay:
            raise ValueError("base_delay: must be > 0 and <= max_delay")
        self.base_delay, self.max_delay = base_delay, max_delay
        self._failures: dict[Hashable, int] = {}

    def when(self, item: Hashable) -> float:
        exp = self._failures.get(item, 0)
        self._failures[item] = exp + 1
        if exp > 62:  # 2.0**exp overflows near 1024; the cap applied long before
            return self.max_delay
        return min(self.base_delay * 2.0**exp, self.max_delay)

    def forget(self, item: Hashable) -> None:
        self._failures.pop(item, None)

    def num_requeues(self, item: Hashable) -> int:
        return self._failures.get(item, 0)


class TokenBucketRateLimiter:
    """golang.org/x/time/rate Reserve().Delay(): every `when` takes a token, waiting if none left."""

    def __init__(self, qps: float = 10.0, burst: int = 100, clock: Clock | None = None) -> None:
        if qps <= 0 or burst < 1:
            raise ValueError("qps: must be > 0 and burst >= 1")
        self.qps, self.burst = qps, burst
        self._clock = clock or RealClock()
        self._tokens = float(burst)
        self._last: float | None = None

    def when(self, item: Hashable) -> float:
        now = self._clock.now()
        if self._last is not None:
            self._tokens = min(float(self.burst), self._tokens + (now - self._last) * self.qps)
        self._last = now
        self._tokens -= 1.0
        return 0.0 if self._tokens >= 0 else -self._tokens / self.qps

    def forget(self, item: Hashable) -> None:
        pass

    def num_requeues(self, item: Hashable) -> int:
        return 0


class MaxOfRateLimiter:
    """The longest delay any of its limiters asks for (each one's `when` is called)."""

    def __init__(self, *limiters: RateLimiter) -> None:
        if not limiters:
            raise ValueError("limiters: at least one required")
        self.limiters = limiters

    def when(self, item: Hashable) -> float:
        return max([lim.when(item) for lim in self.limiters])

    def forget(self, item: Hashable) -> None:
        for lim in self.limiters:
            lim.forget(item)

    def num_requeues(self, item: Hashable) -> int:
        return max(lim.num_requeues(item) for lim in self.limiters)


def default_controller_rate_limiter(clock: Clock | None = None) -> MaxOfRateLimiter:
    """max(per-item exponential 5 ms…1000 s, token bucket 10 qps / burst 100)."""
    return MaxOfRateLimiter(
        ItemExponentialFailureRateLimiter(0.005, 1000.0), TokenBucketRateLimiter(10.0, 100, clock)
    )
