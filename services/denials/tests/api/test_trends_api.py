"""denials trends in-process against the real PostgreSQL: PaymentPosted (1.3, with lines) through the app's own
handlers -> payment facts -> GET /v1/denials/trends; a denial pattern past the tenant's threshold -> one
DenialRuleRecommended, never twice; reversals and other tenants count nowhere."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from decimal import Decimal

import pytest

from rcm_contracts.claim import Adjustment
from rcm_contracts.events import PaidLine, PaymentPosted, PaymentReversed
from rcm_denials.app import create_app
from rcm_denials.db import metadata
from rcm_denials.settings import Settings
from tests.support.api import service_api

pytestmark = pytest.mark.integration
DAY = date(2026, 11, 2)
NPI = "1234567893"


def _adj(rows):
    return [Adjustment(group_code=g, reason_code=c, amount=Decimal(a)) for g, c, a in rows]


def denied_97810(*, payer: str = "SBX01", on: date = DAY, npi: str | None = NPI) -> PaymentPosted:
    """The sandbox's non_covered scenario: 97810 billed 85.00, denied CO-96."""
    line = PaidLine(line_number=1, procedure_code="97810", charge=Decimal("85.00"), paid=Decimal("0.00"),
                    adjustments=_adj([("CO", "96", "85.00")]))
    return PaymentPosted(claim_id=uuid.uuid4(), remittance_id=uuid.uuid4(), payer_id=payer,
                         payer_claim_control_number="P1", total_charge=Decimal("85.00"), allowed_amount=Decimal("0"),
                         paid_amount=Decimal("0.00"), patient_responsibility=Decimal("0.00"),
                         adjustments=_adj([("CO", "96", "85.00")]), outcome="denied", payment_date=on, lines=[line],
                         payee_npi=npi)


def paid_99213(*, payer: str = "SBX01", on: date = DAY, npi: str | None = NPI) -> PaymentPosted:
    line = PaidLine(line_number=1, procedure_code="99213", charge=Decimal("150.00"), paid=Decimal("100.00"),
                    adjustments=_adj([("CO", "45", "30.00"), ("PR", "2", "20.00")]))
    return PaymentPosted(claim_id=uuid.uuid4(), remittance_id=uuid.uuid4(), payer_id=payer,
                         payer_claim_control_number="P2", total_charge=Decimal("150.00"),
                         allowed_amount=Decimal("120.00"), paid_amount=Decimal("100.00"),
                         patient_responsibility=Decimal("20.00"), adjustments=line.adjustments, outcome="paid",
                         payment_date=on, lines=[line], payee_npi=npi)


def partly_denied(*, on: date = DAY) -> PaymentPosted:
    """99213 paid, 97110 denied CO-197 (authorization): 75.00 of 225.00."""
    lines = [PaidLine(line_number=1, procedure_code="99213", charge=Decimal("150.00"), paid=Decimal("150.00")),
             PaidLine(line_number=2, procedure_code="97110", charge=Decimal("75.00"), paid=Decimal("0.00"),
                      adjustments=_adj([("CO", "197", "75.00")]))]
    return PaymentPosted(claim_id=uuid.uuid4(), remittance_id=uuid.uuid4(), payer_id="SBX02",
                         payer_claim_control_number="P3", total_charge=Decimal("225.00"),
                         allowed_amount=Decimal("150.00"), paid_amount=Decimal("150.00"),
                         patient_responsibility=Decimal("0.00"), adjustments=_adj([("CO", "197", "75.00")]),
                         outcome="partially_paid", payment_date=on, lines=lines, payee_npi=None)


@pytest.fixture
async def api():
    async with service_api(create_app, Settings, metadata) as api:
        yield api


async def consume(api, *events: PaymentPosted | PaymentReversed, tenant: str = "tenant-a"):
    applier = await api.consume(*((e, tenant, e.claim_id) for e in events))
    assert applier.dead_lettered == 0
    return applier


async def trends(api, group_by: str, tenant: str = "tenant-a", **query) -> dict:
    resp = await api.client.get("/v1/denials/trends", params={"group_by": group_by, **query},
                                headers=api.headers(tenant))
    assert resp.status_code == 200, resp.text
    return resp.json()


def by_key(body: dict) -> dict:
    return {g["key"]: g for g in body["groups"]}


async def test_denial_rates_by_payer_provider_month_carc_and_root_cause(api):
    # SBX01: 2 denied of 4 (170.00 of 470.00); SBX02: 1 partly denied (75.00 of 225.00); December: one SBX01 paid
    await consume(api, denied_97810(), denied_97810(), paid_99213(), paid_99213(on=date(2026, 12, 1)),
                  partly_denied())
    payer = by_key(await trends(api, "payer"))
    assert payer["SBX01"]["claims"] == 4 and payer["SBX01"]["denied_claims"] == 2
    assert payer["SBX01"]["denial_rate_count"] == "0.5000"
    assert payer["SBX01"]["billed_amount"] == "470.00" and payer["SBX01"]["denied_amount"] == "170.00"
    assert payer["SBX01"]["denial_rate_amount"] == "0.3617"  # 170 / 470
    assert payer["SBX02"]["denial_rate_count"] == "1.0000" and payer["SBX02"]["denial_rate_amount"] == "0.3333"

    provider = by_key(await trends(api, "provider"))
    assert provider[NPI]["claims"] == 4 and provider["unknown"]["claims"] == 1  # SBX02's 835 named no payee

    month = by_key(await trends(api, "month"))
    assert month["2026-11"]["claims"] == 4 and month["2026-11"]["denied_claims"] == 3
    assert month["2026-12"]["claims"] == 1 and month["2026-12"]["denial_rate_count"] == "0.0000"

    carc = await trends(api, "carc")
    assert carc["claims"] == 5 and carc["billed_amount"] == "695.00"  # 85 + 85 + 150 + 150 + 225
    carcs = by_key(carc)
    assert set(carcs) == {"CO-96", "CO-197"}  # CO-45 and PR-2 are not denials
    assert carcs["CO-96"]["denied_claims"] == 2 and carcs["CO-96"]["denial_rate_count"] == "0.4000"  # 2 of 5
    assert carcs["CO-96"]["denied_amount"] == "170.00" and carcs["CO-96"]["denial_rate_amount"] == "0.2446"  # 170 / 695

    causes = by_key(await trends(api, "root_cause"))
    assert causes["non_covered"]["denied_claims"] == 2 and causes["authorization"]["denied_claims"] == 1
    assert causes["authorization"]["denied_amount"] == "75.00"


async def test_since_and_until_bound_the_remittance_dates_and_a_bad_query_is_a_422(api):
    await consume(api, denied_97810(on=date(2026, 10, 31)), denied_97810(), paid_99213(on=date(2026, 11, 30)))
    body = await trends(api, "payer", since="2026-11-01", until="2026-11-29")
    assert body["claims"] == 1 and by_key(body)["SBX01"]["denied_claims"] == 1
    for query in ({"group_by": "patient"}, {"since": "2026-12-01", "until": "2026-11-01"}, {"since": "yesterday"}):
        resp = await api.client.get("/v1/denials/trends", params=query, headers=api.headers())
        assert resp.status_code == 422, (query, resp.text)


async def test_a_reversed_payment_counts_nowhere_and_another_tenant_sees_none_of_it(api):
    denied, paid = denied_97810(), paid_99213()
    await consume(api, denied, paid)
    reversal = PaymentReversed(claim_id=denied.claim_id, remittance_id=uuid.uuid4(),
                               reversed_remittance_id=denied.remittance_id, payer_id="SBX01",
                               payer_claim_control_number="P1", paid_amount=Decimal("0.00"),
                               patient_responsibility=Decimal("0.00"), patient_responsibility_total=Decimal("0.00"),
                               payment_date=DAY)
    await consume(api, reversal)
    payer = by_key(await trends(api, "payer"))
    assert payer["SBX01"]["claims"] == 1 and payer["SBX01"]["denied_claims"] == 0
    assert (await trends(api, "payer", tenant="tenant-b"))["groups"] == []


async def test_one_recommendation_when_a_payer_denies_one_code_with_one_carc_on_more_than_5_claims(api):
    await consume(api, *[denied_97810(on=DAY + timedelta(days=i)) for i in range(5)])
    assert await api.outbox_events("rule-recommended") == []  # 5 is not more than 5
    sixth = denied_97810(on=DAY + timedelta(days=9))
    await consume(api, sixth, denied_97810(payer="SBX02"))  # another payer's denial is another pattern
    [event] = await api.outbox_events("rule-recommended")
    data = event["data"]
    assert event["tenantid"] == "tenant-a" and event["subject"] == f"denial-pattern/{data['recommendation_id']}"
    assert (data["payer_id"], data["procedure_code"], data["carc"], data["count"], data["threshold"]) == (
        "SBX01", "97810", "CO-96", 6, 5)
    assert data["window_end"] == "2026-11-11" and data["window_start"] == "2026-10-13"
    assert data["denied_amount"] == "510.00"
    rule = data["suggested_rule"]
    assert rule["id"] == "DNL-SBX01-97810-CO-96" and rule["procedure_codes"] == ["97810"]
    assert "denied 97810 with CO-96 on 6 claims" in rule["message"]

    # the same payment redelivered, and more denials inside the window: nothing new
    await consume(api, sixth, denied_97810(on=DAY + timedelta(days=10)))
    assert len(await api.outbox_events("rule-recommended")) == 1
    assert await api.scalar("SELECT count(*) FROM rule_recommendations") == 1


async def test_the_tenants_threshold_decides_and_only_a_denial_specialist_or_admin_sets_it(api):
    resp = await api.client.get("/v1/settings/denial-rule-threshold", headers=api.headers())
    assert resp.json() == {"rule_threshold": 5, "window_days": 30}
    refused = await api.client.put("/v1/settings/denial-rule-threshold", json={"rule_threshold": 2},
                                   headers=api.headers(roles=["biller"]))
    assert refused.status_code == 403
    bad = await api.client.put("/v1/settings/denial-rule-threshold", json={"rule_threshold": 0}, headers=api.headers())
    assert bad.status_code == 422
    ok = await api.client.put("/v1/settings/denial-rule-threshold", json={"rule_threshold": 2},
                              headers=api.headers(roles=["denial_specialist"]))
    assert ok.status_code == 200 and ok.json()["rule_threshold"] == 2
    await consume(api, *[denied_97810() for _ in range(3)])
    await consume(api, *[denied_97810() for _ in range(3)], tenant="tenant-b")  # B keeps the default 5
    [event] = await api.outbox_events("rule-recommended")
    assert event["tenantid"] == "tenant-a" and event["data"]["count"] == 3 and event["data"]["threshold"] == 2
