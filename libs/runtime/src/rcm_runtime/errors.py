"""Turning exceptions into reasons that are safe to store and log (no values, so no PHI)."""

from __future__ import annotations

from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError

from rcm_contracts.envelope import EnvelopeError, describe_validation_error


class DomainError(Exception):
    """Raised by domain/service code with a message written to be safe (no input values)."""


class NotFound(DomainError):
    """No such resource for this tenant: the app answers 404 with `code`."""

    code = "not_found"


class Conflict(DomainError):
    """The resource is in a state that forbids the request: the app answers 409 with `code`."""

    code = "conflict"


class TransientError(Exception):
    """A dependency (payer, clearinghouse) is unavailable: retry the whole batch later; never
    dead-letter the records for it. The message must be safe to log."""


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
