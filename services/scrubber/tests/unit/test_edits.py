"""Pre-submission edits (rcm_scrubber.domain.edits): NPI check digit, SCR001..SCR006, decision."""

from datetime import date
from decimal import Decimal

import pytest

from rcm_contracts.claim import Address, Claim, Coverage
from rcm_contracts.events import Edit
from rcm_scrubber.domain.edits import decision, npi_is_valid, scrub
from tests.support import claims

GOOD_NPI = "1234567893"
GOOD_NPI_2 = "1982749354"
BAD_NPI = "1234567890"  # fails the check digit
TODAY = date(2026, 3, 20)
COVERAGE = Coverage(payer_id="SBX01", payer_name="Sandbox Health Plan", member_id="M123")
# Everything the 837P needs beyond the edits under test, so a clean claim has no findings at all.
PRACTICE_ADDRESS = Address(line1="1 Main St", city="Boston", state="MA", postal_code="021101234")
HOME_ADDRESS = Address(line1="2 Elm St", city="Boston", state="MA", postal_code="02110")
_DEFAULT = object()


def make_claim(*, billing_npi=GOOD_NPI, rendering_npi=GOOD_NPI_2, coverage=_DEFAULT, service_date=date(2026, 3, 14),
               charges=("150.00", "20.00"), total_charge=None) -> Claim:
    return claims.make_claim(
        service_date=service_date,
        patient=claims.make_patient(sex="F", address=HOME_ADDRESS),
        coverage=COVERAGE if coverage is _DEFAULT else coverage,
        billing_provider=claims.make_provider(billing_npi, name="Springfield Family Medicine", tax_id="123456789",
                                              address=PRACTICE_ADDRESS),
        rendering_provider=claims.make_provider(rendering_npi, name="Dana Demo") if rendering_npi else None,
        lines=[claims.make_line(i, "99213", c) for i, c in enumerate(charges, start=1)],
        **({} if total_charge is None else {"total_charge": Decimal(total_charge)}),
    )


def codes(edits: list[Edit]) -> list[str]:
    return [e.code for e in edits]


# ---------------------------------------------------------------- npi_is_valid


@pytest.mark.parametrize("npi", [GOOD_NPI, GOOD_NPI_2])
def test_npi_with_correct_check_digit_is_valid(npi):
    assert npi_is_valid(npi) is True


@pytest.mark.parametrize("npi", ["1234567890", "1234567891", "1234567894", "1982749355"])
def test_npi_with_wrong_check_digit_is_invalid(npi):
    assert npi_is_valid(npi) is False


@pytest.mark.parametrize("npi", ["123456789", "12345678930", "", "123456789 "])
def test_npi_of_wrong_length_is_invalid(npi):
    assert npi_is_valid(npi) is False


@pytest.mark.parametrize("npi", ["12345678A3", "ABCDEFGHIJ", "1234-67893", "+234567893"])
def test_npi_with_non_digits_is_invalid(npi):
    assert npi_is_valid(npi) is False


@pytest.mark.parametrize("npi", ["\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668\u0669\u0663", "123456789\u00b2"])
def test_npi_with_non_ascii_digits_is_invalid(npi):
    assert npi_is_valid(npi) is False


# ---------------------------------------------------------------- clean claim


def test_clean_claim_has_no_edits():
    assert scrub(make_claim(), today=TODAY) == []


def test_clean_claim_decision_is_clean():
    assert decision(scrub(make_claim(), today=TODAY)) == "clean"


# ---------------------------------------------------------------- each edit


def test_scr001_fires_on_bad_billing_npi():
    edits = scrub(make_claim(billing_npi=BAD_NPI), today=TODAY)
    assert codes(edits) == ["SCR001"]
    assert edits[0].severity == "error"
    assert edits[0].field == "billing_provider.npi"


def test_scr002_fires_on_bad_rendering_npi():
    edits = scrub(make_claim(rendering_npi=BAD_NPI), today=TODAY)
    assert codes(edits) == ["SCR002"]
    assert edits[0].severity == "error"
    assert edits[0].field == "rendering_provider.npi"


def test_scr002_does_not_fire_without_rendering_provider():
    assert scrub(make_claim(rendering_npi=None), today=TODAY) == []


def test_scr003_fires_without_coverage():
    edits = scrub(make_claim(coverage=None), today=TODAY)
    assert codes(edits) == ["SCR003"]
    assert edits[0].field == "coverage"


def test_scr004_fires_on_future_service_date():
    edits = scrub(make_claim(service_date=date(2026, 3, 21)), today=TODAY)
    assert codes(edits) == ["SCR004"]
    assert edits[0].field == "service_date"


def test_scr004_does_not_fire_for_service_today():
    assert scrub(make_claim(service_date=TODAY), today=TODAY) == []


def test_scr005_fires_when_total_differs_from_line_sum():
    claim = make_claim(charges=("150.00", "20.00"), total_charge="170.01")
    assert claim.total_charge != sum(line.charge for line in claim.lines)  # the model allows it
    edits = scrub(claim, today=TODAY)
    assert codes(edits) == ["SCR005"]
    assert edits[0].field == "total_charge"


def test_scr005_compares_amounts_not_their_scale():
    claim = make_claim(charges=("150.00", "20.00"), total_charge="170.0")
    assert scrub(claim, today=TODAY) == []


def test_scr006_fires_on_each_zero_charge_line():
    edits = scrub(make_claim(charges=("150.00", "0.00", "0")), today=TODAY)
    assert [(e.code, e.line_number) for e in edits] == [("SCR006", 2), ("SCR006", 3)]
    assert all(e.field == "charge" for e in edits)


def test_every_failing_edit_is_reported_together():
    claim = make_claim(billing_npi=BAD_NPI, rendering_npi=BAD_NPI, coverage=None, service_date=date(2027, 1, 1),
                       charges=("0.00",), total_charge="5.00")
    assert codes(scrub(claim, today=TODAY)) == ["SCR001", "SCR002", "SCR003", "SCR004", "SCR005", "SCR006"]


def test_edit_messages_do_not_quote_the_npi():
    edits = scrub(make_claim(billing_npi=BAD_NPI, rendering_npi=BAD_NPI), today=TODAY)
    assert all(BAD_NPI not in e.message for e in edits)


# ---------------------------------------------------------------- upstream and decision


def test_upstream_edits_are_carried_first_and_unchanged():
    upstream = [Edit(code="COD900", severity="warning", message="coder note")]
    edits = scrub(make_claim(coverage=None), today=TODAY, upstream=upstream)
    assert edits[0] == upstream[0]
    assert codes(edits) == ["COD900", "SCR003"]


def test_upstream_list_is_not_mutated():
    upstream = [Edit(code="COD900", severity="warning", message="coder note")]
    scrub(make_claim(coverage=None), today=TODAY, upstream=upstream)
    assert codes(upstream) == ["COD900"]


def test_decision_is_review_when_an_edit_is_an_error():
    assert decision(scrub(make_claim(billing_npi=BAD_NPI), today=TODAY)) == "review"


def test_decision_is_review_for_an_upstream_error_alone():
    upstream = [Edit(code="COD001", severity="error", message="no diagnosis")]
    edits = scrub(make_claim(), today=TODAY, upstream=upstream)
    assert decision(edits) == "review"


def test_a_warning_alone_stays_clean():
    upstream = [Edit(code="COD900", severity="warning", message="coder note")]
    edits = scrub(make_claim(), today=TODAY, upstream=upstream)
    assert edits == upstream
    assert decision(edits) == "clean"


def test_decision_of_no_edits_is_clean():
    assert decision([]) == "clean"
