"""Sealing one PHI value: AES-256-GCM, the key id beside the value, bound to its tenant and field.

A sealed value is text: `phi1.<key id>.<nonce>.<ciphertext+tag>` (base64url without padding). The associated
data is the version, the key id, the tenant and the field (e.g. `charges.encounters.claim`), so a value copied to
another tenant's row or another field, or given another key id, fails authentication instead of opening.

A blind index (HMAC-SHA256 under a key of its own, over tenant, field and the normalised value) lets a service
find rows by a PHI value (a member id) without storing it: equal values give equal indexes within a tenant and
field, and nothing else is learnt from them."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from typing import Any

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from rcm_runtime.phi.keyring import Keyring

VERSION = "phi1"
PREFIX = VERSION + "."
NONCE_BYTES = 12


class PhiError(ValueError):
    """A sealed value cannot be opened. The message names the field and key id, never the value."""


class UnknownKeyId(PhiError):
    pass


class TamperedValue(PhiError):
    pass


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def is_sealed(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(PREFIX)


def key_id_of(sealed: str) -> str:
    return sealed.split(".", 2)[1]


def _aad(key_id: str, tenant: str, field: str) -> bytes:
    return "\x00".join((VERSION, key_id, tenant, field)).encode()


class Sealer:
    """Seals with the keyring's active key; opens with any key of the keyring (so rotation needs no downtime)."""

    def __init__(self, keyring: Keyring) -> None:
        self.keyring = keyring
        self._aeads = {kid: AESGCM(key) for kid, key in keyring.keys.items()}
        self._active = self._aeads[keyring.active]

    @property
    def active_key_id(self) -> str:
        return self.keyring.active

    def seal(self, plaintext: bytes, *, tenant: str, field: str) -> str:
        kid = self.keyring.active
        nonce = os.urandom(NONCE_BYTES)
        return f"{PREFIX}{kid}.{_b64(nonce)}.{_b64(self._active.encrypt(nonce, plaintext, _aad(kid, tenant, field)))}"

    def open(self, sealed: str, *, tenant: str, field: str) -> bytes:
        try:
            version, kid, nonce, body = sealed.split(".")
        except (ValueError, AttributeError):
            raise PhiError(f"{field}: not a sealed value ({VERSION}.<key id>.<nonce>.<ciphertext>)") from None
        if version != VERSION:
            raise PhiError(f"{field}: unknown sealed-value version")
        aead = self._aeads.get(kid)
        if aead is None:
            raise UnknownKeyId(f"{field}: sealed under key id {kid[:40]!r}, which is not in the keyring")
        try:
            return aead.decrypt(_unb64(nonce), _unb64(body), _aad(kid, tenant, field))
        except (InvalidTag, ValueError):
            raise TamperedValue(f"{field}: a sealed value failed authentication (altered, or moved from another "
                                "tenant's row or another field)") from None

    def seal_text(self, text: str, *, tenant: str, field: str) -> str:
        return self.seal(text.encode(), tenant=tenant, field=field)

    def open_text(self, sealed: str, *, tenant: str, field: str) -> str:
        return self.open(sealed, tenant=tenant, field=field).decode()

    def seal_json(self, value: Any, *, tenant: str, field: str) -> str:
        return self.seal(orjson.dumps(value), tenant=tenant, field=field)

    def open_json(self, sealed: str, *, tenant: str, field: str) -> Any:
        return orjson.loads(self.open(sealed, tenant=tenant, field=field))

    def reseal(self, sealed: str, *, tenant: str, field: str) -> str:
        """The value under the active key (rotation); unchanged when it already is."""
        if key_id_of(sealed) == self.keyring.active:
            return sealed
        return self.seal(self.open(sealed, tenant=tenant, field=field), tenant=tenant, field=field)

    def blind_index(self, value: str, *, tenant: str, field: str, normalise: bool = True) -> str:
        """HMAC-SHA256 of the value, hex: normalised (trimmed, upper-cased: member ids are matched that way) unless
        `normalise` is False (an identifier matched exactly, e.g. an MRN)."""
        message = "\x00".join((tenant, field, value.strip().upper() if normalise else value)).encode()
        return hmac.new(self.keyring.index_key, message, hashlib.sha256).hexdigest()
