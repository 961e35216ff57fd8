"""No default secrets outside development. Each service's settings class declares which of its settings hold
secrets, and how each is shaped (`ServiceSettings.secret_settings`: setting name -> check); at start-up, outside
RCM_ENV=development, `refuse_insecure` stops the process when any of them is empty or a development default.

A check returns the reasons a value is unsafe, written so they can be logged: they name the problem, never the
value (not even a part of it)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Iterable

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from rcm_runtime.api_keys import digest, parse_api_keys

if TYPE_CHECKING:
    from rcm_runtime.settings import ServiceSettings

SecretCheck = Callable[[str], list[str]]

# Every development secret the project ships starts with "dev-" (dev-key-<tenant>,
# dev-clearinghouse-key); the database passwords of the local stack are the role names, or "postgres".
DEVELOPMENT_PREFIX = "dev-"
DEVELOPMENT_PASSWORDS = frozenset({"postgres", "password", "changeme", "secret"})
# The API keys docker-compose.yml configures (as digests) for development, and hands the sandbox payer.
DEVELOPMENT_KEY_DIGESTS = frozenset(digest(f"{prefix}-{tenant}") for prefix in ("dev-key", "dev-payer-key")
                                    for tenant in ("tenant-a", "tenant-b", "demo"))
SUPERUSER = "postgres"


class InsecureSettings(RuntimeError):
    """The process must not start: its message names the settings and the reasons, never their values."""


def key(value: str) -> list[str]:
    """A single shared secret (an API key, a signing key)."""
    if not value.strip():
        return ["is empty"]
    if value.strip().startswith(DEVELOPMENT_PREFIX):
        return ["is a development default"]
    return []


def api_key_digests(value: str) -> list[str]:
    """RCM_API_KEYS holds SHA-256 digests bound to tenants and roles (rcm_runtime.api_keys), not keys: it must be
    well formed, and no entry may be the digest of a development key the project ships (docker-compose.yml).
    Empty is safe: a deployment may take bearer tokens only."""
    try:
        entries = parse_api_keys(value)
    except ValueError:
        return ["is not sha256:<hex>=<tenant>:<role>+<role> entries"]
    if any(d in DEVELOPMENT_KEY_DIGESTS for d in entries):
        return ["has the digest of a development key"]
    return []


def tenant_keys(value: str) -> list[str]:
    """Keys a client holds for other parties, "tenant=key" pairs (the sandbox payer's remittance keys)."""
    return each_key(key.strip() for _, _, key in (p.partition("=") for p in value.split(",") if p.strip()))


def each_key(keys: Iterable[str], noun: str = "key") -> list[str]:
    """`key` over several keys of one setting, each reason said once."""
    return sorted({f"has a {noun} that {reason}" for k in keys for reason in key(k)})


def database_url(value: str) -> list[str]:
    """A SQLAlchemy database URL: a password of its own, not the role's name, and not the superuser."""
    if not value.strip():
        return ["is empty"]
    try:
        url = make_url(value)
    except (ArgumentError, ValueError):
        return ["is not a valid database URL"]
    password = url.password or url.query.get("password")
    if isinstance(password, tuple):  # a query key given twice
        password = password[-1]
    reasons = []
    if (url.username or "") == SUPERUSER:
        reasons.append("connects as the postgres superuser (give the service its own role)")
    if not password:
        reasons.append("has no password")
    elif password == url.username:
        reasons.append("has a password equal to its role name")
    elif password in DEVELOPMENT_PASSWORDS or password.startswith(DEVELOPMENT_PREFIX):
        reasons.append("has a development default password")
    return reasons


def phi_keys_file(value: str) -> list[str]:
    """The PHI keys file (rcm_runtime.phi.keyring): present, well formed, not empty, no development key."""
    from rcm_runtime.phi.keyring import problems as keyring_problems
    return keyring_problems(value)


def unless_unset(check: SecretCheck) -> SecretCheck:
    """`check` for a setting that may be left unset (e.g. the migration URL, absent from a serving process)."""
    return lambda value: check(value) if value.strip() else []


def problems(settings: ServiceSettings) -> list[str]:
    """`RCM_<SETTING> <reason>` for every declared secret that is unsafe; a value equal to the default written in
    the code counts as a development default whatever its shape (the code is public)."""
    prefix = settings.model_config.get("env_prefix", "")
    fields = type(settings).model_fields
    out = []
    for name, check in type(settings).secret_settings.items():
        value = getattr(settings, name)
        value = "" if value is None else str(value)
        reasons = check(value)
        default = fields[name].default if name in fields else None
        if not reasons and isinstance(default, str) and default and value == default:
            reasons = ["is the default written in the code"]
        out += [f"{prefix}{name}".upper() + f" {reason}" for reason in reasons]
    return out


def refuse_insecure(settings: ServiceSettings, *, log: Callable[[str], None] | None = None) -> None:
    """Raises InsecureSettings outside development when a declared secret is unsafe (logging the message first)."""
    if settings.env == "development":
        return
    found = problems(settings)
    if found:
        message = (f"refusing to start with RCM_ENV={settings.env}: " + "; ".join(found)
                   + ". Set real secrets, or RCM_ENV=development on a developer's machine.")
        if log is not None:
            log(message)
        raise InsecureSettings(message)

