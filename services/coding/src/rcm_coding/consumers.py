"""coding reacts to verified coverage: run the coding engine, queue what a coder must fix."""

from rcm_contracts.events import ClaimCoded, CoverageVerified
from rcm_runtime.bulk import BulkInsert
from rcm_runtime.consumer import Delivery
from rcm_runtime.unit_of_work import UnitOfWork

from rcm_coding.db import coded_claims
from rcm_coding.domain.engine import CodingTables, code_claim, coding_status

_insert = BulkInsert(coded_claims, ["claim_id", "tenant_id", "status", "edits", "claim"])


def handlers(tables: CodingTables):
    async def on_coverage_verified(uow: UnitOfWork, deliveries: list[Delivery]) -> None:
        rows = []
        for d in deliveries:
            claim = d.event.claim
            edits = code_claim(claim, tables)
            status = coding_status(edits)
            rows.append({"claim_id": claim.claim_id, "tenant_id": d.tenant_id, "status": status,
                         "edits": [e.model_dump(mode="json") for e in edits], "claim": claim.model_dump(mode="json")})
            d.uow.emit(ClaimCoded(claim=claim, status=status, edits=edits), key=claim.claim_id)
        await _insert.execute(uow.conn, rows)

    return {CoverageVerified.event_type(): on_coverage_verified}
