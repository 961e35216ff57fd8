"""Shared helpers for the contract-rate loaders (pure: they read lines handed to them, never files).

Every loader collects all of a file's problems before raising one `RateFileError`, so an operator fixes a
file in one pass. A problem names the row number (1-based physical line of the file) and a reason; the only
value it may repeat is the procedure code, never an amount, a name or anything else from the row.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator
from decimal import Decimal, InvalidOperation

from rcm_runtime.errors import DomainError

# A HCPCS/CPT procedure code: five characters, digits and capitals (CPT 99213, Category II/III 1234F/0001T,
# HCPCS Level II A0425). Anything else is not echoed back in an error.
CODE = re.compile(r"^[0-9A-Z]{5}$")
MODIFIER = re.compile(r"^[0-9A-Z]{2}$")
CENT = Decimal("0.01")
_PLAIN_DECIMAL = re.compile(r"-?\d+(\.\d+)?|-?\.\d+")


class RateFileError(DomainError):
    """A rate file (fee table, PPRRVU, GPCI, ZIP locality) that cannot be loaded. `problems` is a list of
    (row number, reason); the message lists them all (up to `SHOWN`), without values beyond the code."""

    code = "invalid_rate_file"
    SHOWN = 50

    def __init__(self, kind: str, problems: list[tuple[int, str]]):
        self.kind = kind
        self.problems = list(problems)
        shown = "; ".join(f"row {row}: {reason}" for row, reason in self.problems[: self.SHOWN])
        more = len(self.problems) - self.SHOWN
        tail = f"; and {more} more" if more > 0 else ""
        super().__init__(f"{kind}: {len(self.problems)} problem(s): {shown}{tail}")


def joined(lines: Iterable[str]) -> str:
    """The lines as one text, whether or not the caller kept the line endings (quoted cells may span lines)."""
    return "\n".join(line.rstrip("\r\n") for line in lines)


def records(lines: Iterable[str]) -> Iterator[tuple[int, list[str]]]:
    """CSV records with the file line each starts on (1-based), so a quoted cell spanning lines does not
    shift the row numbers that errors name."""
    reader = csv.reader(io.StringIO(joined(lines)))
    start = 1
    for row in reader:
        yield start, row
        start = reader.line_num + 1


def squash(cell: str) -> str:
    """A header cell without whitespace or BOM, upper case: 'Locality\\nNumber' -> 'LOCALITYNUMBER'."""
    return "".join(cell.replace("\ufeff", "").split()).upper()


def decimal_or_none(text: str) -> Decimal | None:
    """A plain decimal number (no exponent, no thousands separators, no currency sign), else None."""
    text = text.strip()
    if not _PLAIN_DECIMAL.fullmatch(text):
        return None
    try:
        return Decimal(text)
    except InvalidOperation:  # pragma: no cover - the pattern admits only valid literals
        return None


def safe_code(text: str) -> str | None:
    """The code if it looks like a procedure code (safe to name in an error), else None."""
    text = text.strip().upper()
    return text if CODE.match(text) else None
