"""The reflector's exponential backoff (client-go wait.Backoff via NewExponentialBackoffManager).

0.8 s doubling to a 30 s cap, jitter 1.0 (each delay is d + rand·d), reset to 0.8 s after 2 minutes
without a backoff: about 0.22 requests/s against an API server that is down.
"""

from __future__ import annotations

import random

from kaito.kube.clock import Clock, RealClock


class Backoff:
    """Call `next()` for the next delay after a failure."""

    def __init__(
        self,
        initial: float = 0.8,
        cap: float = 30.0,
        factor: float = 2.0,
        jitter: float = 1.0,
        reset_after: float = 120.0,
        clock: Clock | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.initial, self.cap, self.factor, self.jitter, self.reset_after = (
            initial,
            cap,
            factor,
            jitter,
            reset_after,
        )
        self._clock = clock or RealClock()
        self._rng = rng or random.Random()
        self._current = initial
        self._last: float | None = None

    def next(self) -> float:
        now = self._clock.now()
        if self._last is not None and now - self._last >= self.reset_after:
            self._current = self.initial
        self._last = now
        delay = self._current
        self._current = min(self._current * self.factor, self.cap)
        return delay + self._rng.random() * self.jitter * delay if self.jitter > 0 else delay
