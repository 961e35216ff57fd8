"""What the 835, 271, 999 and 277CA readers share (pure): the "unreadable" error, opening every interchange of
a file to the transaction sets a reader wants, refusing what is not 5010, reading around what is off (optional
numbers, other guides of 5010), and the issues a reader hands its caller (`ReadingIssue`: where, and why).

`Unreadable` subclasses rcm_runtime.errors.DomainError (an import-free module): a consumer treats it as a
permanent rejection whose message is safe to keep, because reasons name segments and positions only.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from collections.abc import Iterator
from typing import Any

from rcm_runtime.errors import DomainError

from rcm_x12.codec import (
    EnvelopeError,
    Interchange,
    TransactionSet,
    X12Error,
    interchange_texts,
    parse_interchange,
)
from rcm_x12.format import parse_number, quote_code, quote_control_number


class Unreadable(DomainError):
    """The input is not a readable transaction of the kind asked for (reason names structure only, never
    element values). Each reader raises its own subclass."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class UnparseableAcknowledgment(Unreadable):
    """The input is not the expected acknowledgment (999 or 277CA)."""


class UnsupportedVersion(Unreadable):
    """Every interchange of the file is of another version than 5010 (e.g. 4010): nothing is read as 5010.
    Readers raise a subclass of this and of their own Unreadable (e.g. Unsupported271Version)."""


class UnsupportedAcknowledgmentVersion(UnparseableAcknowledgment, UnsupportedVersion):
    """No interchange of the file is a 5010 999 or 277CA."""


INTERCHANGE_VERSION = "00501"  # ISA12 of 5010
ENVELOPE_ERROR, WARNING, REJECTED_INTERCHANGE, STRAY_TEXT = (
    "envelope_error", "warning", "rejected_interchange", "stray_text")


@dataclass(frozen=True)
class ReadingIssue:
    """One thing a reader found in a file and read around, or one interchange it refused, for the caller to pass
    on: where (the interchange's place in the file, its ISA13, the transaction set's ST02, the segment's
    position) and why. The reason names segments, positions, counts, control numbers and codes, never an
    element value (it may be PHI).

    `kind`: envelope_error (the codec's EnvelopeError: counts, control numbers, trailers), warning (content the
    reader read around: another 5010 guide, an unreadable optional number...), rejected_interchange (an
    interchange not read at all, e.g. 4010), stray_text (non-X12 text between or after interchanges, ignored)."""

    interchange: int  # 1-based place of the interchange in the file
    interchange_control_number: str  # ISA13
    kind: str
    reason: str
    code: str = ""  # the EnvelopeErrorCode, or e.g. "other_version"
    transaction_set: str | None = None  # ST02 of the set it is in, when it is in one
    segment_position: int | None = None  # 1-based in the interchange (ISA = 1), when known

    def as_json(self) -> dict[str, Any]:
        return {"interchange": self.interchange,
                "interchange_control_number": quote_control_number(self.interchange_control_number).strip("'"),
                "kind": self.kind, "code": self.code, "transaction_set": self.transaction_set,
                "segment_position": self.segment_position, "reason": self.reason}

    def __str__(self) -> str:
        where = f"interchange #{self.interchange} ({quote_control_number(self.interchange_control_number)})"
        if self.transaction_set is not None:
            where += f" transaction set {quote_control_number(self.transaction_set)}"
        if self.segment_position is not None:
            where += f" segment #{self.segment_position}"
        return f"{where}: {self.reason}"


def envelope_issues(number: int, interchange: Interchange,
                    errors: tuple[EnvelopeError, ...] | list[EnvelopeError] | None = None) -> list[ReadingIssue]:
    """The interchange's envelope errors (or `errors` of it) as issues."""
    return [ReadingIssue(number, interchange.control_number, ENVELOPE_ERROR, e.message, code=str(e.code),
                         segment_position=e.segment_position)
            for e in (interchange.errors if errors is None else errors)]


def warning_issues(number: int, interchange: Interchange, warnings: tuple[str, ...] | list[str],
                   transaction_set: str | None = None) -> list[ReadingIssue]:
    return [ReadingIssue(number, interchange.control_number, WARNING, w, transaction_set=transaction_set)
            for w in warnings]


@dataclass(frozen=True)
class OpenedFile:
    """Every interchange of a file a reader will read (1-based place in the file, the interchange), and the
    issues found while opening it (stray text, interchanges refused as another version)."""

    interchanges: tuple[tuple[int, Interchange], ...]
    issues: tuple[ReadingIssue, ...]

    def sets(self, id_code: str, issues: list[ReadingIssue]) -> Iterator[tuple[int, Interchange, TransactionSet]]:
        """Every `id_code` transaction set of every interchange, in file order, with its interchange (place, and
        the interchange itself); appends to `issues` each interchange's envelope issues, and a warning for each set
        of another kind (ignored)."""
        for number, interchange in self.interchanges:
            issues += envelope_issues(number, interchange)
            for transaction in interchange.transactions:
                if transaction.id_code != id_code:
                    issues += warning_issues(number, interchange, [
                        f"transaction set (ST01 {quote_code(transaction.id_code)}) is not a {id_code}; ignored"],
                        transaction.control_number)
                    continue
                yield number, interchange, transaction


def open_interchanges(text: str, id_code: str, implementation: str, error: type[Unreadable],
                      unsupported: type[Unreadable]) -> OpenedFile:
    """Every interchange of the file, each split with its own delimiters, for a reader of `id_code` sets of the
    `implementation` guide.

    An interchange of another version than 5010 (ISA12, or GS08/ST03 of a group holding `id_code` sets) is left
    out with a rejected_interchange issue, never read as 5010: the reader decides whether that refuses the whole
    file (the 835) or only that interchange (see each reader). When no interchange is left, `unsupported` (the
    reason of the first refused one); when the text is not X12, or no interchange holds an `id_code` set, `error`.
    Non-blank text between or after interchanges is a stray_text issue (how much, never what)."""
    try:
        texts = interchange_texts(text)
        parsed = [(n, parse_interchange(chunk), stray) for n, (chunk, stray) in enumerate(texts, start=1)]
    except X12Error as exc:
        raise error(f"not an X12 interchange: {exc}") from None
    kept: list[tuple[int, Interchange]] = []
    issues: list[ReadingIssue] = []
    refused: list[str] = []
    for number, interchange, stray in parsed:
        problem = version_problem(interchange, id_code, implementation)
        if problem is not None:
            refused.append(f"interchange #{number} ({quote_control_number(interchange.control_number)}): {problem}")
            issues.append(ReadingIssue(number, interchange.control_number, REJECTED_INTERCHANGE,
                                       f"{problem}; the interchange is not read", code="other_version"))
        else:
            kept.append((number, interchange))
        if stray:
            issues.append(ReadingIssue(number, interchange.control_number, STRAY_TEXT,
                                       f"{len(stray)} characters of text that is not X12 after the IEA; ignored",
                                       code="data_after_iea"))
    if not kept:
        raise unsupported(refused[0] + (f" (and {len(refused) - 1} more interchanges)" if len(refused) > 1 else ""))
    if not any(t.id_code == id_code for _, i in kept for t in i.transactions):
        present = sorted({quote_code(t.id_code) for _, i in kept for t in i.transactions})
        raise error(f"no {id_code} transaction set in the file (found: {', '.join(present) or 'none'})")
    return OpenedFile(tuple(kept), tuple(issues))


def version_problem(interchange: Interchange, id_code: str, implementation: str) -> str | None:
    """Why the interchange is not 5010 for `id_code` sets (None when it is): ISA12, else the GS08 or ST03 of a
    group holding such sets. Another guide of 5010 (005010...) is only a warning (implementation_warnings)."""
    for group in interchange.groups:
        sets = [t for t in group.transactions if t.id_code == id_code]
        if not sets:
            continue
        if group.version and not group.version.startswith(INTERCHANGE_VERSION):
            return (f"functional group {quote_control_number(group.control_number)}: version "
                    f"{quote_code(group.version)} (GS08) is not 5010; only {implementation} {id_code}s are read")
        for t in sets:
            reference = t.implementation_reference
            if reference and not reference.startswith(INTERCHANGE_VERSION):
                return (f"{id_code} {quote_control_number(t.control_number)}: version {quote_code(reference)} "
                        f"(ST03) is not 5010; only {implementation} {id_code}s are read")
    isa12 = interchange.header.element(12)  # after the guide's version, which says the most
    if isa12 != INTERCHANGE_VERSION:
        return (f"version {quote_code(isa12) if isa12 else 'absent'} (ISA12) is not {INTERCHANGE_VERSION} (5010); "
                f"only {implementation} {id_code}s are read")
    return None


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
