import random
from datetime import date
from decimal import Decimal as D

import pytest

from rcm_contracts.claim import Claim
from rcm_sandbox.domain.adjudication import (
    ClaimAdjudication,
    LineAdjudication,
    MemberBenefits,
    PayerRules,
    adjudicate,
)
from tests.support import claims

NPI = "1234567893"  # passes the Luhn check with prefix 80840
MEMBER = "M123456789"


def make_claim(*lines: tuple[str, str] | tuple[str, str, str], member_id: str | None = MEMBER) -> Claim:
    """lines: (procedure_code, charge[, units])."""
    return claims.make_claim(
        service_date=date(2025, 3, 14),
        coverage=None
        if member_id is None
        else claims.make_coverage(payer_id="SANDBOX", payer_name="Sandbox Health", member_id=member_id),
        billing_provider=claims.make_provider(NPI),
        diagnoses=["J06.9"],
        lines=[claims.make_line(i, spec[0], spec[1], units=spec[2] if len(spec) > 2 else "1")
               for i, spec in enumerate(lines, start=1)],
    )


def benefits(*, active=True, deductible="0.00", coinsurance="0.00", copay="0.00", member_id=MEMBER) -> MemberBenefits:
    return MemberBenefits(
        member_id=member_id,
        active=active,
        deductible_remaining=D(deductible),
        coinsurance_rate=D(coinsurance),
        copay=D(copay),
    )


RULES = PayerRules(
    payer_id="SANDBOX",
    fee_schedule={"99213": D("92.47"), "36415": D("3.00"), "97110": D("28.15"), "73030": D("0.00")},
    default_allowed_ratio=D("0.60"),
    non_covered_codes=frozenset({"S9999", "97799"}),
    auth_required_codes=frozenset({"70553", "97799"}),
)


def assert_balanced(result: ClaimAdjudication) -> None:
    for line in result.lines:
        assert line.charge == line.paid + sum((a for _, _, a in line.adjustments), D(0))
    assert sum((ln.charge for ln in result.lines), D(0)) == result.paid + sum(
        (a for _, _, a in result.adjustments), D(0)
    )
    assert result.patient_responsibility == sum((a for g, _, a in result.adjustments if g == "PR"), D(0))
    assert result.allowed == result.paid + result.patient_responsibility


def test_fee_schedule_hit_uses_schedule_times_units():
    result = adjudicate(make_claim(("97110", "150.00", "3")), benefits(), RULES)
    line = result.lines[0]
    assert line.allowed == D("84.45")  # 28.15 * 3
    assert line.paid == D("84.45")
    assert line.adjustments == [("CO", "45", D("65.55"))]
    assert result.outcome == "paid"
    assert_balanced(result)


def test_fee_schedule_hit_with_fractional_units_rounds_half_up():
    # 28.15 * 1.5 = 42.225 -> 42.23
    result = adjudicate(make_claim(("97110", "100.00", "1.5")), benefits(), RULES)
    assert result.lines[0].allowed == D("42.23")
    assert result.lines[0].adjustments == [("CO", "45", D("57.77"))]


def test_fee_schedule_miss_uses_default_ratio_rounded_half_up():
    # 123.45 * 0.60 = 74.07 ; 100.25 * 0.60 = 60.15
    result = adjudicate(make_claim(("99999", "123.45"), ("88888", "100.25")), benefits(), RULES)
    assert [ln.allowed for ln in result.lines] == [D("74.07"), D("60.15")]
    rules = PayerRules(payer_id="X", fee_schedule={}, default_allowed_ratio=D("0.333"))
    # 10.05 * 0.333 = 3.34665 -> 3.35 ; 0.15 * 0.333 = 0.04995 -> 0.05 (half up)
    result = adjudicate(make_claim(("A", "10.05"), ("B", "0.15")), benefits(), rules)
    assert [ln.allowed for ln in result.lines] == [D("3.35"), D("0.05")]


def test_allowed_never_exceeds_charge():
    # schedule says 92.47 but the practice billed less
    result = adjudicate(make_claim(("99213", "80.00")), benefits(), RULES)
    line = result.lines[0]
    assert line.allowed == D("80.00")
    assert line.adjustments == []  # no CO-45 row when nothing is written off
    assert line.paid == D("80.00")


def test_co45_is_charge_minus_allowed_and_not_a_denial():
    result = adjudicate(make_claim(("99213", "150.00"), ("36415", "25.00")), benefits(), RULES)
    assert result.adjustments == [("CO", "45", D("79.53"))]  # 57.53 + 22.00
    assert [ln.adjustments for ln in result.lines] == [[("CO", "45", D("57.53"))], [("CO", "45", D("22.00"))]]
    assert result.allowed == D("95.47")
    assert result.paid == D("95.47")
    assert result.outcome == "paid"
    assert result.remark_codes == []
    assert result.total_charge == D("175.00")
    assert_balanced(result)


def test_zero_fee_schedule_is_contractual_zero_pay_not_denial():
    result = adjudicate(make_claim(("73030", "60.00")), benefits(), RULES)
    assert result.lines[0].adjustments == [("CO", "45", D("60.00"))]
    assert result.paid == D("0.00")
    assert result.outcome == "paid"


def test_copay_then_deductible_then_coinsurance_in_line_order():
    b = benefits(copay="25.00", deductible="50.00", coinsurance="0.20")
    claim = make_claim(("99213", "150.00"), ("97110", "100.00", "2"), ("99999", "33.33"))
    result = adjudicate(claim, b, RULES)
    l1, l2, l3 = result.lines

    # line 1: allowed 92.47; copay 25.00 -> 67.47; deductible 50.00 -> 17.47; coins 20% = 3.494 -> 3.49
    assert l1.allowed == D("92.47")
    assert l1.adjustments == [
        ("CO", "45", D("57.53")),
        ("PR", "3", D("25.00")),
        ("PR", "1", D("50.00")),
        ("PR", "2", D("3.49")),
    ]
    assert l1.paid == D("13.98")

    # line 2: allowed 56.30; no copay (once per claim), deductible exhausted; coins 11.26
    assert l2.allowed == D("56.30")
    assert l2.adjustments == [("CO", "45", D("43.70")), ("PR", "2", D("11.26"))]
    assert l2.paid == D("45.04")

    # line 3: allowed 33.33 * 0.6 = 19.998 -> 20.00; coins 4.00
    assert l3.allowed == D("20.00")
    assert l3.adjustments == [("CO", "45", D("13.33")), ("PR", "2", D("4.00"))]
    assert l3.paid == D("16.00")

    assert result.allowed == D("168.77")
    assert result.patient_responsibility == D("93.75")
    assert result.paid == D("75.02")
    assert result.adjustments == [
        ("CO", "45", D("114.56")),
        ("PR", "3", D("25.00")),
        ("PR", "1", D("50.00")),
        ("PR", "2", D("18.75")),
    ]
    assert result.outcome == "paid"
    assert_balanced(result)


def test_deductible_spans_lines_and_reduces_as_used():
    b = benefits(deductible="100.00", coinsurance="0.10")
    result = adjudicate(make_claim(("99213", "92.47"), ("36415", "3.00"), ("97110", "28.15")), b, RULES)
    l1, l2, l3 = result.lines
    assert l1.adjustments == [("PR", "1", D("92.47"))]
    assert l1.paid == D("0.00")
    assert l2.adjustments == [("PR", "1", D("3.00"))]
    # 4.53 of deductible left; 23.62 remains; coins 2.362 -> 2.36
    assert l3.adjustments == [("PR", "1", D("4.53")), ("PR", "2", D("2.36"))]
    assert l3.paid == D("21.26")
    assert result.patient_responsibility == D("102.36")
    assert result.outcome == "paid"
    assert_balanced(result)


def test_copay_capped_at_allowed():
    b = benefits(copay="40.00", deductible="0.00", coinsurance="0.20")
    result = adjudicate(make_claim(("36415", "10.00")), b, RULES)
    line = result.lines[0]
    assert line.allowed == D("3.00")
    assert line.adjustments == [("CO", "45", D("7.00")), ("PR", "3", D("3.00"))]
    assert line.paid == D("0.00")
    assert result.patient_responsibility == D("3.00")
    assert result.outcome == "paid"  # processed; the patient owes it, not a denial


def test_copay_taken_once_per_claim_even_when_first_line_is_small():
    # the copay is per claim: what the first line could not absorb comes from the next line, never more in total
    b = benefits(copay="20.00")
    result = adjudicate(make_claim(("36415", "3.00"), ("99213", "92.47"), ("97110", "28.15")), b, RULES)
    prs = [[a for a in ln.adjustments if a[0] == "PR"] for ln in result.lines]
    assert prs == [[("PR", "3", D("3.00"))], [("PR", "3", D("17.00"))], []]
    assert result.patient_responsibility == D("20.00")


def test_copay_not_taken_from_denied_lines():
    b = benefits(copay="25.00")
    result = adjudicate(make_claim(("S9999", "100.00"), ("99213", "92.47")), b, RULES)
    assert result.lines[0].adjustments == [("CO", "96", D("100.00"))]
    assert result.lines[1].adjustments == [("PR", "3", D("25.00"))]
    assert result.lines[1].paid == D("67.47")


def test_unknown_member_denies_whole_claim_co31():
    claim = make_claim(("99213", "150.00"), ("36415", "25.00"))
    result = adjudicate(claim, None, RULES)
    assert [ln.adjustments for ln in result.lines] == [[("CO", "31", D("150.00"))], [("CO", "31", D("25.00"))]]
    assert result.adjustments == [("CO", "31", D("175.00"))]
    assert (result.allowed, result.paid, result.patient_responsibility) == (D(0), D(0), D(0))
    assert result.outcome == "denied"
    assert_balanced(result)


def test_member_id_mismatch_or_missing_coverage_is_co31():
    b = benefits(member_id="SOMEONE-ELSE")
    assert adjudicate(make_claim(("99213", "150.00")), b, RULES).adjustments == [("CO", "31", D("150.00"))]
    no_cov = make_claim(("99213", "150.00"), member_id=None)
    assert adjudicate(no_cov, benefits(), RULES).adjustments == [("CO", "31", D("150.00"))]


def test_inactive_member_denies_whole_claim_co27():
    result = adjudicate(make_claim(("99213", "150.00"), ("S9999", "40.00")), benefits(active=False, copay="20"), RULES)
    assert [ln.adjustments for ln in result.lines] == [[("CO", "27", D("150.00"))], [("CO", "27", D("40.00"))]]
    assert result.paid == D(0) and result.patient_responsibility == D(0)
    assert result.outcome == "denied"
    assert result.remark_codes == []
    assert_balanced(result)


def test_non_covered_line_denied_co96_with_n130_and_rest_paid():
    b = benefits(coinsurance="0.20")
    result = adjudicate(make_claim(("99213", "150.00"), ("S9999", "75.00"), ("36415", "3.00")), b, RULES)
    l1, l2, l3 = result.lines
    assert l2.adjustments == [("CO", "96", D("75.00"))]
    assert (l2.allowed, l2.paid) == (D(0), D(0))
    assert l1.paid == D("73.98")  # 92.47 - 18.494 -> 18.49
    assert l3.paid == D("2.40")
    assert result.remark_codes == ["N130"]
    assert result.outcome == "partially_paid"
    assert ("CO", "96", D("75.00")) in result.adjustments
    assert_balanced(result)


def test_non_covered_wins_over_auth_required_even_with_auth():
    result = adjudicate(make_claim(("97799", "80.00")), benefits(), RULES, prior_authorization="AUTH-1")
    assert result.lines[0].adjustments == [("CO", "96", D("80.00"))]
    assert result.remark_codes == ["N130"]
    assert result.outcome == "denied"


def test_auth_required_without_auth_denied_co197():
    claim = make_claim(("99213", "150.00"), ("70553", "2400.00"))
    result = adjudicate(claim, benefits(), RULES)
    assert result.lines[1].adjustments == [("CO", "197", D("2400.00"))]
    assert result.lines[1].paid == D(0)
    assert result.outcome == "partially_paid"
    assert result.remark_codes == []
    assert_balanced(result)

    only_mri = adjudicate(make_claim(("70553", "2400.00")), benefits(), RULES)
    assert only_mri.outcome == "denied"
    blank_auth = adjudicate(make_claim(("70553", "2400.00")), benefits(), RULES, prior_authorization="  ")
    assert blank_auth.outcome == "denied"


def test_auth_required_with_auth_is_adjudicated_normally():
    result = adjudicate(make_claim(("70553", "2400.00")), benefits(), RULES, prior_authorization="PA-778899")
    line = result.lines[0]
    assert line.allowed == D("1440.00")
    assert line.adjustments == [("CO", "45", D("960.00"))]
    assert result.outcome == "paid"


def test_partially_paid_when_covered_line_goes_to_deductible():
    # nothing paid by the payer, but the covered line was processed (patient owes it): not a full denial
    b = benefits(deductible="500.00")
    result = adjudicate(make_claim(("99213", "150.00"), ("S9999", "10.00")), b, RULES)
    assert result.paid == D(0)
    assert result.patient_responsibility == D("92.47")
    assert result.outcome == "partially_paid"


def test_zero_charge_lines():
    result = adjudicate(make_claim(("99213", "0.00"), ("S9999", "0.00")), benefits(copay="10"), RULES)
    assert result.lines[0].adjustments == []
    assert result.lines[1].adjustments == [("CO", "96", D("0.00"))]  # the denial stays visible
    assert result.outcome == "denied"
    assert_balanced(result)


def test_line_results_follow_line_number_order():
    claim = make_claim(("99213", "150.00"), ("36415", "25.00"))
    reordered = claim.model_copy(update={"lines": list(reversed(claim.lines))})
    result = adjudicate(reordered, benefits(copay="25.00"), RULES)
    assert [ln.line_number for ln in result.lines] == [1, 2]
    assert result.lines[0].adjustments[1] == ("PR", "3", D("25.00"))


def test_results_are_frozen():
    result = adjudicate(make_claim(("99213", "150.00")), benefits(), RULES)
    with pytest.raises(AttributeError):
        result.paid = D("1.00")  # type: ignore[misc]
    assert isinstance(result.lines[0], LineAdjudication)


CODES = ["99213", "36415", "97110", "73030", "S9999", "97799", "70553", "99999", "12001", "J1100"]


@pytest.mark.parametrize("seed", [20250314])
def test_balancing_invariant_over_generated_claims(seed):
    rng = random.Random(seed)
    rules = PayerRules(
        payer_id="SANDBOX",
        fee_schedule=dict(RULES.fee_schedule) | {"12001": D("111.11"), "J1100": D("0.37")},
        default_allowed_ratio=D("0.6173"),
        non_covered_codes=RULES.non_covered_codes,
        auth_required_codes=RULES.auth_required_codes,
    )
    outcomes = set()
    for _ in range(500):
        n = rng.randint(1, 8)
        lines = [
            (rng.choice(CODES), f"{rng.randint(0, 500_000) / 100:.2f}", f"{rng.randint(1, 4000) / 1000:.3f}")
            for _ in range(n)
        ]
        claim = make_claim(*lines)
        roll = rng.random()
        if roll < 0.05:
            b = None
        else:
            b = benefits(
                active=roll > 0.10,
                deductible=f"{rng.randint(0, 300_000) / 100:.2f}",
                coinsurance=rng.choice(["0", "0.10", "0.15", "0.20", "0.333", "0.5"]),
                copay=rng.choice(["0", "10.00", "25.00", "40.00", "75.50"]),
            )
        auth = rng.choice([None, "PA-1"])
        result = adjudicate(claim, b, rules, prior_authorization=auth)

        outcomes.add(result.outcome)
        assert_balanced(result)
        assert sum((ln.charge for ln in result.lines), D(0)) == claim.total_charge == result.total_charge
        for line in result.lines:
            assert line.allowed <= line.charge
            assert all(a >= 0 for _, _, a in line.adjustments)
            assert all(x == x.quantize(D("0.01")) for x in (line.allowed, line.paid, *(a for *_, a in line.adjustments)))
        copays = sum((a for g, c, a in result.adjustments if (g, c) == ("PR", "3")), D(0))
        deductible = sum((a for g, c, a in result.adjustments if (g, c) == ("PR", "1")), D(0))
        if b is not None:
            assert copays <= b.copay
            assert deductible <= b.deductible_remaining
        if result.outcome == "denied":
            assert result.paid == 0 and result.patient_responsibility == 0
    assert outcomes == {"paid", "partially_paid", "denied"}
