"""A self-pay encounter's facts, status and KPIs (rcm_analytics.domain.lifecycle, pure)."""

import uuid
from datetime import date, datetime, timezone
from decimal import Decimal

from rcm_analytics.domain.lifecycle import Status, derive, facts_from, kpis
from rcm_contracts.events import PatientBalanceOpened, SelfPayEncounterCaptured
from tests.support import claims as factory

AT = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)


def self_pay_facts(charge: str = "80.00") -> dict:
    claim = factory.make_claim(coverage=factory.make_coverage(), lines=[factory.make_line(1, "99213", charge)])
    return facts_from(SelfPayEncounterCaptured(claim=claim, intake_channel="kafka"), AT)


def test_a_self_pay_encounter_names_no_payer_even_with_a_coverage_kept_for_the_record():
    facts = self_pay_facts()

    assert facts["self_pay"] is True and facts["payer_id"] is None and facts["total_charge"] == Decimal("80.00")
    assert derive(facts) == Status("self_pay", None)  # patient billing has not opened the balance yet


def test_it_is_final_once_patient_billing_opened_the_balance_whichever_event_came_first():
    opened = facts_from(PatientBalanceOpened(claim_id=uuid.uuid4(), statement_id=uuid.uuid4(),
                                             amount_due=Decimal("80.00"), due_date=date(2026, 4, 1)), AT)

    assert derive({**self_pay_facts(), **opened}) == Status("self_pay", "self_pay")
    assert derive({**opened, **self_pay_facts()}) == Status("self_pay", "self_pay")
    assert derive(self_pay_facts("0.00")) == Status("self_pay", "self_pay")  # nothing to bill: no balance comes


def test_kpis_count_self_pay_apart_from_the_claims_billed_to_payers():
    rows = [{**self_pay_facts("80.00"), "balance_opened": True}, self_pay_facts("45.50"),
            {"stage_rank": 3, "scrub_decision": "clean", "total_charge": Decimal("100.00")}]
    out = kpis(rows)

    assert out["claims"] == 1 and out["clean_claim_rate"] == 1.0
    assert out["self_pay_encounters"] == 2 and out["self_pay_charges"] == "125.50"
