"""What the 835, 271, 999 and 277CA readers share (pure): the "unreadable" error, opening an interchange to
the transaction sets a reader wants, and reading around what is off (optional numbers, other guide versions).

`Unreadable` subclasses rcm_runtime.errors.DomainError (an import-free module): a consumer treats it as a
permanent rejection whose message is safe to keep, because reasons name segments and positions only.
"""

from __future__ import annotations

from decimal import Decimal

from rcm_runtime.errors import DomainError

from rcm_x12.codec import Interchange, TransactionSet, X12Error, parse_interchange
from rcm_x12.format import parse_number, quote_code, quote_control_number


class Unreadable(DomainError):
    """The input is not a readable transaction of the kind asked for (reason names structure only, never
    element values). Each reader raises its own subclass."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class UnparseableAcknowledgment(Unreadable):
    """The input is not the expected acknowledgment (999 or 277CA)."""


def open_interchange(text: str, error: type[Unreadable]) -> Interchange:
    """The interchange; `error` ("not an X12 interchange: ...") when the text is not X12 at all."""
    try:
        return parse_interchange(text)
    except X12Error as exc:
        raise error(f"not an X12 interchange: {exc}") from None


def transactions_of(interchange: Interchange, id_code: str, error: type[Unreadable]) -> list[TransactionSet]:
    """The interchange's transaction sets with ST01 `id_code`; `error` naming what it holds instead when none."""
    found = [t for t in interchange.transactions if t.id_code == id_code]
    if not found:
        present = sorted({quote_code(t.id_code) for t in interchange.transactions})
        raise error(f"no {id_code} transaction set in the interchange (found: {', '.join(present) or 'none'})")
    return found


def implementation_warnings(transaction: TransactionSet, expected: str) -> list[str]:
    """A warning when ST03 names another implementation guide than `expected` (the set is still read)."""
    reference = transaction.implementation_reference
    if reference == expected:
        return []
    return [f"transaction set {quote_control_number(transaction.control_number)}: implementation reference "
            f"{quote_code(reference) if reference else 'absent'} is not {expected}; read as {expected}"]


def optional_number(text: str, label: str, warnings: list[str]) -> Decimal | None:
    """An optional R value: None when absent, and when unreadable (with a warning naming `label`, not the text)."""
    if not text:
        return None
    value = parse_number(text)
    if value is None:
        warnings.append(f"{label} is not a number; ignored")
    return value
