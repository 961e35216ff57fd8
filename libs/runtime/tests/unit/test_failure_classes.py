"""Transient (an outage: wait it out) versus permanent (dead-letter) by cause, for each error type the services
meet: the OS, asyncpg, SQLAlchemy, aiokafka, httpx and our own."""

import errno
import socket
import ssl

import asyncpg.exceptions as pg
import httpx
import pytest
from aiokafka import errors as kafka
from pydantic import BaseModel, ValidationError
from sqlalchemy import exc as sa

from rcm_contracts.envelope import EnvelopeError
from rcm_runtime.errors import Conflict, DomainError, NotFound, TransientError
from rcm_runtime.failures import exception_chain, is_transient


class AdaptedError(Exception):
    """Stands for SQLAlchemy's asyncpg adapter error: carries the driver's sqlstate, raised from the driver error."""


def through_sqlalchemy(driver_error: BaseException, cls=sa.DBAPIError, invalidated: bool = False) -> sa.DBAPIError:
    """The way SQLAlchemy's asyncpg dialect hands a driver error to us: Wrapper(orig=Adapted) from driver error."""
    try:
        try:
            raise driver_error
        except BaseException as e:
            adapted = AdaptedError(f"{type(e)}: {e}")
            adapted.sqlstate = adapted.pgcode = getattr(e, "sqlstate", None)
            raise adapted from e
    except AdaptedError as adapted:
        wrapped = cls("SELECT 1", {}, adapted, connection_invalidated=invalidated)
        wrapped.__cause__ = adapted
        return wrapped


def raised_from(outer: BaseException, cause: BaseException) -> BaseException:
    try:
        try:
            raise cause
        except BaseException as c:
            raise outer from c
    except BaseException as e:
        return e


def raised_while_handling(outer: BaseException, context: BaseException) -> BaseException:
    try:
        try:
            raise context
        except BaseException:
            raise outer
    except BaseException as e:
        return e


def status_error(code: int) -> httpx.HTTPStatusError:
    request = httpx.Request("POST", "https://payer.example/270")
    return httpx.HTTPStatusError("status", request=request, response=httpx.Response(code, request=request))


class Model(BaseModel):
    amount: int


def validation_error() -> ValidationError:
    with pytest.raises(ValidationError) as info:
        Model(amount="not a number")
    return info.value


TRANSIENT = {
    # the operating system: a dependency not answering
    "connection refused": ConnectionRefusedError(errno.ECONNREFUSED, "refused"),
    "connection reset": ConnectionResetError(errno.ECONNRESET, "reset"),
    "connection aborted": ConnectionAbortedError(errno.ECONNABORTED, "aborted"),
    "broken pipe": BrokenPipeError(errno.EPIPE, "pipe"),
    "timeout": TimeoutError(),
    "OSError host unreachable": OSError(errno.EHOSTUNREACH, "no route to host"),
    "OSError network unreachable": OSError(errno.ENETUNREACH, "network unreachable"),
    "DNS not answering": socket.gaierror(socket.EAI_AGAIN, "temporary failure in name resolution"),
    # asyncpg, raw
    "asyncpg connection lost": pg.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
    "asyncpg cannot connect now": pg.CannotConnectNowError("the database system is starting up"),
    "asyncpg too many connections": pg.TooManyConnectionsError("sorry, too many clients already"),
    "asyncpg admin shutdown": pg.AdminShutdownError("terminating connection due to administrator command"),
    "asyncpg crash shutdown": pg.CrashShutdownError("terminating connection because of crash of another process"),
    # the connection's protocol broke when the server went away mid-operation (seen in the fault drill)
    "asyncpg protocol failed": pg.InternalClientError('cannot switch to state 15; protocol is in the "failed" state'),
    "asyncpg operation in progress": pg.InternalClientError(
        "cannot switch to state 12; another operation (2) is in progress"),
    "asyncpg serialization failure": pg.SerializationError("could not serialize access"),
    "asyncpg deadlock": pg.DeadlockDetectedError("deadlock detected"),
    "asyncpg lock timeout": pg.LockNotAvailableError("canceling statement due to lock timeout"),
    "asyncpg query canceled": pg.QueryCanceledError("canceling statement due to statement timeout"),
    "asyncpg interface: connection closed": pg.InterfaceError("cannot call Connection.execute(): connection is closed"),
    # asyncpg through SQLAlchemy (the usual shape in a service)
    "SQLAlchemy OperationalError, serialization": through_sqlalchemy(pg.SerializationError("x"), sa.OperationalError),
    "SQLAlchemy DBAPIError, deadlock": through_sqlalchemy(pg.DeadlockDetectedError("x")),
    "SQLAlchemy IntegrityError, serialization": through_sqlalchemy(pg.SerializationError("x"), sa.IntegrityError),
    "SQLAlchemy DBAPIError, admin shutdown": through_sqlalchemy(pg.AdminShutdownError("x")),
    "SQLAlchemy InterfaceError, connection lost": through_sqlalchemy(pg.ConnectionDoesNotExistError("x"),
                                                                     sa.InterfaceError),
    "SQLAlchemy DBAPIError, connection invalidated": through_sqlalchemy(RuntimeError("gone"), invalidated=True),
    "SQLAlchemy pool timeout": sa.TimeoutError("QueuePool limit reached"),
    "SQLAlchemy disconnection": sa.DisconnectionError("connection is dead"),
    "SQLAlchemy wrapping connection refused": raised_from(sa.OperationalError("connect", {}, Exception("x")),
                                                          ConnectionRefusedError(errno.ECONNREFUSED, "refused")),
    # aiokafka
    "Kafka connection error": kafka.KafkaConnectionError("no broker"),
    "Kafka node not ready": kafka.NodeNotReadyError("node 1"),
    "Kafka request timed out": kafka.RequestTimedOutError(),
    "Kafka timeout": kafka.KafkaTimeoutError(),
    "Kafka leader not available (retriable)": kafka.LeaderNotAvailableError(),
    "Kafka not enough replicas (retriable)": kafka.NotEnoughReplicasError(),
    # httpx: outside parties
    "httpx connect error": httpx.ConnectError("refused"),
    "httpx read timeout": httpx.ReadTimeout("slow"),
    "httpx pool timeout": httpx.PoolTimeout("busy"),
    "httpx peer closed": httpx.RemoteProtocolError("peer closed connection"),
    "HTTP 500": status_error(500),
    "HTTP 502": status_error(502),
    "HTTP 503": status_error(503),
    "HTTP 504": status_error(504),
    "HTTP 429": status_error(429),
    # ours
    "TransientError": TransientError("payer unreachable"),
    "an unknown error raised from a lost connection": raised_from(RuntimeError("x"), ConnectionResetError()),
    "an unknown error raised while handling a deadlock": raised_while_handling(
        KeyError("x"), through_sqlalchemy(pg.DeadlockDetectedError("x"))),
}

PERMANENT = {
    "DomainError": DomainError("claim has no lines"),
    "NotFound": NotFound("no such claim"),
    "Conflict": Conflict("claim already submitted"),
    "ValidationError (contract violation)": validation_error(),
    "EnvelopeError (does not decode)": EnvelopeError("not JSON"),
    "unknown error (a bug)": KeyError("x"),
    "ValueError": ValueError("bad"),
    "decode error": UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"),
    "asyncpg unique violation": pg.UniqueViolationError("duplicate key"),
    "SQLAlchemy IntegrityError, unique violation": through_sqlalchemy(pg.UniqueViolationError("x"), sa.IntegrityError),
    "SQLAlchemy IntegrityError, foreign key": through_sqlalchemy(pg.ForeignKeyViolationError("x"), sa.IntegrityError),
    "SQLAlchemy DBAPIError, data exception": through_sqlalchemy(pg.NumericValueOutOfRangeError("x")),
    "SQLAlchemy ProgrammingError, undefined table": through_sqlalchemy(pg.UndefinedTableError("x"),
                                                                       sa.ProgrammingError),
    "SQLAlchemy DBAPIError, bad password": through_sqlalchemy(pg.InvalidPasswordError("x")),
    "asyncpg interface misuse": pg.InterfaceError("cannot perform operation: another operation is in progress"),
    "OSError file not found (not connecting)": FileNotFoundError(errno.ENOENT, "no such file"),
    "Kafka message too large (not retriable)": kafka.MessageSizeTooLargeError(),
    "Kafka commit failed (rebalanced)": kafka.CommitFailedError(),
    "HTTP 400": status_error(400),
    "HTTP 404": status_error(404),
    "HTTP 422": status_error(422),
    "HTTP 501": status_error(501),
    "httpx unsupported protocol (misconfigured URL)": httpx.UnsupportedProtocol("ftp://"),
    "httpx connect error from a certificate that fails verification": raised_from(
        httpx.ConnectError("certificate verify failed"), ssl.SSLCertVerificationError(1, "unable to get issuer")),
    "SQLAlchemy wrapping a certificate that fails verification": raised_from(
        sa.OperationalError("connect", {}, Exception("x")), ssl.SSLCertVerificationError(1, "hostname mismatch")),
    "a DomainError raised while handling a lost connection": raised_while_handling(
        DomainError("rule"), ConnectionResetError()),
    "a DomainError raised from a timeout": raised_from(DomainError("rule"), TimeoutError()),
}


@pytest.mark.parametrize("exc", TRANSIENT.values(), ids=TRANSIENT.keys())
def test_transient(exc):
    assert is_transient(exc) is True


@pytest.mark.parametrize("exc", PERMANENT.values(), ids=PERMANENT.keys())
def test_permanent(exc):
    assert is_transient(exc) is False


def test_an_os_error_raised_while_opening_a_connection_is_transient_whatever_its_errno():
    # PostgreSQL's unix socket is removed while the server is down: connecting raises FileNotFoundError.
    async def create_unix_connection():
        raise FileNotFoundError(errno.ENOENT, "No such file or directory")

    import asyncio

    with pytest.raises(FileNotFoundError) as info:
        asyncio.run(create_unix_connection())
    assert is_transient(info.value) is True


def test_the_chain_is_walked_once_even_when_it_loops():
    a, b = RuntimeError("a"), RuntimeError("b")
    a.__context__, b.__context__ = b, a
    assert [id(e) for e in exception_chain(a)] == [id(a), id(b)]
    assert is_transient(a) is False
