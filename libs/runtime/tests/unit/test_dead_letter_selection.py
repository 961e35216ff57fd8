"""Which dead letters a redrive may take: exactly one selection form, and how an event type is named."""

from datetime import datetime, timezone

import pytest

from rcm_runtime.dead_letters import InvalidSelection, Selection, matching_types, type_matches

FULL = "org.openrcm.coding.claim-coded.v1"
SINCE = datetime(2026, 12, 1, tzinfo=timezone.utc)


def test_each_selection_form_is_accepted():
    assert Selection.of(id=7) == Selection(id=7)
    assert Selection.of(reason="no statement terms") == Selection(reason="no statement terms")
    assert Selection.of(event_type="claim-coded", since=SINCE) == Selection(event_type="claim-coded", since=SINCE)


@pytest.mark.parametrize("kwargs", [
    {},  # nothing: would be "every dead letter"
    {"reason": ""},
    {"event_type": "claim-coded"},  # a type needs a since
    {"since": SINCE},
    {"id": 1, "reason": "x"},
    {"reason": "x", "event_type": "claim-coded", "since": SINCE},
    {"id": 1, "since": SINCE},
])
def test_anything_else_is_refused(kwargs):
    with pytest.raises(InvalidSelection) as err:
        Selection.of(**kwargs)
    assert "exactly one of" in str(err.value)


@pytest.mark.parametrize("wanted", [FULL, "coding.claim-coded.v1", "claim-coded"])
def test_an_event_type_is_named_in_full_by_schema_name_or_by_name(wanted):
    assert type_matches(FULL, wanted)


@pytest.mark.parametrize("wanted", ["claim-coded.v2", "coded", "laim-coded", "scrubber.claim-coded.v1", "", "v1"])
def test_other_names_do_not_match(wanted):
    assert not type_matches(FULL, wanted)


def test_a_name_without_major_takes_every_major_and_nothing_else():
    stored = [FULL, "org.openrcm.coding.claim-coded.v2", "org.openrcm.coding.claim-uncoded.v1", None]
    assert matching_types(stored, "claim-coded") == [FULL, "org.openrcm.coding.claim-coded.v2"]
    assert matching_types(stored, "claim-coded.v2") == ["org.openrcm.coding.claim-coded.v2"]
