"""No default secrets outside development (rcm_runtime.secret_settings): the checks of each secret's shape and the
base settings' declarations. Each service's own declarations and a refusing service process:
tests/cross_service/test_service_secrets.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from rcm_runtime import secret_settings as secret
from rcm_runtime.api_keys import digest
from rcm_runtime.secret_settings import InsecureSettings, problems, refuse_insecure
from rcm_runtime.settings import ServiceSettings

# a keyring of random keys under a non-development key id (tests only: it is committed)
PHI_KEYS_FILE = str(Path(__file__).resolve().parents[4] / "tests/support/phi_keys.json")
REAL_URL = "postgresql+asyncpg://charges:Vq8-s3cr3t-from-the-vault@db.internal:5432/openrcm"
REAL = {"database_url": REAL_URL, "api_keys": f"sha256:{digest('k7Qw9zLr2mXv')}=tenant-a:integrator,"
                                               f"sha256:{digest('p3Ht8sNc4bYd')}=tenant-b:admin",
        "phi_keys_file": PHI_KEYS_FILE}


def settings(cls=ServiceSettings, **values) -> ServiceSettings:
    return cls(**{"service_name": "charges", "db_schema": "charges", "env": "production", **values})


@pytest.mark.parametrize("url, reasons", [
    (REAL_URL, []),
    ("postgresql+asyncpg://postgres@/openrcm?host=/tmp&port=55432",
     ["connects as the postgres superuser (give the service its own role)", "has no password"]),
    ("postgresql+asyncpg://charges:charges@127.0.0.1:55432/openrcm", ["has a password equal to its role name"]),
    ("postgresql+asyncpg://postgres:postgres@db/openrcm",
     ["connects as the postgres superuser (give the service its own role)", "has a password equal to its role name"]),
    ("postgresql+asyncpg://charges@db/openrcm", ["has no password"]),
    ("postgresql+asyncpg://charges@db/openrcm?password=Vq8-s3cr3t", []),
    ("postgresql+asyncpg://charges:changeme@db/openrcm", ["has a development default password"]),
    ("", ["is empty"]),
    ("not a url", ["is not a valid database URL"]),
])
def test_database_url(url, reasons):
    assert secret.database_url(url) == reasons


@pytest.mark.parametrize("value, reasons", [
    ("k7Qw9zLr2mXv", []), ("", ["is empty"]), ("   ", ["is empty"]),
    ("dev-payer-key", ["is a development default"]), ("dev-clearinghouse-key", ["is a development default"]),
])
def test_single_key(value, reasons):
    assert secret.key(value) == reasons


@pytest.mark.parametrize("value, reasons", [
    (REAL["api_keys"], []), ("", []), (",", []),  # no API keys: bearer tokens only
    (f"{REAL['api_keys']},sha256:{digest('dev-key-tenant-b')}=tenant-b:admin", ["has the digest of a development key"]),
    ("k7Qw9zLr2mXv:tenant-a", ["is not sha256:<hex>=<tenant>:<role>+<role> entries"]),  # a plaintext key
])
def test_api_key_digests(value, reasons):
    assert secret.api_key_digests(value) == reasons
    assert "k7Qw9zLr2mXv" not in " ".join(reasons)


@pytest.mark.parametrize("value, reasons", [
    ("tenant-a=rcm_x7Hq2,demo=rcm_p9Lk3", []), ("", []),
    ("tenant-a=rcm_x7Hq2,demo=dev-payer-key-demo", ["has a key that is a development default"]),
])
def test_tenant_keys(value, reasons):
    assert secret.tenant_keys(value) == reasons


def test_every_default_of_the_base_settings_is_refused_outside_development():
    found = problems(settings())
    assert found == [
        "RCM_DATABASE_URL connects as the postgres superuser (give the service its own role)",
        "RCM_DATABASE_URL has no password",
        "RCM_PHI_KEYS_FILE is empty (no PHI keyring)",
    ]
    with pytest.raises(InsecureSettings) as refused:
        refuse_insecure(settings())
    message = str(refused.value)
    assert "RCM_ENV=production" in message and "RCM_DATABASE_URL" in message
    for value in ("dev-key-tenant-a", "dev-key-demo", "55432"):
        assert value not in message


def test_development_allows_the_defaults_and_real_secrets_pass_in_production():
    refuse_insecure(settings(env="development"))
    refuse_insecure(settings(**REAL))
    assert problems(settings(**REAL)) == []


def test_the_default_is_production(monkeypatch):
    monkeypatch.delenv("RCM_ENV", raising=False)
    assert ServiceSettings(service_name="x", db_schema="x").env == "production"
    monkeypatch.setenv("RCM_ENV", "development")
    assert ServiceSettings(service_name="x", db_schema="x").env == "development"


def test_a_value_equal_to_the_default_in_the_code_is_refused_whatever_its_shape():
    class WithSigningKey(ServiceSettings):
        secret_settings = {**ServiceSettings.secret_settings, "token_signing_key": secret.key}
        token_signing_key: str = "a-long-but-public-default-in-the-repository"

    assert problems(settings(WithSigningKey, **REAL)) == ["RCM_TOKEN_SIGNING_KEY is the default written in the code"]
    assert problems(settings(WithSigningKey, **REAL, token_signing_key="from-the-secret-store-9f8e")) == []


def test_migrations_refuse_before_touching_the_database():
    """`serve --migrate` runs the service's Alembic env first: it stops there, as the app would."""
    from sqlalchemy import MetaData

    from rcm_runtime.migrations import run_migrations

    with pytest.raises(InsecureSettings, match="RCM_DATABASE_URL"):
        run_migrations(settings(database_url="postgresql+asyncpg://charges:charges@127.0.0.1:1/x"), MetaData())
