"""Appeal packets: a denial item's facts (the item, the payment it came from) and the tenant's editable template,
made into the appeal letter's PDF by domain.appeal_packet. The practice's letterhead and the payer's address come
with the request: denials keeps no addresses. The PDF names no patient (denials holds no PHI): the patient control
number and the payer's claim number identify the claim."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert

from rcm_contracts.claim import patient_control_number
from rcm_runtime.errors import NotFound
from rcm_runtime.unit_of_work import UnitsOfWork

from rcm_denials.db import appeal_templates, denials
from rcm_denials.domain.codes import load_code_lists, norm
from rcm_denials.trends_db import payment_facts


class AppealPackets:
    def __init__(self, units: UnitsOfWork) -> None:
        self.units = units

    async def template(self, *, tenant_id: str) -> dict[str, Any]:
        """The tenant's own arguments and closing (empty when it has none: the defaults apply)."""
        async with self.units.read(tenant_id) as conn:
            row = (await conn.execute(select(appeal_templates).where(
                appeal_templates.c.tenant_id == tenant_id))).mappings().first()
        return {"arguments": dict(row["arguments"]) if row else {}, "closing": row["closing"] if row else None}

    async def put_template(self, *, tenant_id: str, actor: str, arguments: dict[str, str],
                           closing: str | None) -> dict[str, Any]:
        values = {"arguments": arguments, "closing": closing, "updated_by": actor}
        async with self.units.begin(tenant_id=tenant_id, actor=actor) as uow:
            await uow.conn.execute(pg_insert(appeal_templates).values(tenant_id=tenant_id, **values)
                                   .on_conflict_do_update(index_elements=[appeal_templates.c.tenant_id],
                                                          set_={**values, "updated_at": func.now()}))
        return {"arguments": arguments, "closing": closing}

    async def packet_pdf(self, *, tenant_id: str, denial_id: uuid.UUID, practice: Any, payer_name: str | None,
                         payer_address: Any, attachments: list[str], letter_date: date) -> bytes:
        """Raises NotFound for an item that is not the tenant's."""
        from rcm_denials.domain import appeal_packet as ap  # fpdf2 loads fontTools and Pillow: only when asked

        async with self.units.read(tenant_id) as conn:
            item = (await conn.execute(select(denials).where(
                denials.c.tenant_id == tenant_id, denials.c.denial_id == denial_id))).mappings().first()
            if item is None:
                raise NotFound("no such denial item for this tenant")
            fact = (await conn.execute(select(payment_facts).where(
                payment_facts.c.tenant_id == tenant_id,
                payment_facts.c.remittance_id == item["remittance_id"]))).mappings().first()
            own = (await conn.execute(select(appeal_templates).where(
                appeal_templates.c.tenant_id == tenant_id))).mappings().first()
        on = item["remittance_date"] or letter_date
        codes = load_code_lists()
        remarks = tuple(ap.ExplainedCode(r, _words(codes.rarc(r, on))) for r in item["remark_codes"] or [])
        denial_codes = []
        for reason in item["reason_codes"] or []:
            group, _, carc = str(reason).partition("-")
            denial_codes.append(ap.DenialCode(group_code=norm(group), carc=ap.ExplainedCode(
                norm(carc), _words(codes.carc(carc, on))), rarcs=remarks))
        billed = Decimal(fact["billed_amount"]) if fact else item["denied_amount"]
        paid = Decimal(fact["paid_amount"]) if fact and fact["paid_amount"] is not None else Decimal("0.00")
        claim = ap.ClaimFacts(
            claim_id=str(item["claim_id"]), patient_control_number=patient_control_number(item["claim_id"]),
            payer_name=payer_name or item["payer_id"], payer_id=item["payer_id"],
            payer_claim_number=(fact["payer_claim_number"] if fact else None) or "not stated",
            date_of_service=item["service_date"] or on, billed=billed, paid=paid, denied=item["denied_amount"],
            payer_address=payer_address, expected=item["expected_amount"])
        packet = ap.AppealPacket(claim=claim, denials=tuple(denial_codes), root_cause=item["category"],
                                 practice=practice, letter_date=letter_date, attachments=tuple(attachments))
        template = ap.AppealTemplate(arguments=dict(own["arguments"]), **(
            {"closing": own["closing"]} if own["closing"] else {})) if own else None
        return ap.render_appeal_pdf(packet, template)


def _words(found: Any) -> str:
    return found.description if found is not None else "code not in the code list valid on the remittance date"
