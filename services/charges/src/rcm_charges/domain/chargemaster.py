"""A tenant's chargemaster: prices per code (+ modifier) with effective dates (pure)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Iterable

from rcm_contracts.events import EncounterLine

REQUIRED_COLUMNS = ("code", "price", "effective_from")


@dataclass(frozen=True)
class ChargemasterItem:
    code: str
    modifier: str  # "" = any/no modifier
    price: Decimal
    effective_from: date
    effective_to: date | None

    def covers(self, on: date) -> bool:
        return self.effective_from <= on and (self.effective_to is None or on <= self.effective_to)


class ChargemasterCsvError(ValueError):
    def __init__(self, errors: list[dict[str, str]]) -> None:
        super().__init__(f"{len(errors)} invalid chargemaster row(s)")
        self.errors = errors


def parse_chargemaster_csv(text: str) -> list[ChargemasterItem]:
    """CSV with header `code,modifier,price,effective_from,effective_to` (modifier and effective_to may
    be blank). All rows are checked; any bad row rejects the file with every problem listed. Two rows for
    the same code, modifier and effective_from are a bad row (which price would be meant?)."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip().lower() for h in reader.fieldnames or []]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise ChargemasterCsvError([{"field": "header", "reason": f"missing column(s): {', '.join(missing)}"}])
    items, errors = [], []
    first_row: dict[tuple[str, str, date], int] = {}
    for n, raw in enumerate(reader, start=2):
        row = {k.strip().lower(): (v or "").strip() for k, v in raw.items() if k}
        try:
            code = row["code"].upper()
            if not code or len(code) > 5:
                raise ValueError("code must be a 5-character CPT/HCPCS code")
            price = Decimal(row["price"])
            if price < 0 or price.as_tuple().exponent < -2:
                raise ValueError("price must be a non-negative amount with at most 2 decimals")
            start = date.fromisoformat(row["effective_from"])
            end = date.fromisoformat(row["effective_to"]) if row.get("effective_to") else None
            if end is not None and end < start:
                raise ValueError("effective_to is before effective_from")
            modifier = row.get("modifier", "").upper()
            if modifier and len(modifier) != 2:
                raise ValueError("modifier must be 2 characters")
            key = (code, modifier, start)
            if key in first_row:
                raise ValueError(f"same code, modifier and effective_from as row {first_row[key]}")
            first_row[key] = n
            items.append(ChargemasterItem(code, modifier, price.quantize(Decimal("0.01")), start, end))
        except (ValueError, InvalidOperation, KeyError) as exc:
            errors.append({"field": f"row {n}", "reason": str(exc) or type(exc).__name__})
    if errors:
        raise ChargemasterCsvError(errors)
    return items


def price_line(line: EncounterLine, on: date | None, items: Iterable[ChargemasterItem]) -> Decimal | None:
    """The line's charge: as sent, else the chargemaster price × units (a modifier-specific price wins
    over the code's general price)."""
    if line.charge is not None:
        return line.charge
    if on is None:
        return None
    code = line.procedure_code.strip().upper()
    mods = {m.upper() for m in line.modifiers}
    candidates = [i for i in items if i.code == code and i.covers(on) and (i.modifier == "" or i.modifier in mods)]
    if not candidates:
        return None
    best = max(candidates, key=lambda i: (i.modifier != "", i.effective_from))
    return (best.price * line.units).quantize(Decimal("0.01"))
