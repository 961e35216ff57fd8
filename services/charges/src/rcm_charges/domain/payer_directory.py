"""The tenant's payer list (pure): which payers it bills, by the id its clearinghouse knows, and the names and
ids EHRs send for them (aliases: "Medicaid", "BCBS of IL", an EHR's own payer code).

An encounter's coverage is mapped to the listed payer (id and name); a payer that is not listed holds the encounter
in completeness review ("unknown payer"), so no claim goes out to a payer id nobody can route. A tenant with no
payer list keeps the payer ids as sent, except a payer named only by display, which has no id to route (held).
"""

from __future__ import annotations

from dataclasses import dataclass

from rcm_contracts.claim import Coverage
from rcm_contracts.events import EncounterSubmitted, MissingItem

UNLISTED = ("the payer is not in the tenant's payer list: add it (PUT /v1/payers/{payer_id}) or the name or id the "
            "EHR sends as one of its aliases")


@dataclass(frozen=True)
class PayerEntry:
    payer_id: str
    name: str
    aliases: tuple[str, ...] = ()


def normalize(key: str) -> str:
    """How names and ids compare: case, spacing and punctuation around words do not matter."""
    return " ".join(key.upper().replace(",", " ").replace(".", " ").split())


class PayerDirectory:
    def __init__(self, entries: list[PayerEntry]) -> None:
        self._by_key: dict[str, PayerEntry] = {}
        for entry in entries:  # an id wins over another payer's alias or name
            for key in (*entry.aliases, entry.name):
                self._by_key.setdefault(normalize(key), entry)
        for entry in entries:
            self._by_key[normalize(entry.payer_id)] = entry

    @property
    def configured(self) -> bool:
        return bool(self._by_key)

    def find(self, coverage: Coverage) -> PayerEntry | None:
        return self._by_key.get(normalize(coverage.payer_id)) or self._by_key.get(normalize(coverage.payer_name))


def apply_payer_directory(submission: EncounterSubmitted, directory: PayerDirectory) -> EncounterSubmitted:
    """The submission with its coverages mapped to the listed payers; an unlisted payer becomes an intake issue.
    A mapped primary payer resolves the mapper's `coverage.payer_id` issue (a payer named by display only)."""
    if not directory.configured:
        return submission
    updates: dict = {}
    issues = list(submission.intake_issues)
    for field in ("coverage", "secondary_coverage"):
        coverage = getattr(submission, field)
        if coverage is None:
            continue
        entry = directory.find(coverage)
        if entry is None:
            if not any(i.field == f"{field}.payer_id" for i in issues):
                issues.append(MissingItem(field=f"{field}.payer_id", reason=UNLISTED))
            continue
        updates[field] = coverage.model_copy(update={"payer_id": entry.payer_id, "payer_name": entry.name})
        if field == "coverage":
            issues = [i for i in issues if i.field != "coverage.payer_id"]
    updates["intake_issues"] = issues
    return submission.model_copy(update=updates)
