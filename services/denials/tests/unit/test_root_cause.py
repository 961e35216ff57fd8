from decimal import Decimal as D

import pytest

from rcm_denials.domain.root_cause import (
    CARC_CATEGORIES,
    DenialClassification,
    category_of,
    classify,
    is_denial,
)

# Every row of shared/reference/carc.md: (group, carc, expected category, expected work queue).
DENIAL_ROWS = [
    ("CO", "16", "documentation", "billing"),
    ("CO", "18", "duplicate", "billing"),
    ("OA", "18", "duplicate", "billing"),
    ("CO", "22", "coordination_of_benefits", "front-desk"),
    ("CO", "27", "eligibility", "front-desk"),
    ("CO", "29", "timely_filing", "billing"),
    ("CO", "50", "medical_necessity", "coding"),
    ("CO", "96", "eligibility", "front-desk"),
    ("CO", "97", "coding", "coding"),
    ("CO", "109", "eligibility", "front-desk"),
    ("CO", "151", "coding", "coding"),
    ("CO", "167", "medical_necessity", "coding"),
    ("CO", "197", "authorization", "authorizations"),
    ("CO", "204", "eligibility", "front-desk"),
    ("CO", "236", "coding", "coding"),
    ("CO", "4", "coding", "coding"),
    ("CO", "11", "coding", "coding"),
    ("CO", "15", "authorization", "authorizations"),
    ("CO", "26", "eligibility", "front-desk"),
    ("CO", "31", "eligibility", "front-desk"),
    ("CO", "119", "eligibility", "front-desk"),
    ("CO", "146", "coding", "coding"),
    ("CO", "181", "coding", "coding"),
    ("CO", "182", "coding", "coding"),
    ("CO", "185", "eligibility", "front-desk"),
    ("CO", "B7", "eligibility", "front-desk"),
    ("CO", "252", "documentation", "billing"),
]

NOT_A_DENIAL_ROWS = [
    ("CO", "45", "contractual"),
    ("PR", "1", "patient_responsibility"),
    ("PR", "2", "patient_responsibility"),
    ("PR", "3", "patient_responsibility"),
    ("OA", "23", "coordination_of_benefits"),
    ("CO", "253", "contractual"),
]

CARC_MD_CODES = {
    "16", "18", "22", "27", "29", "45", "50", "96", "97", "109", "151", "167", "197", "204", "236",
    "1", "2", "3", "4", "11", "15", "26", "31", "119", "146", "181", "182", "185", "B7", "252", "23", "253",
}  # fmt: skip


def test_table_covers_every_code_in_carc_md():
    assert set(CARC_CATEGORIES) == CARC_MD_CODES
    allowed = {
        "eligibility", "coding", "documentation", "authorization", "timely_filing", "duplicate",
        "contractual", "patient_responsibility", "coordination_of_benefits", "medical_necessity",
    }  # fmt: skip
    assert set(CARC_CATEGORIES.values()) <= allowed
    tested = {c for _, c, *_ in DENIAL_ROWS} | {c for _, c, _ in NOT_A_DENIAL_ROWS}
    assert tested == CARC_MD_CODES


@pytest.mark.parametrize(("group", "carc", "category", "queue"), DENIAL_ROWS)
def test_each_denial_row(group, carc, category, queue):
    result = classify([(group, carc, D("120.00"))])
    assert result == DenialClassification(
        category=category, reason_codes=(f"{group}-{carc}",), denied_amount=D("120.00"), work_queue=queue
    )
    assert category_of(carc) == category


@pytest.mark.parametrize(("group", "carc", "category"), NOT_A_DENIAL_ROWS)
def test_each_not_a_denial_row(group, carc, category):
    assert classify([(group, carc, D("120.00"))]) is None
    assert category_of(carc) == category
    assert not is_denial(group, carc)


@pytest.mark.parametrize("carc", ["1", "2", "3", "16", "45", "96", "197", "999"])
def test_group_pr_is_never_a_denial(carc):
    assert classify([("PR", carc, D("10.00"))]) is None


def test_oa18_counts_as_duplicate_but_oa23_does_not():
    result = classify([("OA", "23", D("300.00")), ("OA", "18", D("150.00"))])
    assert result is not None
    assert result.category == "duplicate"
    assert result.reason_codes == ("OA-18",)
    assert result.denied_amount == D("150.00")


def test_empty_and_routine_only_remittance_is_none():
    assert classify([]) is None
    routine = [
        ("CO", "45", D("57.53")),
        ("PR", "3", D("25.00")),
        ("PR", "1", D("50.00")),
        ("PR", "2", D("3.49")),
        ("CO", "253", D("1.20")),
        ("OA", "23", D("40.00")),
    ]
    assert classify(routine) is None


def test_mixed_rows_category_of_largest_and_codes_by_amount_desc():
    rows = [
        ("CO", "45", D("900.00")),  # ignored even though it is the biggest number
        ("CO", "16", D("40.00")),
        ("PR", "1", D("500.00")),
        ("CO", "197", D("2400.00")),
        ("CO", "96", D("75.00")),
    ]
    result = classify(rows)
    assert result == DenialClassification(
        category="authorization",
        reason_codes=("CO-197", "CO-96", "CO-16"),
        denied_amount=D("2515.00"),
        work_queue="authorizations",
    )
    assert isinstance(result.denied_amount, D)


def test_tie_goes_to_first_row():
    result = classify([("CO", "50", D("100.00")), ("CO", "197", D("100.00")), ("CO", "16", D("100.00"))])
    assert result.category == "medical_necessity"
    assert result.work_queue == "coding"
    assert result.reason_codes == ("CO-50", "CO-197", "CO-16")

    flipped = classify([("CO", "197", D("100.00")), ("CO", "50", D("100.00"))])
    assert flipped.category == "authorization"
    assert flipped.reason_codes == ("CO-197", "CO-50")


def test_same_reason_code_on_several_lines_is_summed():
    rows = [("CO", "96", D("60.00")), ("CO", "197", D("100.00")), ("CO", "96", D("60.00"))]
    result = classify(rows)
    assert result.reason_codes == ("CO-96", "CO-197")
    assert result.category == "eligibility"
    assert result.denied_amount == D("220.00")


def test_same_carc_with_different_groups_are_separate_reason_codes():
    result = classify([("CO", "18", D("10.00")), ("OA", "18", D("30.00"))])
    assert result.reason_codes == ("OA-18", "CO-18")
    assert result.category == "duplicate"
    assert result.denied_amount == D("40.00")


def test_unknown_carc_is_unclassified_billing():
    result = classify([("CO", "999", D("12.34"))])
    assert result == DenialClassification(
        category="unclassified", reason_codes=("CO-999",), denied_amount=D("12.34"), work_queue="billing"
    )
    assert category_of("999") == "unclassified"


def test_unknown_carc_can_lose_to_a_known_larger_one():
    result = classify([("CO", "P99", D("5.00")), ("CO", "29", D("80.00"))])
    assert result.category == "timely_filing"
    assert result.work_queue == "billing"
    assert result.reason_codes == ("CO-29", "CO-P99")


def test_pi_group_is_a_denial_classified_by_carc():
    result = classify([("PI", "97", D("45.00"))])
    assert result.category == "coding"
    assert result.reason_codes == ("PI-97",)


def test_codes_are_normalized():
    result = classify([(" co ", " b7 ", D("10.00")), ("pr", "2", D("5.00"))])
    assert result.reason_codes == ("CO-B7",)
    assert result.category == "eligibility"


def test_negative_amounts_are_reversals_not_denials():
    assert classify([("CO", "96", D("-75.00"))]) is None
    result = classify([("CO", "96", D("-75.00")), ("CO", "16", D("20.00"))])
    assert result.reason_codes == ("CO-16",)
    assert result.denied_amount == D("20.00")


def test_zero_amount_denial_still_counts():
    # a denied $0 line (e.g. a tracking code) is still a denial the queue should see
    result = classify([("CO", "96", D("0.00"))])
    assert result is not None
    assert result.denied_amount == D("0.00")
    assert result.category == "eligibility"


def test_classification_is_frozen():
    result = classify([("CO", "16", D("1.00"))])
    with pytest.raises(AttributeError):
        result.category = "coding"  # type: ignore[misc]
