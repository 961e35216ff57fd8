"""Encounter -> claim: numbering lines, totalling charges (pure)."""

from __future__ import annotations

import hashlib
import json
import uuid
from decimal import Decimal

from rcm_contracts.claim import Claim, ServiceLine
from rcm_contracts.events import EncounterSubmitted


def _canonical(value):
    """Equal amounts hash equally whatever their scale ("150.0" from FHIR, "150.00" from JSON)."""
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, dict):
        return {k: _canonical(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    return value


def content_hash(submission: EncounterSubmitted) -> str:
    """Stable fingerprint of what the EHR sent: a resend with the same hash changes nothing."""
    canonical = json.dumps(_canonical(submission.model_dump(mode="python")), sort_keys=True,
                           separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def build_claim(submission: EncounterSubmitted, *, claim_id: uuid.UUID, encounter_id: uuid.UUID) -> Claim:
    lines = [
        ServiceLine(
            line_number=i,
            procedure_code=line.procedure_code.strip().upper(),
            modifiers=[m.strip().upper() for m in line.modifiers],
            units=line.units,
            charge=line.charge,
            diagnosis_pointers=line.diagnosis_pointers,
            code_system=line.code_system,
        )
        for i, line in enumerate(submission.lines, start=1)
    ]
    return Claim(
        claim_id=claim_id,
        encounter_id=encounter_id,
        source_system=submission.source_system,
        source_encounter_id=submission.source_encounter_id,
        service_date=submission.service_date,
        place_of_service=submission.place_of_service,
        patient=submission.patient,
        coverage=submission.coverage,
        billing_provider=submission.billing_provider,
        rendering_provider=submission.rendering_provider,
        referring_provider=submission.referring_provider,
        diagnoses=[d.replace(".", "").strip().upper() for d in submission.diagnoses],
        source_diagnoses=submission.source_diagnoses,
        lines=lines,
        total_charge=sum((line.charge for line in lines), Decimal("0.00")),
        prior_authorization=submission.prior_authorization,
        secondary_coverage=submission.secondary_coverage,
    )
