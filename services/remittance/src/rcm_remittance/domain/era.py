"""An 835 payment in the wire model's terms (pure): CLP01 patient control numbers mapped to our claim
ids, adjustments aggregated per (group, CARC) over claim and line CAS, allowed amounts from AMT*B6."""

from __future__ import annotations

import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from decimal import Decimal

from rcm_contracts.events import Adjustment
from rcm_contracts.wire import ClaimRemittance, RemittanceAdvice

from rcm_x12.remit_835 import ClaimPayment, RemittancePayment

ZERO = Decimal("0.00")
METHODS = {"ACH": "ACH", "CHK": "CHK", "NON": "NON"}


# Stands in for the claim id of a payment whose CLP01 names no claim we know yet.
UNKNOWN_CLAIM = uuid.UUID(int=0)


@dataclass
class MappedEra:
    advice: RemittanceAdvice | None
    # CLP01 names no claim we know yet: each as a one-claim advice (claim id UNKNOWN_CLAIM) to post later
    unmatched: list[tuple[ClaimPayment, RemittanceAdvice]] = field(default_factory=list)


def _adjustments(payment: ClaimPayment) -> list[Adjustment]:
    totals: OrderedDict[tuple[str, str], Decimal] = OrderedDict()
    for a in payment.all_adjustments:
        totals[(a.group, a.reason)] = totals.get((a.group, a.reason), ZERO) + a.amount
    return [Adjustment(group_code=g, reason_code=r, amount=amount) for (g, r), amount in totals.items() if amount]


def _allowed(payment: ClaimPayment, adjustments: list[Adjustment]) -> Decimal:
    """AMT*B6 summed over the lines when every line carries it; else charge minus contractual (CO) and
    other (OA/PI) adjustments, which is what the payer allowed before patient responsibility."""
    if payment.lines and all(line.allowed is not None for line in payment.lines):
        return sum((line.allowed for line in payment.lines), ZERO)
    return payment.charge - sum((a.amount for a in adjustments if a.group_code != "PR"), ZERO)


def _remittance(clp: ClaimPayment, claim_id: uuid.UUID) -> ClaimRemittance:
    adjustments = _adjustments(clp)
    return ClaimRemittance(
        claim_id=claim_id, payer_claim_control_number=clp.payer_claim_control_number or "NONE",
        total_charge=clp.charge, allowed_amount=_allowed(clp, adjustments), paid_amount=clp.paid,
        patient_responsibility=clp.patient_responsibility, adjustments=adjustments,
        remark_codes=list(dict.fromkeys([*clp.remark_codes, *(r for line in clp.lines for r in line.remark_codes)])))


def _advice(payment: RemittancePayment, remits: list[ClaimRemittance]) -> RemittanceAdvice:
    return RemittanceAdvice(payer_id=payment.payer_id or "UNKNOWN",
                            payment_date=payment.payment_date or payment.production_date,
                            payment_method=METHODS.get(payment.payment_method, "NON"),
                            trace_number=payment.trace_number or payment.control_number, claims=remits)


def map_payment(payment: RemittancePayment, claim_ids: dict[str, uuid.UUID]) -> MappedEra:
    remits, unmatched = [], []
    for clp in payment.claims:
        claim_id = claim_ids.get(clp.patient_control_number)
        if claim_id is None:
            unmatched.append((clp, _advice(payment, [_remittance(clp, UNKNOWN_CLAIM)])))
        else:
            remits.append(_remittance(clp, claim_id))
    return MappedEra(_advice(payment, remits) if remits else None, unmatched)
