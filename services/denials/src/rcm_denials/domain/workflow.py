"""The life of a denial item: which action is allowed in which state, and where it leads. Pure.

    open -> in_progress -> appealed | corrected | rebilled -> recovered | upheld | written_off
    written_off also from open / in_progress / upheld / expired; above the tenant's amount a write-off waits
    in write_off_pending for a second person's approval. Past its deadline an open or in_progress item is
    expired. An appeal answered `overturned` stays appealed until the payment comes (then recovered)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

WORKABLE = frozenset({"open", "in_progress"})
AWAITING_PAYER = frozenset({"appealed", "corrected", "rebilled"})
TERMINAL = frozenset({"recovered", "upheld", "written_off", "voided"})
STATUSES = ("open", "in_progress", "appealed", "corrected", "rebilled", "write_off_pending", "recovered", "upheld",
            "written_off", "expired", "voided")


class NotAllowed(Exception):
    """The action is not allowed now; the message says why (safe: states and action names only)."""


@dataclass(frozen=True)
class Move:
    to: str


def _need(status: str, allowed: frozenset[str], action: str) -> None:
    if status not in allowed:
        raise NotAllowed(f"{action} is not allowed on an item in status {status} "
                         f"(allowed from: {', '.join(s for s in STATUSES if s in allowed)})")


def assign(status: str) -> Move:
    """A new owner; an open item starts being worked."""
    _need(status, WORKABLE | AWAITING_PAYER | {"write_off_pending"}, "assign")
    return Move("in_progress" if status == "open" else status)


def appeal(status: str) -> Move:
    _need(status, WORKABLE, "appeal")
    return Move("appealed")


def answer_appeal(status: str, answer: str, already: str | None) -> Move:
    _need(status, frozenset({"appealed"}), "appeal answer")
    if already is not None:
        raise NotAllowed(f"the appeal was already answered ({already})")
    if answer not in ("upheld", "overturned"):
        raise NotAllowed("the answer must be upheld or overturned")
    return Move("upheld" if answer == "upheld" else "appealed")


def corrected(status: str) -> Move:
    _need(status, WORKABLE, "corrected claim")
    return Move("corrected")


def rebill(status: str) -> Move:
    _need(status, WORKABLE, "rebill")
    return Move("rebilled")


def write_off(status: str, amount: Decimal, approval_above: Decimal) -> Move:
    _need(status, WORKABLE | {"upheld", "expired"}, "write-off")
    return Move("write_off_pending" if amount > approval_above else "written_off")


def approve_write_off(status: str, requested_by: str | None, approver: str) -> Move:
    _need(status, frozenset({"write_off_pending"}), "write-off approval")
    if requested_by == approver:
        raise NotAllowed("a write-off must be approved by another person than the one who asked for it")
    return Move("written_off")


def paid(status: str) -> Move | None:
    """A later payment on the claim: what was waiting on the payer is recovered; anything else stays."""
    return Move("recovered") if status in AWAITING_PAYER else None


def expire(status: str) -> Move | None:
    return Move("expired") if status in WORKABLE else None
