"""The running stack on TLS (deploy/stack.sh with RCM_TLS=1, the default, as deploy/test.sh starts it):

- every service's PostgreSQL connections are encrypted (pg_stat_ssl), plain TCP is refused by pg_hba.conf, and a
  client verifying with another CA or another host name fails the handshake;
- every service answers HTTPS with a certificate the development CA verifies (health and readiness included) and
  refuses plain HTTP; a client trusting another CA, or expecting another host name, fails verification.
"""

from __future__ import annotations

import socket
import ssl
import struct
from pathlib import Path

import asyncpg
import httpx
import pytest
from sqlalchemy import text

from rcm_runtime import dev_ca
from rcm_runtime.db import make_engine
from rcm_runtime.failures import exception_chain, is_transient
from rcm_runtime.tls import client_context
from tests.support.client import CA_FILE, PORTS, TLS, url
from tests.support.fixtures import PG_PORT, stack_db_settings

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(not TLS, reason="the stack runs without TLS (RCM_TLS=0)")]

SSL_REQUEST = struct.pack("!ii", 8, 80877103)  # PostgreSQL's SSLRequest message: the server answers S or N


@pytest.fixture(scope="module")
def other_ca(tmp_path_factory) -> Path:
    """The CA bundle of another development CA (a certificate it signed is never one of the stack's)."""
    return dev_ca.ensure_cert(tmp_path_factory.mktemp("other-ca"), "impostor").ca


def pg_handshake(ctx: ssl.SSLContext, server_hostname: str) -> dict:
    """PostgreSQL's TLS handshake on a raw socket (SSLRequest, then TLS), verified by `ctx` for `server_hostname`."""
    with socket.create_connection(("127.0.0.1", PG_PORT), timeout=10) as raw:
        raw.sendall(SSL_REQUEST)
        assert raw.recv(1) == b"S", "PostgreSQL does not offer TLS"
        with ctx.wrap_socket(raw, server_hostname=server_hostname) as tls:
            return tls.getpeercert()


async def test_every_service_database_connection_is_encrypted(stack, admin_engine):
    async with admin_engine.connect() as conn:
        rows = (await conn.execute(text(
            "SELECT a.application_name, s.ssl, s.version, a.client_addr IS NOT NULL AS tcp "
            "FROM pg_stat_activity a JOIN pg_stat_ssl s ON s.pid = a.pid "
            "WHERE a.backend_type = 'client backend' AND a.application_name = ANY(:names)"),
            {"names": list(PORTS)})).all()
    seen = {r.application_name for r in rows}
    assert seen == set(PORTS), f"services without a database connection: {sorted(set(PORTS) - seen)}"
    plain = sorted({r.application_name for r in rows if not (r.ssl and r.tcp)})
    assert not plain, f"unencrypted database connections of {plain}"
    assert {r.version for r in rows} <= {"TLSv1.2", "TLSv1.3"}


async def test_a_client_with_the_stacks_settings_connects_over_verified_tls():
    """make_engine with verify-full and the development CA, as a service's runtime role: the backend says ssl."""
    engine = make_engine(stack_db_settings("charges"), pool_size=1)
    try:
        async with engine.connect() as conn:
            row = (await conn.execute(text("SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()"))).one()
    finally:
        await engine.dispose()
    assert row.ssl is True and row.version in ("TLSv1.2", "TLSv1.3")


async def test_plain_tcp_is_refused_by_postgres():
    with pytest.raises(asyncpg.InvalidAuthorizationSpecificationError, match="no encryption"):
        await asyncpg.connect(host="127.0.0.1", port=PG_PORT, user="charges", password="charges", database="openrcm",
                              ssl="disable", timeout=10)


async def test_postgres_certificate_from_another_ca_fails_verification(other_ca):
    engine = make_engine(stack_db_settings("charges", db_ca_file=str(other_ca)), pool_size=1)
    try:
        with pytest.raises(Exception) as failed:
            async with engine.connect():
                pass
    finally:
        await engine.dispose()
    assert any(isinstance(e, ssl.SSLCertVerificationError) for e in exception_chain(failed.value)), failed.value
    assert not is_transient(failed.value)  # a misconfiguration: the service stops, it does not wait it out


def test_postgres_certificate_is_checked_against_the_host_name():
    assert pg_handshake(client_context(str(CA_FILE)), "127.0.0.1")  # the name it has
    with pytest.raises(ssl.SSLCertVerificationError, match="mismatch"):
        pg_handshake(client_context(str(CA_FILE)), "db.example.org")


async def test_every_service_answers_https_verified_by_the_development_ca():
    async with httpx.AsyncClient(verify=client_context(str(CA_FILE)), timeout=10) as client:
        for service in PORTS:
            for path in ("/healthz", "/readyz"):  # open, but on HTTPS
                resp = await client.get(url(service, path))
                assert resp.status_code == 200, (service, path, resp.status_code)
                assert resp.url.scheme == "https"


async def test_services_refuse_plain_http():
    async with httpx.AsyncClient(timeout=10) as client:
        for service in PORTS:
            with pytest.raises(httpx.TransportError):
                await client.get(url(service, "/healthz").replace("https://", "http://", 1))


async def test_a_client_trusting_another_ca_fails_verification(other_ca):
    async with httpx.AsyncClient(verify=client_context(str(other_ca)), timeout=10) as client:
        with pytest.raises(httpx.ConnectError) as failed:
            await client.get(url("charges", "/healthz"))
    assert any(isinstance(e, ssl.SSLCertVerificationError) for e in exception_chain(failed.value))
    assert not is_transient(failed.value)


def test_service_certificate_is_checked_against_the_host_name():
    with socket.create_connection(("127.0.0.1", PORTS["charges"]), timeout=10) as raw:
        with pytest.raises(ssl.SSLCertVerificationError, match="mismatch"):
            client_context(str(CA_FILE)).wrap_socket(raw, server_hostname="charges.example.org")
