from datetime import date
from decimal import Decimal as D

from rcm_denials.domain.codes import ROOT_CAUSES
from rcm_denials.domain.priority import RECOVERY_LIKELIHOOD, DeadlineDays, days_left, deadline, priority


def test_the_appeal_deadline_runs_from_the_remittance_date_by_default_90_days():
    assert deadline(date(2026, 11, 2), None, DeadlineDays()) == date(2027, 1, 31)
    assert deadline(date(2026, 11, 2), None, DeadlineDays(appeal_days=30)) == date(2026, 12, 2)


def test_the_timely_filing_limit_from_the_date_of_service_wins_when_earlier():
    # service 2026-01-10 + 365 = 2027-01-10, before the appeal window's 2027-01-31
    assert deadline(date(2026, 11, 2), date(2026, 1, 10), DeadlineDays()) == date(2027, 1, 10)
    assert deadline(date(2026, 11, 2), date(2026, 10, 1), DeadlineDays()) == date(2027, 1, 31)
    assert deadline(date(2026, 11, 2), date(2026, 10, 1), DeadlineDays(90, 60)) == date(2026, 11, 30)


def test_days_left_counts_to_the_deadline_and_goes_negative_after_it():
    assert days_left(date(2026, 12, 2), date(2026, 11, 2)) == 30
    assert days_left(date(2026, 12, 2), date(2026, 12, 2)) == 0
    assert days_left(date(2026, 12, 2), date(2026, 12, 5)) == -3


def test_every_root_cause_has_a_likelihood():
    assert set(RECOVERY_LIKELIHOOD) == set(ROOT_CAUSES)
    assert all(D(0) < v <= 1 for v in RECOVERY_LIKELIHOOD.values())


def test_more_money_ranks_higher_other_things_equal():
    scores = [priority(D(a), "coding", 45) for a in ("5", "50", "500", "5000", "50000")]
    assert scores == sorted(scores) and len(set(scores)) == 5


def test_a_likelier_recovery_ranks_higher_for_the_same_amount_and_days():
    assert priority(D("400"), "registration", 45) > priority(D("400"), "medical_necessity", 45) > priority(
        D("400"), "timely_filing", 45)


def test_a_closer_deadline_ranks_higher_and_full_urgency_from_seven_days():
    assert priority(D("400"), "coding", 10) > priority(D("400"), "coding", 60) > priority(D("400"), "coding", 95)
    assert priority(D("400"), "coding", 7) == priority(D("400"), "coding", 0)
    assert priority(D("400"), "coding", 90) == priority(D("400"), "coding", 200)


def test_past_the_deadline_the_priority_is_zero_and_it_stays_in_range():
    assert priority(D("99999"), "registration", -1) == D("0.00")
    assert priority(D("99999999"), "registration", 0) == D("100.00")
    assert priority(D("0"), "coding", 200) == D("0.00")


def test_worked_figures():
    # 100.00 of coding (0.70): expected 70.00 -> 15 points for passing 10, then 15 * (70 - 10) / 90 = 10 -> 25.00;
    # 90 days or more left: no urgency; 7 days or fewer: all 40 points of it.
    assert priority(D("100.00"), "coding", 90) == D("25.00")
    assert priority(D("100.00"), "coding", 7) == D("65.00")
