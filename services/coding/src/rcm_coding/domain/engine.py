"""The coding engine: every code edit on one claim, from the tables a deployment loaded (pure)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from rcm_contracts.claim import Claim
from rcm_contracts.events import Edit

from rcm_coding.domain import icd10
from rcm_coding.domain.hcpcs import CodeTable, load_cpt, load_hcpcs, procedure_edits
from rcm_coding.domain.modifiers import DEFAULT_RULES, ModifierRules, modifier_edits
from rcm_coding.domain.mue import MueTable, load_mue, mue_edits
from rcm_coding.domain.ncci import PtpTable, load_ptp, ptp_edits
from rcm_coding.domain.necessity import CoverageTable, load_coverage, necessity_edits


@dataclass
class CodingTables:
    """Reference data. CPT, NCCI and MUE embed AMA-licensed content: deployments load them from the
    official files; nothing licensed ships in the repository."""

    hcpcs: CodeTable | None = None
    cpt: CodeTable | None = None
    ptp: PtpTable | None = None
    mue: MueTable | None = None
    coverage: CoverageTable | None = None
    modifier_rules: ModifierRules = field(default_factory=lambda: DEFAULT_RULES)

    def summary(self) -> dict[str, int | None]:
        return {
            "hcpcs_codes": len(self.hcpcs.codes) if self.hcpcs else None,
            "cpt_codes": len(self.cpt.codes) if self.cpt else None,
            "ptp_pairs": len(self.ptp) if self.ptp else None,
            "mue_codes": len(self.mue) if self.mue else None,
            "coverage_payers": len(self.coverage.policies) if self.coverage else None,
        }


def load_tables(directory: str | Path | None) -> CodingTables:
    """Load whatever is in the directory: hcpcs*.csv (CMS HCPCS file as CSV), cpt*.csv (customer CPT
    file), ptp*.txt (NCCI practitioner PTP, all parts), mue*.csv (practitioner MUE), coverage*.csv
    (payer coverage policies)."""
    tables = CodingTables()
    if not directory:
        return tables
    root = Path(directory)

    def lines(pattern: str):
        for path in sorted(root.glob(pattern)):
            with path.open(encoding="utf-8-sig", errors="replace") as fh:
                yield from fh

    if any(root.glob("hcpcs*.csv")):
        tables.hcpcs = load_hcpcs(lines("hcpcs*.csv"))
    if any(root.glob("cpt*.csv")):
        tables.cpt = load_cpt(lines("cpt*.csv"))
    if any(root.glob("ptp*.txt")):
        tables.ptp = load_ptp(lines("ptp*.txt"))
    if any(root.glob("mue*.csv")):
        tables.mue = load_mue(lines("mue*.csv"))
    if any(root.glob("coverage*.csv")):
        tables.coverage = load_coverage(lines("coverage*.csv"))
    return tables


SOURCE_SYSTEM_NAMES = {"snomed-ct": "SNOMED CT", "cvx": "CVX"}


def source_code_edits(claim: Claim) -> list[Edit]:
    """Services and diagnoses the EHR coded in SNOMED CT / CVX (e.g. Synthea): a coder assigns the
    CPT/HCPCS and ICD-10-CM codes a claim needs."""
    edits = []
    for line in claim.lines:
        if line.code_system != "cpt-hcpcs":
            system = SOURCE_SYSTEM_NAMES[line.code_system]
            edits.append(Edit(code="COD004", severity="error", line_number=line.line_number, field="procedure_code",
                              message=(f"line {line.line_number}: the EHR coded this service in {system} only; "
                                       "assign the CPT/HCPCS code")))
    if claim.source_diagnoses and not claim.diagnoses:
        edits.append(Edit(code="COD005", severity="error", field="diagnoses",
                          # codes stay out of the message (diagnoses are patient data): the claim shows them
                          message=(f"the EHR sent {len(claim.source_diagnoses)} diagnosis(es) in SNOMED CT only; "
                                   "assign the ICD-10-CM codes")))
    return edits


def code_claim(claim: Claim, tables: CodingTables) -> list[Edit]:
    edits = source_code_edits(claim)
    if not claim.diagnoses and not claim.source_diagnoses:
        edits.append(Edit(code="COD001", severity="error", field="diagnoses",
                          message="claim has no ICD-10-CM diagnosis; a coder must assign one"))
    billable = [line for line in claim.lines if line.code_system == "cpt-hcpcs"]
    if len(billable) < len(claim.lines):
        if not billable:
            return edits + icd10.diagnosis_edits(claim)
        # check the lines already in CPT/HCPCS now; the rest once the coder has coded them
        claim = claim.model_copy(update={"lines": billable})
    edits += icd10.diagnosis_edits(claim)
    edits += procedure_edits(claim, tables.hcpcs, tables.cpt)
    edits += modifier_edits(claim, tables.modifier_rules, tables.hcpcs)
    if tables.ptp is not None:
        edits += ptp_edits(claim, tables.ptp)
    if tables.mue is not None:
        edits += mue_edits(claim, tables.mue)
    if tables.coverage is not None:
        edits += necessity_edits(claim, tables.coverage)
    return edits


def coding_status(edits: list[Edit]) -> str:
    return "needs_coder" if any(e.severity == "error" for e in edits) else "coded"
