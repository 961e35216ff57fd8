"""The CARC and RARC code lists as data (rcm_denials/reference/*.csv), loaded once: each code with its words,
the dates it is valid between, and (CARC) its default root cause and follow-up, (RARC) the root cause it
refines a generic CARC to. Pure: parsing text, no I/O beyond reading the packaged files in `load_*`."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path

REFERENCE = Path(__file__).resolve().parent.parent / "reference"

ROOT_CAUSES = ("eligibility", "registration", "authorization", "coding", "bundling", "medical_necessity",
               "documentation", "timely_filing", "duplicate", "coordination_of_benefits", "underpaid", "non_covered",
               "unclassified")
# CARC rows whose root cause is one of these are routine adjustments, never denials
NOT_DENIALS = ("contractual", "patient_responsibility", "informational")


class CodeListError(ValueError):
    """A code list file is malformed (line number and what is wrong: the files hold no PHI)."""


@dataclass(frozen=True)
class Carc:
    code: str
    description: str
    effective_from: date
    deactivated_on: date | None
    root_cause: str
    follow_up: str

    def valid_on(self, day: date) -> bool:
        return self.effective_from <= day and (self.deactivated_on is None or day < self.deactivated_on)

    @property
    def is_denial(self) -> bool:
        return self.root_cause not in NOT_DENIALS


@dataclass(frozen=True)
class Rarc:
    code: str
    description: str
    effective_from: date
    deactivated_on: date | None
    refines_to: str | None  # the root cause this remark points to, for the CARCs in `refines_carcs`
    refines_carcs: frozenset[str]

    def valid_on(self, day: date) -> bool:
        return self.effective_from <= day and (self.deactivated_on is None or day < self.deactivated_on)


@dataclass(frozen=True)
class RootCause:
    name: str
    work_queue: str
    follow_up: str  # the default action when a remark refines a CARC to this root cause


@dataclass(frozen=True)
class CodeLists:
    carcs: dict[str, Carc]
    rarcs: dict[str, Rarc]
    root_causes: dict[str, RootCause]

    def carc(self, code: str, on: date) -> Carc | None:
        """The CARC valid on `on` (the remittance date); None when unknown or not valid that day."""
        found = self.carcs.get(norm(code))
        return found if found is not None and found.valid_on(on) else None

    def rarc(self, code: str, on: date) -> Rarc | None:
        found = self.rarcs.get(norm(code))
        return found if found is not None and found.valid_on(on) else None


def norm(code: str) -> str:
    return code.strip().upper()


def _day(value: str, line: int, field: str) -> date | None:
    if not value.strip():
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise CodeListError(f"line {line}: {field} is not a date (YYYY-MM-DD)") from None


def _rows(text: str, columns: tuple[str, ...]) -> list[tuple[int, dict[str, str]]]:
    reader = csv.DictReader(io.StringIO(text))
    if tuple(reader.fieldnames or ()) != columns:
        raise CodeListError(f"header must be {','.join(columns)}")
    return [(n, row) for n, row in enumerate(reader, start=2)]


CARC_COLUMNS = ("code", "description", "effective_from", "deactivated_on", "root_cause", "follow_up")
RARC_COLUMNS = ("code", "description", "effective_from", "deactivated_on", "refines_to", "refines_carcs")


def parse_carcs(text: str) -> dict[str, Carc]:
    out: dict[str, Carc] = {}
    for n, row in _rows(text, CARC_COLUMNS):
        code = norm(row["code"])
        if not code or code in out:
            raise CodeListError(f"line {n}: code empty or repeated")
        cause = row["root_cause"].strip()
        if cause not in ROOT_CAUSES and cause not in NOT_DENIALS:
            raise CodeListError(f"line {n}: unknown root cause")
        start = _day(row["effective_from"], n, "effective_from")
        if start is None:
            raise CodeListError(f"line {n}: effective_from is required")
        out[code] = Carc(code, row["description"].strip(), start, _day(row["deactivated_on"], n, "deactivated_on"),
                         cause, row["follow_up"].strip())
    return out


def parse_rarcs(text: str) -> dict[str, Rarc]:
    out: dict[str, Rarc] = {}
    for n, row in _rows(text, RARC_COLUMNS):
        code = norm(row["code"])
        if not code or code in out:
            raise CodeListError(f"line {n}: code empty or repeated")
        refines = row["refines_to"].strip() or None
        if refines is not None and refines not in ROOT_CAUSES:
            raise CodeListError(f"line {n}: unknown root cause")
        start = _day(row["effective_from"], n, "effective_from")
        if start is None:
            raise CodeListError(f"line {n}: effective_from is required")
        out[code] = Rarc(code, row["description"].strip(), start, _day(row["deactivated_on"], n, "deactivated_on"),
                         refines, frozenset(norm(c) for c in row["refines_carcs"].split()))
    return out


ROOT_CAUSE_COLUMNS = ("root_cause", "work_queue", "follow_up")


def parse_root_causes(text: str) -> dict[str, RootCause]:
    out = {}
    for n, row in _rows(text, ROOT_CAUSE_COLUMNS):
        name = row["root_cause"].strip()
        if name not in ROOT_CAUSES or name in out:
            raise CodeListError(f"line {n}: unknown or repeated root cause")
        out[name] = RootCause(name, row["work_queue"].strip(), row["follow_up"].strip())
    missing = set(ROOT_CAUSES) - set(out)
    if missing:
        raise CodeListError(f"root causes without a row: {sorted(missing)}")
    return out


@lru_cache(maxsize=1)
def load_code_lists() -> CodeLists:
    """The packaged lists (read once per process)."""
    return CodeLists(parse_carcs((REFERENCE / "carc.csv").read_text(encoding="utf-8")),
                     parse_rarcs((REFERENCE / "rarc.csv").read_text(encoding="utf-8")),
                     parse_root_causes((REFERENCE / "root_causes.csv").read_text(encoding="utf-8")))
