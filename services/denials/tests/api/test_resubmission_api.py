"""Sending a denied claim again from the work queue, in-process against the real PostgreSQL: a corrected claim and
a rebill each publish ClaimResubmissionRequested (the scrubber acts on it) in the action's transaction, with the
payer's claim number or the new claim's id; the item is answered by the payment that follows (recovered with the
amount, or upheld when the payer denies again); a reversal that precedes the correction leaves a waiting item as it
is; and each denial item lists its denied lines, classified one by one."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timezone
from decimal import Decimal

import pytest
from sqlalchemy import text

from rcm_contracts.claim import Adjustment
from rcm_contracts.events import PaidLine, PaymentPosted, PaymentReversed
from rcm_denials.app import create_app
from rcm_denials.db import metadata
from rcm_denials.domain.resubmission import rebill_claim_id
from rcm_denials.settings import Settings
from rcm_runtime.clock import FixedClock
from tests.support.api import service_api

pytestmark = pytest.mark.integration

SPECIALIST = {"user": "sam.specialist", "roles": ("denial_specialist",)}
COVERAGE = {"payer_id": "SBX02", "payer_name": "Sandbox Commercial", "member_id": "COM2001"}


def line(n: int, code: str, charge: str, paid: str, *adjustments: tuple[str, str, str]) -> PaidLine:
    return PaidLine(line_number=n, procedure_code=code, charge=Decimal(charge), paid=Decimal(paid),
                    adjustments=[Adjustment(group_code=g, reason_code=c, amount=Decimal(a)) for g, c, a in adjustments])


def payment(claim_id: uuid.UUID, lines: list[PaidLine], *, pccn: str = "SBX-PCCN-1", remarks=(),
            payer: str = "SBX01") -> PaymentPosted:
    adjustments: dict[tuple[str, str], Decimal] = {}
    for ln in lines:
        for a in ln.adjustments:
            adjustments[(a.group_code, a.reason_code)] = adjustments.get((a.group_code, a.reason_code), 0) + a.amount
    paid = sum((ln.paid for ln in lines), Decimal("0.00"))
    patient = sum((a for (g, _), a in adjustments.items() if g == "PR"), Decimal("0.00"))
    denied = any(g == "CO" and c != "45" for g, c in adjustments)
    return PaymentPosted(
        claim_id=claim_id, remittance_id=uuid.uuid4(), payer_id=payer, payer_claim_control_number=pccn,
        total_charge=sum((ln.charge for ln in lines), Decimal("0.00")), allowed_amount=paid + patient,
        paid_amount=paid, patient_responsibility=patient,
        adjustments=[Adjustment(group_code=g, reason_code=c, amount=a) for (g, c), a in adjustments.items()],
        outcome="denied" if denied and not paid else "partially_paid" if denied else "paid",
        payment_date=date(2026, 11, 2), remark_codes=list(remarks), claim_status_code="4" if not paid else "1",
        lines=lines)


@pytest.fixture
async def api():
    clock = FixedClock(datetime(2026, 11, 10, 12, tzinfo=timezone.utc))
    async with service_api(create_app, Settings, metadata, clock=clock, expiry_sweep_s=0) as api:
        yield api


async def record(api, event: PaymentPosted, tenant: str = "tenant-a") -> str | None:
    applied = await api.consume((event, tenant, event.claim_id))
    assert applied.applied == 1 and applied.dead_lettered == 0
    found = await api.scalar("SELECT denial_id FROM denials WHERE remittance_id = :r", r=event.remittance_id)
    return str(found) if found else None


async def act(api, denial_id: str, action: str, body=None, tenant: str = "tenant-a"):
    return await api.client.post(f"/v1/denials/{denial_id}/{action}", json=body,
                                 headers=api.headers(tenant, **SPECIALIST))


async def item(api, denial_id: str) -> dict:
    return (await api.client.get(f"/v1/denials/{denial_id}", headers=api.headers())).json()


async def requests_for(api, denial_id: str) -> list[dict]:
    return [e for e in await api.outbox_events("claim-resubmission-requested") if e["data"]["denial_id"] == denial_id]


AUTH_DENIED = [line(1, "99213", "150.00", "0.00", ("CO", "197", "150.00")),
               line(2, "97810", "85.00", "0.00", ("CO", "96", "85.00"))]


async def test_each_denied_line_is_an_item_line_with_its_own_root_cause(api):
    mixed = [line(1, "99213", "150.00", "100.00", ("CO", "45", "30.00"), ("PR", "2", "20.00")),
             line(2, "97810", "85.00", "0.00", ("CO", "96", "85.00")),
             line(3, "20610", "300.00", "0.00", ("CO", "197", "300.00"))]
    denial_id = await record(api, payment(uuid.uuid4(), mixed, remarks=("N130",)))
    got = await item(api, denial_id)
    assert got["root_cause"] == "authorization"  # the largest denied amount
    assert [(ln["line_number"], ln["procedure_code"], ln["root_cause"], ln["reason_codes"], ln["denied_amount"])
            for ln in got["lines"]] == [(2, "97810", "non_covered", ["CO-96"], "85.00"),
                                        (3, "20610", "authorization", ["CO-197"], "300.00")]


async def test_a_corrected_claim_is_requested_with_the_payers_claim_number_and_the_correction(api):
    claim_id = uuid.uuid4()
    denial_id = await record(api, payment(claim_id, AUTH_DENIED, pccn="SBXA1B2C3"))
    resp = await act(api, denial_id, "corrected", {"correction": {"prior_authorization": "AUTH-7781"}})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["status"] == "corrected" and body["payer_claim_number"] == "SBXA1B2C3"
    [event] = await requests_for(api, denial_id)
    data = event["data"]
    assert (data["kind"], data["claim_id"], data["original_claim_number"]) == ("corrected", str(claim_id), "SBXA1B2C3")
    assert data["correction"] == {"prior_authorization": "AUTH-7781"} and data["review"] is False
    assert event["partitionkey"] == str(claim_id)
    # the item is tied to the request; its history names the field corrected, never the value
    assert body["resubmission_id"] == data["request_id"]
    history = body["actions"][-1]
    assert history["action_id"] == data["request_id"] and history["detail"]["corrected_fields"] == [
        "prior_authorization"]
    assert "AUTH-7781" not in str(body["actions"])
    audit = await api.scalar("SELECT detail::text FROM audit_log WHERE action = 'denial.corrected'")
    assert "AUTH-7781" not in audit


async def test_a_corrected_claim_without_a_correction_goes_to_the_scrubbers_review_queue(api):
    denial_id = await record(api, payment(uuid.uuid4(), AUTH_DENIED))
    assert (await act(api, denial_id, "corrected")).status_code == 200
    [event] = await requests_for(api, denial_id)
    assert event["data"]["review"] is True and "correction" not in event["data"]


async def test_without_the_payers_claim_number_a_corrected_claim_is_409_and_nothing_is_published(api):
    denial_id = await record(api, payment(uuid.uuid4(), AUTH_DENIED))
    async with api.engine.begin() as conn:
        await conn.execute(text("UPDATE payment_facts SET payer_claim_number = NULL"))
    resp = await act(api, denial_id, "corrected", {"correction": {"prior_authorization": "A1"}})
    assert resp.status_code == 409 and "REF*F8" in resp.json()["description"]
    assert await requests_for(api, denial_id) == [] and (await item(api, denial_id))["status"] == "open"


async def test_a_bad_correction_is_422_with_the_field_and_nothing_changes(api):
    denial_id = await record(api, payment(uuid.uuid4(), AUTH_DENIED))
    resp = await act(api, denial_id, "corrected", {"correction": {"place_of_service": "office"}})
    assert resp.status_code == 422 and "place_of_service" in resp.text
    assert await requests_for(api, denial_id) == [] and (await item(api, denial_id))["status"] == "open"


async def test_a_rebill_names_a_new_claim_and_the_payment_on_it_recovers_the_item(api):
    claim_id = uuid.uuid4()
    denial_id = await record(api, payment(claim_id, [line(1, "99213", "150.00", "0.00", ("CO", "22", "150.00"))]))
    same = await act(api, denial_id, "rebill", {"coverage": {**COVERAGE, "payer_id": "sbx01"}})
    assert same.status_code == 409 and "another payer" in same.json()["description"]
    resp = await act(api, denial_id, "rebill", {"coverage": COVERAGE, "original_payer_as_secondary": True})
    assert resp.status_code == 200, resp.text
    [event] = await requests_for(api, denial_id)
    data = event["data"]
    new_claim = uuid.UUID(data["new_claim_id"])
    assert data["kind"] == "rebill" and data["coverage"]["payer_id"] == "SBX02"
    assert data["original_payer_as_secondary"] is True
    assert new_claim == rebill_claim_id(claim_id, uuid.UUID(data["request_id"])) != claim_id
    assert resp.json()["rebill_claim_id"] == str(new_claim) and resp.json()["rebill_payer_id"] == "SBX02"
    assert "COM2001" not in str(resp.json())  # the member id travels to the scrubber, it is not kept here
    # the other payer pays the new claim
    await record(api, payment(new_claim, [line(1, "99213", "150.00", "110.00", ("CO", "45", "40.00"))],
                              payer="SBX02", pccn="SBX-NEW"))
    got = await item(api, denial_id)
    assert (got["status"], got["recovered_amount"]) == ("recovered", "110.00")
    assert got["actions"][-1]["detail"]["recovered_amount"] == 110.0


async def test_the_replacement_answer_reversal_then_payment_recovers_the_corrected_item(api):
    """A payer answers a replacement with the denial reversed (CLP02 22) and the claim paid: the reversal leaves
    the waiting item alone, the payment recovers it, and the paid claim records no new denial."""
    claim_id = uuid.uuid4()
    denied = payment(claim_id, AUTH_DENIED[:1])
    denial_id = await record(api, denied)
    await act(api, denial_id, "corrected", {"correction": {"prior_authorization": "AUTH-7781"}})
    reversal = PaymentReversed(claim_id=claim_id, remittance_id=uuid.uuid4(), reversed_remittance_id=denied.remittance_id,
                               payer_id="SBX01", payer_claim_control_number="SBX-PCCN-1", paid_amount=Decimal("0.00"),
                               patient_responsibility=Decimal("0.00"), patient_responsibility_total=Decimal("0.00"),
                               payment_date=date(2026, 11, 20))
    paid = payment(claim_id, [line(1, "99213", "150.00", "96.00", ("CO", "45", "30.00"), ("PR", "2", "24.00"))])
    applied = await api.consume((reversal, "tenant-a", claim_id), (paid, "tenant-a", claim_id))
    assert applied.applied == 2
    got = await item(api, denial_id)
    assert (got["status"], got["recovered_amount"], got["recovered_by_remittance_id"]) == (
        "recovered", "96.00", str(paid.remittance_id))
    assert await api.scalar("SELECT count(*) FROM denials WHERE claim_id = :c", c=claim_id) == 1


async def test_a_replacement_denied_again_upholds_the_item_and_opens_a_new_one(api):
    claim_id = uuid.uuid4()
    denial_id = await record(api, payment(claim_id, AUTH_DENIED[:1]))
    await act(api, denial_id, "corrected", {"correction": {"prior_authorization": "WRONG"}})
    again = await record(api, payment(claim_id, AUTH_DENIED[:1]))
    assert (await item(api, denial_id))["status"] == "upheld"
    assert again != denial_id and (await item(api, again))["status"] == "open"
    # an open item of the claim is not answered by a payment (it waits for a person)
    await record(api, payment(claim_id, [line(1, "99213", "150.00", "96.00", ("CO", "45", "54.00"))]))
    assert (await item(api, again))["status"] == "open"


async def test_another_tenants_payment_on_the_rebilled_claim_recovers_nothing(api):
    claim_id = uuid.uuid4()
    denial_id = await record(api, payment(claim_id, [line(1, "99213", "150.00", "0.00", ("CO", "22", "150.00"))]))
    await act(api, denial_id, "rebill", {"coverage": COVERAGE})
    [event] = await requests_for(api, denial_id)
    new_claim = uuid.UUID(event["data"]["new_claim_id"])
    await record(api, payment(new_claim, [line(1, "99213", "150.00", "110.00", ("CO", "45", "40.00"))],
                              payer="SBX02"), tenant="tenant-b")
    assert (await item(api, denial_id))["status"] == "rebilled"


async def test_a_partly_paid_claim_replaced_recovers_only_what_the_replacement_adds(api):
    """The payer had paid line 1 and denied line 2. It reverses that payment and pays the replacement whole: the item
    recovers the difference, not the whole payment. A replacement paid just as before (line 2 denied again) is
    upheld."""
    async def replaced(first_paid: PaymentPosted, then: PaymentPosted) -> dict:
        denial_id = await record(api, first_paid)
        await act(api, denial_id, "corrected", {"correction": {"prior_authorization": "AUTH-9"}})
        reversal = PaymentReversed(
            claim_id=first_paid.claim_id, remittance_id=uuid.uuid4(), reversed_remittance_id=first_paid.remittance_id,
            payer_id="SBX01", payer_claim_control_number="SBX-PCCN-1", paid_amount=first_paid.paid_amount,
            patient_responsibility=Decimal("0.00"), patient_responsibility_total=Decimal("0.00"),
            payment_date=date(2026, 11, 20))
        assert (await api.consume((reversal, "tenant-a", then.claim_id), (then, "tenant-a", then.claim_id))).applied == 2
        return await item(api, denial_id)

    claim_id = uuid.uuid4()
    partly = [line(1, "99213", "150.00", "100.00", ("CO", "45", "50.00")),
              line(2, "20610", "300.00", "0.00", ("CO", "197", "300.00"))]
    whole = [line(1, "99213", "150.00", "100.00", ("CO", "45", "50.00")),
             line(2, "20610", "300.00", "210.00", ("CO", "45", "90.00"))]
    got = await replaced(payment(claim_id, partly), payment(claim_id, whole))
    assert (got["status"], got["recovered_amount"]) == ("recovered", "210.00")
    assert got["actions"][-1]["detail"]["recovered_amount"] == 210.0

    again = uuid.uuid4()
    got = await replaced(payment(again, partly), payment(again, partly))
    assert (got["status"], got["recovered_amount"]) == ("upheld", None)
