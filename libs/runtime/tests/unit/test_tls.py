"""rcm_runtime.tls: what each library is handed for the TLS settings (the connections themselves are tested on the
running stack: tests/tls)."""

from __future__ import annotations

import ssl

import pytest

from rcm_runtime import dev_ca
from rcm_runtime.settings import ServiceSettings
from rcm_runtime.tls import db_connect_args, db_ssl, http_verify, server_files


def settings(**kw) -> ServiceSettings:
    return ServiceSettings(service_name="charges", db_schema="charges", **kw)


@pytest.fixture(scope="module")
def ca_file(tmp_path_factory) -> str:
    return str(dev_ca.ensure_cert(tmp_path_factory.mktemp("ca"), "postgres").ca)


def test_verify_full_checks_the_chain_and_the_host_name(ca_file):
    ctx = db_ssl("verify-full", ca_file)
    assert isinstance(ctx, ssl.SSLContext)
    assert ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname
    assert any(c["subject"][-1][0][1] == "OpenRCM development CA" for c in ctx.get_ca_certs())


def test_verify_ca_checks_the_chain_only(ca_file):
    ctx = db_ssl("verify-ca", ca_file)
    assert ctx.verify_mode == ssl.CERT_REQUIRED and not ctx.check_hostname


def test_require_encrypts_without_verifying():
    ctx = db_ssl("require")
    assert ctx.verify_mode == ssl.CERT_NONE and not ctx.check_hostname


@pytest.mark.parametrize("mode", ["disable", "prefer"])
def test_modes_without_verification_are_handed_to_asyncpg_by_name(mode):
    assert db_ssl(mode) == mode


def test_settings_default_to_asyncpgs_own_behaviour_and_take_a_mode_from_the_environment(monkeypatch, ca_file):
    assert db_connect_args(settings()) == {"ssl": "prefer"}
    monkeypatch.setenv("RCM_DB_SSLMODE", "verify-full")
    monkeypatch.setenv("RCM_DB_CA_FILE", ca_file)
    assert db_connect_args(settings())["ssl"].check_hostname
    monkeypatch.setenv("RCM_DB_SSLMODE", "verify-everything")
    with pytest.raises(ValueError):
        settings()


def test_http_clients_verify_with_the_configured_bundle_or_the_systems(ca_file):
    assert http_verify(settings()) is True
    assert isinstance(http_verify(settings(tls_ca_file=ca_file)), ssl.SSLContext)


def test_a_missing_ca_bundle_fails_at_once():
    with pytest.raises(FileNotFoundError):
        db_ssl("verify-full", "/nonexistent/ca.pem")


def test_server_files_come_in_pairs():
    assert server_files(None, None) == {}
    assert server_files("c.pem", "k.pem") == {"ssl_certfile": "c.pem", "ssl_keyfile": "k.pem"}
    with pytest.raises(ValueError, match="together"):
        server_files("c.pem", None)
