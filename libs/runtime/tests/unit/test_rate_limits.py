"""rcm_runtime.rate_limits, pure parts: the token bucket with the time passed in, the limiter with an injected
clock, and the client key (never the raw credential)."""

from __future__ import annotations

import hashlib
import math
from datetime import datetime, timedelta, timezone

import pytest
from starlette.requests import Request

from rcm_runtime.clock import FixedClock
from rcm_runtime.rate_limits import RateLimited, RateLimiter, TokenBucket, client_key

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)


def test_a_full_bucket_lets_a_burst_through_then_one_request_per_refill():
    bucket = TokenBucket.full(rate=2.0, burst=3, now=100.0)
    assert [bucket.take(100.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take(100.0) == pytest.approx(0.5)  # one token comes back in 1/rate seconds
    assert bucket.take(100.25) == pytest.approx(0.25)  # half a token so far: a quarter second to go
    assert bucket.take(100.5) == 0.0
    assert bucket.take(100.5) == pytest.approx(0.5)


def test_a_bucket_refills_up_to_its_burst_and_no_further():
    bucket = TokenBucket.full(rate=10.0, burst=5, now=0.0)
    for _ in range(5):
        bucket.take(0.0)
    # an hour idle is worth 36,000 tokens at this rate, but the bucket holds 5
    assert [bucket.take(3600.0) for _ in range(6)][-2:] == [0.0, pytest.approx(0.1)]


def test_a_clock_stepping_back_neither_refills_nor_drains():
    bucket = TokenBucket.full(rate=1.0, burst=1, now=50.0)
    assert bucket.take(50.0) == 0.0
    assert bucket.take(10.0) == pytest.approx(1.0)  # 40 s back in time: still empty, still one second to wait
    assert bucket.take(51.0) == 0.0


def test_a_bucket_with_no_rate_never_refills():
    bucket = TokenBucket.full(rate=0.0, burst=1, now=0.0)
    assert bucket.take(0.0) == 0.0
    assert bucket.take(1e9) == math.inf


def test_the_limiter_keeps_one_bucket_per_client_on_the_injected_clock():
    clock = FixedClock(T0)
    limiter = RateLimiter(rate=1.0, burst=2, clock=clock)
    assert [limiter.retry_after("a") for _ in range(3)] == [0.0, 0.0, pytest.approx(1.0)]
    assert limiter.retry_after("b") == 0.0  # another client has its own bucket
    clock.at = T0 + timedelta(seconds=1)
    assert limiter.retry_after("a") == 0.0
    assert limiter.retry_after("a") == pytest.approx(1.0)


def test_a_rate_of_zero_turns_the_limiter_off():
    limiter = RateLimiter(rate=0.0, burst=1, clock=FixedClock(T0))
    assert not limiter.enabled
    assert all(limiter.retry_after("a") == 0.0 for _ in range(100))


def test_the_limiter_forgets_the_least_recently_seen_client_beyond_its_bound():
    limiter = RateLimiter(rate=1.0, burst=1, clock=FixedClock(T0), max_clients=2)
    for client in ("a", "b"):
        assert limiter.retry_after(client) == 0.0
    assert limiter.retry_after("a") > 0  # a is seen again: b is now the least recent
    assert limiter.retry_after("c") == 0.0  # a third client: b's bucket goes
    assert limiter.retry_after("a") > 0  # a's empty bucket was kept
    assert limiter.retry_after("b") == 0.0  # b starts full again


def test_retry_after_is_whole_seconds_at_least_one():
    assert RateLimited(0.01).retry_after_s == 1
    assert RateLimited(2.2).retry_after_s == 3
    assert RateLimited(math.inf).retry_after_s == 86_400


def request(headers: dict[str, str], client_id: str | None = None) -> Request:
    scope = {"type": "http", "method": "POST", "path": "/", "headers": [(k.lower().encode(), v.encode())
                                                                       for k, v in headers.items()],
             "client": ("10.1.2.3", 5555), "state": {}}
    req = Request(scope)
    if client_id is not None:
        req.state.client_id = client_id
    return req


def test_the_client_is_the_authenticated_id_else_a_digest_of_the_credential_never_the_credential():
    key = "a-real-api-key-of-tenant-a"
    assert client_key(request({"x-api-key": key}, client_id="integrator-7")) == "client:integrator-7"
    by_key = client_key(request({"x-api-key": key}))
    assert key not in by_key and by_key == f"credential:{hashlib.sha256(key.encode()).hexdigest()[:16]}"
    bearer = client_key(request({"authorization": "Bearer tok.en.sig"}))
    assert "tok.en.sig" not in bearer and bearer.startswith("credential:")
    assert client_key(request({"x-api-key": "another-key"})) != by_key
    assert client_key(request({})) == "peer:10.1.2.3"
