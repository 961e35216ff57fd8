"""Turning exceptions into reasons that are safe to store and log (no values, so no PHI)."""

from __future__ import annotations

from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError

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
