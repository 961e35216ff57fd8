"""tests/support/claims.py: the one claim factory builds valid claims and applies overrides as given."""

from datetime import date
from decimal import Decimal

import pytest
from pydantic import ValidationError

from rcm_contracts.claim import Claim
from tests.support.claims import GOOD_NPI, make_claim, make_coverage, make_line, make_lines, make_provider


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
