"""A claim's lifecycle as analytics derives it (rcm_analytics.domain.lifecycle)."""

import itertools
import json
import uuid
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal as D

import pytest

from rcm_analytics.domain.lifecycle import FINAL_STATES, STAGES, Status, derive, facts_from, kpis, summary_of
from rcm_contracts.events import (
    ClaimCorrection,
    ClaimResubmissionRequested,
    EligibilityHeld,
    EncounterHeld,
    MissingItem,
    Adjustment,
    ClaimAcknowledged,
    ClaimCoded,
    ClaimScrubbed,
    ClaimSubmitted,
    CoverageVerified,
    DenialRecorded,
    Edit,
    EligibilityResult,
    EncounterCaptured,
    EncounterSubmitted,
    PatientBalanceOpened,
    PaymentPosted,
    SelfPayEncounterCaptured,
)
from tests.support.claims import make_address, make_claim, make_coverage, make_line, make_patient

T0 = datetime(2026, 3, 14, 9, 0, tzinfo=timezone.utc)
FIRST, LAST, DOB, MEMBER = "Quentella", "Zyxwvutson", date(1984, 7, 19), "COPAYX98765"
CLAIM = make_claim(
    claim_id=uuid.UUID("00000000-0000-4000-8000-0000000000aa"),
    source_encounter_id="enc-7",
    service_date=date(2026, 3, 10),
    patient=make_patient(first_name=FIRST, last_name=LAST, birth_date=DOB, sex="F",
                         address=make_address(line1="17 Hidden Lane", city="Springfield", state="IL",
                                              postal_code="62704")),
    coverage=make_coverage(payer_id="SBX01", payer_name="Sandbox Health Plan", member_id=MEMBER),
    lines=[make_line(1, "99213", "150.00"), make_line(2, "97810", "85.00")],
    total_charge=D("235.00"),
)
CID = CLAIM.claim_id


def captured():
    return EncounterCaptured(claim=CLAIM, intake_channel="json")


def held():
    return EncounterHeld(claim_id=CLAIM.claim_id, source_system="test-ehr", source_encounter_id="enc-7",
                         missing=[MissingItem(field="diagnoses", reason="no diagnosis")])


def eligibility_held(reason, queue):
    return EligibilityHeld(claim_id=CLAIM.claim_id, reason=reason, work_queue=queue,
                           edits=[Edit(code="ELG020", severity="error", message="needs prior authorization")])


def verified(status="active"):
    return CoverageVerified(claim=CLAIM, eligibility=EligibilityResult(status=status, checked_at=T0, payer_id="SBX01"))


def coded(status="coded"):
    edits = [Edit(code="COD001", severity="error", message="no diagnosis")] if status == "needs_coder" else []
    return ClaimCoded(claim=CLAIM, status=status, edits=edits)


def scrubbed(decision="clean"):
    edits = [Edit(code="SCR001", severity="error", message="bad npi")] if decision == "review" else []
    return ClaimScrubbed(claim=CLAIM, decision=decision, edits=edits)


def submitted():
    return ClaimSubmitted(claim_id=CID, payer_id="SBX01", clearinghouse="sandbox", interchange_control_number="000000001",
                          total_charge=D("235.00"), submitted_at=T0)


def acked(accepted=True):
    return ClaimAcknowledged(claim_id=CID, accepted=accepted, status_code="A2:20" if accepted else "A3:116",
                             payer_claim_control_number="SBX1" if accepted else None)


def posted(outcome="paid", paid="92.00", allowed="92.00", patient="0.00", adjustments=()):
    return PaymentPosted(claim_id=CID, remittance_id=uuid.uuid4(), payer_id="SBX01", payer_claim_control_number="SBX1",
                         total_charge=D("235.00"), allowed_amount=D(allowed), paid_amount=D(paid),
                         patient_responsibility=D(patient), adjustments=list(adjustments), outcome=outcome,
                         payment_date=date(2026, 3, 20))


def denial(category="eligibility"):
    return DenialRecorded(claim_id=CID, denial_id=uuid.uuid4(), payer_id="SBX01", reason_codes=["CO-27"],
                          category=category, work_queue="front-desk", denied_amount=D("235.00"))


def balance(amount="25.00"):
    return PatientBalanceOpened(claim_id=CID, statement_id=uuid.uuid4(), amount_due=D(amount), due_date=date(2026, 4, 19))


def occurred_at(event) -> datetime:
    """Each event's own time (the envelope's), fixed whatever order the events arrive in."""
    return T0 + timedelta(seconds=uuid.uuid5(uuid.NAMESPACE_OID, type(event).__name__).int % 86400)


def merge(events) -> dict:
    """What the SQL upsert does: later non-stage_rank keys overwrite, stage_rank = max."""
    row: dict = {}
    for event in events:
        facts = facts_from(event, occurred_at(event))
        for k, v in facts.items():
            if k == "stage_rank":
                row[k] = max(row.get(k, 0), v)
            else:
                row[k] = v
    return row


# ---------------------------------------------------------------- facts_from


def test_facts_of_encounter_captured():
    assert facts_from(captured(), T0) == {
        "stage_rank": STAGES.index("captured"), "total_charge": D("235.00"), "captured_at": T0,
        "source_system": "test-ehr", "source_encounter_id": "enc-7", "payer_id": "SBX01",
        "service_date": date(2026, 3, 10),
    }


def test_facts_of_captured_claim_without_coverage_have_no_payer():
    event = EncounterCaptured(claim=CLAIM.model_copy(update={"coverage": None}), intake_channel="fhir")
    assert facts_from(event, T0)["payer_id"] is None


def test_facts_of_coverage_verified():
    assert facts_from(verified("inactive"), T0) == {"stage_rank": 1, "eligibility_status": "inactive"}


def test_facts_of_claim_coded():
    assert facts_from(coded("needs_coder"), T0) == {"stage_rank": 2, "coding_status": "needs_coder"}


def test_facts_of_claim_scrubbed():
    assert facts_from(scrubbed("review"), T0) == {"stage_rank": 3, "scrub_decision": "review"}


def test_facts_of_claim_submitted():
    assert facts_from(submitted(), T0) == {"stage_rank": 4}


def test_facts_of_claim_acknowledged():
    assert facts_from(acked(False), T0) == {"stage_rank": 5, "ack_accepted": False}


def test_facts_of_payment_posted():
    assert facts_from(posted("paid", paid="67.00", allowed="92.00", patient="25.00"), T0) == {
        "stage_rank": 6, "payment_outcome": "paid", "posted_at": T0, "paid_amount": D("67.00"),
        "allowed_amount": D("92.00"), "patient_responsibility": D("25.00"),
    }


def test_facts_of_denial_recorded():
    assert facts_from(denial("authorization"), T0) == {"stage_rank": 6, "denial_category": "authorization"}


def test_facts_of_patient_balance_opened():
    assert facts_from(balance(), T0) == {"stage_rank": 6, "balance_opened": True}


def test_event_without_claim_facts_sets_nothing():
    intake = EncounterSubmitted(source_system="x", source_encounter_id="y", service_date=date(2026, 1, 1),
                                patient=CLAIM.patient, billing_provider=CLAIM.billing_provider,
                                lines=[{"procedure_code": "99213", "charge": "1.00"}])
    assert facts_from(intake, T0) == {}


# ---------------------------------------------------------------- derive: each final state

PAID = [captured(), coded(), scrubbed(), submitted(), acked(), posted("paid")]
PATIENT_BALANCE = [captured(), coded(), scrubbed(), acked(),
                   posted("paid", paid="67.00", patient="25.00",
                          adjustments=[Adjustment(group_code="PR", reason_code="3", amount=D("25.00"))]),
                   balance()]
PARTIALLY_PAID = [captured(), coded(), scrubbed(), acked(), posted("partially_paid"), denial("coding")]
DENIED = [captured(), coded(), scrubbed(), acked(), posted("denied", paid="0.00", allowed="0.00"), denial()]
REJECTED = [captured(), coded(), scrubbed(), submitted(), acked(False)]
REVIEW_HOLD = [captured(), verified(), coded(), scrubbed("review")]
CODING_HOLD = [captured(), verified(), coded("needs_coder")]
INCOMPLETE = [held()]
ELIGIBILITY_HOLD = [captured(), eligibility_held("coverage_inactive", "front-desk")]
AUTH_HOLD = [captured(), eligibility_held("authorization_required", "authorizations")]
SELF_PAY = [held(), SelfPayEncounterCaptured(claim=CLAIM, intake_channel="json"), balance()]  # fixed as self-pay

SCENARIOS = {
    "paid": (PAID, Status("posted", "paid")),
    "patient_balance": (PATIENT_BALANCE, Status("posted", "patient_balance")),
    "partially_paid": (PARTIALLY_PAID, Status("posted", "partially_paid")),
    "denied": (DENIED, Status("posted", "denied")),
    "rejected": (REJECTED, Status("acknowledged", "rejected")),
    "review_hold": (REVIEW_HOLD, Status("scrubbed", "review_hold")),
    "coding_hold": (CODING_HOLD, Status("coded", "coding_hold")),
    "incomplete": (INCOMPLETE, Status("held", "incomplete")),
    "eligibility_hold": (ELIGIBILITY_HOLD, Status("held", "eligibility_hold")),
    "auth_hold": (AUTH_HOLD, Status("held", "auth_hold")),
    "self_pay": (SELF_PAY, Status("self_pay", "self_pay")),
}


def test_a_released_eligibility_hold_moves_on_whatever_the_arrival_order():
    events = [captured(), eligibility_held("authorization_required", "authorizations"), verified(), coded()]
    for order in (events, list(reversed(events))):
        assert derive(merge(order)) == Status("coded", None)


def test_a_held_encounter_that_is_fixed_moves_on_whatever_the_arrival_order():
    fixed = [held(), captured(), verified()]
    for events in (fixed, list(reversed(fixed))):
        assert derive(merge(events)) == Status("eligibility_verified", None)


def test_scenarios_cover_every_final_state():
    assert {expected.final_state for _, expected in SCENARIOS.values()} == set(FINAL_STATES)


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_derive_gives_each_final_state(name):
    events, expected = SCENARIOS[name]
    assert derive(merge(events)) == expected


def test_derive_of_no_facts_is_captured_and_in_flight():
    assert derive({}) == Status("captured", None)


@pytest.mark.parametrize("n", range(1, 6))
def test_claim_in_flight_has_no_final_state_and_its_highest_stage(n):
    events = [captured(), verified(), coded(), scrubbed(), submitted(), acked()][:n + 1]
    assert derive(merge(events)) == Status(STAGES[n], None)


def test_posted_with_patient_share_waits_for_balance_opened():
    before = PATIENT_BALANCE[:-1]
    assert derive(merge(before)) == Status("posted", None)
    assert derive(merge(before + [balance()])).final_state == "patient_balance"


def test_denied_waits_for_denial_category():
    before = DENIED[:-1]
    assert derive(merge(before)) == Status("posted", None)
    assert derive(merge(before + [denial()])).final_state == "denied"


def test_partially_paid_waits_for_denial_category():
    assert derive(merge(PARTIALLY_PAID[:-1])).final_state is None


def test_partially_paid_with_patient_share_waits_for_both_denial_and_balance():
    post = posted("partially_paid", paid="67.00", patient="25.00")
    assert derive(merge([post])).final_state is None
    assert derive(merge([post, denial()])).final_state is None
    assert derive(merge([post, balance()])).final_state is None
    assert derive(merge([post, denial(), balance()])).final_state is not None


def test_paid_without_patient_share_needs_nothing_more():
    assert derive(merge([posted("paid")])) == Status("posted", "paid")


# ---------------------------------------------------------------- order independence


@pytest.mark.parametrize("name", ["paid", "patient_balance", "partially_paid", "denied", "rejected", "review_hold"])
def test_derive_is_independent_of_arrival_order(name):
    events, expected = SCENARIOS[name]
    results = {derive(merge(perm)) for perm in itertools.permutations(events)}
    assert results == {expected}


def test_merged_facts_are_independent_of_arrival_order():
    events = PATIENT_BALANCE[1:]  # five events
    rows = {json.dumps(merge(perm), default=str, sort_keys=True) for perm in itertools.permutations(events)}
    assert len(rows) == 1


# ---------------------------------------------------------------- kpis

ROWS = [
    {"scrub_decision": "clean", "ack_accepted": True, "payment_outcome": "paid",
     "allowed_amount": D("100.00"), "paid_amount": D("80.00"), "patient_responsibility": D("20.00")},
    {"scrub_decision": "clean", "ack_accepted": True, "payment_outcome": "denied",
     "allowed_amount": D("0.00"), "paid_amount": D("0.00"), "patient_responsibility": D("0.00")},
    {"scrub_decision": "clean", "ack_accepted": True, "payment_outcome": "partially_paid",
     "allowed_amount": D("50.00"), "paid_amount": D("30.00"), "patient_responsibility": D("10.00")},
    {"scrub_decision": "clean", "ack_accepted": False},  # rejected
    {"scrub_decision": "review"},  # held before submission
    {"coding_status": "needs_coder"},  # never scrubbed
]


def test_kpis_counts_claims():
    assert kpis(ROWS)["claims"] == 6


def test_kpis_clean_claim_rate_is_over_scrubbed_claims():
    assert kpis(ROWS)["clean_claim_rate"] == 0.8  # 4 clean of 5 scrubbed


def test_kpis_first_pass_acceptance_rate_is_over_acknowledged_claims():
    assert kpis(ROWS)["first_pass_acceptance_rate"] == 0.75  # 3 accepted of 4 acknowledged


def test_kpis_denial_rate_counts_denied_and_partially_paid_over_posted():
    assert kpis(ROWS)["denial_rate"] == 0.6667  # 2 of 3 posted, rounded to 4 places


def test_kpis_amounts_are_exact_decimal_strings():
    k = kpis(ROWS)
    assert D(k["payer_paid"]) == D("110.00")
    assert D(k["patient_responsibility"]) == D("30.00")


def test_kpis_payer_net_collection_rate():
    assert kpis(ROWS)["payer_net_collection_rate"] == 0.9167  # 110 / (150 - 30)


def test_kpis_of_no_rows_has_no_rates():
    k = kpis([])
    assert k["claims"] == 0
    assert k["clean_claim_rate"] is None
    assert k["first_pass_acceptance_rate"] is None
    assert k["denial_rate"] is None
    assert k["payer_net_collection_rate"] is None
    assert D(k["payer_paid"]) == 0


def test_kpis_ignore_amounts_of_unposted_rows():
    rows = [{"paid_amount": D("999.00"), "allowed_amount": D("999.00")}]
    k = kpis(rows)
    assert D(k["payer_paid"]) == 0
    assert k["payer_net_collection_rate"] is None


# ---------------------------------------------------------------- summary_of

def resubmission(kind: str) -> ClaimResubmissionRequested:
    """A corrected claim changing the member id and patient, or a rebill naming the member: both carry PHI."""
    c = captured().claim
    if kind == "rebill":
        return ClaimResubmissionRequested(request_id=uuid.uuid4(), denial_id=uuid.uuid4(), claim_id=c.claim_id,
                                          kind="rebill", new_claim_id=uuid.uuid4(), coverage=c.coverage)
    return ClaimResubmissionRequested(request_id=uuid.uuid4(), denial_id=uuid.uuid4(), claim_id=c.claim_id,
                                      kind="corrected", original_claim_number="SBX1",
                                      correction=ClaimCorrection(coverage=c.coverage, patient=c.patient))


ALL_EVENTS = [captured(), verified(), coded("needs_coder"), scrubbed("review"), submitted(), acked(),
              posted("paid", paid="67.00", patient="25.00"), denial(), balance(), resubmission("corrected"),
              resubmission("rebill")]


def test_summary_of_a_resubmission_names_fields_and_payer_only():
    assert summary_of(resubmission("corrected")) == {"resubmission": "corrected", "review": False,
                                                     "corrected_fields": ["coverage", "patient"]}
    rebill = summary_of(resubmission("rebill"))
    assert rebill["resubmission"] == "rebill" and rebill["payer_id"] == captured().claim.coverage.payer_id


@pytest.mark.parametrize("event", ALL_EVENTS, ids=lambda e: type(e).__name__)
def test_summary_never_contains_patient_data(event):
    text = json.dumps(summary_of(event))
    for phi in (FIRST, LAST, DOB.isoformat(), MEMBER, "Hidden Lane", "19840719", "07/19/1984"):
        assert phi not in text


def test_summary_of_captured_shows_channel_lines_and_total():
    assert summary_of(captured()) == {"channel": "json", "lines": 2, "total_charge": "235.00"}


def test_summary_of_payment_lists_adjustments_by_group_and_carc():
    event = posted("paid", paid="67.00", patient="25.00",
                   adjustments=[Adjustment(group_code="CO", reason_code="45", amount=D("143.00")),
                                Adjustment(group_code="PR", reason_code="3", amount=D("25.00"))])
    assert summary_of(event) == {"outcome": "paid", "paid": "67.00", "patient_responsibility": "25.00",
                                 "adjustments": ["CO-45", "PR-3"]}


def test_summary_of_coded_lists_edit_codes_only():
    assert summary_of(coded("needs_coder")) == {"status": "needs_coder", "edits": ["COD001"]}


def test_running_payments_adds_payers_subtracts_reversals_and_replaces_the_patient_share():
    from rcm_analytics.domain.lifecycle import running_payments

    r1, r2, r3 = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()

    def row(rid, kind, paid, patient, total, outcome="paid", allowed="100.00", reverses=None):
        return {"remittance_id": rid, "kind": kind, "reversed_remittance_id": reverses, "outcome": outcome,
                "paid_amount": D(paid), "allowed_amount": D(allowed) if kind == "payment" else None,
                "patient_responsibility": D(patient), "patient_responsibility_total": None if total is None else D(total)}

    primary, secondary = row(r1, "payment", "70.00", "30.00", "30.00"), row(r2, "payment", "20.00", "10.00", "10.00")
    # hand computation: 70 + 20 paid; the patient owes the secondary's running 10, not 30 + 10; allowed once
    assert running_payments([primary, secondary]) == {"paid_amount": D("90.00"), "allowed_amount": D("100.00"),
                                                      "patient_responsibility": D("10.00"), "payment_outcome": "paid"}
    back = row(r3, "reversal", "20.00", "10.00", "30.00", outcome=None, reverses=r2)
    assert running_payments([primary, secondary, back]) == {"paid_amount": D("70.00"), "allowed_amount": D("100.00"),
                                                            "patient_responsibility": D("30.00"), "payment_outcome": "paid"}
    only_back = [primary, row(r3, "reversal", "70.00", "30.00", "0.00", outcome=None, reverses=r1)]
    assert running_payments(only_back)["payment_outcome"] == "reversed"
    assert running_payments(only_back)["paid_amount"] == D("0.00")
    # 1.0 events (no running total): the signed sum
    assert running_payments([row(r1, "payment", "70.00", "30.00", None)])["patient_responsibility"] == D("30.00")
