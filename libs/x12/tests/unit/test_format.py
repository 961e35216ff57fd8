"""rcm_x12.format: the value rules every writer and reader shares, defined once."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from rcm_x12.format import (
    cas_segments,
    d8,
    d8_date,
    free_text,
    id_problems,
    is_x12_text,
    npi_is_valid,
    parse_count,
    parse_number,
    quote_code,
    quote_control_number,
    x12_amount,
    x12_decimal,
)
from rcm_x12.ig.elements import is_valid_data_type

# ---------------------------------------------------------------- free text


@pytest.mark.parametrize("given, expected", [
    ("Łukasz", "Lukasz"),  # the old NFKD fold dropped Ł ("ukasz")
    ("Straße", "Strasse"),  # ... and ß ("Strae"); anyascii writes ß as "ss"
    ("José Müller", "Jose Muller"),  # the 270 writer used to send this unchanged
    ("Zoë O'Néil", "Zoe O'Neil"),
    ("Ørsted Ñandú", "Orsted Nandu"),
    ("Дмитрий", "Dmitriy"),
    ("O’Brien", "O'Brien"),  # typographic apostrophe
])
def test_free_text_is_transliterated_to_plain_ascii(given, expected):
    assert free_text(given) == expected


@pytest.mark.parametrize("given", ["Łukasz", "Straße", "José Müller", "Ærøskøbing", "山田 太郎", "a→b", "x\u2028y",
                                   "tab\there", "½ price", "ﬁne"])
def test_free_text_passes_the_character_set_check(given):
    cleaned = free_text(given)
    assert is_x12_text(cleaned), cleaned
    # and the implementation-guide validator's own 5010 check for AN elements (pyx12's rule)
    assert is_valid_data_type(cleaned, "AN", "00501"), cleaned


def test_the_untransliterated_names_fail_the_character_set_check():
    for name in ("José Müller", "Łukasz", "Straße"):
        assert not is_x12_text(name)
        assert not is_valid_data_type(name, "AN", "00501")


def test_character_set_check_is_printable_ascii_without_delimiters():
    printable = "".join(chr(c) for c in range(0x20, 0x7F))
    allowed = {ch for ch in printable if is_x12_text(ch)}
    assert set(printable) - allowed == set("*~:^|>")
    assert not is_x12_text("a\tb") and not is_x12_text("\x7f") and is_x12_text("")


def test_free_text_blanks_delimiters_and_control_characters_and_collapses_blanks():
    assert free_text("O*BRIEN~") == "O BRIEN"
    assert free_text("ANNE:MARIE^|>X") == "ANNE MARIE X"
    assert free_text("  a \x00\x07 b\r\n c  ") == "a b c"
    assert free_text(None) == "" and free_text("") == "" and free_text(" *~ ") == ""


def test_free_text_cuts_to_the_maximum_length_without_a_trailing_blank():
    assert free_text("Straße Nord", 7) == "Strasse"
    assert free_text("Straße Nord", 8) == "Strasse"
    assert free_text("abc def", 4) == "abc"


def test_plain_ascii_text_is_returned_as_is():
    text = "Springfield Clinic #4, Suite 200 (East)"
    assert free_text(text) == text


# ---------------------------------------------------------------- numbers, amounts, dates


@pytest.mark.parametrize("value, expected", [
    ("100", "100"), ("100.50", "100.5"), ("12.34", "12.34"), ("0.00", "0"), ("-0", "0"), ("1E+2", "100"),
    ("-12.10", "-12.1"),
])
def test_x12_decimal(value, expected):
    assert x12_decimal(Decimal(value)) == expected


@pytest.mark.parametrize("value, expected", [("12.345", "12.34"), ("12.355", "12.36"), ("10.00", "10"),
                                             ("0.004", "0"), ("-5.50", "-5.5")])
def test_x12_amount_rounds_to_cents(value, expected):
    assert x12_amount(Decimal(value)) == expected


@pytest.mark.parametrize("text, expected", [("12", Decimal("12")), ("-0.5", Decimal("-0.5")), (".5", Decimal(".5")),
                                            ("12.", Decimal("12")), ("", None), ("1e5", None), ("１２", None),
                                            ("+1", None), ("NaN", None)])
def test_parse_number_reads_the_r_type_only(text, expected):
    assert parse_number(text) == expected


def test_parse_count():
    assert parse_count(" 12 ") == 12 and parse_count("") is None and parse_count("1.0") is None
    assert parse_count("١٢") is None  # other scripts' digits are not X12 digits


def test_d8_dates_both_ways():
    assert d8(date(2026, 3, 2)) == "20260302"
    assert d8_date("20260302") == date(2026, 3, 2)
    assert d8_date("20261302") is None and d8_date("2026030") is None and d8_date("") is None


# ---------------------------------------------------------------- ids, codes, NPI


def test_id_problems_never_quote_the_value():
    assert id_problems("member_id", None) == [] and id_problems("member_id", "W123") == []
    assert id_problems("member_id", "  ") == ["member_id: blank"]
    for bad in ("W*123", "W~1", "Wé1", "W\t1"):
        [problem] = id_problems("member_id", bad)
        assert problem.startswith("member_id: ") and bad not in problem


def test_quoting_in_messages():
    assert quote_code("A7") == "'A7'" and quote_code("Jane Doe") == "<invalid>"
    assert quote_control_number("0001") == "'0001'" and quote_control_number("x" * 16) == "<invalid>"


@pytest.mark.parametrize("npi", ["1234567893", "1245319599", "1679576722", "1987654328", "1333444556"])
def test_npi_with_correct_check_digit(npi):
    assert npi_is_valid(npi)


@pytest.mark.parametrize("npi", ["1234567890", "1245319598", "123456789", "12345678930", "", "12345678A3",
                                 "１２３４５６７８９３", "\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668\u0669\u0663"])
def test_npi_with_wrong_check_digit_length_or_characters(npi):
    assert not npi_is_valid(npi)


def test_npi_check_digit_by_hand():
    # CMS example: 123456789 -> prefix 80840 -> Luhn sum 67 -> check digit 3
    digits = [int(c) for c in "80840123456789"]
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 0:  # every other digit from the right, doubled, digits summed
            d = d * 2 - 9 if d * 2 > 9 else d * 2
        total += d
    assert total == 67 and npi_is_valid("1234567893")
    assert [npi_is_valid(f"123456789{c}") for c in "0123456789"].count(True) == 1


# ---------------------------------------------------------------- CAS


def test_cas_one_segment_per_group_in_order_and_six_reasons_each():
    rows = [("CO", f"R{i}", str(i)) for i in range(1, 8)] + [("PR", "1", "5"), ("CO", "45", "1.5")]
    segments = cas_segments(rows)
    assert [s.tag for s in segments] == ["CAS"] * 3
    first, second, third = (s.elements for s in segments)
    assert first == ["CO", "R1", "1", "", "R2", "2", "", "R3", "3", "", "R4", "4", "", "R5", "5", "", "R6", "6", ""]
    assert second == ["CO", "R7", "7", "", "45", "1.5", ""]
    assert third == ["PR", "1", "5", ""]
    assert cas_segments([]) == []
