"""Contracted rates per payer (pure): a fee table, a percentage of the Medicare fee schedule, or both.

**Fee table CSV** (one per tenant and payer contract). The first non-blank line is this header, exactly
(case and surrounding spaces ignored):

    code,modifier,amount,effective_from,effective_to

- `code`: the procedure code, 5 letters/digits (CPT/HCPCS);
- `modifier`: blank (the code's global rate) or one 2-character modifier (e.g. 26, TC);
- `amount`: the allowed amount per unit in dollars, a plain decimal with at most 2 places, not negative;
- `effective_from`, `effective_to`: ISO dates (YYYY-MM-DD), both **inclusive**; `effective_to` blank = open.
  Two rows of one code and modifier must not overlap in time.

Rows are numbered as lines of the file (the header is row 1). Every bad row is reported at once in a
`RateFileError`, each with its row number and reason; no value other than the code appears in it.

**Which row prices a line**: the code's row for the first of the line's modifiers that has one in force on
the date of service; otherwise, unless the line carries a modifier that changes the payment (`PRICING_MODIFIERS`:
components 26/TC, reduced or discontinued 52/53/73/74, bilateral 50, assistant 80/81/82/AS, co-surgeon 62) that
the table does not price, the code's blank-modifier row. Such a line is never priced at the global rate: that
would overstate the expected amount (a professional component, an assistant at 16 %) and flag a correct payment.

**A contract** names the payer and has a fee table, a percentage of the Medicare physician fee schedule for a
locality (MAC + locality number), or both: the fee table is looked up first (carve-outs), then the percentage.
The percentage applies to the Medicare amount per unit after CMS rounding and is rounded to the cent, half up.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from rcm_remittance.domain.medicare_pfs import ROW_MODIFIERS, PfsSchedule, Price, round_cents
from rcm_remittance.domain.rate_files import MODIFIER, RateFileError, decimal_or_none, records, safe_code

FEE_TABLE_HEADER = ("code", "modifier", "amount", "effective_from", "effective_to")
PRICING_MODIFIERS = frozenset(ROW_MODIFIERS) | {"52", "73", "74", "50", "80", "81", "82", "AS", "62"}


@dataclass(frozen=True, slots=True)
class FeeRow:
    code: str
    modifier: str
    amount: Decimal
    effective_from: date
    effective_to: date | None

    def in_force(self, day: date) -> bool:
        return self.effective_from <= day and (self.effective_to is None or day <= self.effective_to)


def _iso_date(text: str) -> date | None:
    text = text.strip()
    if len(text) != 10:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


class FeeTable:
    """(code, modifier) -> rows over time."""

    def __init__(self, rows: Iterable[FeeRow] = ()) -> None:
        self._rows: dict[tuple[str, str], list[FeeRow]] = {}
        for row in rows:
            self._rows.setdefault((row.code, row.modifier), []).append(row)

    def __len__(self) -> int:
        return sum(len(v) for v in self._rows.values())

    def row(self, code: str, modifier: str, day: date) -> FeeRow | None:
        return next((r for r in self._rows.get((code, modifier), ()) if r.in_force(day)), None)

    def price(self, code: str, modifiers: Iterable[str], day: date) -> Price:
        code = code.strip().upper()
        modifiers = [m.strip().upper() for m in modifiers if m and m.strip()]
        for m in modifiers:
            hit = self.row(code, m, day)
            if hit is not None:
                return Price(hit.amount)
        if any(m in PRICING_MODIFIERS for m in modifiers):
            return Price(None, "no_rate_for_modifier")
        hit = self.row(code, "", day)
        if hit is not None:
            return Price(hit.amount)
        if any(self._rows.get((code, m)) for m in ["", *modifiers]):
            return Price(None, "no_rate_in_force")
        return Price(None, "code_not_in_fee_table")


def load_fee_table(lines: Iterable[str]) -> FeeTable:
    """Read a fee table CSV (layout in the module docstring); raises RateFileError listing every bad row."""
    problems: list[tuple[int, str]] = []
    parsed: list[tuple[int, FeeRow]] = []
    header_seen = False
    for n, row in records(lines):
        if not any(cell.strip() for cell in row):
            continue
        if not header_seen:
            header = tuple(cell.replace("\ufeff", "").strip().lower() for cell in row)
            if header != FEE_TABLE_HEADER:
                raise RateFileError("fee table", [(n, "header must be " + ",".join(FEE_TABLE_HEADER))])
            header_seen = True
            continue
        if len(row) != len(FEE_TABLE_HEADER):
            problems.append((n, f"{len(row)} columns, expected {len(FEE_TABLE_HEADER)}"))
            continue
        code = safe_code(row[0])
        if code is None:
            problems.append((n, "code is not 5 letters or digits"))
            continue
        reasons = []
        modifier = row[1].strip().upper()
        if modifier and not MODIFIER.match(modifier):
            reasons.append("modifier is not blank or 2 letters/digits")
        amount = decimal_or_none(row[2])
        if amount is None:
            reasons.append("amount is not a decimal number")
        elif amount < 0:
            reasons.append("amount is negative")
        elif amount != round_cents(amount):
            reasons.append("amount has more than 2 decimal places")
        start = _iso_date(row[3])
        if start is None:
            reasons.append("effective_from is not a date YYYY-MM-DD")
        end = None
        if row[4].strip():
            end = _iso_date(row[4])
            if end is None:
                reasons.append("effective_to is not a date YYYY-MM-DD or blank")
        if start is not None and end is not None and end < start:
            reasons.append("effective_to is before effective_from")
        if reasons:
            problems.append((n, f"code {code}: " + "; ".join(reasons)))
            continue
        parsed.append((n, FeeRow(code, modifier, amount.quantize(Decimal("0.01")), start, end)))
    if not header_seen:
        raise RateFileError("fee table", [(0, "empty file: header must be " + ",".join(FEE_TABLE_HEADER))])
    by_key: dict[tuple[str, str], list[tuple[int, FeeRow]]] = {}
    for n, fee in parsed:
        by_key.setdefault((fee.code, fee.modifier), []).append((n, fee))
    for entries in by_key.values():
        entries.sort(key=lambda e: e[1].effective_from)
        for (_, a), (n, b) in zip(entries, entries[1:]):
            if a.effective_to is None or a.effective_to >= b.effective_from:
                problems.append((n, f"code {b.code}: effective dates overlap another row of this code and modifier"))
    if problems:
        raise RateFileError("fee table", sorted(problems))
    return FeeTable(fee for _, fee in parsed)


@dataclass(frozen=True)
class MedicarePercent:
    """A percentage of the Medicare physician fee schedule in one locality (e.g. 120 % of MAC 01112 loc 05)."""

    percent: Decimal
    schedule: PfsSchedule
    mac: str
    locality: str

    def __post_init__(self) -> None:
        if not isinstance(self.percent, Decimal) or self.percent <= 0:
            raise ValueError("contract percentage must be a positive Decimal")


@dataclass(frozen=True)
class Contract:
    """A tenant's contract with one payer."""

    payer_id: str
    fee_table: FeeTable | None = None
    medicare: MedicarePercent | None = None

    def __post_init__(self) -> None:
        if self.fee_table is None and self.medicare is None:
            raise ValueError("a contract needs a fee table, a Medicare percentage, or both")

    def rate(self, code: str, modifiers: Iterable[str], place_of_service: str, day: date) -> Price:
        """The contracted allowed amount per unit for a line, or a Price without amount and its reason."""
        modifiers = tuple(modifiers)
        fee = Price(None, "no_fee_table")
        if self.fee_table is not None:
            fee = self.fee_table.price(code, modifiers, day)
            if fee.priced or self.medicare is None:
                return fee
        m = self.medicare
        medicare = m.schedule.price(code, modifiers, place_of_service, day, m.mac, m.locality)
        if not medicare.priced:
            return medicare
        return Price(round_cents(medicare.amount * m.percent / Decimal("100")), mult_proc=medicare.mult_proc)
