"""Rate limits per client on the intake endpoints: a token bucket per client, answered 429 {code: rate_limited}
with Retry-After when empty.

    @router.post("/encounters", dependencies=[rate_limit("intake")])

reads `intake_rate_per_s` and `intake_burst` from the service's settings (RCM_INTAKE_RATE_PER_S,
RCM_INTAKE_BURST). The check runs after the endpoint's authentication (`after`, the bearer token or API key by default), so
an unauthenticated request is a 401 and spends nothing. The client is `request.state.client_id` when the
authentication set one, else a SHA-256 prefix of the credential header (never the credential itself).

Buckets live in the process: each replica limits on its own, so N replicas let a client through N times the rate."""

from __future__ import annotations

import hashlib
import math
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable

from fastapi import Depends, Request
from fastapi.params import Depends as DependsParam

from rcm_runtime.auth import authenticate
from rcm_runtime.clock import Clock

CREDENTIAL_HEADERS = ("authorization", "x-api-key")
RATE_LIMIT_ATTRIBUTE = "__rcm_rate_limit__"
MAX_CLIENTS = 10_000  # buckets kept per limit; the least recently seen client's is dropped (it starts full again)


@dataclass
class TokenBucket:
    """`rate` tokens a second up to `burst`; a request takes one. Pure: the caller passes the time (seconds)."""

    rate: float
    burst: float
    tokens: float
    at: float

    @classmethod
    def full(cls, rate: float, burst: float, now: float) -> TokenBucket:
        return cls(rate, burst, burst, now)

    def take(self, now: float) -> float:
        """0 when a token was taken; otherwise the seconds until one will be there (nothing is taken)."""
        # a clock stepped backwards refills nothing (and takes nothing back)
        self.tokens = min(self.burst, self.tokens + max(0.0, now - self.at) * self.rate)
        self.at = max(self.at, now)
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate if self.rate > 0 else math.inf


class RateLimiter:
    """One token bucket per client key, at most `max_clients` of them."""

    def __init__(self, rate: float, burst: int, clock: Clock, *, max_clients: int = MAX_CLIENTS) -> None:
        self.rate, self.burst, self.clock, self.max_clients = rate, max(1, burst), clock, max_clients
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def retry_after(self, client: str) -> float:
        """0 when the client may go ahead (its token is taken), else the seconds to wait."""
        if not self.enabled:
            return 0.0
        now = self.clock.now().timestamp()
        bucket = self._buckets.get(client)
        if bucket is None:
            bucket = self._buckets[client] = TokenBucket.full(self.rate, self.burst, now)
            if len(self._buckets) > self.max_clients:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(client)
        return bucket.take(now)


class RateLimited(Exception):
    """The app answers 429 {code: rate_limited} with Retry-After (whole seconds, at least 1)."""

    def __init__(self, retry_after_s: float) -> None:
        super().__init__("too many requests from this client; retry after the Retry-After delay")
        self.retry_after_s = max(1, math.ceil(min(retry_after_s, 86_400)))


def client_key(request: Request) -> str:
    """Who the bucket belongs to: the authenticated client id, else a digest of the credential, else the peer."""
    client_id = getattr(request.state, "client_id", None)
    if client_id:
        return f"client:{client_id}"
    for header in CREDENTIAL_HEADERS:
        value = request.headers.get(header)
        if value:
            return f"credential:{hashlib.sha256(value.encode()).hexdigest()[:16]}"
    return f"peer:{request.client.host if request.client else 'unknown'}"


def limiter(request: Request, name: str) -> RateLimiter:
    """The app's limiter `name`, built from its settings on first use."""
    rt = request.app.state.runtime
    found = rt.rate_limiters.get(name)
    if found is None:
        settings = rt.settings
        found = rt.rate_limiters[name] = RateLimiter(float(getattr(settings, f"{name}_rate_per_s")),
                                                     int(getattr(settings, f"{name}_burst")), rt.clock)
    return found


def rate_limit(name: str, *, after: Callable[..., Any] = authenticate) -> DependsParam:
    """A route dependency limiting each client to the settings' `<name>_rate_per_s` and `<name>_burst`, checked
    once `after` (the endpoint's authentication dependency; FastAPI runs it once per request) has passed."""

    async def check_rate(request: Request, _authenticated: Any = Depends(after)) -> None:
        wait = limiter(request, name).retry_after(client_key(request))
        if wait > 0:
            raise RateLimited(wait)

    check_rate.__name__ = f"rate_limit_{name}"
    setattr(check_rate, RATE_LIMIT_ATTRIBUTE, name)
    return Depends(check_rate)


def document_rate_limit(route: Any) -> None:
    """The 429 in the OpenAPI of a route with a rate limit."""
    names = [getattr(d.call, RATE_LIMIT_ATTRIBUTE) for d in route.dependant.dependencies
             if hasattr(d.call, RATE_LIMIT_ATTRIBUTE)]
    if names:
        route.responses.setdefault(429, {
            "description": f"rate_limited: over this client's {names[0]} rate (RCM_{names[0].upper()}_RATE_PER_S, "
                           f"RCM_{names[0].upper()}_BURST, per replica)",
            "headers": {"Retry-After": {"description": "seconds to wait", "schema": {"type": "integer"}}}})
