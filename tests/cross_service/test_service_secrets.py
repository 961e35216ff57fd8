"""Every service's settings declare their secrets (rcm_runtime.secret_settings): with real base secrets, outside
development, each service refuses exactly the development defaults of its own outside-party keys. And a service
process started as deploy/stack.sh starts it, minus RCM_ENV=development, refuses to start, naming settings only."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rcm_runtime.api_keys import digest
from rcm_runtime.secret_settings import problems

ROOT = Path(__file__).resolve().parents[2]
SERVICES = [row.split("\t") for row in (ROOT / "deploy/services.tsv").read_text().splitlines()
            if row.strip() and not row.startswith("#")]
REAL = {"env": "production",
        "database_url": "postgresql+asyncpg://svc:Vq8-s3cr3t-from-the-vault@db.internal:5432/openrcm",
        "api_keys": f"sha256:{digest('k7Qw9zLr2mXv')}=tenant-a:integrator",
        "phi_keys_file": str(ROOT / "tests/support/phi_keys.json")}
# the keys each service holds for an outside party, besides the database URL and API keys of all
OWN_SECRETS = {"eligibility": {"payer_key"}, "submission": {"clearinghouse_key", "clearinghouses"},
               "sandbox": {"clearinghouse_key", "remittance_api_keys"}}


def settings_class(package: str):
    return importlib.import_module(f"{package}.settings").Settings


@pytest.mark.parametrize("name, package", [(row[0], row[1]) for row in SERVICES])
def test_each_service_refuses_its_own_development_keys_outside_development(name, package):
    cls = settings_class(package)
    assert set(cls.secret_settings) == {"database_url", "migration_database_url", "api_keys", "phi_keys_file",
                                        "kafka_password", *OWN_SECRETS.get(name, ())}
    refused = problems(cls(**REAL))
    defaulted = sorted(s for s in OWN_SECRETS.get(name, ()) if cls.model_fields[s].default)
    assert refused == [f"RCM_{s.upper()} is a development default" for s in defaulted]
    real_keys = {s: f"from-the-secret-store-{i}x9Q" for i, s in enumerate(defaulted)}
    assert problems(cls(**REAL, **real_keys)) == []


def test_the_migration_url_may_be_unset_but_not_a_development_one():
    """A serving process holds no migration URL (rcm_runtime.serve drops it); one that is set is checked."""
    cls = settings_class("rcm_charges")
    assert problems(cls(**REAL)) == []
    assert problems(cls(**REAL, migration_database_url="postgresql+asyncpg://charges_owner:charges_owner@db/openrcm")) \
        == ["RCM_MIGRATION_DATABASE_URL has a password equal to its role name"]


def test_submission_checks_the_key_of_each_configured_clearinghouse():
    cls = settings_class("rcm_submission")
    connections = ('{"acme": {"kind": "http", "url": "https://acme.example", "key": "dev-acme"}, '
                   '"box": {"kind": "file", "root": "/srv/box"}}')
    assert problems(cls(**REAL, clearinghouse_key="ch-7Hq2", clearinghouses=connections)) == [
        "RCM_CLEARINGHOUSES has a connection key that is a development default"]
    assert problems(cls(**REAL, clearinghouse_key="ch-7Hq2", clearinghouses=connections.replace("dev-", "x9-"))) == []
    assert problems(cls(**REAL, clearinghouse_key="ch-7Hq2", clearinghouses="{oops")) == [
        "RCM_CLEARINGHOUSES is not valid JSON"]


def test_a_service_process_refuses_to_start_with_development_secrets_outside_development():
    """The real entry point (rcm_runtime.serve, as deploy/run_service.sh and the container run it)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RCM_")}
    env.update({"RCM_ENV": "production", "RCM_HTTP_PORT": "0", "RCM_STARTUP_WAIT_S": "0",
                "RCM_DATABASE_URL": "postgresql+asyncpg://analytics:analytics@127.0.0.1:1/openrcm"})
    proc = subprocess.run([sys.executable, "-m", "rcm_runtime.serve", "rcm_analytics.app:create_app"], env=env,
                          capture_output=True, text=True, timeout=120)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output
    assert "refusing to start with RCM_ENV=production" in output
    assert "RCM_DATABASE_URL" in output
    for value in ("dev-key-tenant-a", "analytics:analytics"):
        assert value not in output
    assert "service started" not in output
