"""Front-desk registration rules (rcm_eligibility.domain.registration): REG001..REG018."""

import json
from datetime import date

import pytest
from pydantic import ValidationError

from rcm_contracts.claim import Address, Person
from rcm_eligibility.domain.registration import (
    DEFAULT_MEMBER_ID,
    MEDICARE_MBI,
    CoverageRegistration,
    PatientRegistration,
    PayerMemberIdRules,
    RegistrationAddress,
    RegistrationProblem,
    age_on,
    validate_registration,
)

TODAY = date(2026, 3, 20)
RULES = PayerMemberIdRules.from_mapping({"payers": {"MCR": MEDICARE_MBI}})
GOOD_MBI = "1EG4TE5MK73"  # the CMS specimen MBI, without dashes


def address(**kw) -> RegistrationAddress:
    return RegistrationAddress(**{"line1": "1 Main St", "city": "Boston", "state": "MA", "postal_code": "02110", **kw})


def patient(**kw) -> PatientRegistration:
    return PatientRegistration(**{"first_name": "Ada", "last_name": "Lovelace", "birth_date": date(1980, 1, 2),
                                  "sex": "F", "address": address(), **kw})


def coverage(**kw) -> CoverageRegistration:
    return CoverageRegistration(**{"payer_id": "SBX01", "payer_name": "Sandbox Health Plan", "member_id": "M123",
                                   "effective_from": date(2025, 1, 1), **kw})


def spouse(**kw) -> Person:
    return Person(**{"first_name": "Charles", "last_name": "Babbage", "birth_date": date(1975, 12, 26), **kw})


def check(p: PatientRegistration | None = None, covs=None, *, today=TODAY, rules=RULES) -> list[RegistrationProblem]:
    return validate_registration(p or patient(), [coverage()] if covs is None else covs, today=today, rules=rules)


def codes(problems) -> list[str]:
    return [pr.code for pr in problems]


def only(problems, code) -> RegistrationProblem:
    found = [pr for pr in problems if pr.code == code]
    assert len(found) == 1, problems
    return found[0]


def test_clean_registration_has_no_problems():
    assert check() == []


def test_self_pay_patient_without_coverages_is_fine():
    assert check(covs=[]) == []


# ---------------------------------------------------------------- models


def test_models_are_frozen_and_reject_unknown_fields():
    p = patient()
    with pytest.raises(ValidationError):
        p.first_name = "Eve"  # type: ignore[misc]
    with pytest.raises(ValidationError):
        coverage(efective_to=date(2026, 1, 1))  # a typo must not silently drop the end date


@pytest.mark.parametrize("raw, stored", [("02110", "02110"), ("62704-1234", "627041234"), ("627041234", "627041234")])
def test_address_accepts_zip5_and_zip_plus_4(raw, stored):
    a = address(postal_code=raw)
    assert a.postal_code == stored and a.zip5 == raw[:5]


@pytest.mark.parametrize("raw", ["0211", "02110-12", "ABCDE", "02110 1234", "０２１１０"])
def test_address_rejects_malformed_zip(raw):
    with pytest.raises(ValidationError):
        address(postal_code=raw)


def test_state_is_upper_cased():
    assert address(state=" ma ").state == "MA"


@pytest.mark.parametrize("raw", ["(617) 555-0134", "617.555.0134", "+1 617 555 0134", "6175550134"])
def test_phone_is_normalized_to_ten_digits(raw):
    assert patient(phone=raw).phone == "6175550134"


@pytest.mark.parametrize("raw", ["555-0134", "017 555 0134", "617-055-0134", "call me"])
def test_phone_must_be_a_nanp_number(raw):
    with pytest.raises(ValidationError):
        patient(phone=raw)


def test_phone_is_optional():
    assert patient().phone is None and patient(phone="").phone is None


@pytest.mark.parametrize("raw, order", [(1, 1), (3, 3), ("primary", 1), ("Secondary", 2), ("T", 3), ("P", 1)])
def test_order_of_benefits_accepts_numbers_names_and_sbr01_codes(raw, order):
    assert coverage(order_of_benefits=raw).order_of_benefits == order


@pytest.mark.parametrize("raw", [0, 4, "quaternary"])
def test_order_of_benefits_out_of_range_is_rejected(raw):
    with pytest.raises(ValidationError):
        coverage(order_of_benefits=raw)


# ---------------------------------------------------------------- birth date


def test_birth_date_in_future_is_an_error():
    pr = only(check(patient(birth_date=date(2026, 3, 21))), "REG001")
    assert (pr.field, pr.severity) == ("birth_date", "error")


def test_birth_date_today_is_fine_for_a_newborn():
    assert check(patient(birth_date=TODAY)) == []


def test_birth_date_more_than_120_years_ago_is_an_error():
    pr = only(check(patient(birth_date=date(1906, 3, 19))), "REG002")
    assert (pr.field, pr.severity) == ("birth_date", "error")


def test_birth_date_exactly_120_years_ago_is_accepted():
    assert check(patient(birth_date=date(1906, 3, 20))) == []


def test_120_year_limit_handles_leap_day_today():
    leap_day = date(2020, 2, 29)  # 120 years earlier, 1900, has no 29 February: the limit is 28 February
    assert codes(check(patient(birth_date=date(1900, 2, 27)), [], today=leap_day)) == ["REG002"]
    assert check(patient(birth_date=date(1900, 2, 28)), [], today=leap_day) == []


def test_age_on_counts_completed_years():
    assert age_on(date(2000, 3, 20), TODAY) == 26
    assert age_on(date(2000, 3, 21), TODAY) == 25
    assert age_on(date(2000, 2, 29), date(2026, 2, 28)) == 25


# ---------------------------------------------------------------- state and ZIP


@pytest.mark.parametrize("state, zip_code", [("MA", "02110"), ("IL", "62704"), ("IL", "627041234"),
                                             ("PR", "00601"), ("GU", "96910"), ("AE", "09001"), ("MH", "96960")])
def test_real_zip_in_its_state_is_fine(state, zip_code):
    assert check(patient(address=address(state=state, postal_code=zip_code))) == []


@pytest.mark.parametrize("state", ["XX", "ZZ", "UK", "QC"])
def test_state_must_be_a_us_state_or_territory(state):
    pr = only(check(patient(address=address(state=state))), "REG003")
    assert (pr.field, pr.severity) == ("address.state", "error")


def test_unknown_state_does_not_also_report_a_state_mismatch():
    assert codes(check(patient(address=address(state="XX")))) == ["REG003"]


@pytest.mark.parametrize("zip_code", ["99999", "00000", "000001234"])
def test_made_up_zip_is_an_error(zip_code):
    pr = only(check(patient(address=address(postal_code=zip_code))), "REG004")
    assert (pr.field, pr.severity) == ("address.postal_code", "error")


def test_zip_in_the_wrong_state_is_an_error():
    problems = check(patient(address=address(state="IL", postal_code="02110")))  # 02110 is Boston, MA
    pr = only(problems, "REG005")
    assert (pr.field, pr.severity) == ("address.postal_code", "error")
    assert codes(problems) == ["REG005"]


def test_zip_plus_4_is_checked_on_its_first_five_digits():
    assert codes(check(patient(address=address(state="MA", postal_code="62704-1234")))) == ["REG005"]


def test_retired_zip_is_a_warning():
    pr = only(check(patient(address=address(state="MA", city="Springfield", postal_code="01133"))), "REG006")
    assert (pr.field, pr.severity) == ("address.postal_code", "warning")


def test_messages_never_echo_patient_values():
    p = patient(first_name="Zebulon", birth_date=date(2030, 1, 1),
                address=address(state="IL", postal_code="02110", city="Quincy"))
    covs = [coverage(payer_id="MCR", member_id="1EG4-TE5-MK73", relationship="spouse")]
    problems = check(p, covs)
    assert {"REG001", "REG005", "REG010", "REG016"} <= set(codes(problems))
    for pr in problems:
        for value in ("Zebulon", "2030", "02110", "IL", "Quincy", "1EG4", "MK73"):
            assert value not in pr.message, (pr.code, value)


# ---------------------------------------------------------------- member id rules


@pytest.mark.parametrize("mbi", [GOOD_MBI, "9AA0A00AA00", "1A00A00AA00", "2C99Y99YY99"])
def test_valid_mbi_passes(mbi):
    assert RULES.accepts("MCR", mbi)
    assert check(covs=[coverage(payer_id="MCR", member_id=mbi)]) == []


@pytest.mark.parametrize("mbi", [
    "1EG4-TE5-MK73",  # dashes are for print only
    "0EG4TE5MK73",  # first position is 1-9
    "1SG4TE5MK73",  # S is excluded (reads as 5)
    "1EG4TE5ML73",  # L is excluded
    "1EG4TE5MK7",  # 10 characters
    "1EG4TE5MK733",  # 12 characters
    "1eg4te5mk73",  # MBIs are upper case
    "123456789A",  # a legacy HICN (SSN-based), no longer accepted
    "1EG4OE5MK73",  # O is excluded
])
def test_invalid_mbi_is_an_error(mbi):
    pr = only(check(covs=[coverage(payer_id="MCR", member_id=mbi, plan_category="medicare")]), "REG010")
    assert (pr.field, pr.severity) == ("coverages[0].member_id", "error")


@pytest.mark.parametrize("member_id, ok", [("M123", True), ("XYZ-000-12", True), ("A", False),
                                           ("M 123", False), ("M123/4", False), ("A" * 80, True), ("A" * 81, False)])
def test_default_rule_for_payers_without_a_rule(member_id, ok):
    assert PayerMemberIdRules().accepts("ANY", member_id) is ok


def test_payer_rule_must_match_the_whole_id():
    rules = PayerMemberIdRules.from_mapping({"payers": {"AETNA": r"W[0-9]{9}"}})  # unanchored on purpose
    assert rules.accepts("AETNA", "W123456789")
    assert not rules.accepts("AETNA", "W1234567890")
    assert not rules.accepts("AETNA", "XW123456789")


def test_rules_load_from_json_with_custom_default():
    rules = PayerMemberIdRules.from_json(json.dumps({"default": "^[0-9]{6,12}$", "payers": {"MCR": MEDICARE_MBI}}))
    assert rules.accepts("MCR", GOOD_MBI)
    assert not rules.accepts("BCBS", "ABC123")
    assert rules.accepts("BCBS", "12345678")
    assert rules.pattern_for(" MCR ").pattern == MEDICARE_MBI


def test_rules_without_default_use_the_standard_default():
    assert PayerMemberIdRules.from_mapping({}).default.pattern == DEFAULT_MEMBER_ID


@pytest.mark.parametrize("config", [{"payers": {"X": "([a-z"}}, {"default": ""}, {"payers": ["X"]}, {"payer": {}},
                                    {"payers": {"X": 5}}])
def test_bad_rule_config_fails_at_load_time(config):
    with pytest.raises(ValueError):
        PayerMemberIdRules.from_mapping(config)


def test_json_rules_must_be_an_object():
    with pytest.raises(ValueError):
        PayerMemberIdRules.from_json("[]")


def test_a_catastrophic_backtracking_rule_answers_at_once_with_the_linear_time_engine():
    # Python's re would try ~2**50000 ways to split the a's before failing on the "!"; RE2 reads the id once
    rules = PayerMemberIdRules.from_mapping({"payers": {"EVIL": r"^(a+)+$"}})
    assert not rules.accepts("EVIL", "a" * 50_000 + "!")
    assert rules.accepts("EVIL", "a" * 50_000)


@pytest.mark.parametrize("pattern, reason", [
    (r"^(a)\1$", "invalid escape sequence: \\1"),  # a backreference
    (r"^(?=W)[A-Z0-9]{10}$", "invalid perl operator: (?="),  # look-ahead
    (r"^(?<!X)[0-9]+$", "invalid perl operator: (?<!"),  # look-behind
    (r"^[0-9]{1001}$", "invalid repetition size: {1001}"),
])
def test_rules_the_linear_time_engine_cannot_run_are_refused_with_the_reason(pattern, reason):
    with pytest.raises(ValueError) as refused:
        PayerMemberIdRules.from_mapping({"payers": {"X": pattern}})
    assert str(refused.value) == f"member id rule 'X': not a pattern RE2 can match in linear time ({reason})"


def test_stored_rules_the_engine_refuses_can_be_left_out_and_reported():
    reported = []
    config = {"default": r"^(\d)\1+$", "payers": {"OLD": r"^(?=W)\w+$", "MCR": MEDICARE_MBI}}
    rules = PayerMemberIdRules.from_mapping(config, on_invalid=lambda name, reason: reported.append(name))
    assert sorted(reported) == ["OLD", "default"]
    assert rules.accepts("MCR", GOOD_MBI) and not rules.accepts("MCR", "W12345")
    assert rules.pattern_for("OLD").pattern == DEFAULT_MEMBER_ID  # the built-in format applies instead


# ---------------------------------------------------------------- coverage dates


def test_coverage_ending_before_it_starts_is_an_error_only_once():
    problems = check(covs=[coverage(effective_from=date(2026, 6, 1), effective_to=date(2026, 1, 1))])
    assert codes(problems) == ["REG011"]
    assert problems[0].field == "coverages[0].effective_to" and problems[0].severity == "error"


def test_coverage_not_yet_effective_is_a_warning():
    pr = only(check(covs=[coverage(effective_from=date(2026, 4, 1))]), "REG012")
    assert (pr.field, pr.severity) == ("coverages[0].effective_from", "warning")


def test_expired_coverage_is_an_error():
    pr = only(check(covs=[coverage(effective_to=date(2026, 3, 19))]), "REG013")
    assert (pr.field, pr.severity) == ("coverages[0].effective_to", "error")


def test_coverage_period_is_inclusive_on_both_ends():
    assert check(covs=[coverage(effective_from=TODAY, effective_to=TODAY)]) == []


# ---------------------------------------------------------------- order of benefits


def test_primary_and_secondary_are_fine():
    assert check(covs=[coverage(), coverage(payer_id="MCR", member_id=GOOD_MBI, order_of_benefits=2)]) == []


def test_two_primaries_is_an_error():
    problems = check(covs=[coverage(), coverage(payer_id="OTHER", member_id="Z9")])
    pr = only(problems, "REG014")
    assert (pr.field, pr.severity) == ("coverages[1].order_of_benefits", "error")
    assert "primary" in pr.message


def test_three_primaries_are_reported_once():
    problems = check(covs=[coverage(), coverage(), coverage()])
    assert codes(problems) == ["REG014"]


def test_secondary_without_primary_is_a_gap():
    pr = only(check(covs=[coverage(order_of_benefits=2)]), "REG015")
    assert (pr.field, pr.severity) == ("coverages", "error")
    assert "primary" in pr.message


def test_primary_and_tertiary_without_secondary_is_a_gap():
    pr = only(check(covs=[coverage(), coverage(order_of_benefits=3)]), "REG015")
    assert "(no secondary)" in pr.message


# ---------------------------------------------------------------- subscriber


@pytest.mark.parametrize("relationship", ["spouse", "child", "other"])
def test_subscriber_required_when_patient_is_not_the_subscriber(relationship):
    pr = only(check(covs=[coverage(relationship=relationship)]), "REG016")
    assert (pr.field, pr.severity) == ("coverages[0].subscriber", "error")


def test_dependent_with_subscriber_is_fine():
    assert check(covs=[coverage(relationship="spouse", subscriber=spouse())]) == []


def test_self_with_a_different_subscriber_is_a_warning():
    pr = only(check(covs=[coverage(relationship="self", subscriber=spouse())]), "REG017")
    assert (pr.field, pr.severity) == ("coverages[0].relationship", "warning")


def test_self_with_the_patient_repeated_as_subscriber_is_fine():
    same = Person(first_name="ada", last_name="LOVELACE", birth_date=date(1980, 1, 2))
    assert check(covs=[coverage(subscriber=same)]) == []


def test_subscriber_birth_date_and_address_are_checked_too():
    sub = spouse(birth_date=date(2027, 1, 1),
                 address=Address(line1="9 Elm St", city="Springfield", state="MA", postal_code="62704"))
    problems = check(covs=[coverage(relationship="spouse", subscriber=sub)])
    assert [(pr.code, pr.field) for pr in problems] == [
        ("REG001", "coverages[0].subscriber.birth_date"),
        ("REG005", "coverages[0].subscriber.address.postal_code"),
    ]


# ---------------------------------------------------------------- dependent age


def child_coverage(**kw) -> CoverageRegistration:
    return coverage(relationship="child", subscriber=spouse(), **kw)


def test_child_reaching_26_on_commercial_plan_is_a_warning():
    pr = only(check(patient(birth_date=date(2000, 3, 20)), [child_coverage()]), "REG018")
    assert (pr.field, pr.severity) == ("coverages[0].relationship", "warning")


def test_child_of_25_is_fine():
    assert check(patient(birth_date=date(2000, 3, 21)), [child_coverage()]) == []


@pytest.mark.parametrize("category", ["medicaid", "medicare", "tricare", "other"])
def test_dependent_age_rule_is_for_commercial_plans_only(category):
    assert check(patient(birth_date=date(1990, 1, 1)), [child_coverage(plan_category=category)]) == []


def test_adult_spouse_is_not_a_dependent_child():
    assert check(patient(birth_date=date(1950, 1, 1)), [coverage(relationship="spouse", subscriber=spouse())]) == []


# ---------------------------------------------------------------- everything together


def test_problems_come_in_form_order_with_field_paths():
    p = patient(birth_date=date(1990, 5, 5), address=address(state="IL", postal_code="02110"))
    covs = [
        coverage(member_id="M 1", effective_to=date(2025, 12, 31)),
        coverage(payer_id="MCR", member_id="bad", relationship="child", order_of_benefits=1),
    ]
    assert [(pr.code, pr.field, pr.severity) for pr in check(p, covs)] == [
        ("REG005", "address.postal_code", "error"),
        ("REG010", "coverages[0].member_id", "error"),
        ("REG013", "coverages[0].effective_to", "error"),
        ("REG010", "coverages[1].member_id", "error"),
        ("REG016", "coverages[1].subscriber", "error"),
        ("REG018", "coverages[1].relationship", "warning"),
        ("REG014", "coverages[1].order_of_benefits", "error"),
    ]
