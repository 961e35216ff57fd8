"""build_valid_interchange: what cannot be carried or fails the implementation guide is set aside with
its findings; the rest goes out in one interchange that pyx12 accepts."""

import uuid
from datetime import datetime, timezone

from rcm_charges.domain.claim_builder import build_claim
from rcm_contracts.events import EncounterSubmitted
from rcm_x12.claim_837p.write import Receiver
from tests.support.pyx12_oracle import assert_agrees_with_pyx12
from rcm_submission.service import Identity, build_valid_interchange
from tests.support.encounters import PROVIDER_PROFILES, generate

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=timezone.utc)
IDENTITY = Identity("OpenRCM Billing", "EDI Desk", "8005550100")


def claims(n: int, seed: int = 3):
    out = []
    for g in generate(n, seed=seed, scenarios=["paid"]):
        body = {**g.body, "billing_provider": PROVIDER_PROFILES[0],
                "coverage": {**g.body["coverage"], "payer_id": "SBX01"}}  # an interchange is for one payer
        out.append(build_claim(EncounterSubmitted.model_validate(body), claim_id=uuid.uuid4(), encounter_id=uuid.uuid4()))
    return out


def build(batch):
    return build_valid_interchange(batch, tenant_id="tenant-a", payer_id="SBX01", control_number=42,
                                   identity=IDENTITY, receiver=Receiver("sandbox", "SANDBOX"), now=NOW, usage="T")


def test_a_clean_batch_is_one_interchange_the_reference_validator_accepts():
    batch = claims(5)
    built = build(batch)
    assert built.returned == [] and [c.claim_id for c in built.claims] == [c.claim_id for c in batch]
    assert built.text.count("CLM*") == 5 and "ISA*" in built.text and "*000000042*" in built.text
    assert assert_agrees_with_pyx12(built.text).ok


def test_a_claim_failing_the_guide_goes_back_with_findings_and_the_rest_goes_on():
    good, bad, other = claims(3, seed=4)
    bad = bad.model_copy(update={"place_of_service": "00"})  # not a CMS place-of-service code (CLM05-1)
    built = build([good, bad, other])
    assert [c.claim_id for c in built.claims] == [good.claim_id, other.claim_id]
    [(claim, stage, findings)] = built.returned
    assert claim.claim_id == bad.claim_id and stage == "validation"
    assert findings and all(f.code.startswith("IG-") and f.severity == "error" for f in findings)
    assert any(f.field == "CLM05-01" for f in findings)
    assert bad.patient.last_name not in str(findings)
    assert assert_agrees_with_pyx12(built.text).ok


def test_a_claim_the_837p_cannot_carry_is_never_sent_half_built():
    good, incomplete = claims(2, seed=5)
    incomplete = incomplete.model_copy(update={"billing_provider": incomplete.billing_provider.model_copy(
        update={"tax_id": None, "address": None})})
    built = build([good, incomplete])
    assert [c.claim_id for c in built.claims] == [good.claim_id]
    [(claim, stage, findings)] = built.returned
    assert stage == "build" and {f.field for f in findings} >= {"billing_provider.tax_id", "billing_provider.address"}


def test_nothing_is_built_when_no_claim_can_go():
    [bad] = claims(1, seed=6)
    built = build([bad.model_copy(update={"place_of_service": "00"})])
    assert built.text is None and built.claims == [] and len(built.returned) == 1
