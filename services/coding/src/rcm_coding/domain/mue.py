"""Medically Unlikely Edits (pure): load the CMS practitioner MUE CSV, check a claim's units.

Units above a code's MUE are denied (CARC 151, RARC N362). The MUE Adjudication Indicator (MAI) says whether
the limit applies per claim line (1) or per date of service (2 = policy, 3 = clinical).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from typing import NamedTuple

from rcm_contracts.claim import Claim, ServiceLine
from rcm_contracts.events import Edit

CODE_FIELD = re.compile(r"^(?:\d{4}[0-9A-Z]|[A-Z]\d{4})$")


class Mue(NamedTuple):
    value: int  # maximum units
    mai: int  # 1 line, 2 date of service (policy), 3 date of service (clinical)
    rationale: str


class MueTable:
    """Code -> Mue. About 15-22 k codes per quarter, so plain tuples with shared rationale strings suffice."""

    __slots__ = ("_mues",)

    def __init__(self) -> None:
        self._mues: dict[str, Mue] = {}

    def __len__(self) -> int:
        return len(self._mues)

    def __contains__(self, code: object) -> bool:
        return code in self._mues

    def get(self, code: str) -> Mue | None:
        return self._mues.get(code)

    def add(self, code: str, value: int, mai: int, rationale: str) -> None:
        if mai not in (1, 2, 3):
            raise ValueError(f"MUE adjudication indicator must be 1, 2 or 3, got {mai}")
        if value < 0:
            raise ValueError(f"MUE value must not be negative, got {value}")
        self._mues[code] = Mue(value, mai, rationale)


def _squash(cell: str) -> str:
    """Header cell without whitespace or BOM, lower case: 'HCPCS/\\nCPT Code' -> 'hcpcs/cptcode'."""
    return "".join(cell.replace("\ufeff", "").split()).lower()


def load_mue(lines: Iterable[str], table: MueTable | None = None) -> MueTable:
    """Load a practitioner (or outpatient/DME) MUE CSV.

    The AMA copyright preamble is skipped up to the header row whose first cell is 'HCPCS/CPT Code' (which CMS
    sometimes breaks inside quotes). The lines are re-joined and parsed as one text so that quoted line breaks
    parse the same whether or not the caller kept the line endings. Without an adjudication column (Medicaid
    files) every code is a line edit, MAI 1.
    """
    table = MueTable() if table is None else table
    text = "\n".join(line.rstrip("\r\n") for line in lines)
    rows = csv.reader(io.StringIO(text))
    value_col = mai_col = rationale_col = None
    rationales: dict[str, str] = {}
    for n, row in enumerate(rows, start=1):
        if value_col is None:
            if row and _squash(row[0]).startswith("hcpcs"):
                header = [_squash(c) for c in row]
                value_col = next((i for i, h in enumerate(header) if "muevalue" in h), 1)
                mai_col = next((i for i, h in enumerate(header) if "adjudication" in h), None)
                rationale_col = next((i for i, h in enumerate(header) if "rationale" in h), None)
            continue
        if not row or not CODE_FIELD.match(row[0].strip()):
            continue  # blank rows, footnotes
        try:
            value = int(row[value_col].strip())
            mai_text = row[mai_col].strip() if mai_col is not None else "1"
            mai = int(mai_text[:1])
        except (IndexError, ValueError):
            raise ValueError(f"MUE row {n}: cannot read the MUE value / adjudication indicator") from None
        rationale = row[rationale_col].strip() if rationale_col is not None and rationale_col < len(row) else ""
        try:
            table.add(row[0].strip(), value, mai, rationales.setdefault(rationale, rationale))
        except ValueError as exc:
            raise ValueError(f"MUE row {n}: {exc}") from None
    if value_col is None:
        raise ValueError("no 'HCPCS/CPT Code' header row found: not an MUE table")
    return table


_CARC = "expect CARC 151 / RARC N362 on the excess"


def mue_edits(claim: Claim, table: MueTable) -> list[Edit]:
    """COD060: a line over an MAI-1 limit. COD061: a code's units on one date over an MAI-2/3 limit."""
    edits: list[Edit] = []
    per_day: dict[tuple[str, date], tuple[Mue, list[ServiceLine]]] = {}
    for line in claim.lines:
        mue = table.get(line.procedure_code)
        if mue is None:
            continue
        if mue.mai == 1:
            if line.units > mue.value:
                edits.append(Edit(
                    code="COD060", severity="error", line_number=line.line_number, field="units",
                    message=(f"line {line.line_number}: {line.procedure_code} billed with {_units(line.units)} units "
                             f"exceeds its MUE of {mue.value} per claim line (MAI 1 line edit; "
                             f"{mue.rationale or 'no rationale given'}); reduce the units, or split them onto "
                             "separate lines with 59/XE/XS/XP/XU/76/77/91/anatomic modifiers only if the services "
                             f"were distinct; {_CARC}"),
                ))
        else:
            key = (line.procedure_code, line.service_date or claim.service_date)
            per_day.setdefault(key, (mue, []))[1].append(line)

    for (code, _dos), (mue, lines) in per_day.items():
        total = sum((line.units for line in lines), Decimal(0))
        if total <= mue.value:
            continue
        numbers = ", ".join(str(line.line_number) for line in lines)
        where = f"line {numbers}" if len(lines) == 1 else f"lines {numbers}"
        if mue.mai == 2:
            kind = ("MAI 2 date-of-service policy limit, generally upheld on appeal; "
                    f"reduce the total to {mue.value} units")
        else:
            kind = ("MAI 3 date-of-service clinical limit, payable on appeal with documentation; correct the "
                    "units, or keep them and have the medical record support them for the appeal")
        edits.append(Edit(
            code="COD061", severity="error", line_number=lines[0].line_number, field="units",
            message=(f"{where}: {code} totals {_units(total)} units on one date of service, above its MUE of "
                     f"{mue.value} ({mue.rationale or 'no rationale given'}); {kind}; {_CARC}"),
        ))
    return edits


def _units(units: Decimal) -> str:
    """1.000 -> '1', 1.500 -> '1.5' for messages."""
    return format(units.normalize(), "f")
