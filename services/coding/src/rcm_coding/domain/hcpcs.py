"""Procedure-code tables (HCPCS Level II from CMS, CPT from the customer) and the procedure edits built on them.

HCPCS Level II is public domain and loaded from the CMS quarterly file (CSV export of the official Excel). CPT is
AMA-licensed: the customer supplies codes and dates; descriptors are optional and never needed for an edit.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal

from rcm_contracts.claim import Claim
from rcm_contracts.events import Edit

ProcedureKind = Literal["cpt", "hcpcs", "cdt"]

CPT_CATEGORY_I = re.compile(r"^\d{5}$")
CPT_CATEGORY_II = re.compile(r"^\d{4}F$")
CPT_CATEGORY_III = re.compile(r"^\d{4}T$")
CPT_PLA = re.compile(r"^\d{4}U$")
CDT = re.compile(r"^D\d{4}$")  # ADA's dental code set sits inside the HCPCS II letter range
HCPCS_II = re.compile(r"^[A-V]\d{4}$")

# RECID values of the CMS HCPCS record layout.
PROCEDURE_RECIDS = {"3", "4"}  # first line, continuation line
MODIFIER_RECIDS = {"7", "8"}
FIRST_LINE_RECIDS = {"3", "7"}


@dataclass(frozen=True)
class CodeEntry:
    code: str
    effective: date | None  # first date of service the code may be billed (None = unknown, assume always)
    terminated: date | None  # last date of service the code may be billed (None = active)
    description: str = ""  # HCPCS long description; CPT descriptors are only kept if the customer supplied them
    coverage: str = ""  # HCPCS COV (Medicare coverage code)
    action: str = ""  # HCPCS ACTION CD of the latest change

    def effective_on(self, service_date: date) -> bool:
        if self.effective and service_date < self.effective:
            return False
        return not (self.terminated and service_date > self.terminated)


@dataclass(frozen=True)
class CodeTable:
    source: str  # "HCPCS" or "CPT": named in messages so billers know which table to update
    codes: Mapping[str, CodeEntry]
    modifiers: Mapping[str, CodeEntry] = field(default_factory=dict)  # Level II modifiers (HCPCS file only)

    def get(self, code: str) -> CodeEntry | None:
        return self.codes.get(code)


HcpcsTable = CodeTable


# ---------------------------------------------------------------- loaders


def normalize_header(name: str) -> str:
    # The Excel header is "ACT EFF DT"; database exports say "ACT_EFF_DT"; some add line breaks or a BOM.
    return " ".join(name.replace("\ufeff", "").replace("_", " ").split()).upper()


def _parse_date(value: str, where: str) -> date | None:
    value = value.strip()
    if not value:
        return None
    for fmt in ("%Y%m%d", "%Y-%m-%d", "%m/%d/%Y"):
        try:
            return datetime.strptime(value, fmt).date()
        except ValueError:
            pass
    raise ValueError(f"{where}: unreadable date {value!r} (expected YYYYMMDD or YYYY-MM-DD)")


def _rows(lines: Iterable[str], required: set[str]) -> Iterator[tuple[int, dict[str, str]]]:
    """Rows keyed by normalised header name; lines before the header (banners, notices) are skipped."""
    reader = csv.reader(lines)
    header: list[str] | None = None
    for row in reader:
        if header is None:
            keys = [normalize_header(c) for c in row]
            if required <= set(keys):
                header = keys
            continue
        if not any(cell.strip() for cell in row):
            continue
        yield reader.line_num, {k: (row[i].strip() if i < len(row) else "") for i, k in enumerate(header) if k}
    if header is None:
        raise ValueError(f"no header row with columns {sorted(required)}")


def _first_of(row: Mapping[str, str], *names: str) -> str:
    return next((row[n] for n in names if row.get(n)), "")


def load_hcpcs(lines: Iterable[str]) -> HcpcsTable:
    """CMS HCPCS quarterly file as CSV: procedure rows (RECID 3/4) and Level II modifier rows (RECID 7/8).

    A long description continues over rows with the same HCPC and increasing SEQNUM; they are joined. Dates sit
    on the first row of each code. Valid from = the earlier of ADD DT and ACT EFF DT, because ACT EFF DT is the
    date of the latest *action* (a description change or a deletion), not the date the code became billable.
    """
    pieces: dict[tuple[bool, str], list[tuple[int, str]]] = {}
    first: dict[tuple[bool, str], dict[str, str]] = {}
    where: dict[tuple[bool, str], int] = {}
    for line_num, row in _rows(lines, {"HCPC", "LONG DESCRIPTION"}):
        code = row["HCPC"].upper()
        if not code:
            continue
        recid = row.get("RECID", "").split(".")[0]  # spreadsheet exports may write 3 as "3.0"
        is_modifier = recid in MODIFIER_RECIDS if recid else len(code) == 2
        if recid and not (recid in PROCEDURE_RECIDS or is_modifier):
            continue  # other record types carry no code
        key = (is_modifier, code)
        seqnum = row.get("SEQNUM", "").split(".")[0]
        seq = int(seqnum) if seqnum.isdigit() else len(pieces.get(key, []))
        pieces.setdefault(key, []).append((seq, row.get("LONG DESCRIPTION", "")))
        if recid in FIRST_LINE_RECIDS or key not in first:
            first[key] = row
            where[key] = line_num

    codes: dict[str, CodeEntry] = {}
    modifiers: dict[str, CodeEntry] = {}
    for key, row in first.items():
        is_modifier, code = key
        at = f"HCPCS file line {where[key]}"
        added = _parse_date(_first_of(row, "ADD DT"), at)
        acted = _parse_date(_first_of(row, "ACT EFF DT"), at)
        starts = [d for d in (added, acted) if d]
        entry = CodeEntry(
            code=code,
            effective=min(starts) if starts else None,
            terminated=_parse_date(_first_of(row, "TERM DT"), at),
            description=" ".join(" ".join(p for _, p in sorted(pieces[key]) if p).split()),
            coverage=row.get("COV", ""),
            action=row.get("ACTION CD", ""),
        )
        (modifiers if is_modifier else codes)[code] = entry
    return CodeTable(source="HCPCS", codes=codes, modifiers=modifiers)


def load_cpt(lines: Iterable[str]) -> CodeTable:
    """Customer-licensed CPT list as CSV: code, effective_date, termination_date (+ optional descriptor)."""
    codes: dict[str, CodeEntry] = {}
    for line_num, row in _rows(lines, {"CODE", "EFFECTIVE DATE", "TERMINATION DATE"}):
        code = row["CODE"].upper()
        if not code:
            continue
        at = f"CPT file line {line_num}"
        codes[code] = CodeEntry(
            code=code,
            effective=_parse_date(row["EFFECTIVE DATE"], at),
            terminated=_parse_date(row["TERMINATION DATE"], at),
            description=_first_of(row, "DESCRIPTOR", "DESCRIPTION"),
        )
    return CodeTable(source="CPT", codes=codes)


# ---------------------------------------------------------------- edits


def procedure_kind(code: str) -> ProcedureKind | None:
    if CPT_CATEGORY_I.match(code) or CPT_CATEGORY_II.match(code) or CPT_CATEGORY_III.match(code) or CPT_PLA.match(code):
        return "cpt"
    if CDT.match(code):
        return "cdt"
    if HCPCS_II.match(code):
        return "hcpcs"
    return None


def _date_range(entry: CodeEntry) -> str:
    start = entry.effective.isoformat() if entry.effective else "always"
    end = entry.terminated.isoformat() if entry.terminated else "no end date"
    return f"effective {start}, terminated {end}"


def procedure_edits(claim: Claim, hcpcs: CodeTable | None, cpt: CodeTable | None) -> list[Edit]:
    """COD023 format, COD024 dental (CDT) code, COD020 not in the loaded table, COD021 table not loaded (warning,
    once per table), COD022 not effective on the line's date of service."""
    edits: list[Edit] = []
    unchecked: dict[str, list[int]] = {}
    for line in claim.lines:
        code, n = line.procedure_code, line.line_number
        kind = procedure_kind(code)
        if kind is None:
            edits.append(Edit(code="COD023", severity="error", line_number=n, field="procedure_code",
                              message=(f"line {n}: procedure code {code} is not CPT (5 digits, or 4 digits + F/T/U) "
                                       f"or HCPCS Level II (letter A-V + 4 digits); correct it")))
            continue
        if kind == "cdt":
            edits.append(Edit(code="COD024", severity="warning", line_number=n, field="procedure_code",
                              message=(f"line {n}: {code} is a CDT (dental) code; bill it on a dental claim "
                                       f"(837D / ADA form), not a professional claim")))
            continue
        table, name = (cpt, "CPT") if kind == "cpt" else (hcpcs, "HCPCS Level II")
        if table is None:
            unchecked.setdefault(name, []).append(n)
            continue
        entry = table.get(code)
        if entry is None:
            edits.append(Edit(code="COD020", severity="error", line_number=n, field="procedure_code",
                              message=(f"line {n}: procedure code {code} is not in the loaded {name} table; "
                                       f"correct the code or update the table")))
        elif not entry.effective_on(line.service_date or claim.service_date):
            edits.append(Edit(code="COD022", severity="error", line_number=n, field="procedure_code",
                              message=(f"line {n}: procedure code {code} is not valid on the date of service "
                                       f"({_date_range(entry)}); use the code in force on that date")))
    for name, line_numbers in unchecked.items():
        edits.append(Edit(code="COD021", severity="warning", field="procedure_code",
                          message=(f"{name} table not loaded: lines {', '.join(map(str, line_numbers))} had a format "
                                   f"check only; load the {name} table to validate codes and dates")))
    return edits
