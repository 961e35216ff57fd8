"""A claim payment kept as JSON (the unmatched queue's advice) reads back as the same claim payment, and is
the JSON dataclasses.asdict gave before the conversion stopped deep-copying."""

import uuid
from dataclasses import asdict
from datetime import date
from decimal import Decimal as D

import pytest

from rcm_remittance.domain.remit import Adj, ClaimPay, Line, claim_from_json, claim_to_json


def _asdict_json(c: ClaimPay) -> dict:
    """The former claim_to_json, kept here as the reference."""
    def conv(v):
        if isinstance(v, D):
            return str(v)
        if isinstance(v, date):
            return v.isoformat()
        if isinstance(v, uuid.UUID):
            return str(v)
        if isinstance(v, (list, tuple)):
            return [conv(x) for x in v]
        if isinstance(v, dict):
            return {k: conv(x) for k, x in v.items()}
        return v
    return conv(asdict(c))


LINE = Line(procedure_code="99213", modifiers=("25", "59"), charge=D("100.00"), paid=D("70.00"), allowed=D("80.00"),
            adjustments=(Adj("CO", "45", D("20.00")), Adj("PR", "2", D("10.00"))), remark_codes=("N130",),
            service_from=date(2026, 10, 1), service_to=None, units=D("2"))
CLAIMS = [
    ClaimPay(patient_control_number="PCN-1", status_code="1", charge=D("100.00"), paid=D("70.00"),
             patient_responsibility=D("10.00"), payer_claim_control_number="ICN1", adjustments=(), lines=(LINE,),
             remark_codes=("MA01",), service_from=date(2026, 10, 1), service_to=date(2026, 10, 2),
             allowed=D("80.00")),
    ClaimPay(patient_control_number=str(uuid.UUID(int=7)), status_code="22", charge=D("-100.00"), paid=D("0"),
             patient_responsibility=D("0.00"), payer_claim_control_number=None,
             adjustments=(Adj("OA", "23", D("-1.50")),), lines=(), remark_codes=(), claim_id=uuid.UUID(int=7)),
]


@pytest.mark.parametrize("claim", CLAIMS, ids=["lines", "claim-level"])
def test_a_claim_payment_as_json_is_what_asdict_gave_and_reads_back_the_same(claim):
    as_json = claim_to_json(claim)
    assert as_json == _asdict_json(claim)
    assert list(as_json) == list(_asdict_json(claim))  # field order too
    claim.all_adjustments  # a cached derived value is not a field: it is not written
    assert claim_to_json(claim) == as_json
    assert claim_from_json(as_json) == claim
