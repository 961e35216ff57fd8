"""API keys for machine clients, kept hashed in configuration: each bound to one tenant and its roles.

    RCM_API_KEYS="sha256:<64 hex>=<tenant>:<role>+<role>,sha256:<64 hex>=<tenant>:<role>"

The configuration holds only SHA-256 digests of the keys (a key is a random 256-bit secret, so a plain digest is
enough: nothing to brute-force); a presented key is hashed and looked up. `python -m rcm_runtime.dev_issuer
api-key --tenant t --roles integrator` makes a key and prints its configuration entry."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass

from rcm_runtime.roles import Role, parse_roles

TENANT_ID = r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}"  # what a tenant id may be, from a key binding or a token claim
_ENTRY = re.compile(rf"^sha256:(?P<digest>[0-9a-f]{{64}})=(?P<tenant>{TENANT_ID}):(?P<roles>[a-z_+]+)$")


@dataclass(frozen=True)
class ApiKeyBinding:
    digest: str
    tenant_id: str
    roles: frozenset[Role]

    @property
    def subject(self) -> str:
        """The key's name in audit rows: not secret (a digest prefix), yet tells keys apart."""
        return f"apikey:{self.digest[:8]}"


def digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def parse_api_keys(text: str) -> dict[str, ApiKeyBinding]:
    """digest -> binding. A malformed entry refuses the whole setting (a service must not start half-configured);
    the message names the entry by position, never its content."""
    out: dict[str, ApiKeyBinding] = {}
    for n, raw in enumerate((e.strip() for e in text.split(",")), start=1):
        if not raw:
            continue
        m = _ENTRY.match(raw)
        if m is None:
            raise ValueError(f"RCM_API_KEYS entry {n} is not sha256:<64 lowercase hex>=<tenant>:<role>+<role>")
        try:
            roles = parse_roles(m["roles"].split("+"))
        except ValueError as exc:
            raise ValueError(f"RCM_API_KEYS entry {n}: {exc}") from None
        if m["digest"] in out:
            raise ValueError(f"RCM_API_KEYS entry {n} repeats a key")
        out[m["digest"]] = ApiKeyBinding(m["digest"], m["tenant"], roles)
    return out


def lookup(keys: dict[str, ApiKeyBinding], presented: str) -> ApiKeyBinding | None:
    return keys.get(digest(presented))


def new_api_key(tenant_id: str, roles: list[str]) -> tuple[str, str]:
    """A fresh random key and its configuration entry (the entry is checked by the same parser)."""
    key = "rcm_" + secrets.token_urlsafe(32)
    entry = f"sha256:{digest(key)}={tenant_id}:{'+'.join(roles)}"
    parse_api_keys(entry)
    return key, entry
