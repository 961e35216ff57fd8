"""Dates and times as the API and the events carry them: ISO 8601 text (or date objects in Python), never a number.

Pydantic reads a number, or a string of digits, as seconds since 1970: a date of service sent as 20240115 (an HL7
habit) or 0 would silently become 1970-08-23 or 1970-01-01. Found by fuzzing the APIs; these types refuse it with
a field-level 422 instead. The JSON Schema is unchanged (a string, format date / date-time).
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BeforeValidator

_NUMBER = re.compile(r"\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*")


def _not_a_number(value: Any) -> Any:
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    if isinstance(value, (int, float, Decimal)) or (isinstance(value, str) and _NUMBER.fullmatch(value)):
        raise ValueError("expected ISO 8601 text (YYYY-MM-DD, or YYYY-MM-DDThh:mm:ssZ for a time), not a number")
    return value


IsoDate = Annotated[date, BeforeValidator(_not_a_number)]
IsoDateTime = Annotated[datetime, BeforeValidator(_not_a_number)]
