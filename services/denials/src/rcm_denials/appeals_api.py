"""Appeal packets API: a denial item's appeal letter as a PDF, and the tenant's editable appeal template."""

from __future__ import annotations

import uuid
from datetime import date

from fastapi import APIRouter, Path, Response
from pydantic import BaseModel, Field

from rcm_runtime.app import Provided
from rcm_runtime.audit import CONFIGURATION, audited, not_audited
from rcm_runtime.auth import Actor, TenantId
from rcm_runtime.reads import problem

from rcm_denials.access import needs
from rcm_denials.appeals import AppealPackets

router = APIRouter(prefix="/v1", tags=["denial work"])
Packets = Provided[AppealPackets]
Text = Field(min_length=1, max_length=120)


class Address(BaseModel):
    lines: list[str] = Field(min_length=1, max_length=3)
    city: str = Text
    state: str = Field(pattern=r"^[A-Z]{2}$")
    postal_code: str = Field(pattern=r"^[0-9]{5}(-?[0-9]{4})?$")


class PracticeBody(BaseModel):
    name: str = Text
    npi: str = Field(pattern=r"^[0-9]{10}$")
    address: Address
    phone: str | None = Field(default=None, max_length=30)
    signer_name: str | None = Field(default=None, max_length=80)
    signer_title: str | None = Field(default=None, max_length=80)


class PacketRequest(BaseModel):
    practice: PracticeBody
    payer_name: str | None = Field(default=None, max_length=80)
    payer_address: Address | None = None
    attachments: list[str] = Field(default_factory=list, max_length=20)
    letter_date: date | None = None  # today by the service's clock when absent


class TemplateBody(BaseModel):
    arguments: dict[str, str] = Field(default_factory=dict)  # root cause -> argument ({payer_name}, ... filled in)
    closing: str | None = Field(default=None, max_length=2000)


def _address(body: Address | None):
    from rcm_denials.domain.appeal_packet import PostalAddress

    return PostalAddress(tuple(body.lines), body.city, body.state, body.postal_code) if body else None


@router.post("/denials/{denial_id}/appeal-packet", dependencies=[needs("denials.work")],
             summary="The item's appeal letter as a PDF: the claim's facts, each denial code explained, the argument "
                     "for its root cause from the tenant's template, the attachments",
             responses={200: {"content": {"application/pdf": {}}, "description": "the appeal letter"}})
@audited.phi_read("denial.appeal_packet", "denial", id="denial_id")
async def appeal_packet(body: PacketRequest, tenant_id: TenantId, use: Packets,
                        denial_id: uuid.UUID = Path(description="the denial item's id")) -> Response:
    from rcm_denials.domain.appeal_packet import Practice

    p = body.practice
    practice = Practice(p.name, p.npi, _address(p.address), p.phone, p.signer_name, p.signer_title)
    pdf = await use.packet_pdf(tenant_id=tenant_id, denial_id=denial_id, practice=practice, payer_name=body.payer_name,
                               payer_address=_address(body.payer_address), attachments=body.attachments,
                               letter_date=body.letter_date or use.units.clock.now().date())
    return Response(pdf, media_type="application/pdf",
                    headers={"content-disposition": f'attachment; filename="appeal-{denial_id}.pdf"'})


@router.get("/appeal-templates", dependencies=[needs("denials.settings.read")], tags=["settings"],
            summary="The tenant's own appeal arguments by root cause and closing (the defaults fill the rest)")
@not_audited(CONFIGURATION)
async def get_template(tenant_id: TenantId, use: Packets) -> dict:
    return await use.template(tenant_id=tenant_id)


@router.put("/appeal-templates", dependencies=[needs("denials.settings.write")], tags=["settings"],
            summary="Set the tenant's appeal arguments by root cause (placeholders such as {payer_name}) and closing")
@not_audited(CONFIGURATION)
async def put_template(body: TemplateBody, tenant_id: TenantId, actor: Actor, use: Packets):
    from rcm_denials.domain.appeal_packet import template_problems

    problems = template_problems(body.arguments)
    if problems:
        return problem(422, "invalid_template", "the appeal template cannot be used",
                       [{"field": "arguments", "reason": reason} for reason in problems])
    return await use.put_template(tenant_id=tenant_id, actor=actor, arguments=body.arguments, closing=body.closing)
