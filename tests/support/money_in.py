"""Money in against the running stack: claims made known to remittance the way submission does it (a
ClaimSubmitted on its Kafka topic, the tenant in the envelope), 835s posted over HTTP, and bounded polling of
what remittance's events do downstream (patient-billing, analytics, denials). The 835s themselves are built
with tests.support.era835.

The stack lives long and tests run against it again and again: every identifier a file carries (CLP01, TRN02,
CLP07, ISA13) comes from `Ids`, fresh per test, so neither the per-tenant file SHA-256 nor a payment's key ever
turns a rerun into a duplicate.
"""

from __future__ import annotations

import asyncio
import secrets
import uuid
from datetime import datetime, timezone
from typing import Any

import httpx

from tests.support.client import Stack, acting_as, eventually, url

X12 = {"content-type": "application/edi-x12"}
OPERATOR = acting_as("poster.pat")
TIMEOUT_S = 30.0  # how long an asynchronous effect may take to show (consumers poll Kafka well under a second)



class Ids:
    """Fresh identifiers for one test: `pcn(n)`, `trace(n)`, `pccn(name)` carry a random run tag; `isa13()`
    counts up from a random 9-digit start (it only has to differ between the files of one test)."""

    def __init__(self) -> None:
        self.run = secrets.token_hex(5).upper()
        self._isa13 = 100_000_000 + secrets.randbelow(800_000_000)

    def pcn(self, n: int | str = 1) -> str:
        return f"E2E{self.run}-{n}"

    def trace(self, n: int | str = 1) -> str:
        return f"T{self.run}-{n}"

    def pccn(self, name: str) -> str:
        return f"{name}-{self.run}"

    def isa13(self) -> str:
        self._isa13 += 1
        return f"{self._isa13:09d}"


# ---------------------------------------------------------------- claims, as submission announces them


def claim_submitted_record(tenant_id: str, claim_id: uuid.UUID, pcn: str, *, payer_id: str = "SANDBOX1",
                           total_charge: str = "100.00") -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
    """(key, value, headers) of submission's ClaimSubmitted for `claim_id` with CLM01 = `pcn` (an 835's CLP01)."""
    from rcm_contracts.envelope import new_envelope
    from rcm_contracts.events import ClaimSubmitted

    event = ClaimSubmitted(claim_id=claim_id, payer_id=payer_id, clearinghouse="sandbox",
                           interchange_control_number="000000001", total_charge=total_charge,
                           submitted_at=datetime.now(timezone.utc), patient_control_number=pcn, frequency_code="1",
                           attempt=1)
    env = new_envelope(event, service="submission", tenant_id=tenant_id, key=str(claim_id))
    return str(claim_id).encode(), env.to_bytes(), env.headers()


async def announce_claim(stack: Stack, pcn: str, **kw: str) -> uuid.UUID:
    """Publish the claim's ClaimSubmitted for the stack's tenant without waiting; returns the new claim id."""
    from rcm_contracts import topics

    claim_id = uuid.uuid4()
    await stack.publish(topics.SUBMISSION, [claim_submitted_record(stack.tenant_id, claim_id, pcn, **kw)])
    return claim_id


async def submit_claim(stack: Stack, pcn: str, **kw: str) -> uuid.UUID:
    """A claim remittance knows (its ledger answers 200 once remittance consumed the event); returns its id."""
    claim_id = await announce_claim(stack, pcn, **kw)
    await eventually(lambda: ledger_status(stack, claim_id), lambda s: s == 200,
                     f"remittance knowing the claim submitted with a fresh PCN ({stack.tenant_id})")
    return claim_id


async def submit_claims(stack: Stack, *pcns: str) -> list[uuid.UUID]:
    return list(await asyncio.gather(*(submit_claim(stack, p) for p in pcns)))


# ---------------------------------------------------------------- remittance over HTTP


async def post_835(stack: Stack, text: str) -> httpx.Response:
    resp = await stack.http.post(url("remittance", "/v1/remittances/x12"), content=text.encode(), headers=X12)
    assert resp.status_code in (200, 422), resp.text
    return resp


async def ledger_status(stack: Stack, claim_id: uuid.UUID) -> int:
    return (await stack.http.get(url("remittance", f"/v1/claims/{claim_id}/ledger"))).status_code


async def ledger(stack: Stack, claim_id: uuid.UUID) -> dict[str, Any]:
    resp = await stack.http.get(url("remittance", f"/v1/claims/{claim_id}/ledger"))
    assert resp.status_code == 200, resp.text
    return resp.json()


async def remittance_file(stack: Stack, file_id: str) -> dict[str, Any]:
    resp = await stack.http.get(url("remittance", f"/v1/remittances/{file_id}"))
    assert resp.status_code == 200, resp.text
    return resp.json()


async def queued(stack: Stack, pcn: str, status: str | None = "unmatched") -> list[dict[str, Any]]:
    """The tenant's unmatched-queue items for one CLP01. The queue is oldest first and holds every earlier run's
    leftovers, so it is read from its newest end backwards."""
    path = url("remittance", "/v1/unmatched-payments")
    params = {"status": status} if status else {}
    total = (await stack.http.get(path, params={**params, "limit": 1})).json()["total"]
    found, offset = [], max(0, total - 1000)
    while True:
        page = (await stack.http.get(path, params={**params, "limit": 1000, "offset": offset})).json()["items"]
        found += [i for i in page if i["patient_control_number"] == pcn]
        if offset == 0:
            return found
        offset = max(0, offset - 1000)


# ---------------------------------------------------------------- downstream reads (None: no row for the claim)


async def _row(stack: Stack, service: str, claim_id: uuid.UUID) -> dict[str, Any] | None:
    resp = await stack.http.get(url(service, f"/v1/claims/{claim_id}"))
    assert resp.status_code in (200, 404), resp.text
    return resp.json() if resp.status_code == 200 else None


async def patient_balance(stack: Stack, claim_id: uuid.UUID) -> dict[str, Any] | None:
    return await _row(stack, "patient-billing", claim_id)


async def analytics_claim(stack: Stack, claim_id: uuid.UUID) -> dict[str, Any] | None:
    return await _row(stack, "analytics", claim_id)


async def denial(stack: Stack, claim_id: uuid.UUID) -> dict[str, Any] | None:
    return await _row(stack, "denials", claim_id)


async def amount_due(stack: Stack, claim_id: uuid.UUID, want: str) -> dict[str, Any]:
    """patient-billing's balance for the claim once its amount due is `want`."""
    return await eventually(lambda: patient_balance(stack, claim_id),
                            lambda b: b is not None and b["amount_due"] == want,
                            f"patient-billing's amount due {want}")


async def analytics_paid(stack: Stack, claim_id: uuid.UUID, paid: str, patient: str | None = None) -> dict[str, Any]:
    """analytics' claim once its payer-paid figure (and the patient's share, when given) are these."""
    return await eventually(lambda: analytics_claim(stack, claim_id),
                            lambda c: c is not None and c["paid_amount"] == paid
                            and (patient is None or c["patient_responsibility"] == patient),
                            f"analytics' claim paid {paid}" + (f", patient {patient}" if patient else ""))
