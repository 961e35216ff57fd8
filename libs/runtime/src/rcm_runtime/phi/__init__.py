"""PHI at rest: field-level AES-256-GCM sealing with key ids (`sealing`), the keyring and its key manager
(`keyring`), the PHI columns of each service (`documents`), and online key rotation (`rotation`;
`python -m rcm_runtime.phi rotate --service <name>`).

One sealer per process: `configure(settings)` at start-up (the app factory and the migrations call it), and
`sealer()` wherever a repository seals or opens a value. Unconfigured (a test or a script), it loads the keyring
from the RCM_* environment."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic_settings import BaseSettings, SettingsConfigDict

from rcm_runtime.phi.documents import (CLAIM_PHI, SEALED_KEY, OpenedRow, SealedColumn, SealedColumns, coverage_paths,
                                       under)
from rcm_runtime.phi.keyring import DEVELOPMENT_KEYRING, Keyring, KeyringError, KeyManager, LocalKeyManager, load
from rcm_runtime.phi.sealing import PhiError, Sealer, TamperedValue, UnknownKeyId, is_sealed, key_id_of

if TYPE_CHECKING:  # pragma: no cover
    from rcm_runtime.settings import ServiceSettings

__all__ = ["CLAIM_PHI", "DEVELOPMENT_KEYRING", "SEALED_KEY", "Keyring", "KeyringError", "KeyManager",
           "LocalKeyManager", "OpenedRow", "PhiError", "SealedColumn", "SealedColumns", "Sealer", "TamperedValue",
           "UnknownKeyId", "configure", "coverage_paths", "is_sealed", "key_id_of", "sealer", "under", "use"]


class PhiSettings(BaseSettings):
    """The keyring's settings alone (ServiceSettings holds the same fields), for a process without a service."""

    model_config = SettingsConfigDict(env_prefix="RCM_", extra="ignore")
    env: Literal["development", "production"] = "production"
    phi_keys_file: str = ""
    phi_kek_file: str = ""


_sealer: Sealer | None = None


def use(keyring: Keyring) -> Sealer:
    """Make `keyring` the process's (tests; `configure` for services)."""
    global _sealer
    _sealer = Sealer(keyring)
    return _sealer


def configure(settings: ServiceSettings | PhiSettings) -> Sealer:
    """Load the settings' keyring (KeyringError when it cannot be: the process must not start)."""
    return use(load(settings))


def sealer() -> Sealer:
    return _sealer if _sealer is not None else configure(PhiSettings())
