"""denials use cases: record a denial (root cause and work queue) for each posted payment whose adjustments
include denials, once per remittance, with its DenialRecorded event; a PaymentReversed voids the denial recorded
for the remittance it takes back (by (tenant, remittance id)); the correction's PaymentPosted records anew."""

from __future__ import annotations

import uuid
from typing import Sequence

from sqlalchemy import text

from rcm_contracts.events import DenialRecorded, PaymentPosted, PaymentUnderpaid
from rcm_runtime.bulk import BulkInsert
from rcm_runtime.consumer import Delivery
from rcm_runtime.unit_of_work import UnitsOfWork

from rcm_denials.db import denials
from rcm_denials.domain.root_cause import classify

_insert = BulkInsert(denials, ["denial_id", "remittance_id", "claim_id", "tenant_id", "payer_id", "category",
                               "work_queue", "reason_codes", "denied_amount"],
                     on_conflict="(tenant_id, remittance_id, kind) DO NOTHING",  # once per remittance of a tenant
                     returning=["denial_id"])
_void = text("UPDATE denials d SET status = 'voided', voided_by_remittance_id = v.reversal_id, voided_at = v.at "
             "FROM unnest(CAST(:tenants AS text[]), CAST(:reversed AS uuid[]), CAST(:reversals AS uuid[]), "
             "CAST(:times AS timestamptz[])) AS v(tenant_id, remittance_id, reversal_id, at) "
             "WHERE d.tenant_id = v.tenant_id AND d.remittance_id = v.remittance_id AND d.status <> 'voided' "
             "RETURNING d.denial_id")
_insert_underpaid = BulkInsert(denials, ["denial_id", "remittance_id", "claim_id", "tenant_id", "payer_id", "category",
                                         "work_queue", "reason_codes", "denied_amount", "kind", "expected_amount",
                                         "actual_amount", "lines"],
                               on_conflict="(tenant_id, remittance_id, kind) DO NOTHING", returning=["denial_id"])
UNDERPAID_CATEGORY = "underpaid"
UNDERPAID_WORK_QUEUE = "underpayments"


class Denials:
    """denials' use cases, built once in the composition root."""

    def __init__(self, units: UnitsOfWork) -> None:
        self.units = units

    async def record_denials(self, payments: Sequence[Delivery]) -> int:
        """Posted payments (each with its unit of work, bound to the payment's tenant; all share one
        connection): one multi-row insert for those carrying denial adjustments; a remittance already
        recorded is skipped. Returns how many denials were recorded."""
        rows, causes = [], {}
        for p in payments:
            ev: PaymentPosted = p.event
            found = classify([(a.group_code, a.reason_code, a.amount) for a in ev.adjustments])
            if found is None:
                continue
            denial_id = uuid.uuid4()
            rows.append({"denial_id": denial_id, "remittance_id": ev.remittance_id, "claim_id": ev.claim_id,
                         "tenant_id": p.uow.tenant_id, "payer_id": ev.payer_id, "category": found.category,
                         "work_queue": found.work_queue, "reason_codes": list(found.reason_codes),
                         "denied_amount": found.denied_amount})
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
        for p in payments:
            ev: PaymentUnderpaid = p.event
            rows.append({"denial_id": uuid.uuid4(), "remittance_id": ev.remittance_id, "claim_id": ev.claim_id,
                         "tenant_id": p.uow.tenant_id, "payer_id": ev.payer_id, "category": UNDERPAID_CATEGORY,
                         "work_queue": UNDERPAID_WORK_QUEUE,
                         "reason_codes": [],  # no CARC: the payer paid, short of the contract
                         "denied_amount": ev.underpaid_amount, "kind": "underpayment",
                         "expected_amount": ev.expected_allowed, "actual_amount": ev.actual_allowed,
                         "lines": [line.model_dump(mode="json") for line in ev.lines]})
        if not rows:
            return 0
        return len(await _insert_underpaid.execute(payments[0].uow.conn, rows))
