"""OAuth2 bearer tokens (JWT) verified against configured issuers and their JWKS, with PyJWT.

Only asymmetric signatures are accepted (a JWKS holds public keys; an HS256 token "signed" with a public key, or
an unsigned `alg: none` token, is refused before any key is looked at). Each issuer's key set is fetched once
and cached; a token naming an unknown `kid` (the issuer rotated its keys) makes the set be fetched again, at most
once per `refetch_min_s`, so forged kids cannot make us hammer the issuer.

Reasons given to callers say what was wrong with the token, never echo it."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Awaitable, Callable, Iterable, Mapping
from urllib.parse import unquote, urlparse

import httpx
import jwt

from rcm_runtime.errors import TransientError

log = logging.getLogger("rcm.auth")

# RSA (PKCS#1 v1.5 and PSS) and ECDSA: what identity providers sign access tokens with. HMAC is excluded on
# purpose: its key is a shared secret, and a JWKS is public.
ASYMMETRIC_ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"})
_KEY_TYPES = {"RS": "RSA", "PS": "RSA", "ES": "EC"}


class TokenRejected(Exception):
    """The token cannot be trusted; the message is safe to return (it never contains the token)."""


def asymmetric_algorithms(names: Iterable[str]) -> frozenset[str]:
    algs = frozenset(n.strip() for n in names if n.strip())
    bad = algs - ASYMMETRIC_ALGORITHMS
    if bad or not algs:
        raise ValueError(f"token algorithms must be asymmetric ({', '.join(sorted(ASYMMETRIC_ALGORITHMS))}); "
                         f"refused: {', '.join(sorted(bad)) or '(none given)'}")
    return algs


Fetch = Callable[[], Awaitable[Mapping[str, Any]]]


def jwks_fetcher(url: str, http: httpx.AsyncClient | None, timeout_s: float = 5.0) -> Fetch:
    """How to read one issuer's JWKS: `file://` (the local development issuer) or HTTP(S)."""
    parsed = urlparse(url)
    if parsed.scheme == "file":
        path = Path(unquote(parsed.path))

        async def from_file() -> Mapping[str, Any]:
            try:
                return json.loads(path.read_text())
            except (OSError, ValueError) as exc:
                raise TransientError(f"JWKS file unreadable ({type(exc).__name__})") from None

        return from_file
    if parsed.scheme not in ("http", "https"):
        raise ValueError(f"JWKS URL must be file://, http:// or https://, got {parsed.scheme or 'no'} scheme")

    async def from_http() -> Mapping[str, Any]:
        client = http or httpx.AsyncClient()
        try:
            resp = await client.get(url, timeout=timeout_s, headers={"accept": "application/json"})
            resp.raise_for_status()
            return resp.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise TransientError(f"issuer JWKS unavailable ({type(exc).__name__})") from None
        finally:
            if http is None:
                await client.aclose()

    return from_http


class KeySet:
    """One issuer's public keys by kid, cached for `ttl_s`; an unknown kid refetches at most every `refetch_min_s`."""

    def __init__(self, fetch: Fetch, *, ttl_s: float = 3600.0, refetch_min_s: float = 60.0,
                 now: Callable[[], float] = time.monotonic) -> None:
        self._fetch = fetch
        self.ttl_s = ttl_s
        self.refetch_min_s = refetch_min_s
        self._now = now
        self._keys: dict[str, tuple[jwt.PyJWK, str | None]] = {}  # kid -> (key, the algorithm it declares)
        self._fetched_at: float | None = None
        self._lock = asyncio.Lock()
        self.fetches = 0

    async def _load(self) -> None:
        try:
            doc = await self._fetch()
        except TransientError:
            if self._fetched_at is None:
                raise
            log.warning("JWKS refetch failed; keeping the keys fetched before")
            self._fetched_at = self._now()  # do not retry on every request while the issuer is down
            return
        finally:
            self.fetches += 1
        keys: dict[str, tuple[jwt.PyJWK, str | None]] = {}
        for jwk in doc.get("keys", []) if isinstance(doc, Mapping) else []:
            if not isinstance(jwk, Mapping) or jwk.get("kty") not in ("RSA", "EC") or jwk.get("use", "sig") != "sig":
                continue  # symmetric ("oct") or encryption keys never verify a token here
            try:
                key = jwt.PyJWK(dict(jwk))
            except (jwt.PyJWKError, jwt.InvalidKeyError):
                continue
            keys[str(jwk.get("kid", ""))] = (key, jwk.get("alg"))
        self._keys = keys
        self._fetched_at = self._now()

    async def key(self, kid: str) -> tuple[jwt.PyJWK, str | None] | None:
        async with self._lock:
            now = self._now()
            if self._fetched_at is None or now - self._fetched_at >= self.ttl_s:
                await self._load()
            elif kid not in self._keys and now - self._fetched_at >= self.refetch_min_s:
                await self._load()  # the issuer may have rotated its keys
            return self._keys.get(kid)


@dataclass(frozen=True)
class TokenVerifier:
    """Verifies a compact JWS against the issuer it names (which must be configured)."""

    issuers: Mapping[str, KeySet]
    audiences: frozenset[str]
    algorithms: frozenset[str]
    leeway_s: float = 60.0
    required_claims: tuple[str, ...] = ("sub", "iss", "aud", "exp")

    async def verify(self, token: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise TokenRejected("malformed token") from None
        alg = header.get("alg")
        if alg not in self.algorithms:
            raise TokenRejected(f"token algorithm not accepted (accepted: {', '.join(sorted(self.algorithms))})")
        issuer = unverified.get("iss")
        keys = self.issuers.get(issuer) if isinstance(issuer, str) else None
        if keys is None:
            raise TokenRejected("token issuer not trusted")
        kid = header.get("kid")
        found = await keys.key(kid if isinstance(kid, str) else "")
        if found is None:
            raise TokenRejected("token signing key unknown to its issuer")
        key, declared_alg = found
        if key.key_type != _KEY_TYPES[alg[:2]] or declared_alg not in (None, alg):
            raise TokenRejected("token algorithm does not match its signing key")
        try:
            return jwt.decode(token, key.key, algorithms=[alg], audience=list(self.audiences), issuer=issuer,
                              leeway=self.leeway_s, options={"require": list(self.required_claims)})
        except jwt.ExpiredSignatureError:
            raise TokenRejected("token expired") from None
        except jwt.ImmatureSignatureError:
            raise TokenRejected("token not valid yet (nbf or iat in the future)") from None
        except jwt.InvalidAudienceError:
            raise TokenRejected("token audience not accepted") from None
        except jwt.InvalidIssuerError:
            raise TokenRejected("token issuer not trusted") from None
        except jwt.MissingRequiredClaimError as exc:
            raise TokenRejected(f"token lacks the {exc.claim!r} claim") from None
        except jwt.InvalidSignatureError:
            raise TokenRejected("token signature invalid") from None
        except jwt.PyJWTError as exc:
            raise TokenRejected(f"token invalid ({type(exc).__name__})") from None
