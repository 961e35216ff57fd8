"""The PHI keyring: data keys by key id (one active for new writes, the others still opened), the blind-index key,
and the key manager (KMS) that unwraps them.

The keys file (RCM_PHI_KEYS_FILE) is JSON:

    {"active": "2026-12",
     "keys": {"2026-11": "wrapped:<base64>", "2026-12": "wrapped:<base64>"},
     "index_key": "wrapped:<base64>",
     "kms": "local"}

An entry is `raw:<base64 of 32 bytes>` (the key itself: a developer's machine, or a file only a secret store
mounts) or `wrapped:<base64>`, a data key encrypted by the key manager named in "kms": `local` (AES-256-GCM under
a key-encryption key read from RCM_PHI_KEK_FILE) or `module.path:factory`, a callable taking the settings and
returning a `KeyManager` (a cloud KMS adapter: its wrap/unwrap call the KMS, which never hands out its own key).

Development (RCM_ENV=development with no keys file) uses DEVELOPMENT_KEYRING, whose keys are derived from public
strings: `secret_settings` refuses it, and any key id starting `dev-`, outside development."""

from __future__ import annotations

import base64
import hashlib
import importlib
import json
import os
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping, Protocol, runtime_checkable

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

if TYPE_CHECKING:  # pragma: no cover
    from rcm_runtime.settings import ServiceSettings

KEY_BYTES = 32  # AES-256
KEY_ID = re.compile(r"^[A-Za-z0-9_-]{1,40}$")  # no '.': it separates the parts of a sealed value
DEVELOPMENT_PREFIX = "dev-"


class KeyringError(ValueError):
    """The keyring cannot be loaded or used. Messages name key ids and settings, never key material."""


@runtime_checkable
class KeyManager(Protocol):
    """Wraps and unwraps data keys (envelope encryption): the key-encryption key stays inside the manager."""

    def wrap(self, data_key: bytes, *, key_id: str) -> bytes: ...

    def unwrap(self, wrapped: bytes, *, key_id: str) -> bytes: ...


class LocalKeyManager:
    """The local adapter: AES-256-GCM under a key-encryption key of its own, the key id as associated data (a
    wrapped key moved to another id does not unwrap). Production replaces it with a cloud KMS adapter."""

    NONCE = 12

    def __init__(self, kek: bytes) -> None:
        if len(kek) != KEY_BYTES:
            raise KeyringError("the local key manager's key-encryption key must be 32 bytes")
        self._aead = AESGCM(kek)

    @classmethod
    def from_file(cls, path: str) -> "LocalKeyManager":
        try:
            with open(path, "rb") as f:
                return cls(_b64(f.read().strip(), "the key-encryption key (RCM_PHI_KEK_FILE)"))
        except OSError as exc:
            raise KeyringError(f"RCM_PHI_KEK_FILE cannot be read ({exc.strerror})") from None

    def wrap(self, data_key: bytes, *, key_id: str) -> bytes:
        nonce = os.urandom(self.NONCE)
        return nonce + self._aead.encrypt(nonce, data_key, key_id.encode())

    def unwrap(self, wrapped: bytes, *, key_id: str) -> bytes:
        from cryptography.exceptions import InvalidTag
        try:
            return self._aead.decrypt(wrapped[:self.NONCE], wrapped[self.NONCE:], key_id.encode())
        except (InvalidTag, ValueError):
            raise KeyringError(f"key {key_id!r} does not unwrap under the local key manager's key") from None


@dataclass(frozen=True)
class Keyring:
    active: str
    keys: Mapping[str, bytes] = field(repr=False)
    index_key: bytes = field(repr=False)

    def __post_init__(self) -> None:
        for kid, key in self.keys.items():
            if not KEY_ID.match(kid):
                raise KeyringError(f"key id {kid[:40]!r} is not 1-40 letters, digits, '-' or '_'")
            if len(key) != KEY_BYTES:
                raise KeyringError(f"key {kid!r} is not 32 bytes")
        if self.active not in self.keys:
            raise KeyringError(f"the active key id {self.active[:40]!r} is not in the keyring")
        if len(self.index_key) != KEY_BYTES:
            raise KeyringError("the blind-index key is not 32 bytes")

    def retire(self, key_id: str) -> "Keyring":
        """This keyring without `key_id` (refused for the active key). Retiring a key that values still use is
        refused by `rcm_runtime.phi.rotation.retire`, which checks the tables first."""
        if key_id == self.active:
            raise KeyringError(f"key {key_id!r} is the active key: make another active first")
        return Keyring(self.active, {k: v for k, v in self.keys.items() if k != key_id}, self.index_key)


def _dev_key(name: str) -> bytes:
    return hashlib.sha256(f"openrcm public development PHI key: {name}".encode()).digest()


# Public (its keys are derived from strings in this file): development and tests only.
DEVELOPMENT_KEYRING = Keyring("dev-1", {"dev-1": _dev_key("dev-1")}, _dev_key("blind-index"))
DEVELOPMENT_KEYS = frozenset([*DEVELOPMENT_KEYRING.keys.values(), DEVELOPMENT_KEYRING.index_key])


def _b64(value: bytes | str, what: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (ValueError, TypeError):
        raise KeyringError(f"{what} is not base64") from None


def read_document(path: str) -> dict[str, Any]:
    """The keys file as JSON, shape-checked (without unwrapping anything)."""
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except OSError as exc:
        raise KeyringError(f"the keys file cannot be read ({exc.strerror})") from None
    except ValueError:
        raise KeyringError("the keys file is not JSON") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("keys"), dict) or not doc["keys"]:
        raise KeyringError("the keys file names no keys")
    if not isinstance(doc.get("active"), str) or doc["active"] not in doc["keys"]:
        raise KeyringError("the keys file's active key id is not one of its keys")
    if not isinstance(doc.get("index_key"), str):
        raise KeyringError("the keys file has no index_key")
    return doc


def _entry(value: Any, what: str, manager: KeyManager | None, key_id: str) -> bytes:
    kind, _, data = str(value).partition(":")
    if kind == "raw":
        return _b64(data, what)
    if kind == "wrapped":
        if manager is None:
            raise KeyringError(f"{what} is wrapped but the keys file names no key manager (\"kms\")")
        return manager.unwrap(_b64(data, what), key_id=key_id)
    raise KeyringError(f"{what} is neither raw:<base64> nor wrapped:<base64>")


def key_manager(name: str | None, settings: ServiceSettings | None) -> KeyManager | None:
    if not name:
        return None
    if name == "local":
        kek_file = getattr(settings, "phi_kek_file", None) or os.environ.get("RCM_PHI_KEK_FILE", "")
        if not kek_file:
            raise KeyringError("the keys file names the local key manager but RCM_PHI_KEK_FILE is not set")
        return LocalKeyManager.from_file(kek_file)
    module, _, attr = name.partition(":")
    try:
        manager = getattr(importlib.import_module(module), attr)(settings)
    except (ImportError, AttributeError) as exc:
        raise KeyringError(f"key manager {name!r} cannot be loaded ({type(exc).__name__})") from None
    if not isinstance(manager, KeyManager):
        raise KeyringError(f"key manager {name!r} has no wrap/unwrap")
    return manager


def load_file(path: str, settings: ServiceSettings | None = None) -> Keyring:
    doc = read_document(path)
    manager = key_manager(doc.get("kms"), settings)
    keys = {kid: _entry(v, f"key {kid[:40]!r}", manager, kid) for kid, v in doc["keys"].items()}
    return Keyring(doc["active"], keys, _entry(doc["index_key"], "index_key", manager, "index"))


def load(settings: ServiceSettings) -> Keyring:
    """The keyring the settings name; the development keyring when none is named (refused outside development by
    the secret check of phi_keys_file)."""
    if settings.phi_keys_file:
        return load_file(settings.phi_keys_file, settings)
    if settings.env != "development":
        raise KeyringError("RCM_PHI_KEYS_FILE is not set")
    return DEVELOPMENT_KEYRING


def new_keys_document(key_ids: list[str], *, active: str | None = None, manager: KeyManager | None = None,
                      kms: str | None = None) -> dict[str, Any]:
    """A keys file with fresh random keys (`python -m rcm_runtime.phi keys`): wrapped when a manager is given."""
    def entry(key_id: str) -> str:
        key = os.urandom(KEY_BYTES)
        if manager is None:
            return "raw:" + base64.b64encode(key).decode()
        return "wrapped:" + base64.b64encode(manager.wrap(key, key_id=key_id)).decode()
    doc: dict[str, Any] = {"active": active or key_ids[-1], "keys": {k: entry(k) for k in key_ids},
                           "index_key": entry("index")}
    if kms:
        doc["kms"] = kms
    return doc


def problems(path: str) -> list[str]:
    """Why a keys file is unsafe outside development (the secret check of RCM_PHI_KEYS_FILE): unreadable,
    malformed, empty, or holding a development key. Names no key material."""
    if not path.strip():
        return ["is empty (no PHI keyring)"]
    try:
        doc = read_document(path)
    except KeyringError as exc:
        return [f"is unusable: {exc}"]
    reasons = []
    if any(str(kid).startswith(DEVELOPMENT_PREFIX) for kid in doc["keys"]):
        reasons.append("has a development key id")
    raw = [str(v).partition(":")[2] for v in [*doc["keys"].values(), doc["index_key"]] if str(v).startswith("raw:")]
    try:
        if any(base64.b64decode(v) in DEVELOPMENT_KEYS for v in raw):
            reasons.append("has a development key")
    except ValueError:
        reasons.append("has a key that is not base64")
    return reasons
