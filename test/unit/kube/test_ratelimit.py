"""Rate limiters: client-go's default controller limiter, step by step on a fake clock."""

import pytest

from kaito.kube.clock import FakeClock
from kaito.kube.ratelimit import (
    ItemExponentialFailureRateLimiter,
    MaxOfRateLimiter,
    TokenBucketRateLimiter,
    default_controller_rate_limiter,
)


def test_exponential_doubles_from_5ms_per_item_and_caps_at_1000s():
    lim = ItemExponentialFailureRateLimiter(0.005, 1000.0)
    assert [lim.when("a") for _ in range(4)] == [0.005, 0.01, 0.02, 0.04]
    assert lim.when("b") == 0.005  # per item
    assert lim.num_requeues("a") == 4
    for _ in range(13):
        lim.when("a")
    assert lim.when("a") == pytest.approx(655.36)  # 18th failure: 5 ms * 2**17
    assert lim.when("a") == 1000.0  # 19th: capped
    for _ in range(2000):
        lim.when("a")
    assert lim.when("a") == 1000.0


def test_forget_resets_an_items_backoff():
    lim = ItemExponentialFailureRateLimiter()
    lim.when("a"), lim.when("a")
    lim.forget("a")
    assert lim.num_requeues("a") == 0
    assert lim.when("a") == 0.005


async def test_token_bucket_allows_a_burst_of_100_then_10_per_second():
    clock = FakeClock()
    bucket = TokenBucketRateLimiter(10, 100, clock)
    assert all(bucket.when(i) == 0 for i in range(100))
    assert bucket.when("x") == pytest.approx(0.1)
    assert bucket.when("y") == pytest.approx(0.2)  # each call reserves a token
    await clock.advance(1.0)  # refills 10 tokens, 2 were owed
    assert [bucket.when(i) for i in range(8)] == [0.0] * 8
    assert bucket.when("z") == pytest.approx(0.1)


async def test_default_controller_limiter_is_the_max_of_both():
    clock = FakeClock()
    lim = default_controller_rate_limiter(clock)
    assert isinstance(lim, MaxOfRateLimiter)
    assert lim.when("a") == 0.005  # exponential dominates while the bucket has tokens
    for i in range(99):
        lim.when(f"k{i}")
    # bucket empty: a fresh key waits for a token (0.1 s) although its own backoff is 5 ms
    assert lim.when("fresh") == pytest.approx(0.1)
    assert lim.num_requeues("a") == 1
    lim.forget("a")
    assert lim.num_requeues("a") == 0


def test_invalid_limiter_settings_name_the_field():
    with pytest.raises(ValueError, match="base_delay"):
        ItemExponentialFailureRateLimiter(0, 1)
    with pytest.raises(ValueError, match="qps"):
        TokenBucketRateLimiter(0, 1)
