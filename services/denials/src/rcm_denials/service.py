"""denials use cases: record a denial (root cause from CARC + RARC + group, its explanation and follow-up, work
queue, and each denied line classified) for each posted payment whose adjustments include denials, once per
remittance, with its DenialRecorded event; a later payment on the claim (or on the claim rebilled for it) answers
what waited on the payer (appealed, corrected, rebilled): recovered when it pays, upheld when it denies again; a
PaymentReversed voids the denial recorded for the remittance it takes back (by (tenant, remittance id)) unless the
item awaits the payer's answer (a replacement claim is answered by a reversal and a correction: the correction
answers the item); the correction's PaymentPosted records anew."""

from __future__ import annotations

import uuid
from typing import Sequence

from sqlalchemy import text

from rcm_contracts.events import DenialRecorded, PaymentPosted, PaymentUnderpaid
from rcm_runtime.bulk import BulkInsert
from rcm_runtime.consumer import Delivery
from rcm_runtime.unit_of_work import UnitsOfWork

from rcm_denials.db import denials
from rcm_denials.domain.codes import load_code_lists
from rcm_denials.domain.root_cause import DenialClassification, classify_payment, denied_lines
from rcm_denials.domain.workflow import AWAITING_PAYER

_insert = BulkInsert(denials, ["denial_id", "remittance_id", "claim_id", "tenant_id", "payer_id", "category",
                               "work_queue", "reason_codes", "denied_amount", "remark_codes", "unknown_codes",
                               "explanation", "follow_up", "remittance_date", "lines"],
                     on_conflict="(tenant_id, remittance_id, kind) DO NOTHING",  # once per remittance of a tenant
                     returning=["denial_id"])
_void = text("UPDATE denials d SET status = 'voided', voided_by_remittance_id = v.reversal_id, voided_at = v.at "
             "FROM unnest(CAST(:tenants AS text[]), CAST(:reversed AS uuid[]), CAST(:reversals AS uuid[]), "
             "CAST(:times AS timestamptz[])) AS v(tenant_id, remittance_id, reversal_id, at) "
             "WHERE d.tenant_id = v.tenant_id AND d.remittance_id = v.remittance_id "
             "AND d.status <> 'voided' AND d.status <> ALL(CAST(:awaiting AS text[])) "
             "RETURNING d.denial_id")
_insert_underpaid = BulkInsert(denials, ["denial_id", "remittance_id", "claim_id", "tenant_id", "payer_id", "category",
                                         "work_queue", "reason_codes", "denied_amount", "kind", "expected_amount",
                                         "actual_amount", "lines", "explanation", "follow_up", "remittance_date",
                                         "service_date"],
                               on_conflict="(tenant_id, remittance_id, kind) DO NOTHING", returning=["denial_id"])
UNDERPAID_CATEGORY = "underpaid"
# A later payment on a claim answers its items that waited on the payer (appealed, corrected, rebilled; the
# rebilled claim's payment too). What it recovers is what it pays beyond what the denied payment had paid when the
# payer took that one back (a replacement of a partly paid claim is paid whole again: only the difference is new
# money). Money recovered -> recovered (with the amount); nothing more and a denial again -> upheld (the new
# denial is an item of its own); nothing more and no denial (all to the patient's deductible) -> recovered: the
# payer took the claim. A history row each; one statement for the batch.
_answer = text(
    "WITH paid AS (SELECT * FROM unnest(CAST(:tenants AS text[]), CAST(:claims AS uuid[]), CAST(:remits AS uuid[]), "
    "CAST(:amounts AS numeric(12,2)[]), CAST(:denied AS boolean[]), CAST(:times AS timestamptz[])) "
    "AS v(tenant_id, claim_id, remittance_id, amount, denied_again, at)), "
    "net AS (SELECT d.denial_id, d.tenant_id, d.status AS from_status, p.remittance_id AS by_remittance, p.at, "
    "p.denied_again, GREATEST(p.amount - CASE WHEN f.status = 'voided' THEN COALESCE(f.paid_amount, 0) ELSE 0 END, "
    "0) AS amount FROM denials d JOIN paid p ON d.tenant_id = p.tenant_id "
    "AND (d.claim_id = p.claim_id OR d.rebill_claim_id = p.claim_id) AND d.remittance_id <> p.remittance_id "
    "LEFT JOIN payment_facts f ON f.tenant_id = d.tenant_id AND f.remittance_id = d.remittance_id "
    "WHERE d.status = ANY(CAST(:awaiting AS text[]))), "
    "old AS (SELECT DISTINCT ON (denial_id) *, CASE WHEN amount > 0 OR NOT denied_again THEN 'recovered' "
    "ELSE 'upheld' END AS outcome FROM net ORDER BY denial_id, amount DESC, at), "
    "moved AS (UPDATE denials d SET status = old.outcome, updated_at = old.at, "
    "recovered_amount = CASE WHEN old.outcome = 'recovered' THEN old.amount END, "
    "recovered_by_remittance_id = old.by_remittance FROM old "
    "WHERE d.denial_id = old.denial_id RETURNING d.denial_id) "
    "INSERT INTO denial_actions (action_id, denial_id, tenant_id, action, actor, at, from_status, to_status, detail) "
    "SELECT gen_random_uuid(), old.denial_id, old.tenant_id, old.outcome, 'system:payment-posted', old.at, "
    "old.from_status, old.outcome, jsonb_build_object('remittance_id', old.by_remittance, 'recovered_amount', "
    "old.amount) FROM old JOIN moved USING (denial_id) RETURNING denial_id")


class Denials:
    """denials' use cases, built once in the composition root."""

    def __init__(self, units: UnitsOfWork) -> None:
        self.units = units

    async def record_denials(self, payments: Sequence[Delivery],
                             found_for: Sequence[DenialClassification | None] | None = None) -> int:
        """Posted payments (each with its unit of work, bound to the payment's tenant; all share one
        connection): one multi-row insert for those carrying denial adjustments, each with its denied lines
        classified one by one; a remittance already recorded is skipped. Items of the claim that waited on the
        payer are answered first. `found_for`: each payment's classification when the caller has it. Returns how
        many denials were recorded."""
        if found_for is None:
            found_for = [classify_payment(p.event) for p in payments]
        if payments:
            await self.answer_awaiting(payments, found_for)
        rows, causes = [], {}
        for p, found in zip(payments, found_for):
            ev: PaymentPosted = p.event
            if found is None:
                continue
            denial_id = uuid.uuid4()
            rows.append({"denial_id": denial_id, "remittance_id": ev.remittance_id, "claim_id": ev.claim_id,
                         "tenant_id": p.uow.tenant_id, "payer_id": ev.payer_id, "category": found.root_cause,
                         "work_queue": found.work_queue, "reason_codes": list(found.reason_codes),
                         "denied_amount": found.denied_amount, "remark_codes": list(found.remark_codes),
                         "unknown_codes": list(found.unknown_codes), "explanation": found.explanation,
                         "follow_up": found.follow_up, "remittance_date": ev.payment_date,
                         "lines": denied_lines(ev) or None})
            causes[denial_id] = (p, found)
        if not rows:
            return 0
        inserted = {r.denial_id for r in await _insert.execute(payments[0].uow.conn, rows)}  # re-posted: skipped
        for row in rows:
            if row["denial_id"] in inserted:
                p, found = causes[row["denial_id"]]
                p.uow.emit(DenialRecorded(claim_id=p.event.claim_id, denial_id=row["denial_id"],
                                          payer_id=p.event.payer_id, reason_codes=list(found.reason_codes),
                                          category=found.category, work_queue=found.work_queue,
                                          denied_amount=found.denied_amount),
                           key=p.event.claim_id)
        return len(inserted)

    async def answer_awaiting(self, payments: Sequence[Delivery],
                              found_for: Sequence[DenialClassification | None]) -> int:
        """Later payments on claims (or on the claims rebilled for them) answer the items waiting on the payer
        (appealed, corrected, rebilled; not the item this remittance itself records): money recovered ->
        recovered, denied again with nothing more paid -> upheld (see _answer). Returns how many items moved."""
        answering = [(p, found is not None) for p, found in zip(payments, found_for)
                     if p.event.paid_amount > 0 or found is not None or p.event.patient_responsibility > 0]
        if not answering:
            return 0
        now = answering[0][0].uow.now()
        moved = await answering[0][0].uow.conn.execute(_answer, {
            "tenants": [p.uow.tenant_id for p, _ in answering], "claims": [p.event.claim_id for p, _ in answering],
            "remits": [p.event.remittance_id for p, _ in answering],
            "amounts": [p.event.paid_amount for p, _ in answering], "denied": [d for _, d in answering],
            "times": [now] * len(answering), "awaiting": sorted(AWAITING_PAYER)})
        return len(list(moved))

    async def void_reversed(self, reversals: Sequence[Delivery]) -> int:
        """Reversals (each with its unit of work bound to its tenant; all share one connection): one multi-row
        update voids the denials recorded for the remittances they take back, within the reversal's tenant only.
        A redelivered reversal finds them voided already and changes nothing; a reversal of a remittance that
        recorded no denial (paid, or never seen) voids nothing. An item awaiting the payer (corrected, appealed,
        rebilled) is not voided: the payment that follows the reversal answers it. Returns how many were voided."""
        if not reversals:
            return 0
        now = reversals[0].uow.now()
        voided = await reversals[0].uow.conn.execute(_void, {
            "tenants": [r.uow.tenant_id for r in reversals],
            "reversed": [r.event.reversed_remittance_id for r in reversals],
            "reversals": [r.event.remittance_id for r in reversals], "times": [now] * len(reversals),
            "awaiting": sorted(AWAITING_PAYER)})
        return len(list(voided))
    async def record_underpayments(self, payments: Sequence[Delivery]) -> int:
        """Payments paid below the contract (PaymentUnderpaid, each delivery's unit of work bound to its tenant):
        one item per (tenant, remittance) in the `underpayments` work queue, category `underpaid`, with the
        expected and actual allowed amounts and the flagged lines; a redelivery is skipped. No DenialRecorded is
        emitted: an underpayment is not a denial (denial-rate KPIs stay denials only)."""
        rows = []
        codes = load_code_lists()
        for p in payments:
            ev: PaymentUnderpaid = p.event
            days = [line.date_of_service for line in ev.lines if line.date_of_service is not None]
            rows.append({"denial_id": uuid.uuid4(), "remittance_id": ev.remittance_id, "claim_id": ev.claim_id,
                         "tenant_id": p.uow.tenant_id, "payer_id": ev.payer_id, "category": UNDERPAID_CATEGORY,
                         "work_queue": codes.root_causes[UNDERPAID_CATEGORY].work_queue,
                         "reason_codes": [],  # no CARC: the payer paid, short of the contract
                         "denied_amount": ev.underpaid_amount, "kind": "underpayment",
                         "expected_amount": ev.expected_allowed, "actual_amount": ev.actual_allowed,
                         "lines": [line.model_dump(mode="json") for line in ev.lines],
                         "explanation": (f"Paid {ev.actual_allowed} allowed where the contract expects "
                                         f"{ev.expected_allowed}: {ev.underpaid_amount} short."),
                         "follow_up": codes.root_causes[UNDERPAID_CATEGORY].follow_up,
                         "remittance_date": ev.payment_date, "service_date": min(days) if days else None})
        if not rows:
            return 0
        return len(await _insert_underpaid.execute(payments[0].uow.conn, rows))
