"""Generic X12 tokenizer and writer (pure): delimiters, segments, ISA/GS/ST envelopes.

The envelope handling lives here once; each transaction module of rcm_x12 (837P, 835, 270/271, 999, 277CA)
reads and writes its own loops on top of it, with the value rules of rcm_x12.format.

The reader is tolerant on purpose: envelope defects (wrong counts, mismatched control numbers, missing
trailers, a GS01 that does not suit the transaction) come back as `EnvelopeError`s for the caller to
judge, because real payer files are often slightly off and still worth reading. Text that is not X12 at
all raises `X12Error`. No message ever quotes element data (it may be PHI): only tags, positions,
counts and control numbers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Callable

ISA_ELEMENT_COUNT = 16
_BOM = "\ufeff"
_BLANKS = " \t\r\n\v\f"  # not str.isspace(): that also covers the \x1c-\x1f separators some senders use
_TAG = re.compile(r"[A-Z][A-Z0-9]{1,2}")
_DIGITS = re.compile(r"[0-9]+")  # ASCII only: str.isdigit() would admit other scripts' digits
_VALID_TAGS: set[str] = set()  # tags already seen to match _TAG (bounded: 2-3 characters of [A-Z0-9])

# ST01 -> the GS01 functional identifier the HIPAA guides require for it.
FUNCTIONAL_IDS: dict[str, str] = {
    "270": "HS", "271": "HB", "276": "HR", "277": "HN", "278": "HI",
    "820": "RA", "834": "BE", "835": "HP", "837": "HC", "997": "FA", "999": "FA",
}


class X12Error(Exception):
    """The text is not an X12 interchange (no usable ISA, impossible delimiters, malformed segment tags)."""


@dataclass(frozen=True)
class Delimiters:
    element: str = "*"
    repetition: str | None = "^"  # None for pre-5010 interchanges, where ISA11 is a standards id ("U")
    component: str = ":"
    segment: str = "~"

    def all(self) -> tuple[str, ...]:
        return tuple(d for d in (self.element, self.repetition, self.component, self.segment) if d)


DEFAULT_DELIMITERS = Delimiters()


@dataclass(frozen=True)
class Segment:
    """One segment; `elements` excludes the tag, so `element(1)` is e.g. EB01 (1-based, as in the guides).

    Composite/repeated elements are kept raw and split on demand with the delimiters of the interchange
    they came from, so a segment read from a '|'/'>' file still splits correctly.
    """

    tag: str
    elements: list[str] = field(default_factory=list)
    delimiters: Delimiters = field(default=DEFAULT_DELIMITERS, compare=False, repr=False)

    def element(self, position: int) -> str:
        """Element `position` (1-based), '' when absent."""
        return self.elements[position - 1] if 0 < position <= len(self.elements) else ""

    def repetitions(self, position: int) -> list[str]:
        """The repetitions of element `position` ([] when empty)."""
        value = self.element(position)
        if not value:
            return []
        rep = self.delimiters.repetition
        return value.split(rep) if rep else [value]

    def components(self, position: int, repetition: int = 0) -> list[str]:
        """The components of one repetition of element `position` ([] when absent)."""
        reps = self.repetitions(position)
        return reps[repetition].split(self.delimiters.component) if repetition < len(reps) else []

    def component(self, position: int, index: int, repetition: int = 0) -> str:
        """Component `index` (1-based, e.g. SV101-2 is component(1, 2)) of element `position`, '' when absent."""
        parts = self.components(position, repetition)
        return parts[index - 1] if 0 < index <= len(parts) else ""


class EnvelopeErrorCode(StrEnum):
    MISSING_IEA = "missing_iea"
    IEA_GROUP_COUNT = "iea01_group_count"
    IEA_CONTROL_NUMBER = "iea02_control_number"
    MISSING_GE = "missing_ge"
    GE_TRANSACTION_COUNT = "ge01_transaction_count"
    GE_CONTROL_NUMBER = "ge02_control_number"
    MISSING_SE = "missing_se"
    SE_SEGMENT_COUNT = "se01_segment_count"
    SE_CONTROL_NUMBER = "se02_control_number"
    FUNCTIONAL_ID_MISMATCH = "gs01_functional_id"
    OUTSIDE_ENVELOPE = "segment_outside_envelope"
    DATA_AFTER_IEA = "data_after_iea"


@dataclass(frozen=True)
class EnvelopeError:
    code: EnvelopeErrorCode
    message: str  # safe to log: tags, counts and control numbers only
    segment_position: int  # 1-based position in the interchange (ISA = 1) of the segment at fault

    def __str__(self) -> str:
        return f"{self.code}: {self.message} (segment #{self.segment_position})"


class _TransactionHeader:
    """What a transaction set's ST says, for both ways of holding its segments (TransactionSet, TransactionRows)."""

    header: Segment

    @property
    def id_code(self) -> str:
        return self.header.element(1)

    @property
    def control_number(self) -> str:
        return self.header.element(2)

    @property
    def implementation_reference(self) -> str:
        return self.header.element(3)


@dataclass
class TransactionSet(_TransactionHeader):
    """ST through SE as read (SE absent when the set was cut short)."""

    segments: list[Segment]

    @property
    def header(self) -> Segment:  # type: ignore[override]
        return self.segments[0]

    @property
    def trailer(self) -> Segment | None:
        return self.segments[-1] if len(self.segments) > 1 and self.segments[-1].tag == "SE" else None

    @property
    def body(self) -> list[Segment]:
        return self.segments[1:-1] if self.trailer else self.segments[1:]


@dataclass
class TransactionRows(_TransactionHeader):
    """ST through SE as split rows, for a reader that walks large sets (the 835) without making a Segment per
    segment: each row is [tag, element 1, element 2, ...], so row[n] is element n as the guides number it.
    Elements are raw, as in Segment: composites and repetitions are split by the reader with `delimiters`."""

    header: Segment  # the ST
    rows: list[list[str]]  # ST first; SE last unless the set was cut short. Shared: see split_rows

    @property
    def body(self) -> list[list[str]]:
        rows = self.rows
        return rows[1:-1] if len(rows) > 1 and rows[-1][0] == "SE" else rows[1:]


@dataclass
class FunctionalGroup:
    header: Segment | None  # None when transaction sets appear without a GS (reported as an envelope error)
    transactions: list[TransactionSet] = field(default_factory=list)
    trailer: Segment | None = None

    @property
    def functional_id(self) -> str:
        return self.header.element(1) if self.header else ""

    @property
    def control_number(self) -> str:
        return self.header.element(6) if self.header else ""

    @property
    def version(self) -> str:
        return self.header.element(8) if self.header else ""


@dataclass
class Interchange:
    header: Segment  # ISA
    delimiters: Delimiters
    groups: list[FunctionalGroup] = field(default_factory=list)
    trailer: Segment | None = None
    errors: list[EnvelopeError] = field(default_factory=list)
    ta1: list[Segment] = field(default_factory=list)  # interchange acknowledgments live outside any group

    @property
    def sender_qualifier(self) -> str:
        return self.header.element(5).strip()

    @property
    def sender_id(self) -> str:
        return self.header.element(6).strip()

    @property
    def receiver_qualifier(self) -> str:
        return self.header.element(7).strip()

    @property
    def receiver_id(self) -> str:
        return self.header.element(8).strip()

    @property
    def control_number(self) -> str:
        return self.header.element(13)

    @property
    def usage(self) -> str:
        """ISA15: P production, T test."""
        return self.header.element(15)

    @property
    def transactions(self) -> list[TransactionSet]:
        return [t for g in self.groups for t in g.transactions]


# ---------------------------------------------------------------- reading


def detect_delimiters(text: str) -> Delimiters:
    """Delimiters from the ISA: element = char 4, repetition = ISA11, component = ISA16, terminator = next char.

    Separators are located by counting rather than by fixed offsets so that an ISA with badly padded
    fields (common in hand-made files) is still understood.
    """
    text = _strip_preamble(text)
    if not text.startswith("ISA") or len(text) < 4:
        raise X12Error("text does not start with an ISA segment")
    element = text[3]
    if element.isalnum() or element in _BLANKS:
        raise X12Error("ISA element separator is a letter, digit or whitespace")
    positions = [i for i, ch in enumerate(text[:300]) if ch == element][:ISA_ELEMENT_COUNT]
    if len(positions) < ISA_ELEMENT_COUNT or positions[-1] + 2 >= len(text):
        raise X12Error("ISA segment is truncated")
    component, segment = text[positions[-1] + 1], text[positions[-1] + 2]
    isa11 = text[positions[10] + 1 : positions[11]]
    repetition = isa11 if len(isa11) == 1 and not isa11.isalnum() and isa11 not in _BLANKS else None
    delimiters = Delimiters(element=element, repetition=repetition, component=component, segment=segment)
    _check_delimiters(delimiters)
    return delimiters


def _check_delimiters(d: Delimiters) -> None:
    if d.component.isalnum() or d.component in _BLANKS:
        raise X12Error("ISA component separator is a letter, digit or whitespace")
    # A bare line break is a legal (if rare) terminator; any other blank or alphanumeric is not.
    if d.segment.isalnum() or d.segment in " \t\v\f":
        raise X12Error("ISA segment terminator is a letter, digit or blank")
    if len(set(d.all())) != len(d.all()):
        raise X12Error("ISA delimiters are not distinct")


def _strip_preamble(text: str) -> str:
    return text.lstrip(_BOM + _BLANKS)


def split_rows(text: str) -> tuple[Delimiters, list[list[str]]]:
    """Split an interchange into rows, one a segment: [tag, element 1, ...] (ISA first); whitespace around
    terminators is ignored.

    Segments that are the same text share one row (one list): a remittance file repeats most of its segments
    word for word (the same DTM dates, CAS codes and amounts, AMT, LQ; 23,000 distinct in 137,000), so each
    is split once, and a reader may remember what it read from a row by its identity for the length of a
    read. Rows must therefore never be modified."""
    delimiters = detect_delimiters(text)
    blanks, element = _BOM + _BLANKS, delimiters.element
    pieces = _strip_preamble(text).split(delimiters.segment)
    distinct: dict[str, list[str] | None] = dict.fromkeys(pieces)
    for piece in distinct:
        segment = piece.strip(blanks)
        distinct[piece] = segment.split(element) if segment else None  # None: blanks between terminators
    rows: list[list[str]] = [row for row in map(distinct.__getitem__, pieces) if row is not None]
    unseen = {row[0] for row in distinct.values() if row is not None}.difference(_VALID_TAGS)  # once a tag
    if unseen:
        if not all(_TAG.fullmatch(tag) for tag in unseen):
            first = next(n for n, row in enumerate(rows, start=1) if not _TAG.fullmatch(row[0]))
            raise X12Error(f"segment #{first} does not start with a valid segment tag")
        _VALID_TAGS.update(unseen)
    isa = rows[0]
    if isa[0] != "ISA" or len(isa) != ISA_ELEMENT_COUNT + 1:
        raise X12Error("ISA segment does not have 16 elements")
    return delimiters, rows


def tokenize(text: str) -> tuple[Delimiters, list[Segment]]:
    """Split an interchange into segments (ISA first); whitespace around terminators is ignored."""
    delimiters, rows = split_rows(text)
    return delimiters, _segments(rows, delimiters)


def _segments(rows: list[list[str]], delimiters: Delimiters) -> list[Segment]:
    # A segment is made without its frozen __init__ (same fields, same object): the hot path of the readers
    # that walk Segments.
    new, setattr_ = object.__new__, object.__setattr__
    segments = []
    append = segments.append
    for row in rows:
        seg = new(Segment)
        setattr_(seg, "__dict__", {"tag": row[0], "elements": row[1:], "delimiters": delimiters})
        append(seg)
    return segments


def parse_interchange(text: str) -> Interchange:
    """Read one interchange into ISA/GS/ST envelopes; envelope defects land in `Interchange.errors`."""
    delimiters, rows = split_rows(text)
    layout = _Assembler(rows).run()
    segments = _segments(rows, delimiters)
    return layout.interchange(delimiters, segments.__getitem__,
                              lambda start, stop: TransactionSet(segments[start:stop]))


def parse_interchange_rows(text: str) -> Interchange:
    """parse_interchange, with each transaction set as a TransactionRows (rows, no Segment per segment); the
    envelope segments (ISA, GS, ST, GE, IEA, TA1) are Segments as usual."""
    delimiters, rows = split_rows(text)
    layout = _Assembler(rows).run()

    def segment_at(index: int) -> Segment:
        row = rows[index]
        return Segment(row[0], row[1:], delimiters)

    return layout.interchange(delimiters, segment_at,
                              lambda start, stop: TransactionRows(segment_at(start), rows[start:stop]))


def split_interchanges(text: str) -> list[str]:
    """A file's interchanges as text, each from its ISA through its IEA segment (each may use its own delimiters).

    A file may hold several ISA..IEA envelopes one after the other (payers batch checks that way). Text after
    an IEA that does not start another ISA stays with that interchange, so that parse_interchange reports it
    (DATA_AFTER_IEA) rather than it being dropped. Raises X12Error when the text does not start with an ISA.
    """
    return [chunk + ("\n" + stray if stray else "") for chunk, stray in interchange_texts(text)]


_NEXT_ISA = re.compile(r"ISA(?=[^A-Za-z0-9" + re.escape(_BLANKS) + r"])")


def interchange_texts(text: str) -> list[tuple[str, str]]:
    """(interchange, stray text after it) for each interchange of the file: the interchange from its ISA through
    its IEA's terminator (each may use its own delimiters; one without an IEA runs to the next segment that is an
    ISA, or to the end of the file, for its reader to report), and the non-blank text between its IEA and the next
    ISA (or the end), '' when there is none. Raises X12Error when the text does not start with an ISA."""
    rest = _strip_preamble(text)
    found: list[tuple[str, str]] = []
    while True:
        delimiters = detect_delimiters(rest)
        terminator = re.escape(delimiters.segment) + r"[" + re.escape(_BOM + _BLANKS) + r"]*"
        cut = re.compile(terminator + _NEXT_ISA.pattern).search(rest, 3)  # where the next interchange starts
        iea = re.compile(terminator + r"IEA" + re.escape(delimiters.element)).search(
            rest, 0, cut.start() if cut else len(rest))
        if iea is None and cut is not None:  # cut short: its IEA is missing, the next interchange is whole
            found.append((rest[: cut.start() + 1], ""))
            rest = rest[cut.end() - 3:]
            continue
        end = rest.find(delimiters.segment, iea.end()) if iea else -1
        if end < 0:
            found.append((rest, ""))
            return found
        following = _strip_preamble(rest[end + 1:])
        # stray text (a banner, a footer, a half-copied segment) may sit between two interchanges: the next
        # interchange starts at the next "ISA" followed by a separator
        after = _NEXT_ISA.search(following)
        start = after.start() if after else len(following)
        found.append((rest[: end + 1], following[:start].rstrip(_BOM + _BLANKS)))
        if after is None:
            return found
        rest = following[start:]


def parse_interchanges(text: str) -> list[Interchange]:
    """Every interchange of a file (see split_interchanges), each read as parse_interchange reads one."""
    return [parse_interchange(chunk) for chunk in split_interchanges(text)]


def parse_interchanges_rows(text: str) -> list[Interchange]:
    """parse_interchanges with parse_interchange_rows: every transaction set as a TransactionRows."""
    return [parse_interchange_rows(chunk) for chunk in split_interchanges(text)]


def _element(row: list[str], position: int) -> str:
    """Element `position` of a row ([tag, element 1, ...]), '' when absent: Segment.element for rows."""
    return row[position] if position < len(row) else ""


@dataclass
class _GroupLayout:
    header: int | None  # row index of the GS; None for sets found outside any group
    transactions: list[list[int]] = field(default_factory=list)  # [start, stop): the rows of each set, ST first
    trailer: int | None = None  # row index of the GE


@dataclass
class _Layout:
    """Where the envelopes of one interchange are, as row indices, and what is wrong with them."""

    groups: list[_GroupLayout] = field(default_factory=list)
    trailer: int | None = None  # row index of the IEA
    errors: list[EnvelopeError] = field(default_factory=list)
    ta1: list[int] = field(default_factory=list)

    def interchange(self, delimiters: Delimiters, segment_at: Callable[[int], Segment],
                    transaction: Callable[[int, int], TransactionSet | TransactionRows]) -> Interchange:
        """The Interchange, with `segment_at(row index)` for envelope segments and `transaction(start, stop)`
        for each transaction set's rows."""
        def optional(index: int | None) -> Segment | None:
            return None if index is None else segment_at(index)

        return Interchange(
            header=segment_at(0), delimiters=delimiters,
            groups=[FunctionalGroup(header=optional(g.header),
                                    transactions=[transaction(start, stop) for start, stop in g.transactions],
                                    trailer=optional(g.trailer)) for g in self.groups],
            trailer=optional(self.trailer), errors=self.errors, ta1=[segment_at(i) for i in self.ta1])


class _Assembler:
    """Walks the envelope segments (GS, ST, SE, GE, IEA) of the rows, opening and closing envelopes and checking
    their trailers. The rows between two envelope segments are looked at only when no transaction set is open
    (each is then out of place, or a TA1): inside a set, the set's bounds are all the envelope needs.
    Positions in messages are 1-based (ISA = 1); row index = position - 1."""

    def __init__(self, rows: list[list[str]]) -> None:
        self.rows = rows
        self.layout = _Layout()
        self.group: _GroupLayout | None = None
        self.transaction: list[int] | None = None  # the open set's [start, stop]; stop is set when it closes

    def error(self, code: EnvelopeErrorCode, message: str, position: int) -> None:
        self.layout.errors.append(EnvelopeError(code, message, position))

    def run(self) -> _Layout:
        rows = self.rows
        handlers = {"GS": self.open_group, "ST": self.open_transaction, "SE": self.close_transaction,
                    "GE": self.close_group, "IEA": self.close_interchange}
        marks = [index for index in range(1, len(rows)) if rows[index][0] in handlers]
        previous = 0
        for mark in [*marks, len(rows)]:
            if self.transaction is None:  # the rows since the last envelope segment are outside any set
                for index in range(previous + 1, mark):
                    if self.after_trailer(index):
                        return self.layout
                    self.add_segment(index + 1)
            if mark == len(rows):
                break
            if self.after_trailer(mark):
                return self.layout
            handlers[rows[mark][0]](rows[mark], mark + 1)
            previous = mark
        if self.layout.trailer is None:
            end = len(rows) + 1
            self.close_open_transaction(end)
            self.close_open_group(end)
            self.error(EnvelopeErrorCode.MISSING_IEA, "interchange has no IEA trailer", end)
        return self.layout

    def after_trailer(self, index: int) -> bool:
        """A segment after the IEA: reported, and the walk ends there."""
        if self.layout.trailer is None:
            return False
        self.error(EnvelopeErrorCode.DATA_AFTER_IEA, f"{self.rows[index][0]} segment after IEA ignored", index + 1)
        return True

    def open_group(self, row: list[str], position: int) -> None:
        self.close_open_transaction(position)
        self.close_open_group(position)
        self.group = _GroupLayout(header=position - 1)
        self.layout.groups.append(self.group)

    def open_transaction(self, row: list[str], position: int) -> None:
        self.close_open_transaction(position)
        if self.group is None:
            self.error(EnvelopeErrorCode.OUTSIDE_ENVELOPE, "ST segment outside a GS/GE group", position)
            self.group = _GroupLayout(header=None)
            self.layout.groups.append(self.group)
        self.check_functional_id(row, position)
        self.transaction = [position - 1, position]
        self.group.transactions.append(self.transaction)

    def add_segment(self, position: int) -> None:
        tag = self.rows[position - 1][0]
        if tag == "TA1" and self.group is None:
            self.layout.ta1.append(position - 1)
        else:
            self.error(EnvelopeErrorCode.OUTSIDE_ENVELOPE, f"{tag} segment outside a transaction set", position)

    def close_transaction(self, row: list[str], position: int) -> None:
        if self.transaction is None:
            self.error(EnvelopeErrorCode.OUTSIDE_ENVELOPE, "SE segment without a matching ST", position)
            return
        start = self.transaction[0]
        self.transaction[1] = position  # the SE is the set's last row
        counted = position - start
        control = _element(self.rows[start], 2)
        if _as_int(_element(row, 1)) != counted:
            self.error(EnvelopeErrorCode.SE_SEGMENT_COUNT,
                       f"SE01 says {_safe(_element(row, 1))} segments, the set has {counted}", position)
        if not _same_control(_element(row, 2), control):
            self.error(EnvelopeErrorCode.SE_CONTROL_NUMBER,
                       f"SE02 {_safe(_element(row, 2))} does not match ST02 {_safe(control)}", position)
        self.transaction = None

    def close_group(self, row: list[str], position: int) -> None:
        self.close_open_transaction(position)
        if self.group is None or self.group.header is None:
            self.error(EnvelopeErrorCode.OUTSIDE_ENVELOPE, "GE segment without a matching GS", position)
            self.group = None
            return
        self.group.trailer = position - 1
        counted = len(self.group.transactions)
        control = _element(self.rows[self.group.header], 6)
        if _as_int(_element(row, 1)) != counted:
            self.error(EnvelopeErrorCode.GE_TRANSACTION_COUNT,
                       f"GE01 says {_safe(_element(row, 1))} transaction sets, the group has {counted}", position)
        if not _same_control(_element(row, 2), control):
            self.error(EnvelopeErrorCode.GE_CONTROL_NUMBER,
                       f"GE02 {_safe(_element(row, 2))} does not match GS06 {_safe(control)}", position)
        self.group = None

    def close_interchange(self, row: list[str], position: int) -> None:
        self.close_open_transaction(position)
        self.close_open_group(position)
        self.layout.trailer = position - 1
        counted = len(self.layout.groups)
        control = _element(self.rows[0], 13)
        if _as_int(_element(row, 1)) != counted:
            self.error(EnvelopeErrorCode.IEA_GROUP_COUNT,
                       f"IEA01 says {_safe(_element(row, 1))} groups, the interchange has {counted}", position)
        if not _same_control(_element(row, 2), control):
            self.error(EnvelopeErrorCode.IEA_CONTROL_NUMBER,
                       f"IEA02 {_safe(_element(row, 2))} does not match ISA13 {_safe(control)}", position)

    def close_open_transaction(self, position: int) -> None:
        if self.transaction is not None:
            self.transaction[1] = position - 1  # the set ends before the segment that closed it
            control = _element(self.rows[self.transaction[0]], 2)
            self.error(EnvelopeErrorCode.MISSING_SE, f"transaction set {_safe(control)} has no SE trailer", position)
            self.transaction = None

    def close_open_group(self, position: int) -> None:
        if self.group is not None and self.group.header is not None:
            control = _element(self.rows[self.group.header], 6)
            self.error(EnvelopeErrorCode.MISSING_GE, f"functional group {_safe(control)} has no GE trailer", position)
        self.group = None

    def check_functional_id(self, st: list[str], position: int) -> None:
        expected = FUNCTIONAL_IDS.get(_element(st, 1))
        if expected and self.group and self.group.header is not None:
            actual = _element(self.rows[self.group.header], 1)
            if actual != expected:
                self.error(EnvelopeErrorCode.FUNCTIONAL_ID_MISMATCH,
                           f"GS01 {_safe(actual)} does not suit transaction set {_element(st, 1)} "
                           f"(expected {expected})", position)


def _as_int(value: str) -> int | None:
    value = value.strip()
    return int(value) if _DIGITS.fullmatch(value) else None


def _same_control(a: str, b: str) -> bool:
    """Control numbers match when identical, or equal as numbers (leading zeros are not worth a reject)."""
    a, b = a.strip(), b.strip()
    return a == b or (_as_int(a) is not None and _as_int(a) == _as_int(b))


def _safe(value: str) -> str:
    """Control numbers/codes are echoed in messages, but never more than a short id-like token."""
    value = value.strip()
    return repr(value) if len(value) <= 15 and re.fullmatch(r"[A-Za-z0-9 -]*", value) else "<invalid>"


# ---------------------------------------------------------------- writing


def build_interchange(
    sender: str,
    receiver: str,
    control_number: int,
    functional_id: str,
    version: str,
    transactions: list[list[Segment]],
    *,
    now: datetime,
    sender_qualifier: str = "ZZ",
    receiver_qualifier: str = "ZZ",
    usage: str = "P",
    acknowledgment_requested: bool = False,
    group_control_number: int | None = None,
    line_breaks: bool = False,
) -> str:
    """One ISA/GS envelope around `transactions` (each starting with its ST; SE is computed and appended).

    Output uses '*' elements, '^' repetitions, ':' components and '~' terminators. ISA fields are fixed
    width (ids padded to 15, YYMMDD, HHMM, 9-digit control number) because receivers parse ISA by offset.
    """
    _require(1 <= control_number <= 999_999_999, "control number must be 1..999999999")
    _require(usage in ("P", "T"), "usage must be P (production) or T (test)")
    for label, value in (("sender", sender), ("receiver", receiver)):
        _require(0 < len(value) <= 15 and value.isascii(), f"{label} id must be 1..15 ASCII characters")
    for label, value in (("sender qualifier", sender_qualifier), ("receiver qualifier", receiver_qualifier)):
        _require(len(value) == 2, f"{label} must be 2 characters")
    _require(bool(transactions), "an interchange needs at least one transaction set")
    group_number = control_number if group_control_number is None else group_control_number
    out = DEFAULT_DELIMITERS
    segments = [_isa(sender, receiver, control_number, version, now, sender_qualifier, receiver_qualifier,
                     usage, acknowledgment_requested)]
    segments.append(Segment("GS", [functional_id, sender, receiver, f"{now:%Y%m%d}", f"{now:%H%M}",
                                   str(group_number), "X", version]))
    for transaction in transactions:
        segments.extend(_with_trailer(transaction))
    segments.append(Segment("GE", [str(len(transactions)), str(group_number)]))
    segments.append(Segment("IEA", ["1", f"{control_number:09d}"]))
    joiner = out.segment + ("\n" if line_breaks else "")
    return joiner.join(_encode(s, out) if s.tag != "ISA" else _encode_isa(s, out) for s in segments) + joiner


def _isa(sender: str, receiver: str, control_number: int, version: str, now: datetime, sender_qualifier: str,
         receiver_qualifier: str, usage: str, acknowledgment_requested: bool) -> Segment:
    return Segment("ISA", [
        "00", " " * 10, "00", " " * 10,
        sender_qualifier, sender.ljust(15), receiver_qualifier, receiver.ljust(15),
        f"{now:%y%m%d}", f"{now:%H%M}", DEFAULT_DELIMITERS.repetition or "U", version[:5],
        f"{control_number:09d}", "1" if acknowledgment_requested else "0", usage, DEFAULT_DELIMITERS.component,
    ])


def _with_trailer(transaction: list[Segment]) -> list[Segment]:
    _require(bool(transaction) and transaction[0].tag == "ST" and bool(transaction[0].element(2)),
             "each transaction set must start with an ST carrying ST02")
    body = transaction[:-1] if transaction[-1].tag == "SE" else transaction
    return [*body, Segment("SE", [str(len(body) + 1), transaction[0].element(2)])]


def _encode_isa(isa: Segment, out: Delimiters) -> str:
    # ISA11 and ISA16 are the delimiters themselves, so they are written verbatim.
    return out.element.join([isa.tag, *isa.elements])


def _encode(seg: Segment, out: Delimiters) -> str:
    _require(bool(_TAG.fullmatch(seg.tag)), "segment tag must be 2-3 upper-case letters/digits")
    elements = [_encode_element(seg, position, out) for position in range(1, len(seg.elements) + 1)]
    while elements and not elements[-1]:  # X12 forbids trailing empty elements
        elements.pop()
    return out.element.join([seg.tag, *elements])


def _encode_element(seg: Segment, position: int, out: Delimiters) -> str:
    raw = seg.elements[position - 1]
    src = seg.delimiters
    if src == out and not _SPECIAL[out].intersection(raw):
        return raw  # the common case: a simple value, nothing to split or re-join (the writers' hot path)
    repetitions = []
    for index in range(len(seg.repetitions(position))):
        parts = seg.components(position, index)
        for part in parts:
            _require(not any(d in part for d in out.all()),
                     f"{seg.tag}{position:02d} contains a delimiter character")
        while parts and not parts[-1]:
            parts.pop()
        repetitions.append(out.component.join(parts))
    return (out.repetition or "").join(repetitions)


class _SpecialCharacters(dict):
    """Per output delimiters: the characters that make an element more than a plain value."""

    def __missing__(self, out: Delimiters) -> frozenset[str]:
        self[out] = value = frozenset(out.all())
        return value


_SPECIAL = _SpecialCharacters()


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)
