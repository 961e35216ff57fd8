"""Element, composite and syntax-rule checks, mirroring pyx12 4.0.0 (map_if/_element.py, _composite.py,
_segment.py is_valid_errors, validation.py, syntax.py) with the parameters pyx12.params gives by default
(charset "E", so the 5010 extended character set for 00501 maps).

Each check returns a list of `Problem`s (empty when valid). A problem never carries the element value:
messages name the element, its length and limits only, because values may be PHI.

Where pyx12 would raise instead of reporting (it crashes on some inputs), the check raises
`ReferenceCrash`; the engine turns that into an error finding and stops, as pyx12 would have stopped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rcm_x12.ig.rules import CompositeRule, ElementRule, SegmentRule

# validation.py, compiled with re.S | re.ASCII as pyx12 does.
_MODE = re.S | re.ASCII
_N = re.compile(r"-?[0-9]+", _MODE)
_R = re.compile(r"-?[0-9]*(\.[0-9]+)?", _MODE)
_BAD_E5 = re.compile(r"""[^A-Z0-9!"&'()*+,\-\./:;?= a-z%~@\[\]_{}\\|<>^`#$]""", _MODE)  # 00501 extended
_BAD_E = re.compile(r"""[^A-Z0-9!"&'()*+,\-\./:;?= a-z%~@\[\]_{}\\|<>#$]""", _MODE)  # 00401 extended
_NON_DIGIT = re.compile(r"[^0-9]+", _MODE)
# validation.contains_control_character: the "base" then the "extended" set, first hit wins.
_CONTROL = {"\x07": "BEL", "\x09": "HT", "\x0a": "LF", "\x0b": "VT", "\x0c": "FF", "\x0d": "CR", "\x1c": "FS",
            "\x1d": "GS", "\x1e": "RS", "\x1f": "US", "\x01": "SOH", "\x02": "STX", "\x03": "ETX", "\x04": "EOT",
            "\x05": "ENQ", "\x06": "ACK", "\x11": "DC1", "\x12": "DC2", "\x13": "DC3", "\x14": "DC4",
            "\x15": "NAK", "\x16": "SYN", "\x17": "ETB"}
_CONTROL_RE = re.compile("[" + re.escape("".join(_CONTROL)) + "]")
_DATE_TYPES = ("RD8", "DT", "D8", "D6")
DTP_FORMATS = ("RD8", "D8", "D6", "DT", "TM")  # DTP02 values that pyx12 turns into a DTP03 type check


class ReferenceCrash(Exception):
    """pyx12 raises (rather than reports) on this input; the message says where, without values."""


@dataclass(slots=True)
class Problem:
    code: str
    message: str
    element: str | None = None  # reference designator, e.g. "CLM05-01"


# ---------------------------------------------------------------- data types


def is_valid_data_type(value: str, data_type: str, icvn: str = "00401") -> bool:
    """validation.IsValidDataType with charset "E" (pyx12's default parameter)."""
    if not data_type:
        return True
    if data_type[0] == "N":
        return _full(_N, value)
    if data_type == "R":
        return _full(_R, value)
    if data_type in ("ID", "AN"):
        return not (_BAD_E5 if icvn == "00501" else _BAD_E).search(value)
    if data_type == "RD8":
        if "-" not in value:
            return False
        parts = value.split("-")
        if len(parts) != 2:
            # pyx12 unpacks `start, end = str_val.split("-")` outside its try: a ValueError escapes
            raise ReferenceCrash("a range date with more than one '-' makes pyx12 raise")
        return is_valid_date("D8", parts[0]) and is_valid_date("D8", parts[1])
    if data_type in ("DT", "D8", "D6"):
        return is_valid_date(data_type, value)
    if data_type == "TM":
        return is_valid_time(value)
    return data_type == "B"  # any other type is "unknown" to pyx12, hence invalid


def _full(pattern: re.Pattern[str], value: str) -> bool:
    # match_re: the first match from the start must be the whole value
    m = pattern.search(value)
    return bool(m) and m.group(0) == value


def is_valid_date(data_type: str, value: str) -> bool:
    """validation.is_valid_date, including its 2-digit-year pivot and its 1800 floor."""
    if data_type == "D8" and len(value) != 8:
        return False
    if data_type == "D6" and len(value) != 6:
        return False
    if _NON_DIGIT.search(value) or len(value) not in (6, 8, 12):
        return False
    if len(value) == 6:
        value = ("20" if int(value[0:2]) < 50 else "19") + value
    year, month, day = int(value[0:4]), int(value[4:6]), int(value[6:8])
    if year < 1800 or not 1 <= month <= 12:
        return False
    if month in (1, 3, 5, 7, 8, 10, 12):
        last = 31
    elif month in (4, 6, 9, 11):
        last = 30
    else:
        last = 29 if year % 4 == 0 and not (year % 100 == 0 and year % 400 != 0) else 28
    if not 1 <= day <= last:
        return False
    return len(value) != 12 or is_valid_time(value[8:12])


def is_valid_time(value: str) -> bool:
    """validation.is_valid_time: compares text slices ("24" > "23"), not numbers, as pyx12 does."""
    if _NON_DIGIT.search(value):
        return False
    if value[0:2] > "23" or value[2:4] > "59":
        return False
    if len(value) > 4:
        if len(value) < 6 or value[4:6] > "59" or len(value) > 8:
            return False
    return True


# ---------------------------------------------------------------- elements


def fast_check(rule: ElementRule):
    """A cheap test that, when it returns True, guarantees `check_value` would find nothing.

    It only accepts; anything it does not accept goes through the exact (slower) path. Built once per
    element at compile time so the common case costs one or two C-level calls.
    """
    if rule.regex is not None or rule.usage == "N":
        return None
    lo, hi = rule.min_len, rule.max_len
    codes = rule.codes | (rule.external or frozenset())
    if rule.codes or rule.external is not None:
        # a listed code is valid if the code itself passes the length/charset/type checks
        good = frozenset(c for c in codes if c and _code_is_clean(rule, c))
        return good.__contains__
    if rule.data_type in ("AN", "ID"):
        bad = _BAD_E5.search

        def an_ok(v: str) -> bool:
            return lo <= len(v) <= hi and v[-1] != " " and not bad(v)

        return an_ok
    if rule.data_type.startswith("N"):
        plain = re.compile(r"[0-9]+", _MODE).fullmatch

        def n_ok(v: str) -> bool:
            return lo <= len(v) <= hi and plain(v) is not None

        return n_ok
    if rule.data_type == "R":
        plain_r = re.compile(r"[0-9]+(\.[0-9]+)?", _MODE).fullmatch

        def r_ok(v: str) -> bool:
            return plain_r(v) is not None and lo <= len(v) - ("." in v) <= hi

        return r_ok
    if rule.data_type in ("DT", "TM"):
        # digits only (checked by the date/time test) leaves no room for control characters or blanks
        valid = (lambda v: is_valid_date("DT", v)) if rule.data_type == "DT" else is_valid_time

        def dt_ok(v: str) -> bool:
            return lo <= len(v) <= hi and valid(v)

        return dt_ok
    return None


def type_list_ok(types: list[str | None]):
    """Fast acceptance for a 1251 value checked against the date formats of earlier 1250 codes: some
    listed format accepts it (None when the list is empty: pyx12 then skips the check)."""
    formats = tuple(t for t in types if t)
    if not formats:
        return None

    def ok(v: str) -> bool:
        try:
            return any(is_valid_data_type(v, t) for t in formats)
        except ReferenceCrash:
            return False  # let the exact check meet (and report) it

    return ok


def _code_is_clean(rule: ElementRule, code: str) -> bool:
    length = len(code.replace("-", "").replace(".", "")) if rule.numeric else len(code)
    # the stricter 00401 character set keeps the answer right for either version's set
    return (rule.min_len <= length <= rule.max_len and not _CONTROL_RE.search(code) and code[-1] != " "
            and is_valid_data_type(code, rule.data_type, "00401"))


def check_value(rule: ElementRule, value: str, icvn: str,
                type_list: list[str | None] | None = None) -> list[Problem]:
    """element_if.is_valid_errors for a present, simple (non-composite) value. Mirrors its order:
    not-used, length, control characters (which stop further checks), trailing spaces, code list,
    data type, 1250/1251 date-format list, regex."""
    if rule.usage == "N":
        return [Problem("element_not_used", f"{rule.ref} ({rule.name}) is marked as not used", rule.ref)]
    if not type_list and icvn == "00501" and rule.fast_ok is not None and rule.fast_ok(value):
        return []
    out: list[Problem] = []
    length = len(value.replace("-", "").replace(".", "")) if rule.numeric else len(value)
    if length < rule.min_len:
        out.append(Problem("element_too_short", f"{rule.ref} ({rule.name}) is too short: "
                                                f"length {length} < {rule.min_len}", rule.ref))
    if length > rule.max_len:
        out.append(Problem("element_too_long", f"{rule.ref} ({rule.name}) is too long: "
                                               f"length {length} > {rule.max_len}", rule.ref))
    hit = _CONTROL_RE.search(value)
    if hit:
        name = _first_control(value)
        out.append(Problem("control_character", f"{rule.ref} ({rule.name}) contains a control character "
                                                f"<{name}>", rule.ref))
        return out
    if rule.data_type in ("AN", "ID") and value[-1] == " " and len(value.rstrip()) >= rule.min_len:
        out.append(Problem("trailing_spaces", f"{rule.ref} ({rule.name}) has unnecessary trailing spaces",
                           rule.ref))
    if (rule.codes or rule.external is not None) and value not in rule.codes and not (
            rule.external is not None and value in rule.external):
        source = f" (code list {rule.external_id})" if rule.external_id else ""
        out.append(Problem("invalid_code", f"{rule.ref} ({rule.name}) is not a valid code{source}", rule.ref))
    if not is_valid_data_type(value, rule.data_type, icvn):
        out.append(_type_problem(rule, rule.data_type))
    if type_list:
        out.extend(_check_type_list(rule, value, type_list))
    if rule.regex is not None and not rule.regex.search(value):
        out.append(Problem("pattern_mismatch", f"{rule.ref} ({rule.name}) does not match the required pattern",
                           rule.ref))
    return out


def _first_control(value: str) -> str:
    # pyx12 reports the first control character in its own table order, not in value order
    for ch, name in _CONTROL.items():
        if ch in value:
            return name
    return "?"


def _type_problem(rule: ElementRule, data_type: str) -> Problem:
    if data_type in _DATE_TYPES:
        return Problem("invalid_date", f"{rule.ref} ({rule.name}) contains an invalid date", rule.ref)
    if data_type == "TM":
        return Problem("invalid_time", f"{rule.ref} ({rule.name}) contains an invalid time", rule.ref)
    return Problem("invalid_character", f"{rule.ref} ({rule.name}) is type {data_type} and contains an "
                                        "invalid character", rule.ref)


def _check_type_list(rule: ElementRule, value: str, type_list: list[str | None]) -> list[Problem]:
    """element_if._validate_type_list: valid when any listed format accepts the value; only date and
    time formats produce an error (pyx12 calls IsValidDataType with its 00401 defaults here)."""
    valid = False
    for dtype in type_list:
        if dtype is not None:
            valid |= is_valid_data_type(value, dtype)
    if valid:
        return []
    if "TM" in type_list:
        return [_type_problem(rule, "TM")]
    if any(t in type_list for t in _DATE_TYPES):
        return [_type_problem(rule, "D8")]
    return []


def check_missing(rule: ElementRule) -> list[Problem]:
    """element_if._validate_when_empty. A required first component of a composite that is itself not
    required is excused (the composite-level check covers it) - pyx12 quirk kept for agreement."""
    if rule.usage != "R":
        return []
    if rule.seq != 1 or not rule.in_composite or rule.composite_usage == "R":
        return [Problem("element_missing", f"{rule.ref} ({rule.name}) is required but missing", rule.ref)]
    return []


def check_simple(rule: ElementRule, raw: str | None, sub: str | None, icvn: str,
                 type_list: list[str | None] | None = None) -> list[Problem]:
    """A simple element at its segment position. `raw` is the element text as split on the element
    separator (None when the segment is shorter); `sub` the component separator (None for ISA, whose
    elements pyx12 never splits)."""
    if raw is None:
        return check_missing(rule)
    if sub is not None and sub in raw:
        # pyx12 parses every element as a composite; one with 2+ components at a simple position is invalid
        return [Problem("unexpected_composite", f"{rule.ref} ({rule.name}) is a simple element but has "
                                                f"{raw.count(sub) + 1} components", rule.ref)]
    if raw == "":
        return check_missing(rule)
    return check_value(rule, raw, icvn, type_list)


def check_composite(rule: CompositeRule, parts: list[str] | None, icvn: str) -> list[Problem]:
    """composite_if.is_valid_errors; `parts` are the components (None when the element is absent)."""
    empty = parts is None or not any(parts)
    if empty and rule.usage in ("N", "S"):
        return []
    if rule.usage == "R" and empty:
        return [Problem("composite_missing", f"{rule.ref} ({rule.name}) is required but missing", rule.ref)]
    assert parts is not None
    if rule.usage == "N":
        return [Problem("composite_not_used", f"{rule.ref} ({rule.name}) is marked as not used", rule.ref)]
    components = rule.components
    out: list[Problem] = []
    if len(parts) > len(components):
        # unreachable in pyx12 for usage != N (it crashes first, see check_segment); kept for completeness
        out.append(Problem("too_many_components", f"{rule.ref} ({rule.name}) has {len(parts)} components, "
                                                  f"at most {len(components)} allowed", rule.ref))
    for i, comp in enumerate(components):
        if i < len(parts):
            value = parts[i]
            out += check_missing(comp) if value == "" else check_value(comp, value, icvn)
        else:
            out += check_missing(comp)
    return out


# ---------------------------------------------------------------- segments: exact check


def check_segment(seg: SegmentRule, elements: list[str], sub: str | None, icvn: str) -> list[Problem]:
    """The problems of one segment; the generated fast check (fastpath.py) settles most valid ones."""
    if sub is not None and icvn == "00501" and seg.fast_check(elements, sub):  # type: ignore[misc]
        return []
    return check_segment_exact(seg, elements, sub, icvn)


def check_segment_exact(seg: SegmentRule, elements: list[str], sub: str | None, icvn: str) -> list[Problem]:
    """segment_if.is_valid_errors: element count, each element/composite, then the syntax rules."""
    children = seg.children
    n, count = len(elements), len(children)
    out: list[Problem] = []
    if n > count:
        out.append(Problem("too_many_elements", f"{seg.tag} has {n} elements, at most {count} allowed",
                           f"{seg.tag}{count + 1:02d}"))
    dtp_format: list[str | None] = []
    type_list: list[str | None] = []
    special = seg.is_dtp or seg.has_date_format_rule
    for i, child in enumerate(children):
        raw = elements[i] if i < n else None
        if isinstance(child, CompositeRule):
            parts = None if raw is None else (raw.split(sub) if sub is not None else [raw])
            if parts is not None and len(parts) > len(child.components) and child.usage != "N":
                # segment_if indexes children[subele_count + 1] to build its message: IndexError
                raise ReferenceCrash(f"{child.ref} has {len(parts)} components, at most "
                                     f"{len(child.components)} allowed (pyx12 raises on this)")
            out += check_composite(child, parts, icvn)
            continue
        if not special or raw is None:
            out += check_simple(child, raw, sub, icvn)
            continue
        out += _check_with_date_format(seg, child, i, elements, raw, sub, icvn, dtp_format, type_list)
    for rule, positions in seg.syntax:
        problem = check_syntax(seg.tag, elements, sub, rule, positions)
        if problem is not None:
            out.append(problem)
    return out


def _check_with_date_format(seg: SegmentRule, child: ElementRule, i: int, elements: list[str], raw: str,
                            sub: str | None, icvn: str, dtp_format: list[str | None],
                            type_list: list[str | None]) -> list[Problem]:
    """pyx12's two date-format rules: DTP03 is checked against the format named in DTP02, and any 1251
    element against *all* valid codes of the 1250 elements before it in the segment."""
    if i == 1 and seg.is_dtp:
        fmt = _formatted(raw, sub)
        if fmt in DTP_FORMATS:
            dtp_format.append(fmt)
    if child.data_ele == "1250":
        type_list.extend(child.codes_list)
    if i == 2 and seg.is_dtp:
        return check_simple(child, raw, sub, icvn, dtp_format)
    if child.data_ele == "1251" and type_list:
        return check_simple(child, raw, sub, icvn, type_list)
    return check_simple(child, raw, sub, icvn)


def _formatted(raw: str, sub: str | None) -> str:
    # pyx12 Segment.get_value(): the components joined again without trailing empty ones
    return raw.rstrip(sub) if sub is not None else raw


def _present(elements: list[str], pos: int, sub: str | None) -> bool:
    """syntax.py's test: the element exists and Segment.get_value() of it is not empty."""
    if pos > len(elements):
        return False
    raw = elements[pos - 1]
    return bool(raw.strip(sub)) if sub is not None else raw != ""


def syntax_violated(rule: str, positions: tuple[int, ...], elements: list[str], sub: str | None) -> bool:
    """syntax.is_syntax_valid's decision: P paired, R required (one of), E exclusion, C conditional,
    L list conditional. A rule with fewer than two elements is always a violation for pyx12."""
    if len(positions) < 2:
        return True
    count = 0
    for p in positions:
        if _present(elements, p, sub):
            count += 1
    if rule == "P":
        return count not in (0, len(positions))
    if rule == "R":
        return count == 0
    if rule == "E":
        return count > 1
    first = _present(elements, positions[0], sub)
    if rule == "C":
        return first and count != len(positions)
    if rule == "L":
        return first and count == 1
    return True  # unknown rule letters are filtered out at compile time; pyx12 fails them too


def check_syntax(tag: str, elements: list[str], sub: str | None, rule: str,
                 positions: tuple[int, ...]) -> Problem | None:
    """The syntax rule as a Problem (None when satisfied); messages are built only on failure."""
    if not syntax_violated(rule, positions, elements, sub):
        return None
    refs = [f"{tag}{p:02d}" for p in positions]
    label = rule + "".join(f"{p:02d}" for p in positions)
    if len(positions) < 2:
        return Problem("syntax_rule", f"syntax rule {label} on {tag} has fewer than two elements (pyx12 "
                                      "rejects it)", refs[0] if refs else None)
    first, rest = refs[0], ", ".join(refs[1:])
    messages = {
        "P": ("syntax_paired", f"if any of {', '.join(refs)} is present, all are required"),
        "R": ("syntax_required", f"at least one of {', '.join(refs)} is required"),
        "E": ("syntax_exclusion", f"at most one of {', '.join(refs)} may be present"),
        "C": ("syntax_conditional", f"if {first} is present, {rest} required"),
        "L": ("syntax_list_conditional", f"if {first} is present, at least one of {rest} is required"),
    }
    code, text = messages.get(rule, ("syntax_rule", "unknown syntax rule"))
    return Problem(code, f"syntax {label}: {text}", first)
