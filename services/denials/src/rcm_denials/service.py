"""denials use cases: record a denial (root cause from CARC + RARC + group, its explanation and follow-up, and
work queue) for each posted payment whose adjustments include denials, once per remittance, with its
DenialRecorded event; a later payment on the claim closes what waited on the payer (appealed, corrected, rebilled)
as recovered; a PaymentReversed voids the denial recorded for the remittance it takes back (by (tenant,
remittance id)); the correction's PaymentPosted records anew."""

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
from rcm_denials.domain.root_cause import classify
from rcm_denials.domain.workflow import AWAITING_PAYER

_insert = BulkInsert(denials, ["denial_id", "remittance_id", "claim_id", "tenant_id", "payer_id", "category",
                               "work_queue", "reason_codes", "denied_amount", "remark_codes", "unknown_codes",
                               "explanation", "follow_up", "remittance_date"],
                     on_conflict="(tenant_id, remittance_id, kind) DO NOTHING",  # once per remittance of a tenant
                     returning=["denial_id"])
_void = text("UPDATE denials d SET status = 'voided', voided_by_remittance_id = v.reversal_id, voided_at = v.at "
             "FROM unnest(CAST(:tenants AS text[]), CAST(:reversed AS uuid[]), CAST(:reversals AS uuid[]), "
             "CAST(:times AS timestamptz[])) AS v(tenant_id, remittance_id, reversal_id, at) "
             "WHERE d.tenant_id = v.tenant_id AND d.remittance_id = v.remittance_id AND d.status <> 'voided' "
             "RETURNING d.denial_id")
_insert_underpaid = BulkInsert(denials, ["denial_id", "remittance_id", "claim_id", "tenant_id", "payer_id", "category",
                                         "work_queue", "reason_codes", "denied_amount", "kind", "expected_amount",
                                         "actual_amount", "lines", "explanation", "follow_up", "remittance_date",
                                         "service_date"],
                               on_conflict="(tenant_id, remittance_id, kind) DO NOTHING", returning=["denial_id"])
UNDERPAID_CATEGORY = "underpaid"
UNDERPAID_WORK_QUEUE = "underpayments"
# a later payment on a claim closes its items that waited on the payer (rcm_denials.domain.workflow.paid), with
# a history row each; one statement for the batch
_recover = text(
    "WITH paid AS (SELECT * FROM unnest(CAST(:tenants AS text[]), CAST(:claims AS uuid[]), CAST(:remits AS uuid[]), "
    "CAST(:times AS timestamptz[])) AS v(tenant_id, claim_id, remittance_id, at)), "
    "old AS (SELECT DISTINCT ON (d.denial_id) d.denial_id, d.tenant_id, d.status AS from_status, "
    "p.remittance_id AS by_remittance, p.at FROM denials d JOIN paid p ON d.tenant_id = p.tenant_id "
    "AND d.claim_id = p.claim_id AND d.remittance_id <> p.remittance_id "
    "WHERE d.status = ANY(CAST(:awaiting AS text[])) ORDER BY d.denial_id, p.at), "
    "moved AS (UPDATE denials d SET status = 'recovered', updated_at = old.at FROM old "
    "WHERE d.denial_id = old.denial_id RETURNING d.denial_id) "
    "INSERT INTO denial_actions (action_id, denial_id, tenant_id, action, actor, at, from_status, to_status, detail) "
    "SELECT gen_random_uuid(), old.denial_id, old.tenant_id, 'recovered', 'system:payment-posted', old.at, "
    "old.from_status, 'recovered', jsonb_build_object('remittance_id', old.by_remittance) "
    "FROM old JOIN moved USING (denial_id) RETURNING denial_id")


class Denials:
    """denials' use cases, built once in the composition root."""

    def __init__(self, units: UnitsOfWork) -> None:
        self.units = units

    async def record_denials(self, payments: Sequence[Delivery]) -> int:
        """Posted payments (each with its unit of work, bound to the payment's tenant; all share one
        connection): one multi-row insert for those carrying denial adjustments; a remittance already
        recorded is skipped. Returns how many denials were recorded."""
        if payments:
            await self.recover_paid(payments)
        rows, causes = [], {}
        for p in payments:
            ev: PaymentPosted = p.event
            found = classify([(a.group_code, a.reason_code, a.amount) for a in ev.adjustments], ev.remark_codes,
                             on=ev.payment_date)
            if found is None:
                continue
            denial_id = uuid.uuid4()
            rows.append({"denial_id": denial_id, "remittance_id": ev.remittance_id, "claim_id": ev.claim_id,
                         "tenant_id": p.uow.tenant_id, "payer_id": ev.payer_id, "category": found.root_cause,
                         "work_queue": found.work_queue, "reason_codes": list(found.reason_codes),
                         "denied_amount": found.denied_amount, "remark_codes": list(found.remark_codes),
                         "unknown_codes": list(found.unknown_codes), "explanation": found.explanation,
                         "follow_up": found.follow_up, "remittance_date": ev.payment_date})
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

    async def recover_paid(self, payments: Sequence[Delivery]) -> int:
        """Payments with money in them close the claim's items waiting on the payer (appealed, corrected,
        rebilled; not the item this remittance itself records) as recovered. Returns how many."""
        paying = [p for p in payments if p.event.paid_amount > 0]
        if not paying:
            return 0
        now = paying[0].uow.now()
        moved = await paying[0].uow.conn.execute(_recover, {
            "tenants": [p.uow.tenant_id for p in paying], "claims": [p.event.claim_id for p in paying],
            "remits": [p.event.remittance_id for p in paying], "times": [now] * len(paying),
            "awaiting": sorted(AWAITING_PAYER)})
        return len(list(moved))

    async def void_reversed(self, reversals: Sequence[Delivery]) -> int:
        """Reversals (each with its unit of work bound to its tenant; all share one connection): one multi-row
        update voids the denials recorded for the remittances they take back, within the reversal's tenant only.
        A redelivered reversal finds them voided already and changes nothing; a reversal of a remittance that
        recorded no denial (paid, or never seen) voids nothing. Returns how many denials were voided."""
        if not reversals:
            return 0
        now = reversals[0].uow.now()
        voided = await reversals[0].uow.conn.execute(_void, {
            "tenants": [r.uow.tenant_id for r in reversals],
            "reversed": [r.event.reversed_remittance_id for r in reversals],
            "reversals": [r.event.remittance_id for r in reversals], "times": [now] * len(reversals)})
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
                         "work_queue": UNDERPAID_WORK_QUEUE,
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
