"""Posting an ERA: each claim payment once, with its PaymentPosted event, in one transaction."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from rcm_runtime.bulk import BulkInsert

from rcm_contracts.events import PaymentPosted
from rcm_contracts.wire import RemittanceAdvice

from rcm_remittance.db import posted_payments
from rcm_remittance.domain.posting import UnbalancedRemittance, check_balanced, outcome


@dataclass
class PostingResult:
    posted: int = 0
    duplicates: int = 0
    rejected: list[dict] = field(default_factory=list)


_post = BulkInsert(posted_payments, ["remittance_id", "claim_id", "tenant_id", "payer_id", "payer_claim_control_number",
                                     "trace_number", "payment_date", "total_charge", "allowed_amount", "paid_amount",
                                     "patient_responsibility", "outcome", "adjustments", "remark_codes"],
                   on_conflict="ON CONSTRAINT uq_posted_payment DO NOTHING", returning=["remittance_id"])


async def post_remittance_advice(tx, tenant_id: str, era: RemittanceAdvice) -> PostingResult:
    """Post every balanced claim payment of the ERA once; an ERA received again posts nothing new."""
    result = PostingResult()
    rows, remits = [], {}
    for i, remit in enumerate(era.claims):
        try:
            check_balanced(remit)
        except UnbalancedRemittance as exc:
            result.rejected.append({"index": i, "claim_id": str(remit.claim_id), "reason": str(exc)})
            continue
        remittance_id = uuid.uuid4()
        remits[remittance_id] = remit
        rows.append({"remittance_id": remittance_id, "claim_id": remit.claim_id, "tenant_id": tenant_id,
                     "payer_id": era.payer_id, "payer_claim_control_number": remit.payer_claim_control_number,
                     "trace_number": era.trace_number, "payment_date": era.payment_date,
                     "total_charge": remit.total_charge, "allowed_amount": remit.allowed_amount,
                     "paid_amount": remit.paid_amount, "patient_responsibility": remit.patient_responsibility,
                     "outcome": outcome(remit), "adjustments": [a.model_dump(mode="json") for a in remit.adjustments],
                     "remark_codes": remit.remark_codes})
    inserted = {r.remittance_id for r in await _post.execute(tx.conn, rows)}
    result.duplicates = len(rows) - len(inserted)  # never post a payment twice
    for row in rows:
        if row["remittance_id"] not in inserted:
            continue
        remit = remits[row["remittance_id"]]
        result.posted += 1
        tx.emit(PaymentPosted(claim_id=remit.claim_id, remittance_id=row["remittance_id"], payer_id=era.payer_id,
                              payer_claim_control_number=remit.payer_claim_control_number,
                              total_charge=remit.total_charge, allowed_amount=remit.allowed_amount,
                              paid_amount=remit.paid_amount, patient_responsibility=remit.patient_responsibility,
                              adjustments=remit.adjustments, outcome=row["outcome"], payment_date=era.payment_date,
                              remark_codes=remit.remark_codes), tenant_id=tenant_id, key=remit.claim_id)
    return result
