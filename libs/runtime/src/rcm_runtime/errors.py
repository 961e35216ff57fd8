"""Errors that domain code raises. This module imports nothing, so pure domain modules and libraries
(rcm_x12) can raise them without loading SQLAlchemy, Kafka or FastAPI. Turning any exception into a
reason that is safe to store and log lives in rcm_runtime.failures."""

from __future__ import annotations


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
