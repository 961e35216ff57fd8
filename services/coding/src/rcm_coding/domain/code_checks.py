"""Code-format edits on a claim (pure). Deeper ICD-10-CM, NCCI and MUE edits build on this."""

from __future__ import annotations

import re

from rcm_contracts.claim import Claim
from rcm_contracts.events import Edit

ICD10CM = re.compile(r"^[A-Z][0-9][0-9A-Z]([0-9A-Z]{1,4})?$")  # stored without the dot; U = special purpose (U07.1)
CPT = re.compile(r"^\d{4}[0-9FTU]$")  # Category I (5 digits), II (F), III (T); U for PLA
HCPCS_II = re.compile(r"^[A-V]\d{4}$")


def code_edits(claim: Claim) -> list[Edit]:
    edits: list[Edit] = []
    if not claim.diagnoses:
        edits.append(Edit(code="COD001", severity="error", field="diagnoses",
                          message="claim has no ICD-10-CM diagnosis; a coder must assign one"))
    for i, dx in enumerate(claim.diagnoses, start=1):
        if not ICD10CM.match(dx):
            edits.append(Edit(code="COD002", severity="error", field=f"diagnoses[{i}]",
                              message=f"diagnosis {i} is not an ICD-10-CM code"))
    for line in claim.lines:
        if not (CPT.match(line.procedure_code) or HCPCS_II.match(line.procedure_code)):
            edits.append(Edit(code="COD003", severity="error", line_number=line.line_number, field="procedure_code",
                              message=f"line {line.line_number}: procedure code is neither CPT nor HCPCS Level II"))
    return edits


def coding_status(edits: list[Edit]) -> str:
    return "needs_coder" if any(e.severity == "error" for e in edits) else "coded"
