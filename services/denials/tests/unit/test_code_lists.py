"""The CARC/RARC data files and their loader: every row valid, bad files refused with the line."""

from datetime import date

import pytest

from rcm_denials.domain.codes import (NOT_DENIALS, ROOT_CAUSES, CodeListError, load_code_lists, parse_carcs,
                                      parse_rarcs)

CARC_HEADER = "code,description,effective_from,deactivated_on,root_cause,follow_up\n"
RARC_HEADER = "code,description,effective_from,deactivated_on,refines_to,refines_carcs\n"


def test_the_packaged_lists_load_with_their_dates_and_root_causes():
    lists = load_code_lists()
    assert len(lists.carcs) >= 150 and len(lists.rarcs) >= 60
    assert {c.root_cause for c in lists.carcs.values()} <= set(ROOT_CAUSES) | set(NOT_DENIALS)
    assert all(c.follow_up and c.description for c in lists.carcs.values())
    assert lists.carcs["197"].root_cause == "authorization" and lists.carcs["45"].is_denial is False
    assert lists.rarcs["MA130"].refines_to == "registration" and "16" in lists.rarcs["MA130"].refines_carcs
    assert lists.rarcs["N362"].refines_carcs == {"97", "236"}
    for rarc in lists.rarcs.values():  # every CARC a remark refines is in the CARC list
        assert rarc.refines_carcs <= set(lists.carcs), rarc.code
    assert set(lists.root_causes) == set(ROOT_CAUSES)
    assert lists.carc("16", date(2026, 1, 1)) is not None and lists.carc("ZZZ", date(2026, 1, 1)) is None


def test_a_code_is_valid_from_its_effective_date_until_its_deactivation():
    carc = parse_carcs(CARC_HEADER + "77,Words,2020-01-01,2024-06-30,coding,Fix it\n")["77"]
    assert not carc.valid_on(date(2019, 12, 31)) and carc.valid_on(date(2020, 1, 1))
    assert carc.valid_on(date(2024, 6, 29)) and not carc.valid_on(date(2024, 6, 30))


@pytest.mark.parametrize("text,reason", [
    ("code,description\n16,x\n", "header"),
    (CARC_HEADER + "16,x,2020-01-01,,no_such_cause,y\n", "line 2: unknown root cause"),
    (CARC_HEADER + "16,x,01/01/2020,,coding,y\n", "line 2: effective_from is not a date"),
    (CARC_HEADER + "16,x,,,coding,y\n", "line 2: effective_from is required"),
    (CARC_HEADER + "16,x,2020-01-01,,coding,y\n16,x,2020-01-01,,coding,y\n", "line 3: code empty or repeated"),
])
def test_a_bad_carc_file_is_refused_naming_the_line(text, reason):
    with pytest.raises(CodeListError, match=reason):
        parse_carcs(text)


def test_a_bad_rarc_file_is_refused_naming_the_line():
    with pytest.raises(CodeListError, match="line 2: unknown root cause"):
        parse_rarcs(RARC_HEADER + "M1,x,2020-01-01,,nope,16\n")
    assert parse_rarcs(RARC_HEADER + "m1,x,2020-01-01,,,\n")["M1"].refines_to is None
