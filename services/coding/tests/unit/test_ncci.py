"""NCCI PTP edits (rcm_coding.domain.ncci): TXT loader, date windows, modifier indicators 0/1/9, bypass modifiers."""

import itertools
from datetime import date

import pytest

from rcm_coding.domain.ncci import NCCI_BYPASS_MODIFIERS, PtpTable, load_ptp, ptp_edits
from rcm_contracts.claim import Claim, ServiceLine
from rcm_contracts.events import Edit
from tests.support import claims

# Format-true practitioner PTP TXT (tab-delimited, copyright preamble, header split over two lines as in some
# CMS releases); codes, dates and the copyright wording are invented.
F1 = (
    "CPT only copyright 2025 American Medical Association. All rights reserved.\n"
    "Medicare NCCI PTP edits, practitioner services (invented fixture, not CMS data)\n"
    "\n"
    "Column 1/Column 2 Edits\n"
    "Column 1\tColumn 2\t*=in existence\n"
    "prior to 1996\tEffective Date\tDeletion Date *=no data\tModifier 0=not allowed 1=allowed 9=not applicable\t"
    "PTP Edit Rationale\n"
    "11111\t22222\t\t20250101\t*\t1\tStandards of medical / surgical services\n"
    "11111\t33333\t\t20250101\t*\t0\tMutually exclusive procedures\n"
    "11111\t44444\t*\t19960101\t20240101\t9\tDeleted pair\n"
    "11111\t55555\t*\t19960101\t20241231\t1\tStandards of medical / surgical services\n"
    "11111\t66666\t\t20260701\t*\t0\tMutually exclusive procedures\n"
)
F2 = (
    "CPT only copyright 2025 American Medical Association. All rights reserved.\r\n"
    "Column 1\tColumn 2\t*=In existence prior to 1996\tEffective Date\tDeletion Date *=no data\t"
    "Modifier 0=not allowed 1=allowed 9=not applicable\tPTP Edit Rationale\r\n"
    "77777\t88888\t\t20250101\t*\t9\tCPT Manual or CMS manual coding instructions\r\n"
    "22222\t99999\t\t20250101\t*\t1\tCPT Manual or CMS manual coding instructions\r\n"
    # the same pair deleted and re-added with a different indicator
    "12345\t23456\t*\t19960101\t20191231\t0\tMutually exclusive procedures\r\n"
    "12345\t23456\t\t20200101\t*\t1\tMutually exclusive procedures\r\n"
)

DOS = date(2026, 3, 14)


@pytest.fixture(scope="module")
def table() -> PtpTable:
    t = load_ptp(F1.splitlines(keepends=True))
    return load_ptp(F2.splitlines(keepends=True), t)


def line(n, code, modifiers=(), service_date=None, units="1") -> ServiceLine:
    return claims.make_line(n, code, "100.00", units=units, modifiers=modifiers, service_date=service_date)


def claim(*lines: ServiceLine, service_date=DOS) -> Claim:
    return claims.make_claim(service_date=service_date, lines=list(lines))


def codes(edits: list[Edit]) -> list[tuple[str, int | None]]:
    return [(e.code, e.line_number) for e in edits]


# ---------------------------------------------------------------- loader


def test_loader_skips_preamble_and_multiline_header(table):
    assert table.column1_count == 4
    assert len(table) == 8  # distinct pairs
    assert table.row_count == 9  # 12345/23456 is stored twice


def test_loader_reads_every_column(table):
    deleted = table.active("11111", "44444", date(2023, 6, 1))
    assert deleted is not None
    assert deleted.effective == date(1996, 1, 1)
    assert deleted.deletion == date(2024, 1, 1)
    assert deleted.modifier_indicator == 9
    assert deleted.rationale == "Deleted pair"
    current = table.active("11111", "22222", DOS)
    assert current is not None and current.deletion is None and current.modifier_indicator == 1
    assert current.rationale == "Standards of medical / surgical services"


def test_lookup_is_directional(table):
    assert table.active("22222", "11111", DOS) is None
    assert table.active("00000", "11111", DOS) is None


def test_rows_roundtrip(table):
    rows = {(r.column1, r.column2, r.effective, r.modifier_indicator) for r in table.rows()}
    assert ("12345", "23456", date(1996, 1, 1), 0) in rows
    assert ("12345", "23456", date(2020, 1, 1), 1) in rows
    assert len(rows) == 9


def test_files_can_be_chained_into_one_stream():
    t = load_ptp(itertools.chain(F1.splitlines(), F2.splitlines()))
    assert len(t) == 8 and t.row_count == 9


def test_loading_the_same_file_twice_adds_nothing(table):
    t = load_ptp(F1.splitlines())
    load_ptp(F1.splitlines(), t)
    assert len(t) == 5 and t.row_count == 5


def test_rationale_strings_are_shared():
    t = load_ptp(F1.splitlines())
    a = t.active("11111", "33333", DOS)
    b = t.active("11111", "66666", date(2026, 7, 1))
    assert a is not None and b is not None and a.rationale is b.rationale


@pytest.mark.parametrize(
    "bad",
    [
        "11111\t22222\t\t20250101\t*\n",  # too few columns
        "11111\t22222\t\t20250101\t*\t5\tx\n",  # unknown indicator
        "11111\t22222\t\t2025-01-01\t*\t1\tx\n",  # date not YYYYMMDD
        "11111\t22222\t\t20251301\t*\t1\tx\n",  # no month 13
    ],
)
def test_malformed_data_row_raises_with_line_number(bad):
    with pytest.raises(ValueError, match="PTP line 2"):
        load_ptp(["Column 1\tColumn 2\n", bad])


# ---------------------------------------------------------------- dates


@pytest.mark.parametrize(
    ("dos", "flagged"),
    [
        (date(2024, 12, 31), True),  # deletion date is inclusive
        (date(2025, 1, 1), False),
        (date(1996, 1, 1), True),
        (date(1995, 12, 31), False),  # before the effective date
    ],
)
def test_deleted_pair_applies_only_inside_its_window(table, dos, flagged):
    edits = ptp_edits(claim(line(1, "11111"), line(2, "55555"), service_date=dos), table)
    assert codes(edits) == ([("COD051", 2)] if flagged else [])


def test_pair_not_yet_effective(table):
    assert ptp_edits(claim(line(1, "11111"), line(2, "66666"), service_date=date(2026, 6, 30)), table) == []
    edits = ptp_edits(claim(line(1, "11111"), line(2, "66666"), service_date=date(2026, 7, 1)), table)
    assert codes(edits) == [("COD050", 2)]


def test_re_added_pair_uses_the_row_in_force(table):
    old = ptp_edits(claim(line(1, "12345"), line(2, "23456", ["59"]), service_date=date(2019, 12, 31)), table)
    assert codes(old) == [("COD050", 2)]  # indicator 0 then: 59 does not help
    new = ptp_edits(claim(line(1, "12345"), line(2, "23456", ["59"]), service_date=date(2020, 1, 1)), table)
    assert new == []


def test_pair_on_different_dates_is_not_flagged(table):
    c = claim(line(1, "11111", service_date=date(2026, 3, 1)), line(2, "33333", service_date=date(2026, 3, 2)))
    assert ptp_edits(c, table) == []


def test_line_without_date_takes_the_claim_date(table):
    c = claim(line(1, "11111"), line(2, "33333", service_date=DOS))
    assert codes(ptp_edits(c, table)) == [("COD050", 2)]
    c = claim(line(1, "11111"), line(2, "33333", service_date=date(2026, 3, 15)))
    assert ptp_edits(c, table) == []


# ---------------------------------------------------------------- indicators


def test_indicator_0_cannot_be_bypassed(table):
    c = claim(line(1, "11111", ["25"]), line(2, "33333", ["59", "XS", "LT"]))
    edits = ptp_edits(c, table)
    assert codes(edits) == [("COD050", 2)]
    e = edits[0]
    assert e.severity == "error" and e.field == "procedure_code"
    assert "11111" in e.message and "33333" in e.message
    assert "Mutually exclusive procedures" in e.message
    assert "CARC 236" in e.message and "no modifier" in e.message


def test_indicator_1_without_modifier(table):
    edits = ptp_edits(claim(line(1, "11111"), line(2, "22222")), table)
    assert codes(edits) == [("COD051", 2)]
    e = edits[0]
    assert e.severity == "error" and e.field == "modifiers"
    assert "11111" in e.message and "22222" in e.message
    assert "Standards of medical / surgical services" in e.message
    assert "59" in e.message and "distinct" in e.message and "CARC 236" in e.message
    assert "Ada" not in e.message and "Lovelace" not in e.message


def test_indicator_9_never_edits(table):
    assert ptp_edits(claim(line(1, "77777"), line(2, "88888")), table) == []
    assert ptp_edits(claim(line(1, "11111"), line(2, "44444"), service_date=date(2023, 1, 1)), table) == []


def test_column_2_line_listed_first_is_still_the_one_flagged(table):
    edits = ptp_edits(claim(line(1, "22222"), line(2, "11111")), table)
    assert codes(edits) == [("COD051", 1)]


def test_unrelated_codes_pass(table):
    assert ptp_edits(claim(line(1, "11111"), line(2, "99999"), line(3, "88888")), table) == []


def test_single_line_claim_passes(table):
    assert ptp_edits(claim(line(1, "11111")), table) == []


def test_one_finding_per_column2_line_and_column1_code(table):
    edits = ptp_edits(claim(line(1, "11111"), line(2, "11111", ["76"]), line(3, "22222")), table)
    assert codes(edits) == [("COD051", 3)]


def test_chained_pairs_each_flag_their_column2_line(table):
    # 11111 -> 22222 and 22222 -> 99999 both apply
    edits = ptp_edits(claim(line(1, "11111"), line(2, "22222"), line(3, "99999")), table)
    assert sorted(codes(edits)) == [("COD051", 2), ("COD051", 3)]


# ---------------------------------------------------------------- bypass modifiers


@pytest.mark.parametrize("modifier", sorted(NCCI_BYPASS_MODIFIERS))
def test_every_ncci_modifier_bypasses_indicator_1_on_the_column2_line(table, modifier):
    assert ptp_edits(claim(line(1, "11111"), line(2, "22222", [modifier])), table) == []


@pytest.mark.parametrize("modifier", ["59", "XU", "E1", "FA", "F9", "TA", "T5", "RT", "LC", "RI", "25", "91"])
def test_modifier_on_the_column1_line_also_bypasses(table, modifier):
    assert ptp_edits(claim(line(1, "11111", [modifier]), line(2, "22222")), table) == []


def test_bypass_set_covers_each_kind():
    for group in (["59", "XE", "XS", "XP", "XU"], ["E1", "E2", "E3", "E4"], ["FA"] + [f"F{i}" for i in range(1, 10)],
                  ["TA"] + [f"T{i}" for i in range(1, 10)], ["LT", "RT", "LC", "LD", "RC", "LM", "RI"],
                  ["24", "25", "57", "58", "78", "79", "27", "91"]):
        assert set(group) <= NCCI_BYPASS_MODIFIERS


@pytest.mark.parametrize("modifier", ["26", "TC", "76", "77", "GA", "50", "51"])
def test_other_modifiers_do_not_bypass(table, modifier):
    edits = ptp_edits(claim(line(1, "11111"), line(2, "22222", [modifier])), table)
    assert codes(edits) == [("COD051", 2)]


def test_bypass_set_is_configurable(table):
    c = claim(line(1, "11111"), line(2, "22222", ["25"]))
    assert ptp_edits(c, table) == []
    strict = frozenset({"59", "XE", "XS", "XP", "XU"})
    assert codes(ptp_edits(c, table, bypass_modifiers=strict)) == [("COD051", 2)]
    assert ptp_edits(claim(line(1, "11111"), line(2, "22222", ["XS"])), table, bypass_modifiers=strict) == []
