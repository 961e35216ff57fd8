"""Dates travel as ISO 8601 text, never as numbers (found by fuzzing: pydantic read 20240115 as seconds since 1970)."""

from datetime import date, datetime, timezone

import pytest
from pydantic import BaseModel, ValidationError

from rcm_contracts.dates import IsoDate, IsoDateTime
from rcm_contracts.events import EncounterSubmitted


class Visit(BaseModel):
    on: IsoDate
    at: IsoDateTime | None = None


@pytest.mark.parametrize("number", [0, 20240115, 1.5, "20240115", "0", " 1700000000 ", "1e9", "0.5", b"20240115"])
def test_a_number_is_not_a_date_or_a_time(number):
    with pytest.raises(ValidationError, match="not a number"):
        Visit(on=number)
    with pytest.raises(ValidationError, match="not a number"):
        Visit(on="2026-01-15", at=number)


def test_iso_text_and_date_objects_are_dates():
    assert Visit(on="2026-01-15", at="2026-01-15T10:30:00Z").model_dump() == {
        "on": date(2026, 1, 15), "at": datetime(2026, 1, 15, 10, 30, tzinfo=timezone.utc)}
    assert Visit(on=date(2026, 1, 15)).on == date(2026, 1, 15)
    assert Visit.model_validate_json('{"on": "2026-01-15"}').on == date(2026, 1, 15)


def test_the_json_schema_of_an_iso_date_is_unchanged():
    props = Visit.model_json_schema()["properties"]
    assert props["on"] == {"format": "date", "title": "On", "type": "string"}
    service_date = EncounterSubmitted.model_json_schema()["properties"]["service_date"]
    assert {"format": "date", "type": "string"} in service_date["anyOf"]


def test_an_encounter_with_a_numeric_date_of_service_is_refused_naming_the_field():
    with pytest.raises(ValidationError) as refused:
        EncounterSubmitted.model_validate({"source_system": "ehr", "source_encounter_id": "1",
                                           "service_date": 20240115})
    assert any(e["loc"] == ("service_date",) for e in refused.value.errors())
