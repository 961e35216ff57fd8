"""Posting an ERA: each claim payment once, with its PaymentPosted event, in one transaction."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from sqlalchemy import insert, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from rcm_runtime.bulk import BulkInsert
from rcm_runtime.consumer import Delivery
from rcm_runtime.unit_of_work import UnitOfWork, UnitsOfWork

from rcm_contracts.events import ClaimSubmitted, PaymentPosted
from rcm_contracts.wire import RemittanceAdvice

from rcm_remittance.db import claim_refs, posted_payments, unmatched_payments
from rcm_remittance.domain.era import map_payment
from rcm_x12.remit_835 import read_835
from rcm_remittance.domain.posting import UnbalancedRemittance, check_balanced, outcome


@dataclass
class PostingResult:
    posted: int = 0
    duplicates: int = 0
    rejected: list[dict] = field(default_factory=list)
    unmatched: int = 0


_post = BulkInsert(posted_payments, ["remittance_id", "claim_id", "tenant_id", "payer_id", "payer_claim_control_number",
                                     "trace_number", "payment_date", "total_charge", "allowed_amount", "paid_amount",
                                     "patient_responsibility", "outcome", "adjustments", "remark_codes"],
                   on_conflict="ON CONSTRAINT uq_posted_payment DO NOTHING", returning=["remittance_id"])


async def post_remittance_advice(uow: UnitOfWork, era: RemittanceAdvice) -> PostingResult:
    """Post every balanced claim payment of the ERA once, for the unit of work's tenant; an ERA received
    again posts nothing new."""
    tenant_id = uow.tenant_id
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
    inserted = {r.remittance_id for r in await _post.execute(uow.conn, rows)}
    result.duplicates = len(rows) - len(inserted)  # never post a payment twice
    for row in rows:
        if row["remittance_id"] not in inserted:
            continue
        remit = remits[row["remittance_id"]]
        result.posted += 1
        uow.emit(PaymentPosted(claim_id=remit.claim_id, remittance_id=row["remittance_id"], payer_id=era.payer_id,
                              payer_claim_control_number=remit.payer_claim_control_number,
                              total_charge=remit.total_charge, allowed_amount=remit.allowed_amount,
                              paid_amount=remit.paid_amount, patient_responsibility=remit.patient_responsibility,
                              adjustments=remit.adjustments, outcome=row["outcome"], payment_date=era.payment_date,
                              remark_codes=remit.remark_codes), key=remit.claim_id)
    return result


async def on_claims_submitted(uow: UnitOfWork, deliveries: list[Delivery]) -> None:
    """Remember each claim's CLP01 (patient control number) so its 835 payment finds it, and post any
    payment that arrived before this event did."""
    by_key = {(d.tenant_id, d.event.patient_control_number): d for d in deliveries if d.event.patient_control_number}
    if not by_key:
        return
    await uow.conn.execute(pg_insert(claim_refs).values([
        {"tenant_id": t, "patient_control_number": pcn, "claim_id": d.event.claim_id, "payer_id": d.event.payer_id}
        for (t, pcn), d in by_key.items()]).on_conflict_do_nothing())
    waiting = (await uow.conn.execute(select(unmatched_payments).where(
        unmatched_payments.c.status == "unmatched",
        tuple_(unmatched_payments.c.tenant_id, unmatched_payments.c.patient_control_number).in_(list(by_key)))
        .with_for_update())).all()
    for row in waiting:
        d = by_key[(row.tenant_id, row.patient_control_number)]
        advice = RemittanceAdvice.model_validate(row.advice)
        advice = advice.model_copy(update={"claims": [advice.claims[0].model_copy(update={"claim_id": d.event.claim_id})]})
        await post_remittance_advice(d.uow, advice)  # d.uow is bound to row.tenant_id (matched on it)
        await uow.conn.execute(update(unmatched_payments).where(unmatched_payments.c.id == row.id)
                               .values(status="posted"))


HANDLERS = {ClaimSubmitted.event_type(): on_claims_submitted}


async def post_835(uow: UnitOfWork, text: str) -> PostingResult:
    """Post an X12 835: every claim payment matched to a claim we submitted is posted once; one that
    names no such claim is kept in unmatched_payments for a person. Raises Unparseable835 / X12Error."""
    tenant_id = uow.tenant_id
    payments = read_835(text)
    pcns = {clp.patient_control_number for p in payments for clp in p.claims}
    rows = await uow.conn.execute(select(claim_refs.c.patient_control_number, claim_refs.c.claim_id).where(
        tuple_(claim_refs.c.tenant_id, claim_refs.c.patient_control_number).in_([(tenant_id, p) for p in pcns])))
    claim_ids = {r.patient_control_number: r.claim_id for r in rows}
    total = PostingResult()
    for payment in payments:
        mapped = map_payment(payment, claim_ids)
        if mapped.advice is not None:
            result = await post_remittance_advice(uow, mapped.advice)
            total.posted += result.posted
            total.duplicates += result.duplicates
            total.rejected += result.rejected
        if mapped.unmatched:
            await uow.conn.execute(insert(unmatched_payments), [{
                "tenant_id": tenant_id, "payer_id": payment.payer_id, "trace_number": payment.trace_number,
                "patient_control_number": clp.patient_control_number,
                "payer_claim_control_number": clp.payer_claim_control_number, "paid_amount": clp.paid,
                "reason": "no claim with this patient control number (CLP01) is known for this tenant",
                "advice": advice.model_dump(mode="json")} for clp, advice in mapped.unmatched])
            total.unmatched += len(mapped.unmatched)
    return total


class Remittance:
    """The remittance use cases an API request runs: each opens and owns its unit of work."""

    def __init__(self, units: UnitsOfWork) -> None:
        self.units = units

    async def post_advice(self, *, tenant_id: str, actor: str, era: RemittanceAdvice) -> PostingResult:
        async with self.units.begin(tenant_id=tenant_id, actor=actor) as uow:
            return await post_remittance_advice(uow, era)

    async def post_x12(self, *, tenant_id: str, actor: str, text: str) -> PostingResult:
        """Raises Unparseable835 / X12Error (nothing posted) when the 835 cannot be read."""
        async with self.units.begin(tenant_id=tenant_id, actor=actor) as uow:
            return await post_835(uow, text)
