"""The value rules every X12 writer and reader shares (pure), each defined once: free text, numbers and
amounts, D8 dates, ids, the NPI check digit, the CAS builder, and how codes and control numbers may be
quoted in messages.

Free text (names, addresses, organisation names) comes from people's records and may hold any Unicode
character; what goes out must be plain ASCII without delimiters. `free_text` transliterates it with
anyascii ("Łukasz" -> "Lukasz", "Straße" -> "Strasse", "José Müller" -> "Jose Muller"), blanks the delimiter
characters and control characters and collapses blanks, for every writer alike.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date
from decimal import Decimal

from anyascii import anyascii

from rcm_x12.codec import Segment

WRITTEN_DELIMITERS = "*^:~"  # what build_interchange writes
_TEXT_UNSAFE = re.compile(r"[*~:^|>]")  # ours plus those partners commonly re-envelope with
_X12_TEXT = re.compile(r"[ !\"#$%&'()+,\-./0-9;<=?@A-Z\[\\\]_`a-z{}]*")  # printable ASCII less *~:^|>
CENT = Decimal("0.01")
REASONS_PER_CAS = 6  # a CAS holds 6 reason/amount/quantity triplets

# ---------------------------------------------------------------- free text


def free_text(value: str | None, max_length: int | None = None) -> str:
    """Free text from people's records, fit for any element: transliterated to ASCII, delimiters and
    control characters blanked, blanks collapsed, cut to `max_length` (trailing blank removed)."""
    if not value:
        return ""
    if not (value.isascii() and value.isprintable()):  # fast path: most names and addresses are plain ASCII
        if not value.isascii():
            value = anyascii(value)
        value = "".join(ch if ch.isprintable() else " " for ch in value)
    cleaned = " ".join(_TEXT_UNSAFE.sub(" ", value).split())
    return cleaned[:max_length].rstrip() if max_length else cleaned


def is_x12_text(value: str) -> bool:
    """The character-set check free text must pass: printable ASCII only (the X12 basic character set with
    the lower-case letters and specials of the 5010 extended set, which is what the HIPAA guides and pyx12's
    00501 check accept), and none of the delimiter characters `free_text` blanks."""
    return _X12_TEXT.fullmatch(value) is not None


# ---------------------------------------------------------------- numbers and amounts

R_NUMBER = re.compile(r"-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)")  # X12 'R' type as read, ASCII digits only


def x12_decimal(value: Decimal) -> str:
    """X12 R type: no exponent, no trailing zeros, no '+' ("100", "100.5", "12.34")."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def x12_amount(value: Decimal) -> str:
    """A money amount: rounded to cents, then written as an R ("12.5", not "12.50")."""
    return x12_decimal(value.quantize(CENT))


def parse_number(text: str) -> Decimal | None:
    """An R value as read ("12", "-0.5", ".5"); None when the text is not one (readers decide what that means)."""
    return Decimal(text) if R_NUMBER.fullmatch(text) else None


_DIGITS = re.compile(r"[0-9]+")  # ASCII only: str.isdigit() would admit other scripts' digits


def parse_count(text: str) -> int | None:
    """A whole number (N0) as read, blanks around it ignored; None when the text is not one."""
    text = text.strip()
    return int(text) if _DIGITS.fullmatch(text) else None


# ---------------------------------------------------------------- dates

_D8 = re.compile(r"[0-9]{8}")


def d8(day: date) -> str:
    """A date as D8 (CCYYMMDD)."""
    return f"{day:%Y%m%d}"


def d8_date(text: str) -> date | None:
    """A CCYYMMDD (D8) date; None when the text is not one (readers report that as a warning)."""
    if not _D8.fullmatch(text):
        return None
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        return None


# ---------------------------------------------------------------- ids and codes

_CODE = re.compile(r"[A-Z0-9]{1,35}")
_CONTROL_NUMBER = re.compile(r"[A-Za-z0-9]{1,15}")


def x12_id(value: str | None) -> str:
    """An id as sent: stripped, never altered otherwise (altering one would name someone else)."""
    return value.strip() if value else ""


def id_problems(label: str, value: str | None) -> list[str]:
    """Ids go out as given, so one that cannot be sent is a problem ("label: why"; never the value)."""
    if value is None:
        return []
    if not value.strip():
        return [f"{label}: blank"]
    if any(d in value for d in WRITTEN_DELIMITERS) or not (value.isascii() and value.isprintable()):
        return [f"{label}: holds an X12 delimiter or a character outside the X12 character set"]
    return []


def quote_code(value: str) -> str:
    """A code for a message: quoted only when it looks like a code (never free text that could be PHI)."""
    return repr(value) if _CODE.fullmatch(value) else "<invalid>"


def quote_control_number(control_number: str) -> str:
    """A control number for a message: quoted when it is a short id-like token, else "<invalid>"."""
    return repr(control_number) if _CONTROL_NUMBER.fullmatch(control_number) else "<invalid>"


def npi_is_valid(npi: str) -> bool:
    """NPI: 10 ASCII digits whose last is the Luhn check digit over '80840' + the first nine (CMS NPI standard)."""
    if len(npi) != 10 or not (npi.isascii() and npi.isdigit()):
        return False
    total = 0
    for i, c in enumerate(reversed("80840" + npi[:9])):
        d = int(c)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return (10 - total % 10) % 10 == int(npi[9])


# ---------------------------------------------------------------- CAS


def cas_segments(adjustments: Iterable[tuple[str, str, str]]) -> list[Segment]:
    """CAS segments for (group code, reason code, amount as written) triples: one CAS per group code, in order
    of first appearance, a further one past 6 reasons; quantities left empty. Callers choose which
    adjustments to send (e.g. the 837P leaves out zero amounts) and how amounts are written."""
    by_group: dict[str, list[tuple[str, str]]] = {}
    for group, reason, amount in adjustments:
        by_group.setdefault(group, []).append((reason, amount))
    segments = []
    for group, items in by_group.items():
        for start in range(0, len(items), REASONS_PER_CAS):
            elements = [group]
            for reason, amount in items[start:start + REASONS_PER_CAS]:
                elements += [reason, amount, ""]
            segments.append(Segment("CAS", elements))
    return segments
