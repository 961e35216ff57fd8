"""NCCI procedure-to-procedure (PTP) edits (pure): load the CMS practitioner PTP TXT files, check a claim.

A column-2 code billed with its column-1 code on the same date of service is denied (CARC 236) unless the
pair's modifier indicator allows a bypass and an NCCI-associated modifier is present.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Iterator
from datetime import date
from typing import NamedTuple

from rcm_contracts.claim import Claim, ServiceLine
from rcm_contracts.events import Edit

# Data rows start with a CPT (4 digits + digit/F/T/U...) or HCPCS Level II (letter + 4 digits) code; anything
# else (copyright text, the multi-line column header) is skipped, so f1..f4 can also be chained into one stream.
CODE_FIELD = re.compile(r"^(?:\d{4}[0-9A-Z]|[A-Z]\d{4})$")

# Modifiers CMS lists as NCCI-associated: with indicator 1 any of them on either line bypasses the edit.
# Kept as data so a payer-specific policy can pass its own set to ptp_edits.
NCCI_BYPASS_MODIFIERS: frozenset[str] = frozenset(
    ["59", "XE", "XS", "XP", "XU"]  # distinct procedural service
    + ["E1", "E2", "E3", "E4"]  # eyelids
    + ["FA"] + [f"F{i}" for i in range(1, 10)]  # fingers
    + ["TA"] + [f"T{i}" for i in range(1, 10)]  # toes
    + ["LT", "RT", "LC", "LD", "RC", "LM", "RI"]  # sides, coronary arteries
    + ["24", "25", "57", "58", "78", "79", "27", "91"]  # global surgery, E/M, outpatient, repeat lab
)

# Modifier indicators 0/1/9 are stored as 0/1/2: the most restrictive of overlapping rows compares lowest.
_IND_FROM_TEXT = {"0": 0, "1": 1, "9": 2}
_IND_TO_INT = (0, 1, 9)

# Dates are stored as days since 1900-01-01 in 17 bits (good until 2258); all-ones means "no deletion date".
_EPOCH = date(1900, 1, 1).toordinal()
_DAY_BITS = 17
_DAY_MASK = (1 << _DAY_BITS) - 1
_NO_DELETION = _DAY_MASK


class PtpEdit(NamedTuple):
    """One PTP row as stored (unpacked on demand; the table itself holds packed ints)."""

    column1: str
    column2: str
    effective: date
    deletion: date | None  # None = '*' (still active)
    modifier_indicator: int  # 0, 1 or 9
    rationale: str


class PtpTable:
    """Column-1 code -> {column-2 code -> packed row, or a tuple of packed rows if the pair was re-added}.

    A packed row is one int: rationale index | indicator (2 bits) | effective day | deletion day (17 bits each),
    below 2**60 so CPython stores it in 32 bytes; identical packed values and code strings are shared, so a
    pair costs little more than its dict slot (about 30-40 bytes per pair).
    """

    __slots__ = ("_pairs", "_rationales", "_rationale_index", "_codes", "_packed", "_days", "_rows")

    def __init__(self) -> None:
        self._pairs: dict[str, dict[str, int | tuple[int, ...]]] = {}
        self._rationales: list[str] = []
        self._rationale_index: dict[str, int] = {}
        self._codes: dict[str, str] = {}  # interning: one string object per distinct code
        self._packed: dict[int, int] = {}  # interning: one int object per distinct packed value
        self._days: dict[str, int] = {}  # 'YYYYMMDD' -> day number (few distinct dates, parse once)
        self._rows = 0

    # ------------------------------------------------------------------ size
    def __len__(self) -> int:
        """Number of distinct (column 1, column 2) pairs."""
        return sum(len(col2s) for col2s in self._pairs.values())

    @property
    def row_count(self) -> int:
        """Number of stored rows (a pair deleted and re-added counts twice; exact duplicates once)."""
        return self._rows

    @property
    def column1_count(self) -> int:
        return len(self._pairs)

    # ------------------------------------------------------------------ building
    def add(self, column1: str, column2: str, effective: str, deletion: str, indicator: str, rationale: str) -> None:
        """Add one row given as the TXT fields (YYYYMMDD dates, deletion '*' = none, indicator '0'/'1'/'9')."""
        packed = self._pack(effective, deletion, indicator, rationale)
        c1 = self._codes.setdefault(column1, column1)
        col2s = self._pairs.get(c1)
        if col2s is None:
            col2s = self._pairs[c1] = {}
        self._store(col2s, self._codes.setdefault(column2, column2), packed)

    def _pack(self, effective: str, deletion: str, indicator: str, rationale: str) -> int:
        ind = _IND_FROM_TEXT.get(indicator)
        if ind is None:
            raise ValueError(f"modifier indicator must be 0, 1 or 9, got {indicator!r}")
        eff = self._day(effective)
        dele = _NO_DELETION if deletion in ("*", "") else self._day(deletion)
        rat = self._rationale_index.get(rationale)
        if rat is None:
            rat = self._rationale_index[rationale] = len(self._rationales)
            self._rationales.append(rationale)
        packed = (((rat << 2 | ind) << _DAY_BITS | eff) << _DAY_BITS) | dele
        return self._packed.setdefault(packed, packed)

    def _store(self, col2s: dict[str, int | tuple[int, ...]], c2: str, packed: int) -> None:
        old = col2s.get(c2)
        if old is None:
            col2s[c2] = packed
        elif old == packed or (isinstance(old, tuple) and packed in old):
            return  # the same row loaded twice (overlapping files) is not a second edit
        else:
            col2s[c2] = (old, packed) if isinstance(old, int) else (*old, packed)
        self._rows += 1

    def memory_bytes(self) -> int:
        """Approximate bytes held by the table (dicts, shared code strings and packed ints), for sizing."""
        total = sys.getsizeof(self._pairs) + sum(sys.getsizeof(d) for d in self._pairs.values())
        total += sys.getsizeof(self._codes) + sum(sys.getsizeof(c) for c in self._codes)
        total += sys.getsizeof(self._packed) + sum(sys.getsizeof(p) for p in self._packed)
        total += sum(sys.getsizeof(v) for d in self._pairs.values() for v in d.values() if isinstance(v, tuple))
        return total + sum(sys.getsizeof(r) for r in self._rationales)

    def _day(self, yyyymmdd: str) -> int:
        day = self._days.get(yyyymmdd)
        if day is None:
            if len(yyyymmdd) != 8 or not yyyymmdd.isdigit():
                raise ValueError(f"date must be YYYYMMDD, got {yyyymmdd!r}")
            d = date(int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:]))
            day = self._days[yyyymmdd] = d.toordinal() - _EPOCH
        return day

    # ------------------------------------------------------------------ lookup
    def active(self, column1: str, column2: str, on: date) -> PtpEdit | None:
        """The edit for (column1, column2) in force on a date of service, or None."""
        col2s = self._pairs.get(column1)
        if col2s is None:
            return None
        stored = col2s.get(column2)
        if stored is None:
            return None
        packed = _active_packed(stored, on.toordinal() - _EPOCH)
        return None if packed is None else self._unpack(column1, column2, packed)

    def column2_codes(self, column1: str) -> dict[str, int | tuple[int, ...]]:
        """Read-only view for the claim checker: column-2 code -> packed row(s)."""
        return self._pairs.get(column1, _EMPTY)

    def rows(self) -> Iterator[PtpEdit]:
        for c1, col2s in self._pairs.items():
            for c2, stored in col2s.items():
                for packed in (stored,) if isinstance(stored, int) else stored:
                    yield self._unpack(c1, c2, packed)

    def _unpack(self, column1: str, column2: str, packed: int) -> PtpEdit:
        dele = packed & _DAY_MASK
        eff = (packed >> _DAY_BITS) & _DAY_MASK
        ind = (packed >> (2 * _DAY_BITS)) & 3
        rat = packed >> (2 * _DAY_BITS + 2)
        return PtpEdit(column1, column2, date.fromordinal(eff + _EPOCH),
                       None if dele == _NO_DELETION else date.fromordinal(dele + _EPOCH),
                       _IND_TO_INT[ind], self._rationales[rat])


_EMPTY: dict[str, int | tuple[int, ...]] = {}


def _active_packed(stored: int | tuple[int, ...], day: int) -> int | None:
    """The stored row in force on `day` (effective <= day <= deletion); the most restrictive if several overlap."""
    best: int | None = None
    for packed in (stored,) if isinstance(stored, int) else stored:
        if ((packed >> _DAY_BITS) & _DAY_MASK) <= day <= (packed & _DAY_MASK):
            if best is None or _indicator(packed) < _indicator(best):
                best = packed
    return best


def _indicator(packed: int) -> int:
    return (packed >> (2 * _DAY_BITS)) & 3


def load_ptp(lines: Iterable[str], table: PtpTable | None = None) -> PtpTable:
    """Load a tab-delimited practitioner PTP TXT (pass `table` to merge f1..f4 into one table).

    Header/copyright lines are recognised by a first field that is not a procedure code and skipped.
    A data row with the wrong shape raises ValueError: silently dropping rows would drop denials.
    """
    table = PtpTable() if table is None else table
    pairs, codes = table._pairs, table._codes
    # Rows share few distinct (prior, effective, deletion, indicator, rationale) tails: parse each tail once.
    tails: dict[str, int] = {}
    for n, line in enumerate(lines, start=1):
        fields = line.split("\t", 2)
        c1 = fields[0].strip()
        col2s = pairs.get(c1)
        if col2s is None and not CODE_FIELD.match(c1):
            continue  # copyright, header or blank line
        if len(fields) < 3:
            raise ValueError(f"PTP line {n}: expected 7 tab-separated columns, got {len(fields)}")
        packed = tails.get(fields[2])
        if packed is None:
            tail = fields[2].rstrip("\r\n").split("\t")
            if len(tail) < 4:
                raise ValueError(f"PTP line {n}: expected 7 tab-separated columns, got {len(tail) + 2}")
            try:
                packed = table._pack(tail[1].strip(), tail[2].strip(), tail[3].strip(),
                                     tail[4].strip() if len(tail) > 4 else "")
            except ValueError as exc:
                raise ValueError(f"PTP line {n}: {exc}") from None
            tails[fields[2]] = packed
        if col2s is None:
            c1 = codes.setdefault(c1, c1)
            col2s = pairs[c1] = {}
        c2 = fields[1].strip()
        c2 = codes.setdefault(c2, c2)  # one string per code instead of one per row
        if c2 in col2s:
            table._store(col2s, c2, packed)  # re-added pair or duplicate row: rare
        else:
            col2s[c2] = packed
            table._rows += 1
    return table


def ptp_edits(claim: Claim, table: PtpTable,
              bypass_modifiers: frozenset[str] = NCCI_BYPASS_MODIFIERS) -> list[Edit]:
    """COD050 (indicator 0) / COD051 (indicator 1, no NCCI-associated modifier) on each column-2 line."""
    by_date: dict[date, list[ServiceLine]] = {}
    for line in claim.lines:
        by_date.setdefault(line.service_date or claim.service_date, []).append(line)

    edits: list[Edit] = []
    seen: set[tuple[int, str]] = set()  # one finding per (column-2 line, column-1 code)
    for dos, lines in by_date.items():
        if len(lines) < 2:
            continue
        day = dos.toordinal() - _EPOCH
        for a in lines:
            col2s = table.column2_codes(a.procedure_code)
            if not col2s:
                continue
            for b in lines:
                if b is a:
                    continue
                stored = col2s.get(b.procedure_code)
                if stored is None:
                    continue
                packed = _active_packed(stored, day)
                if packed is None:
                    continue
                key = (b.line_number, a.procedure_code)
                if key in seen:
                    continue
                row = table._unpack(a.procedure_code, b.procedure_code, packed)
                if row.modifier_indicator == 9:
                    continue
                if row.modifier_indicator == 0:
                    seen.add(key)
                    edits.append(_indicator0(a, b, row))
                elif not (bypass_modifiers.intersection(a.modifiers) or bypass_modifiers.intersection(b.modifiers)):
                    seen.add(key)
                    edits.append(_indicator1(a, b, row))
    return edits


def _indicator0(col1: ServiceLine, col2: ServiceLine, row: PtpEdit) -> Edit:
    return Edit(
        code="COD050", severity="error", line_number=col2.line_number, field="procedure_code",
        message=(f"line {col2.line_number}: {row.column2} is an NCCI column-2 code of {row.column1} "
                 f"(line {col1.line_number}) on the same date of service ({row.rationale or 'no rationale given'}); "
                 "modifier indicator 0: no modifier bypasses this edit - remove or correct line "
                 f"{col2.line_number}; as billed Medicare denies it with CARC 236"),
    )


def _indicator1(col1: ServiceLine, col2: ServiceLine, row: PtpEdit) -> Edit:
    return Edit(
        code="COD051", severity="error", line_number=col2.line_number, field="modifiers",
        message=(f"line {col2.line_number}: {row.column2} is an NCCI column-2 code of {row.column1} "
                 f"(line {col1.line_number}) on the same date of service ({row.rationale or 'no rationale given'}); "
                 "modifier indicator 1: append 59/XE/XS/XP/XU (or an anatomic, 24/25/57/58/78/79/27/91 modifier) "
                 "only if the services were distinct, otherwise remove the line; as billed Medicare denies it "
                 "with CARC 236"),
    )
