"""Use cases of coding: run the coding engine on claims with verified coverage (queueing those a coder
must fix), and the coder queue's actions: assign a claim, recode it (diagnoses, lines), every action
audited.

`Coding` is what routers and the consumer call: it holds the reference tables (loaded once, in the
composition root) and each command opens and owns its unit of work. The functions below it take that unit
(`uow`: connection plus emit with tenant, actor and cause bound), or a connection for pure reads."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from rcm_contracts.claim import Claim
from rcm_contracts.events import ClaimCoded
from rcm_runtime.audit import audited
from rcm_runtime.bulk import BulkInsert
from rcm_runtime.consumer import Delivery
from rcm_runtime.errors import Conflict, DomainError, NotFound
from rcm_runtime.unit_of_work import UnitOfWork, UnitsOfWork

from rcm_coding.db import PHI, coded_claims, coding_audit
from rcm_coding.domain.engine import CodingTables, code_claim, coding_status


class NotInQueue(Conflict):
    code = "not_in_queue"


class LineRecode(BaseModel):
    model_config = ConfigDict(extra="forbid")
    line_number: int = Field(ge=1, le=50)
    procedure_code: str | None = Field(default=None, min_length=1, max_length=16)  # CPT/HCPCS
    modifiers: list[str] | None = Field(default=None, max_length=4)
    units: str | None = None
    diagnosis_pointers: list[int] | None = Field(default=None, min_length=1, max_length=4)


class Recode(BaseModel):
    """What a coder changes; fields left out stay as they are."""

    model_config = ConfigDict(extra="forbid")
    diagnoses: list[str] | None = Field(default=None, max_length=12)
    lines: list[LineRecode] = Field(default_factory=list)
    note: str | None = Field(default=None, max_length=500)


def _codes(claim: dict) -> dict[str, Any]:
    """The part of a claim coders change (what the audit keeps before/after)."""
    return {"diagnoses": claim["diagnoses"],
            "lines": [{k: line.get(k) for k in ("line_number", "procedure_code", "code_system", "modifiers", "units",
                                                "diagnosis_pointers")}
                      for line in claim["lines"]]}


def apply_recode(claim: dict, change: Recode) -> Claim:
    """Raises pydantic ValidationError when the recoded claim is invalid (e.g. a pointer to no diagnosis)."""
    data = {**claim}
    if change.diagnoses is not None:
        data["diagnoses"] = [d.replace(".", "").strip().upper() for d in change.diagnoses]
    lines = {line["line_number"]: dict(line) for line in data["lines"]}
    for lr in change.lines:
        if lr.line_number not in lines:
            raise DomainError(f"line {lr.line_number} does not exist on the claim")
        for key, value in lr.model_dump(exclude_none=True, exclude={"line_number"}).items():
            lines[lr.line_number][key] = [m.upper() for m in value] if key == "modifiers" else (
                value.upper() if key == "procedure_code" else value)
        if lr.procedure_code is not None:
            lines[lr.line_number]["code_system"] = "cpt-hcpcs"  # a coder assigns CPT/HCPCS, whatever the EHR sent
    data["lines"] = list(lines.values())
    return Claim.model_validate(data)


async def _queued(conn: AsyncConnection, tenant_id: str, claim_id: uuid.UUID):
    row = PHI.open(coded_claims, (await conn.execute(select(coded_claims).where(
        coded_claims.c.tenant_id == tenant_id, coded_claims.c.claim_id == claim_id).with_for_update())).first())
    if row is None:
        raise NotFound("no such claim at the coding stage for this tenant")
    if row.status != "needs_coder":
        raise NotInQueue("the claim is not in the coder queue (already coded)")
    return row


# keyed by (tenant, claim): another tenant's claim with the same id is its own row (and its own queue entry)
_insert_coded = BulkInsert(coded_claims, ["claim_id", "tenant_id", "status", "edits", "claim"],
                           on_conflict="(tenant_id, claim_id) DO NOTHING")


async def code_claims(uow: UnitOfWork, deliveries: list[Delivery], tables: CodingTables) -> None:
    """Code each claim whose coverage was verified: clean ones move on (ClaimCoded, status coded), the
    others wait in the coder queue (status needs_coder). One multi-row insert for the batch, on the batch's
    connection; each event goes out through its delivery's bound unit."""
    rows = []
    for d in deliveries:
        claim = d.event.claim
        edits = code_claim(claim, tables)
        status = coding_status(edits)
        rows.append({"claim_id": claim.claim_id, "tenant_id": d.tenant_id, "status": status,
                     "edits": [e.model_dump(mode="json") for e in edits], "claim": claim.model_dump(mode="json")})
        d.uow.emit(ClaimCoded(claim=claim, status=status, edits=edits), key=claim.claim_id)
    await _insert_coded.execute(uow.conn, PHI.seal_all(coded_claims, rows))


async def assign(uow: UnitOfWork, *, claim_id: uuid.UUID, coder: str) -> None:
    """Assign a queued claim of the unit's tenant to a coder (audited as the unit's actor)."""
    conn, tenant_id = uow.conn, uow.tenant_id
    await _queued(conn, tenant_id, claim_id)
    await conn.execute(update(coded_claims).where(
        coded_claims.c.tenant_id == tenant_id, coded_claims.c.claim_id == claim_id).values(assigned_to=coder))
    await conn.execute(insert(coding_audit), [{"claim_id": claim_id, "tenant_id": tenant_id, "actor": uow.actor,
                                               "action": "assigned", "after": {"assigned_to": coder}}])


async def recode(uow: UnitOfWork, tables: CodingTables, *, claim_id: uuid.UUID, change: Recode) -> tuple[str, list]:
    """Apply the coder's change (audited as the unit's actor) and re-run the engine. Clean -> coded, and the
    claim moves on."""
    conn, tenant_id, actor = uow.conn, uow.tenant_id, uow.actor
    row = await _queued(conn, tenant_id, claim_id)
    claim = apply_recode(row.claim, change)
    edits = code_claim(claim, tables)
    status = coding_status(edits)
    after = claim.model_dump(mode="json")
    edit_rows = [e.model_dump(mode="json") for e in edits]
    await conn.execute(update(coded_claims).where(
        coded_claims.c.tenant_id == tenant_id, coded_claims.c.claim_id == claim_id).values(
        status=status, edits=edit_rows, **PHI.seal(coded_claims, {"claim": after}, tenant=tenant_id)))
    await conn.execute(insert(coding_audit), [{
        "claim_id": claim_id, "tenant_id": tenant_id, "actor": actor, "action": "recoded",
        "before": {**_codes(row.claim), "note": None}, "after": {**_codes(after), "note": change.note},
        "edits_after": edit_rows}])
    if status == "coded":
        uow.emit(ClaimCoded(claim=claim, status=status, edits=edits), key=claim_id)
    return status, edit_rows


async def audit_trail(conn: AsyncConnection, tenant_id: str, claim_id: uuid.UUID) -> list[dict]:
    rows = await conn.execute(select(coding_audit).where(
        coding_audit.c.tenant_id == tenant_id, coding_audit.c.claim_id == claim_id).order_by(coding_audit.c.id))
    return [dict(r) for r in rows.mappings()]


class Coding:
    """The coding use cases routers and the consumer run, with the reference tables loaded once. Each
    command opens and owns its unit of work."""

    def __init__(self, units: UnitsOfWork, tables: CodingTables) -> None:
        self.units = units
        self.tables = tables

    @audited.codes("claim.code", "claim")
    async def on_coverage_verified(self, uow: UnitOfWork, deliveries: list[Delivery]) -> None:
        """Consumer handler: claims whose coverage eligibility verified, coded as one batch."""
        await code_claims(uow, deliveries, self.tables)

    async def assign(self, *, tenant_id: str, claim_id: uuid.UUID, coder: str, actor: str) -> None:
        """Raises NotFound (no such claim for the tenant) or NotInQueue (already coded)."""
        async with self.units.begin(tenant_id=tenant_id, actor=actor) as uow:
            await assign(uow, claim_id=claim_id, coder=coder)

    async def recode(self, *, tenant_id: str, claim_id: uuid.UUID, change: Recode, actor: str) -> tuple[str, list]:
        """Raises NotFound, NotInQueue, DomainError (a line the claim lacks) or pydantic ValidationError (the
        recoded claim is invalid); nothing changes then."""
        async with self.units.begin(tenant_id=tenant_id, actor=actor) as uow:
            return await recode(uow, self.tables, claim_id=claim_id, change=change)

    async def audit_trail(self, *, tenant_id: str, claim_id: uuid.UUID) -> list[dict]:
        async with self.units.read(tenant_id) as conn:
            return await audit_trail(conn, tenant_id, claim_id)

    def reference_data(self) -> dict[str, int | None]:
        """How many entries of each code table this process loaded (None: not loaded)."""
        return self.tables.summary()
