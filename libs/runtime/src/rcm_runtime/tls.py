"""TLS on the service's own connections: PostgreSQL (asyncpg) and HTTP (httpx clients, uvicorn's server).

The settings (rcm_runtime.settings.ServiceSettings) name files only; this module turns them into what each library
takes. Kafka's TLS is configured beside its clients (rcm_runtime.messaging), not here.

PostgreSQL, RCM_DB_SSLMODE with libpq's meaning:
    disable       plain TCP
    prefer        TLS when the server offers it, else plain (asyncpg's own default; no verification)
    require       TLS, server certificate not verified
    verify-ca     TLS, certificate signed by RCM_DB_CA_FILE (system CAs when unset)
    verify-full   verify-ca and the certificate names the host of the URL
A Unix-socket URL never uses TLS (the server does not offer it there), whatever the mode.
"""

from __future__ import annotations

import ssl
from typing import Any, Literal

DbSslMode = Literal["disable", "prefer", "require", "verify-ca", "verify-full"]


def client_context(ca_file: str | None = None, *, check_hostname: bool = True) -> ssl.SSLContext:
    """A client context verifying servers against `ca_file` (a PEM bundle), or the system's CAs when None."""
    ctx = ssl.create_default_context(cafile=ca_file or None)
    ctx.check_hostname = check_hostname
    return ctx


def db_ssl(mode: DbSslMode, ca_file: str | None = None) -> Any:
    """asyncpg's `ssl` connect argument for a libpq sslmode: an SSLContext when the server must be verified (so a
    wrong CA or host name fails the connection), else the mode's name, which asyncpg understands."""
    if mode in ("verify-ca", "verify-full"):
        return client_context(ca_file, check_hostname=mode == "verify-full")
    if mode == "require":
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return ctx
    return mode


def db_connect_args(settings: Any) -> dict[str, Any]:
    """The TLS part of asyncpg's connect_args for a ServiceSettings (make_engine and the migrations use it)."""
    return {"ssl": db_ssl(settings.db_sslmode, settings.db_ca_file)}


def http_verify(settings: Any) -> ssl.SSLContext | bool:
    """httpx's `verify` for the service's outgoing calls: the configured CA bundle (RCM_TLS_CA_FILE) for https://
    URLs, else the system's CAs. Plain http:// URLs are unaffected."""
    return client_context(settings.tls_ca_file) if settings.tls_ca_file else True


def server_files(cert: str | None, key: str | None) -> dict[str, str]:
    """uvicorn's certificate arguments when the service serves HTTPS (RCM_HTTP_TLS_CERT_FILE and _KEY_FILE both
    set), else none: half a pair is a configuration error, refused rather than silently served in plain HTTP."""
    if bool(cert) != bool(key):
        raise ValueError("RCM_HTTP_TLS_CERT_FILE and RCM_HTTP_TLS_KEY_FILE are set together or not at all")
    return {"ssl_certfile": cert, "ssl_keyfile": key} if cert else {}
