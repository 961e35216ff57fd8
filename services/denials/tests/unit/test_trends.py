"""Denial facts of a payment and denial-pattern detection (rcm_denials.domain.trends): threshold, 30-day window,
once per pattern and window, distinct claims, ids stable across runs."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from decimal import Decimal as D

import pytest

from rcm_denials.domain.trends import Occurrence, Pattern, TrendRow, detect, payment_facts, rate, rule_id, trend_item

PATTERN = Pattern("SBX01", "97810", "CO-96")
DAY = date(2026, 11, 1)


def occurrences(n: int, *, start: date = DAY, step: int = 1, amount: str = "85.00") -> list[Occurrence]:
    return [Occurrence(uuid.uuid4(), start + timedelta(days=i * step), D(amount)) for i in range(n)]


def test_payment_facts_count_denials_only_and_name_the_denied_lines():
    facts = payment_facts(D("185.00"), [("CO", "45", D("20.00")), ("PR", "2", D("20.00")), ("CO", "96", D("85.00"))],
                          [("99213", [("CO", "45", D("20.00")), ("PR", "2", D("20.00"))]),
                           ("97810 ", [("co", "96", D("85.00"))])], on=DAY)
    assert facts.denied and facts.denied_amount == D("85.00") and facts.billed == D("185.00")
    assert facts.root_cause == "non_covered" and facts.reason_codes == ("CO-96",)
    assert facts.carc_amounts == {"CO-96": D("85.00")}
    assert [(d.procedure_code, d.carc, d.amount) for d in facts.denied_lines] == [("97810", "CO-96", D("85.00"))]


def test_a_paid_claim_has_facts_too_with_nothing_denied():
    facts = payment_facts(D("100.00"), [("CO", "45", D("30.00")), ("PR", "3", D("10.00"))],
                          [("99213", [("CO", "45", D("30.00"))])], on=DAY)
    assert not facts.denied and facts.denied_amount == D("0.00") and facts.root_cause is None
    assert facts.denied_lines == () and facts.carc_amounts == {}


def test_rates_are_shares_rounded_and_none_without_a_denominator():
    item = trend_item(TrendRow("SBX01", 8, 2, D("800.00"), D("170.00")))
    assert item["denial_rate_count"] == "0.2500" and item["denial_rate_amount"] == "0.2125"  # 2/8, 170/800
    assert item["billed_amount"] == "800.00" and item["denied_amount"] == "170.00"
    assert rate(1, 3) == D("0.3333") and rate(0, 0) is None


def test_at_the_threshold_nothing_is_recommended_one_more_claim_is():
    assert detect("t", PATTERN, occurrences(5), threshold=5) == []
    [rec] = detect("t", PATTERN, occurrences(6), threshold=5)
    assert rec.count == 6 and rec.threshold == 5
    assert rec.window_end == DAY + timedelta(days=5) and rec.window_start == rec.window_end - timedelta(days=29)
    assert rec.denied_amount == D("510.00")  # 6 x 85.00
    assert rec.rule_id == "DNL-SBX01-97810-CO-96"
    assert "SBX01" in rec.message and "97810" in rec.message and "CO-96" in rec.message and "6 claims" in rec.message


def test_the_threshold_is_the_tenants():
    assert detect("t", PATTERN, occurrences(3), threshold=2)[0].count == 3
    assert detect("t", PATTERN, occurrences(3), threshold=3) == []
    with pytest.raises(ValueError):
        detect("t", PATTERN, occurrences(3), threshold=0)


def test_denials_spread_wider_than_30_days_do_not_make_a_pattern():
    spread = occurrences(12, step=6)  # one every 6 days: at most 5 in any 30 days
    assert detect("t", PATTERN, spread, threshold=5) == []
    assert detect("t", PATTERN, spread, threshold=4)[0].count == 5  # days 0..24 of a 30-day window


def test_the_window_is_30_days_both_ends_included():
    first = occurrences(1, start=DAY)
    last = occurrences(5, start=DAY + timedelta(days=29), step=0)  # day 30 of the window that starts on DAY
    [rec] = detect("t", PATTERN, first + last, threshold=5)
    assert (rec.window_start, rec.window_end, rec.count) == (DAY, DAY + timedelta(days=29), 6)
    later = occurrences(5, start=DAY + timedelta(days=30), step=0)  # one day too late for DAY's denial
    assert detect("t", PATTERN, first + later, threshold=5) == []


def test_a_claim_counts_once_however_many_lines_it_has():
    claim = uuid.uuid4()
    same_claim = [Occurrence(claim, DAY, D("85.00")) for _ in range(8)]
    assert detect("t", PATTERN, same_claim, threshold=5) == []


def test_once_per_pattern_and_window_then_only_later_denials_count():
    first = occurrences(6)
    [rec] = detect("t", PATTERN, first + occurrences(4, start=DAY + timedelta(days=6)), threshold=5)
    assert rec.count == 6  # recommended as soon as the 6th claim came; the next 4 are inside that window
    # run again over the same denials, knowing what was recommended: nothing new (a redelivery, a late arrival)
    assert detect("t", PATTERN, first, threshold=5, covered_until=rec.window_end) == []
    # 6 more after the window: a new recommendation counting only them
    after = occurrences(6, start=rec.window_end + timedelta(days=1))
    [again] = detect("t", PATTERN, first + after, threshold=5, covered_until=rec.window_end)
    assert again.count == 6 and again.window_end == rec.window_end + timedelta(days=6)
    assert again.recommendation_id != rec.recommendation_id


def test_the_recommendation_id_is_the_same_for_the_same_tenant_pattern_and_window_only():
    days = occurrences(6)
    [a] = detect("t", PATTERN, days, threshold=5)
    [b] = detect("t", PATTERN, list(reversed(days)), threshold=5)
    [c] = detect("other", PATTERN, days, threshold=5)
    [d] = detect("t", Pattern("SBX02", "97810", "CO-96"), days, threshold=5)
    assert a.recommendation_id == b.recommendation_id
    assert len({a.recommendation_id, c.recommendation_id, d.recommendation_id}) == 3


def test_rule_ids_stay_in_the_custom_rule_alphabet():
    assert rule_id(Pattern("SBX 01/A", "97810", "CO-96")) == "DNL-SBX_01_A-97810-CO-96"
    assert len(rule_id(Pattern("P" * 90, "97810", "CO-96"))) == 64


def test_a_late_denial_dated_earlier_completes_the_window_of_a_later_one():
    later = occurrences(5, start=DAY + timedelta(days=10), step=0)
    late = occurrences(1, start=DAY + timedelta(days=3))
    [rec] = detect("t", PATTERN, later + late, threshold=5)
    assert rec.window_end == DAY + timedelta(days=10) and rec.count == 6 and rec.denied_amount == D("510.00")


def test_the_amount_is_what_the_window_holds_after_it_slides():
    early = occurrences(3, start=DAY, amount="10.00")
    late = occurrences(6, start=DAY + timedelta(days=40), step=0, amount="85.00")
    [rec] = detect("t", PATTERN, early + late, threshold=5)
    assert rec.count == 6 and rec.denied_amount == D("510.00")  # the early ones slid out of the window
