"""Chargemaster CSV parsing (pure)."""

import pytest

from rcm_charges.domain.chargemaster import ChargemasterCsvError, parse_chargemaster_csv


def test_two_rows_for_the_same_code_modifier_and_start_date_reject_the_file_naming_both_rows():
    text = ("code,modifier,price,effective_from\n99213,,10.00,2026-01-01\n99213,25,11.00,2026-01-01\n"
            "99213,,12.00,2026-01-01\n")

    with pytest.raises(ChargemasterCsvError) as caught:
        parse_chargemaster_csv(text)

    assert caught.value.errors == [{"field": "row 4", "reason": "same code, modifier and effective_from as row 2"}]


def test_the_same_code_with_another_start_date_or_modifier_is_a_separate_price():
    items = parse_chargemaster_csv("code,modifier,price,effective_from\n99213,,10.00,2026-01-01\n"
                                   "99213,25,11.00,2026-01-01\n99213,,12.00,2026-07-01\n")

    assert [(i.modifier, str(i.price), i.effective_from.isoformat()) for i in items] == [
        ("", "10.00", "2026-01-01"), ("25", "11.00", "2026-01-01"), ("", "12.00", "2026-07-01")]
