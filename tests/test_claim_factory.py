"""tests/support/claims.py: the one claim factory builds valid claims and applies overrides as given."""

from datetime import date
from decimal import Decimal

import pytest
from pydantic import ValidationError

from rcm_contracts.claim import Claim
from tests.support.claims import (
    ADJUDICATION_DATE,
    GOOD_NPI,
    make_adjustment,
    make_claim,
    make_coverage,
    make_insured,
    make_line,
    make_line_adjudication,
    make_lines,
    make_other_payer,
    make_patient,
    make_provider,
)


def test_default_claim_is_valid_and_round_trips():
    claim = make_claim()
    assert Claim.model_validate_json(claim.model_dump_json()) == claim
    assert claim.billing_provider.npi == GOOD_NPI and claim.coverage is None
    assert [(ln.line_number, ln.procedure_code, ln.charge) for ln in claim.lines] == [(1, "99213", Decimal("100.00"))]
    assert claim.total_charge == Decimal("100.00")


def test_each_claim_gets_its_own_ids():
    assert make_claim().claim_id != make_claim().claim_id


def test_total_is_the_sum_of_the_lines_unless_given():
    lines = make_lines("99214", "36415", charge="35.50")
    assert [ln.line_number for ln in lines] == [1, 2]
    assert make_claim(lines=lines).total_charge == Decimal("71.00")
    assert make_claim(lines=lines, total_charge=Decimal("1.00")).total_charge == Decimal("1.00")


def test_overrides_win_and_nested_parts_can_be_dicts():
    claim = make_claim(service_date=date(2025, 11, 3), coverage=make_coverage(member_id="COPAY9"),
                       rendering_provider=make_provider("1982749354", name="Dana Demo"),
                       lines=[{"line_number": 1, "procedure_code": "36415", "units": "2", "charge": "20.00"}])
    assert claim.service_date == date(2025, 11, 3) and claim.coverage.member_id == "COPAY9"
    assert claim.rendering_provider.name == "Dana Demo"
    assert claim.total_charge == Decimal("20.00") and claim.lines[0].units == Decimal(2)


def test_the_contract_still_validates_what_the_factory_builds():
    with pytest.raises(ValidationError, match="diagnosis pointer 2"):
        make_claim(lines=[make_line(1, pointers=[2])])


def test_a_dependent_coverage_names_the_subscriber_in_full_or_by_name_only():
    parent = make_patient(first_name="Grace", birth_date=date(1955, 6, 1))
    claim = make_claim(coverage=make_coverage(relationship="child", subscriber=parent))
    assert claim.coverage.relationship == "child" and claim.coverage.subscriber == parent
    by_name = make_claim(coverage=make_coverage(relationship="spouse", insured=make_insured(first_name="Grace")))
    insured = by_name.coverage.insured
    assert (insured.first_name, insured.birth_date, by_name.coverage.subscriber) == ("Grace", None, None)
    assert Claim.model_validate_json(by_name.model_dump_json()) == by_name


def test_a_secondary_claim_carries_the_other_payers_adjudication():
    primary = make_other_payer(
        paid_amount=Decimal("70.00"), payer_claim_control_number="PCCN1",
        adjustments=[make_adjustment("PR", "1", "10.00")],
        lines=[make_line_adjudication(1, "99213", "70.00", adjustments=[make_adjustment("CO", "45", "20.00")])])
    claim = make_claim(coverage=make_coverage(), payer_responsibility="S", other_payers=[primary])
    (other,) = claim.other_payers
    assert other.coverage.payer_id != claim.coverage.payer_id and other.responsibility == "P"
    assert (other.paid_amount, other.adjudication_date) == (Decimal("70.00"), ADJUDICATION_DATE)
    assert [(a.group_code, a.reason_code, a.amount) for a in other.adjustments] == [("PR", "1", Decimal("10.00"))]
    (line,) = other.lines
    assert (line.line_number, line.procedure_code, line.paid_amount, line.paid_units) == (
        1, "99213", Decimal("70.00"), Decimal(1))
    assert line.adjustments[0].amount == Decimal("20.00") and line.adjudication_date == ADJUDICATION_DATE
    assert Claim.model_validate_json(claim.model_dump_json()) == claim


def test_the_default_other_payer_is_valid_and_balanced_against_the_default_claim():
    other = make_other_payer()
    claim = make_claim(coverage=make_coverage(), payer_responsibility="S", other_payers=[other])
    adjusted = sum((a.amount for a in other.adjustments), Decimal(0))
    assert claim.total_charge - adjusted == other.paid_amount


def test_other_payer_parts_are_validated():
    with pytest.raises(ValidationError):
        make_adjustment("XX", "45", "1.00")  # not a CAS group code
    with pytest.raises(ValidationError):
        make_line_adjudication(0)  # lines are numbered from 1
