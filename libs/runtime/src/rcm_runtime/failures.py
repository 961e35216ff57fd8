"""Turning exceptions into reasons that are safe to store and log (no values, so no PHI), and telling an outage
(transient: wait it out, never dead-letter for it) from a record that can never succeed (permanent)."""

from __future__ import annotations

import errno
import socket
import ssl
from collections.abc import Iterator

import httpx
from aiokafka.errors import KafkaError, KafkaTimeoutError
from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from rcm_contracts.envelope import EnvelopeError, describe_validation_error
from rcm_runtime.errors import DomainError, TransientError


def sqlstate_of(exc: BaseException) -> str | None:
    orig = getattr(exc, "orig", None)
    return getattr(orig, "sqlstate", None) or getattr(getattr(orig, "__cause__", None), "sqlstate", None)


def safe_reason(exc: BaseException) -> str:
    if isinstance(exc, (EnvelopeError, DomainError, TransientError)):
        return str(exc)[:2000]
    if isinstance(exc, ValidationError):
        return "validation failed: " + describe_validation_error(exc)[:2000]
    if isinstance(exc, DBAPIError):
        orig = getattr(exc, "orig", None)
        code = sqlstate_of(exc)
        cname = getattr(getattr(orig, "__cause__", None), "constraint_name", None)
        return f"database error {type(exc).__name__} sqlstate={code} constraint={cname}"
    return f"unhandled {type(exc).__name__}"


# PostgreSQL answers that say "not now" rather than "never": the same statement succeeds once the server is
# back, the competing transaction is gone or a connection slot is free.
TRANSIENT_SQLSTATE_CLASSES = (
    "08",  # connection exception (cannot connect, connection lost, ...)
    "53",  # insufficient resources (too many connections 53300, out of memory, disk full)
)
TRANSIENT_SQLSTATES = frozenset({
    "40001",  # serialization_failure
    "40P01",  # deadlock_detected
    "55P03",  # lock_not_available (lock_timeout)
    "57014",  # query_canceled (statement_timeout, or canceled by a shutdown)
    "57P01",  # admin_shutdown
    "57P02",  # crash_shutdown
    "57P03",  # cannot_connect_now (starting up, in recovery)
    "57P05",  # idle_session_timeout
    "25006",  # read_only_sql_transaction: a failover left us on a standby for a moment
})

# Socket errors of a connection that failed or broke: the peer is down or unreachable, not wrong.
_NETWORK_ERRNOS = frozenset({
    errno.ECONNREFUSED, errno.ECONNRESET, errno.ECONNABORTED, errno.EPIPE, errno.ETIMEDOUT, errno.ENETDOWN,
    errno.ENETUNREACH, errno.ENETRESET, errno.EHOSTDOWN, errno.EHOSTUNREACH, errno.EADDRNOTAVAIL,
})
# Frames of opening a connection (asyncio, asyncpg): an OSError raised there, e.g. the FileNotFoundError of a
# PostgreSQL unix socket that is gone while the server is down, is an outage whatever its errno.
_CONNECT_FRAMES = frozenset({"create_connection", "create_unix_connection", "sock_connect", "_sock_connect",
                             "_connect_addr", "__connect_addr", "_create_ssl_connection", "open_connection"})
# Outside parties' HTTP answers that mean "try later" (5xx but the ones that say the request is wrong).
_PERMANENT_5XX = frozenset({501, 505})
_TRANSIENT_4XX = frozenset({408, 429})


def exception_chain(exc: BaseException) -> Iterator[BaseException]:
    """`exc`, then what caused it: a DBAPI error's `orig`, `__cause__`, `__context__` (each once, in that order)."""
    seen: set[int] = set()
    todo = [exc]
    while todo:
        e = todo.pop(0)
        if id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        todo += [n for n in (getattr(e, "orig", None), e.__cause__, e.__context__) if isinstance(n, BaseException)]


def _raised_while_connecting(exc: BaseException) -> bool:
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_name in _CONNECT_FRAMES:
            return True
        tb = tb.tb_next
    return False


def _verdict(e: BaseException) -> bool | None:
    """True (transient), False (permanent) or None (this link says nothing: look at its cause)."""
    if isinstance(e, TransientError):
        return True
    if isinstance(e, (DomainError, ValidationError, EnvelopeError)):
        return False
    state = getattr(e, "sqlstate", None) or getattr(e, "pgcode", None)
    if isinstance(state, str) and len(state) == 5:
        return state[:2] in TRANSIENT_SQLSTATE_CLASSES or state in TRANSIENT_SQLSTATES
    if isinstance(e, DBAPIError):
        if e.connection_invalidated:  # SQLAlchemy recognised a lost connection (its dialect's is_disconnect)
            return True
        return None  # decided by its orig (the driver's error) below
    if isinstance(e, (DisconnectionError, PoolTimeout)):
        return True  # a pooled connection was dead, or none came free in time
    if isinstance(e, (ConnectionError, TimeoutError, socket.gaierror)):
        return True  # refused, reset, aborted, broken pipe; timeouts; DNS not answering
    if isinstance(e, OSError):
        return True if e.errno in _NETWORK_ERRNOS or _raised_while_connecting(e) else None
    if isinstance(e, KafkaError):
        return bool(e.retriable) or isinstance(e, KafkaTimeoutError)
    if isinstance(e, httpx.HTTPStatusError):
        code = e.response.status_code
        return (code >= 500 and code not in _PERMANENT_5XX) or code in _TRANSIENT_4XX
    if isinstance(e, httpx.UnsupportedProtocol):
        return False  # a misconfigured URL, not an outage
    if isinstance(e, httpx.TransportError):
        return True  # connect errors, timeouts, the peer closing the connection
    if type(e).__module__.startswith("asyncpg") and "connection is closed" in str(e):
        return True  # asyncpg's InterfaceError on a connection the server dropped
    if type(e).__name__ == "InternalClientError" and "cannot switch to state" in str(e):
        return True  # asyncpg's protocol broke when the server went away mid-operation; a new connection answers
    return None


def is_transient(exc: BaseException) -> bool:
    """Whether `exc` is an outage (a database, the broker or an outside party not answering now) rather than a
    record that can never succeed. Walks the exception and its causes; the first link that says either way
    decides, so a DomainError raised while handling a lost connection stays permanent and an unknown error
    raised by a lost connection is transient. Nothing known either way: permanent.
    A server certificate that fails verification (wrong CA, wrong host name) is a configuration error, never waited
    out, wherever it sits in the chain (httpx and SQLAlchemy wrap it in errors that otherwise mean an outage)."""
    if any(isinstance(e, ssl.SSLCertVerificationError) for e in exception_chain(exc)):
        return False
    for e in exception_chain(exc):
        verdict = _verdict(e)
        if verdict is not None:
            return verdict
    return False
