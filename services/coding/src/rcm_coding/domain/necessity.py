"""Medical necessity per payer (pure): LCD/NCD-style lists of diagnoses that support a procedure.

A line is checked only when its payer has a policy for its procedure; everything else passes, because the
absence of a policy is not evidence of non-coverage.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from rcm_contracts.claim import Claim
from rcm_contracts.events import Edit

from rcm_coding.domain.hcpcs import normalize_header


def _dx(code: str) -> str:
    return code.strip().upper().replace(".", "")


@dataclass(frozen=True)
class CoveragePolicy:
    """Covered ICD-10-CM codes of one payer + procedure: exact codes, and prefixes that cover a whole family."""

    codes: frozenset[str] = frozenset()
    prefixes: frozenset[str] = frozenset()  # "E11" covers E11, E119, E1165, ...

    def covers(self, diagnosis: str) -> bool:
        dx = _dx(diagnosis)
        return dx in self.codes or any(dx.startswith(p) for p in self.prefixes)


@dataclass(frozen=True)
class CoverageTable:
    """payer_id -> procedure code -> policy."""

    policies: Mapping[str, Mapping[str, CoveragePolicy]] = field(default_factory=dict)

    def policy(self, payer_id: str, procedure_code: str) -> CoveragePolicy | None:
        return self.policies.get(payer_id, {}).get(procedure_code)


def load_coverage(lines: Iterable[str]) -> CoverageTable:
    """CSV `payer_id,procedure_code,covered_dx`, one row per pair; covered_dx ending in '*' is a prefix."""
    reader = csv.reader(lines)
    header = [normalize_header(c) for c in next(reader, [])]
    try:
        payer_at, proc_at, dx_at = (header.index(c) for c in ("PAYER ID", "PROCEDURE CODE", "COVERED DX"))
    except ValueError:
        raise ValueError("coverage file needs columns payer_id, procedure_code, covered_dx") from None
    codes: dict[tuple[str, str], set[str]] = {}
    prefixes: dict[tuple[str, str], set[str]] = {}
    for row in reader:
        if len(row) <= max(payer_at, proc_at, dx_at) or not any(c.strip() for c in row):
            continue
        payer, proc, dx = row[payer_at].strip(), row[proc_at].strip().upper(), _dx(row[dx_at])
        if not (payer and proc and dx):
            continue
        key = (payer, proc)
        codes.setdefault(key, set())
        prefixes.setdefault(key, set())
        if dx.endswith("*"):
            prefixes[key].add(dx.rstrip("*"))
        else:
            codes[key].add(dx)
    policies: dict[str, dict[str, CoveragePolicy]] = {}
    for (payer, proc), exact in codes.items():
        policies.setdefault(payer, {})[proc] = CoveragePolicy(frozenset(exact), frozenset(prefixes[(payer, proc)]))
    return CoverageTable(policies)


def necessity_edits(claim: Claim, coverage: CoverageTable) -> list[Edit]:
    """COD040 when a line's procedure has a policy for the claim's payer and none of its pointed diagnoses is
    covered. Self-pay claims (no coverage) are not checked."""
    if claim.coverage is None:
        return []
    payer = claim.coverage.payer_id
    edits: list[Edit] = []
    for line in claim.lines:
        policy = coverage.policy(payer, line.procedure_code)
        if policy is None:
            continue
        pointed = [claim.diagnoses[p - 1] for p in line.diagnosis_pointers if 1 <= p <= len(claim.diagnoses)]
        if not any(policy.covers(dx) for dx in pointed):
            n = line.line_number
            edits.append(Edit(
                code="COD040", severity="error", line_number=n, field="diagnosis_pointers",
                message=(f"line {n}: no pointed diagnosis supports procedure {line.procedure_code} under payer "
                         f"{payer}'s coverage policy; point the line at a documented covered diagnosis, or get "
                         f"the patient's signed advance notice before billing as non-covered"),
            ))
    return edits
