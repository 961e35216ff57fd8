"""Sandbox payers and members (rcm_sandbox.fixtures) and the sandbox's claim answers (rcm_sandbox.service)."""

import json
import uuid
from decimal import Decimal as D

import pytest

from rcm_contracts.claim import Claim
from rcm_contracts.events import EncounterSubmitted
from rcm_contracts.wire import ClaimRemittance
from rcm_sandbox.domain.adjudication import MemberBenefits, PayerRules
from rcm_sandbox.fixtures import SandboxFixtures, load_fixtures
from rcm_contracts.events import Adjustment
from rcm_sandbox.domain.clearinghouse import pccn_for as pccn_for_id
from rcm_sandbox.service import remitted
from tests.support.claims import make_claim, make_line
from tests.support.encounters import SCENARIOS, generate


@pytest.fixture(scope="module")
def fixtures() -> SandboxFixtures:
    return load_fixtures()


def plan(copay: str) -> dict:
    return {"active": True, "deductible_remaining": "0.00", "coinsurance_rate": "0.00", "copay": copay}


# ---------------------------------------------------------------- member matching


def test_copay_member_has_a_25_dollar_copay(fixtures):
    b = fixtures.benefits_for("COPAY123")
    assert b == MemberBenefits(member_id="COPAY123", active=True, deductible_remaining=D("0.00"),
                               coinsurance_rate=D("0.00"), copay=D("25.00"))


def test_hdhp_member_has_a_1500_deductible_and_20_percent_coinsurance(fixtures):
    b = fixtures.benefits_for("HDHP9")
    assert b.deductible_remaining == D("1500.00")
    assert b.coinsurance_rate == D("0.20")
    assert b.copay == D("0.00")


def test_coinsurance_member(fixtures):
    b = fixtures.benefits_for("COINS42")
    assert (b.coinsurance_rate, b.deductible_remaining, b.copay) == (D("0.20"), D("0.00"), D("0.00"))


def test_terminated_member_is_inactive(fixtures):
    assert fixtures.benefits_for("TERM1").active is False


def test_notfound_member_has_no_benefits(fixtures):
    assert fixtures.benefits_for("NOTFOUND1") is None


def test_unmatched_member_gets_the_default_plan(fixtures):
    b = fixtures.benefits_for("M123")
    assert b == MemberBenefits(member_id="M123", active=True, deductible_remaining=D("0.00"),
                               coinsurance_rate=D("0.00"), copay=D("0.00"))


def test_benefits_keep_the_member_id_as_given(fixtures):
    assert fixtures.benefits_for("copay77").member_id == "copay77"


def test_prefix_matching_ignores_member_id_case(fixtures):
    assert fixtures.benefits_for("copay77").copay == D("25.00")


def test_prefix_must_be_at_the_start(fixtures):
    assert fixtures.benefits_for("XCOPAY1").copay == D("0.00")


def test_benefit_amounts_are_decimals(fixtures):
    b = fixtures.benefits_for("HDHP1")
    assert all(isinstance(v, D) for v in (b.deductible_remaining, b.coinsurance_rate, b.copay))


def test_longest_matching_prefix_wins():
    f = SandboxFixtures(payers={}, member_plans={"default": plan("0.00"), "CO": plan("5.00"), "COPAY": plan("25.00"),
                                                 "COPAYX": plan("40.00")})
    assert f.benefits_for("COPAYX1").copay == D("40.00")
    assert f.benefits_for("COPAY1").copay == D("25.00")
    assert f.benefits_for("CO1").copay == D("5.00")
    assert f.benefits_for("C1").copay == D("0.00")


def test_longest_prefix_wins_regardless_of_declaration_order():
    f = SandboxFixtures(payers={}, member_plans={"COPAY": plan("25.00"), "CO": plan("5.00")})
    assert f.benefits_for("COPAY1").copay == D("25.00")


def test_longer_null_plan_beats_a_shorter_prefix():
    f = SandboxFixtures(payers={}, member_plans={"N": plan("5.00"), "NOTFOUND": None})
    assert f.benefits_for("NOTFOUND9") is None
    assert f.benefits_for("N9").copay == D("5.00")


def test_without_default_an_unmatched_member_has_no_benefits():
    f = SandboxFixtures(payers={}, member_plans={"COPAY": plan("25.00")})
    assert f.benefits_for("M1") is None


# ---------------------------------------------------------------- payers


def test_the_sandbox_payers_are_loaded(fixtures):
    assert set(fixtures.payers) == {"SBX01", "SBX02", "SBX03"}
    assert all(isinstance(r, PayerRules) and r.payer_id == pid for pid, r in fixtures.payers.items())


def test_sbx01_rules(fixtures):
    r = fixtures.payers["SBX01"]
    assert r.fee_schedule["99213"] == D("92.00")
    assert r.fee_schedule["85025"] == D("7.77")
    assert r.default_allowed_ratio == D("0.60")
    assert r.non_covered_codes == frozenset({"97810", "S9090"})
    assert r.auth_required_codes == frozenset({"72148", "70553"})


def test_sbx02_rules(fixtures):
    r = fixtures.payers["SBX02"]
    assert r.fee_schedule["G0439"] == D("120.00")
    assert r.default_allowed_ratio == D("0.55")
    assert r.non_covered_codes == frozenset({"97810"})
    assert r.auth_required_codes == frozenset({"72148"})


def test_fee_schedules_are_exact_decimals(fixtures):
    for rules in fixtures.payers.values():
        assert rules.fee_schedule or rules.payer_id == "SBX03"  # the supplement prices nothing itself
        for schedule in (rules.fee_schedule, rules.superseded_fee_schedule):
            assert all(isinstance(v, D) and v == v.quantize(D("0.01")) for v in schedule.values())
        assert isinstance(rules.default_allowed_ratio, D) and isinstance(rules.interest_rate, D)


def test_payers_have_their_own_tax_ids_so_their_835s_tell_them_apart(fixtures):
    assert len({r.tax_id for r in fixtures.payers.values()}) == len(fixtures.payers)


def test_sbx03_is_a_supplement_paying_deductible_and_coinsurance_not_copays(fixtures):
    r = fixtures.payers["SBX03"]
    assert r.secondary_covers == frozenset({"1", "2"})
    assert r.name == "Sandbox Medigap Supplement"


def test_members_marked_for_reprocessing_and_late_payment(fixtures):
    assert fixtures.benefits_for("REPRO1").reprocess is True
    assert fixtures.benefits_for("LATE1").paid_late_days == 45
    assert fixtures.benefits_for("M1").reprocess is False and fixtures.benefits_for("M1").paid_late_days == 0
    assert fixtures.payers["SBX01"].as_first_paid().fee_schedule["99213"] == D("104.00")
    assert fixtures.payers["SBX01"].as_first_paid().fee_schedule["36415"] == D("3.00")  # not superseded: kept
    assert fixtures.payers["SBX01"].fee_schedule["99213"] == D("92.00")


def test_load_fixtures_from_a_path(tmp_path):
    path = tmp_path / "custom.json"
    path.write_text(json.dumps({
        "payers": {"P1": {"fee_schedule": {"99213": "10.10"}, "default_allowed_ratio": "0.5"}},
        "members": {"VIP": plan("0.00")},
    }))
    f = load_fixtures(str(path))
    assert f.payers["P1"].fee_schedule == {"99213": D("10.10")}
    assert f.payers["P1"].non_covered_codes == frozenset()
    assert f.payers["P1"].auth_required_codes == frozenset()
    assert f.benefits_for("VIP1").active is True
    assert f.benefits_for("OTHER") is None


# ---------------------------------------------------------------- pccn_for


def to_claim(body: dict, claim_id: uuid.UUID | None = None) -> Claim:
    """The claim charges would build from a generated encounter (numbered lines, summed total)."""
    sub = EncounterSubmitted.model_validate(body)
    lines = [make_line(i, ln.procedure_code, ln.charge, units=ln.units, modifiers=ln.modifiers,
                       pointers=ln.diagnosis_pointers)
             for i, ln in enumerate(sub.lines, start=1)]
    return make_claim(claim_id=claim_id or uuid.uuid4(), lines=lines,
                      **sub.model_dump(include={"source_system", "source_encounter_id", "service_date",
                                                "place_of_service", "patient", "coverage", "billing_provider",
                                                "rendering_provider", "referring_provider", "diagnoses"}))


BODIES = [e.body for e in generate(3, seed=5)]


def pccn_for(claim: Claim) -> str:
    return pccn_for_id(claim.claim_id)


def remittance_for(claim: Claim, pccn: str, fixtures) -> ClaimRemittance:
    """What the 835 says about the claim, in the wire model's terms (CLP/CAS/MOA)."""
    adj = remitted(claim, pccn, fixtures).adjudication
    return ClaimRemittance(
        claim_id=claim.claim_id, payer_claim_control_number=pccn, total_charge=adj.total_charge,
        allowed_amount=adj.allowed, paid_amount=adj.paid, patient_responsibility=adj.patient_responsibility,
        adjustments=[Adjustment(group_code=g, reason_code=c, amount=a) for g, c, a in adj.adjustments],
        remark_codes=list(adj.remark_codes))


def test_pccn_is_stable_for_the_same_claim():
    claim = to_claim(BODIES[0])
    assert pccn_for(claim) == pccn_for(claim)


def test_pccn_is_stable_for_a_resent_claim_with_the_same_id():
    claim_id = uuid.uuid4()
    assert pccn_for(to_claim(BODIES[0], claim_id)) == pccn_for(to_claim(BODIES[1], claim_id))


def test_pccn_differs_between_claims():
    pccns = {pccn_for(to_claim(BODIES[0])) for _ in range(200)}
    assert len(pccns) == 200


def test_pccn_format():
    pccn = pccn_for(to_claim(BODIES[0], uuid.UUID("0123456789abcdef0123456789abcdef")))
    assert pccn == "SBX0123456789ABCDEF0"
    assert len(pccn) <= 50  # fits ClaimRemittance.payer_claim_control_number


# ---------------------------------------------------------------- remittance_for


def assert_balances(r: ClaimRemittance) -> None:
    """Remittance's posting rule, restated: CLP03 == CLP04 + all CAS; PR sum == patient responsibility."""
    assert r.total_charge == r.paid_amount + sum((a.amount for a in r.adjustments), D(0))
    assert sum((a.amount for a in r.adjustments if a.group_code == "PR"), D(0)) == r.patient_responsibility


ADJUDICABLE = [s for s in SCENARIOS if s != "unknown_payer"]  # the clearinghouse rejects an unknown payer first


@pytest.mark.parametrize("enc", generate(120, seed=21, scenarios=ADJUDICABLE), ids=lambda e: e.scenario)
def test_remittance_for_generated_claims_balances(enc, fixtures):
    claim = to_claim(enc.body)
    r = remittance_for(claim, pccn_for(claim), fixtures)
    assert isinstance(r, ClaimRemittance)
    assert_balances(r)


def test_remittance_carries_claim_id_pccn_and_charge(fixtures):
    claim = to_claim(BODIES[0])
    r = remittance_for(claim, "PCCN-XYZ", fixtures)
    assert r.claim_id == claim.claim_id
    assert r.payer_claim_control_number == "PCCN-XYZ"
    assert r.total_charge == claim.total_charge


def _one(scenario: str, fixtures) -> tuple[Claim, ClaimRemittance]:
    claim = to_claim(generate(1, seed=3, scenarios=[scenario])[0].body)
    return claim, remittance_for(claim, pccn_for(claim), fixtures)


def test_copay_member_owes_25_as_pr3(fixtures):
    _, r = _one("copay", fixtures)
    assert_balances(r)
    assert r.patient_responsibility == D("25.00")
    assert [(a.group_code, a.reason_code) for a in r.adjustments if a.group_code == "PR"] == [("PR", "3")]


def test_unknown_member_is_denied_in_full_with_co31(fixtures):
    claim, r = _one("unknown_member", fixtures)
    assert_balances(r)
    assert r.paid_amount == 0 and r.patient_responsibility == 0
    assert [(a.group_code, a.reason_code, a.amount) for a in r.adjustments] == [("CO", "31", claim.total_charge)]


def test_terminated_member_is_denied_with_co27(fixtures):
    _, r = _one("terminated", fixtures)
    assert_balances(r)
    assert {(a.group_code, a.reason_code) for a in r.adjustments} == {("CO", "27")}


def test_non_covered_line_gets_co96_and_remark_n130(fixtures):
    _, r = _one("non_covered_line", fixtures)
    assert_balances(r)
    assert ("CO", "96") in {(a.group_code, a.reason_code) for a in r.adjustments}
    assert r.remark_codes == ["N130"]
    assert r.paid_amount > 0


def test_fully_paid_claim_pays_the_allowed_amount(fixtures):
    _, r = _one("paid", fixtures)
    assert_balances(r)
    assert r.paid_amount == r.allowed_amount
    assert r.patient_responsibility == 0
