"""The 999 implementation acknowledgment (005010X231A1): reading one (what a submitter gets back for its 837)
and writing one (what a clearinghouse answers), pure.

- `read_999`: one `GroupAcknowledgment` per 999 transaction set of every interchange of the file: the AK1
  group it answers, the AK9 verdict, and per acknowledged transaction set (AK2, by its ST02) accepted /
  accepted with errors / rejected, with every IK3/IK4 finding decoded into plain words. Envelope defects are
  tolerated and reported (`envelope_errors`, its interchange's); `read_999_file` also returns them, with the
  warnings, as `ReadingIssue`s. Text that is not a 999 raises `UnparseableAcknowledgment`, whose reason names
  segments and positions only: element values can be PHI. For the same reason IK404 (the 999's copy of
  the bad data element) is never kept. An interchange of another version than 5010 (ISA12, GS08, ST03) is
  refused alone, with a rejected_interchange issue: each interchange acknowledges its own submission, and a
  submission left unacknowledged simply waits (as if its 999 had not come), while the others are applied;
  `UnsupportedAcknowledgmentVersion` when no interchange is 5010.
- `build_999`: one AK2/IK5 per received transaction set, with an IK3 (segment) and IK4 (element) note per
  finding the caller made, and AK9 counts for the group. Findings come from the caller: the writer only
  puts them into the shape the guide requires and refuses inputs that would make a contradictory
  acknowledgment. Messages name fields and codes, never values.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from rcm_x12.codec import EnvelopeError, Segment, TransactionSet, build_interchange
from rcm_x12.format import free_text, parse_count, quote_code, quote_control_number
from rcm_x12.reading import (
    ReadingIssue,
    UnparseableAcknowledgment,
    UnsupportedAcknowledgmentVersion,
    implementation_warnings,
    open_interchanges,
    warning_issues,
)

__all__ = [
    "AckStatus", "CodedError", "Finding", "GroupAcknowledgment", "ReceivedGroup", "SituationalTrigger",
    "SyntaxFinding", "TransactionSetAcknowledgment", "TransactionSetResult", "UnparseableAcknowledgment",
    "UnsupportedAcknowledgmentVersion", "Acknowledgment999File", "build_999", "read_999", "read_999_file",
    "transaction_999",
]

IMPLEMENTATION_999 = "005010X231A1"
FUNCTIONAL_ID_999 = "FA"

# ---------------------------------------------------------------- code lists (plain-language paraphrases)

SEGMENT_ERRORS: dict[str, str] = {  # IK304
    "1": "Unrecognized segment ID",
    "2": "Unexpected segment",
    "3": "Required segment missing",
    "4": "Loop occurs more often than allowed",
    "5": "Segment used more often than allowed",
    "6": "Segment not in the defined transaction set",
    "7": "Segment not in the proper sequence",
    "8": "Segment has data element errors",
    "I4": "Segment the implementation guide marks 'Not Used' is present",
    "I6": "Segment the implementation guide requires in this situation is missing",
    "I7": "Loop occurs fewer times than the implementation guide requires",
    "I8": "Segment used fewer times than the implementation guide requires",
    "I9": "Segment the implementation guide forbids in this situation is present",
}

ELEMENT_ERRORS: dict[str, str] = {  # IK403
    "1": "Required data element missing",
    "2": "Conditionally required data element missing",
    "3": "Too many data elements",
    "4": "Data element too short",
    "5": "Data element too long",
    "6": "Invalid character in data element",
    "7": "Invalid code value",
    "8": "Invalid date",
    "9": "Invalid time",
    "10": "Exclusion condition violated",
    "12": "Too many repetitions",
    "13": "Too many components",
    "I6": "Code value not used in this implementation",
    "I9": "Data element the implementation guide requires in this situation is missing",
    "I10": "Data element the implementation guide marks 'Not Used' is present",
    "I11": "Too few repetitions for the implementation guide",
    "I12": "Value does not match the implementation guide's pattern",
    "I13": "Data element the implementation guide forbids in this situation is present",
}

TRANSACTION_SET_ERRORS: dict[str, str] = {  # IK502-IK506
    "1": "Transaction set not supported",
    "2": "Transaction set trailer missing",
    "3": "Control numbers in the transaction set header and trailer do not match",
    "4": "Number of included segments does not match the actual count",
    "5": "One or more segments in error",
    "6": "Missing or invalid transaction set identifier",
    "7": "Missing or invalid transaction set control number",
    "18": "Transaction set not in a functional group",
    "19": "Invalid transaction set implementation convention reference",
    "23": "Transaction set control number not unique within the functional group",
    "I5": "One or more segments in error against the implementation guide",
    "I6": "Implementation convention not supported",
}

GROUP_ERRORS: dict[str, str] = {  # AK905-AK909
    "1": "Functional group not supported",
    "2": "Functional group version not supported",
    "3": "Functional group trailer missing",
    "4": "Group control numbers in the functional group header and trailer do not agree",
    "5": "Number of included transaction sets does not match the actual count",
    "6": "Group control number violates the syntax",
    "19": "Functional group control number not unique within the interchange",
}

# What the writer accepts. The segment and element lists are the tables above; the transaction set and group
# lists are the 999's full code lists, of which the tables above paraphrase the frequent ones.
SEGMENT_ERROR_CODES = frozenset(SEGMENT_ERRORS)  # IK304
ELEMENT_ERROR_CODES = frozenset(ELEMENT_ERRORS)  # IK403
TRANSACTION_SET_ERROR_CODES = frozenset({"1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13", "15",
                                         "16", "17", "18", "19", "23", "24", "25", "26", "27", "I5", "I6"})
GROUP_ERROR_CODES = frozenset({"1", "2", "3", "4", "5", "6", "10", "11", "12", "13", "14", "15", "16", "17",
                               "18", "19", "23", "24", "25", "26"})
SEGMENT_HAS_ELEMENT_ERRORS = "8"  # IK304 for an IK3 that only carries IK4s
_MISSING_CODES = frozenset({"I6", "I9"})  # "implementation dependent ... missing/present": a trigger explains them


# ================================================================ reading


class AckStatus(StrEnum):
    ACCEPTED = "accepted"  # A
    ACCEPTED_WITH_ERRORS = "accepted_with_errors"  # E: accepted, but errors were noted
    PARTIALLY_ACCEPTED = "partially_accepted"  # AK9 P: some transaction sets of the group were rejected
    REJECTED = "rejected"  # R, and M/W/X (rejected for security reasons)


_ACK_STATUS = {"A": AckStatus.ACCEPTED, "E": AckStatus.ACCEPTED_WITH_ERRORS, "P": AckStatus.PARTIALLY_ACCEPTED,
               "R": AckStatus.REJECTED, "M": AckStatus.REJECTED, "W": AckStatus.REJECTED, "X": AckStatus.REJECTED}


@dataclass(frozen=True)
class CodedError:
    code: str
    meaning: str


@dataclass(frozen=True)
class SyntaxFinding:
    """One IK3 (segment) note, with one of its IK4 (element) notes when it has any."""

    segment_tag: str  # IK301
    segment_position: int | None  # IK302: position in the acknowledged transaction set, ST = 1
    loop_id: str | None  # IK303 (4 characters at most: "2010" for 2010BA)
    segment_error: CodedError | None  # IK304
    element_position: int | None = None  # IK401-1
    component_position: int | None = None  # IK401-2
    repetition_position: int | None = None  # IK401-3
    element_reference: str | None = None  # IK402: data element dictionary number
    element_error: CodedError | None = None  # IK403
    business_unit: str | None = None  # CTX01-1, e.g. CLM01
    business_unit_id: str | None = None  # CTX01-2: for CLM01, the claim's patient control number
    trigger_segment: str | None = None  # CTX SITUATIONAL TRIGGER: the segment that made this one situational

    @property
    def code(self) -> str:
        """The most specific error code: the IK403 element error, else the IK304 segment error."""
        error = self.element_error or self.segment_error
        return error.code if error else ""

    @property
    def claim_id(self) -> str | None:
        """CLM01 of the claim the error is in, when the 999 says so."""
        return self.business_unit_id if self.business_unit == "CLM01" else None

    @property
    def description(self) -> str:
        where = f"{self.segment_tag} segment" + (f" #{self.segment_position}" if self.segment_position else "")
        if self.loop_id:
            where += f" (loop {self.loop_id})"
        if self.element_position is not None:
            where += f", element {self.segment_tag}{self.element_position:02d}"
            if self.component_position:
                where += f"-{self.component_position}"
        error = self.element_error or self.segment_error
        return f"{where}: {error.meaning}" if error else f"{where}: error not specified"


@dataclass(frozen=True)
class TransactionSetAcknowledgment:
    transaction_set_id: str  # AK201, e.g. 837
    control_number: str  # AK202 = ST02 of the acknowledged set
    implementation_reference: str | None  # AK203
    status: AckStatus
    ack_code: str  # IK501 as sent
    syntax_errors: tuple[CodedError, ...]  # IK502-IK506
    findings: tuple[SyntaxFinding, ...]

    @property
    def accepted(self) -> bool:
        return self.status in (AckStatus.ACCEPTED, AckStatus.ACCEPTED_WITH_ERRORS)


@dataclass(frozen=True)
class GroupAcknowledgment:
    """One 999 transaction set: the verdict on one functional group (GS..GE) of what was submitted."""

    control_number: str  # ST02 of the 999 itself
    functional_id: str  # AK101, HC for an 837
    group_control_number: str  # AK102 = GS06 of the acknowledged group
    version: str | None  # AK103
    status: AckStatus  # AK901
    ack_code: str  # AK901 as sent
    transaction_sets_included: int | None  # AK902
    transaction_sets_received: int | None  # AK903
    transaction_sets_accepted: int | None  # AK904
    group_errors: tuple[CodedError, ...]  # AK905-AK909
    transaction_sets: tuple[TransactionSetAcknowledgment, ...]
    envelope_errors: tuple[EnvelopeError, ...] = ()  # its interchange's
    warnings: tuple[str, ...] = ()
    interchange: int = 1  # the 1-based place in the file of the interchange it came in
    interchange_control_number: str = ""  # ISA13 of the 999's own interchange

    def for_transaction_set(self, control_number: str) -> TransactionSetAcknowledgment | None:
        return next((t for t in self.transaction_sets if t.control_number == control_number), None)


@dataclass(frozen=True)
class Acknowledgment999File:
    """A 999 file as read: every group acknowledgment of every 5010 interchange, and what the reader found."""

    groups: tuple[GroupAcknowledgment, ...]
    issues: tuple[ReadingIssue, ...]  # envelope errors, warnings, interchanges refused (4010), stray text


def read_999(text: str) -> list[GroupAcknowledgment]:
    """The group acknowledgments of every interchange (see read_999_file for the issues)."""
    return list(read_999_file(text).groups)


def read_999_file(text: str) -> Acknowledgment999File:
    opened = open_interchanges(text, "999", IMPLEMENTATION_999, UnparseableAcknowledgment,
                               UnsupportedAcknowledgmentVersion)
    groups: list[GroupAcknowledgment] = []
    issues = list(opened.issues)
    for number, interchange, t in opened.sets("999", issues):
        group = _GroupReader(t, tuple(interchange.errors)).read()
        issues += warning_issues(number, interchange, group.warnings, t.control_number)
        groups.append(dataclasses.replace(group, interchange=number,
                                          interchange_control_number=interchange.control_number))
    return Acknowledgment999File(tuple(groups), tuple(issues))


class _GroupReader:
    """Walks one 999: AK1, then per AK2 its IK3 loops (CTX, IK4, CTX) and IK5, then AK9."""

    def __init__(self, transaction: TransactionSet, envelope_errors: tuple[EnvelopeError, ...]) -> None:
        self.transaction = transaction
        self.envelope_errors = envelope_errors
        self.warnings: list[str] = implementation_warnings(transaction, IMPLEMENTATION_999)
        self.ak1: Segment | None = None
        self.ak9: Segment | None = None
        self.sets: list[TransactionSetAcknowledgment] = []
        self.ak2: Segment | None = None
        self.loops: list[_ErrorLoop] = []

    def read(self) -> GroupAcknowledgment:
        for position, seg in enumerate(self.transaction.body, start=2):
            self.add(seg, position)
        if self.ak2 is not None:
            raise UnparseableAcknowledgment(f"999 {quote_control_number(self.transaction.control_number)}: "
                                            "AK2 has no IK5 trailer")
        if self.ak1 is None or self.ak9 is None:
            missing = "AK1" if self.ak1 is None else "AK9"
            raise UnparseableAcknowledgment(f"999 {quote_control_number(self.transaction.control_number)} has no {missing} segment")
        return self.group()

    def add(self, seg: Segment, position: int) -> None:
        if seg.tag == "AK1":
            self.ak1 = seg
        elif seg.tag == "AK2":
            self.open_set(seg, position)
        elif seg.tag == "IK3":
            self.require_set(seg, position)
            self.loops.append(_ErrorLoop(seg))
        elif seg.tag in ("IK4", "CTX"):
            self.require_loop(seg, position)
            self.loops[-1].add(seg)
        elif seg.tag == "IK5":
            self.require_set(seg, position)
            self.close_set(seg)
        elif seg.tag == "AK9":
            self.ak9 = seg
        else:
            self.warnings.append(f"{seg.tag} segment #{position} is not part of a 999; ignored")

    def open_set(self, seg: Segment, position: int) -> None:
        if self.ak2 is not None:
            raise UnparseableAcknowledgment(f"AK2 segment #{position} starts before the previous AK2 has its IK5")
        self.ak2, self.loops = seg, []

    def require_set(self, seg: Segment, position: int) -> None:
        if self.ak2 is None:
            raise UnparseableAcknowledgment(f"{seg.tag} segment #{position} is outside an AK2 loop")

    def require_loop(self, seg: Segment, position: int) -> None:
        self.require_set(seg, position)
        if not self.loops:
            raise UnparseableAcknowledgment(f"{seg.tag} segment #{position} comes before any IK3")

    def close_set(self, ik5: Segment) -> None:
        assert self.ak2 is not None
        ack_code = ik5.element(1)
        status = _ACK_STATUS.get(ack_code)
        if status is None or status == AckStatus.PARTIALLY_ACCEPTED:
            self.warnings.append(f"IK501 {quote_code(ack_code)} is not a transaction set acknowledgment code; "
                                 "read as rejected")
            status = AckStatus.REJECTED
        self.sets.append(TransactionSetAcknowledgment(
            transaction_set_id=self.ak2.element(1), control_number=self.ak2.element(2),
            implementation_reference=self.ak2.element(3) or None, status=status, ack_code=ack_code,
            syntax_errors=_coded(ik5, range(2, 7), TRANSACTION_SET_ERRORS, "transaction set syntax error"),
            findings=tuple(f for loop in self.loops for f in loop.findings()),
        ))
        self.ak2, self.loops = None, []

    def group(self) -> GroupAcknowledgment:
        assert self.ak1 is not None and self.ak9 is not None
        ack_code = self.ak9.element(1)
        status = _ACK_STATUS.get(ack_code)
        if status is None:
            self.warnings.append(f"AK901 {quote_code(ack_code)} is not a group acknowledgment code; read as rejected")
            status = AckStatus.REJECTED
        return GroupAcknowledgment(
            control_number=self.transaction.control_number, functional_id=self.ak1.element(1),
            group_control_number=self.ak1.element(2), version=self.ak1.element(3) or None,
            status=status, ack_code=ack_code,
            transaction_sets_included=parse_count(self.ak9.element(2)),
            transaction_sets_received=parse_count(self.ak9.element(3)),
            transaction_sets_accepted=parse_count(self.ak9.element(4)),
            group_errors=_coded(self.ak9, range(5, 10), GROUP_ERRORS, "functional group syntax error"),
            transaction_sets=tuple(self.sets), envelope_errors=self.envelope_errors, warnings=tuple(self.warnings),
        )


@dataclass
class _ErrorLoop:
    """One IK3 with its contexts and IK4 notes."""

    ik3: Segment
    business_unit: Segment | None = None
    trigger: Segment | None = None
    notes: list[Segment] = field(default_factory=list)

    def add(self, seg: Segment) -> None:
        if seg.tag == "IK4":
            self.notes.append(seg)
        elif seg.component(1, 1) != "SITUATIONAL TRIGGER":
            self.business_unit = seg
        elif not self.notes:
            self.trigger = seg  # element contexts (after an IK4) describe the element, not the segment

    def findings(self) -> list[SyntaxFinding]:
        ik3 = self.ik3
        unit, trigger = self.business_unit, self.trigger
        base = dict(
            segment_tag=ik3.element(1), segment_position=parse_count(ik3.element(2)), loop_id=ik3.element(3) or None,
            segment_error=_decode(ik3.element(4), SEGMENT_ERRORS, "segment syntax error"),
            business_unit=(unit.component(1, 1) or None) if unit else None,
            business_unit_id=(unit.component(1, 2) or None) if unit else None,
            trigger_segment=(trigger.element(2) or None) if trigger else None,
        )
        if not self.notes:
            return [SyntaxFinding(**base)]
        return [SyntaxFinding(
            **base,
            element_position=parse_count(note.component(1, 1)), component_position=parse_count(note.component(1, 2)),
            repetition_position=parse_count(note.component(1, 3)), element_reference=note.element(2) or None,
            element_error=_decode(note.element(3), ELEMENT_ERRORS, "element syntax error"),
        ) for note in self.notes]


def _coded(seg: Segment, positions: range, table: dict[str, str], kind: str) -> tuple[CodedError, ...]:
    codes = [seg.element(p) for p in positions]
    return tuple(CodedError(c, _meaning(c, table, kind)) for c in codes if c)


def _decode(code: str, table: dict[str, str], kind: str) -> CodedError | None:
    return CodedError(code, _meaning(code, table, kind)) if code else None


def _meaning(code: str, table: dict[str, str], kind: str) -> str:
    return table.get(code) or f"Unrecognised {kind} code {quote_code(code)}"


# ================================================================ writing


@dataclass(frozen=True)
class SituationalTrigger:
    """The segment (or element) whose presence makes a situational segment/element required or forbidden."""

    segment_tag: str
    segment_position: int
    loop_id: str | None = None
    element_position: int | None = None


@dataclass(frozen=True)
class Finding:
    """One problem in a received transaction set.

    `element_position` None: a segment-level problem, `code` is an IK304 code (e.g. 3 required segment
    missing). Otherwise an element-level problem under an IK3*...*8, `code` is an IK403 code (e.g. 7 invalid
    code value). `segment_position` counts from the ST (= 1), as IK302 requires. `loop_id` may be given as
    the guide names it ("2010BA"); the 999 carries its first 4 characters.
    """

    segment_tag: str
    segment_position: int
    loop_id: str | None
    element_position: int | None
    code: str
    component_position: int | None = None
    repetition_position: int | None = None
    element_reference: str | None = None  # IK402 data element dictionary number, e.g. "1028"
    claim_id: str | None = None  # CLM01 of the claim the error is in: CTX business unit identifier
    trigger: SituationalTrigger | None = None  # for I6/I9: what made the segment/element situational
    bad_value: str | None = None  # IK404 copy of the bad element (it goes back to its own sender only)

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[A-Z][A-Z0-9]{1,2}", self.segment_tag):
            raise ValueError("finding segment tag must be 2-3 upper-case letters/digits")
        if self.segment_position < 1:
            raise ValueError("finding segment position counts from the ST (1)")
        codes = SEGMENT_ERROR_CODES if self.element_position is None else ELEMENT_ERROR_CODES
        if self.code not in codes:
            level = "IK304 segment" if self.element_position is None else "IK403 element"
            raise ValueError(f"finding code is not an {level} error code of the 999")
        if self.element_position is not None and self.element_position < 1:
            raise ValueError("finding element position counts from 1")


@dataclass(frozen=True)
class TransactionSetResult:
    """What was found in one received transaction set (its ST01/ST02/ST03 echo in AK2)."""

    control_number: str  # ST02 of the received set
    findings: tuple[Finding, ...] = ()
    rejected: bool = False  # True when the findings (or `syntax_errors`) make the set unusable
    transaction_set_id: str = "837"
    implementation_reference: str | None = None  # ST03 as received
    syntax_errors: tuple[str, ...] = ()  # IK502..IK506; derived from the findings when empty

    def __post_init__(self) -> None:
        object.__setattr__(self, "findings", tuple(self.findings))
        object.__setattr__(self, "syntax_errors", tuple(self.syntax_errors))
        if len(self.syntax_errors) > 5 or not set(self.syntax_errors) <= TRANSACTION_SET_ERROR_CODES:
            raise ValueError("syntax errors must be at most 5 IK502 transaction set syntax error codes")

    @property
    def ack_code(self) -> str:
        """IK501: A accepted, E accepted but errors were noted, R rejected."""
        if self.rejected:
            return "R"
        return "E" if self.findings or self.syntax_errors else "A"

    def ik5_errors(self) -> list[str]:
        """IK502-IK506 as written."""
        if self.syntax_errors or self.ack_code == "A":
            return list(self.syntax_errors)
        # IK502 is required once the set is not plainly accepted: 5 for X12 syntax errors, I5 for
        # implementation-guide errors (the I-codes), both when the findings mix them.
        kinds = {"I5" if f.code.startswith("I") else "5" for f in self.findings}
        return sorted(kinds, key=lambda c: c != "5") or ["5"]


@dataclass(frozen=True)
class ReceivedGroup:
    """The GS of the interchange being acknowledged."""

    functional_id: str  # GS01, "HC" for an 837
    control_number: str  # GS06
    version: str  # GS08, e.g. "005010X222A1"
    transaction_sets_included: int | None = None  # GE01 as sent; defaults to the sets acknowledged


def build_999(
    group: ReceivedGroup,
    results: Sequence[TransactionSetResult],
    *,
    control_number: int,
    sender_id: str,
    receiver_id: str,
    now: datetime,
    group_errors: Sequence[str] = (),
    usage: str = "P",
) -> str:
    """A complete interchange holding one 999 for `group`; `group_errors` are AK905-AK909 codes."""
    segments = transaction_999(group, results, control_number=control_number, group_errors=group_errors)
    return build_interchange(sender_id, receiver_id, control_number, FUNCTIONAL_ID_999, IMPLEMENTATION_999,
                             [segments], now=now, usage=usage)


def transaction_999(
    group: ReceivedGroup, results: Sequence[TransactionSetResult], *, control_number: int,
    group_errors: Sequence[str] = (),
) -> list[Segment]:
    if not all(code in GROUP_ERROR_CODES for code in group_errors) or len(group_errors) > 5:
        raise ValueError("group errors must be at most 5 AK905 functional group syntax error codes")
    if len({r.control_number for r in results}) != len(results):
        raise ValueError("each transaction set is acknowledged once (duplicate ST02)")
    segments = [
        Segment("ST", ["999", f"{control_number:04d}", IMPLEMENTATION_999]),
        Segment("AK1", [group.functional_id, group.control_number, group.version]),
    ]
    for result in results:
        segments.extend(_transaction_set_response(result))
    segments.append(_ak9(group, results, group_errors))
    return segments


def _transaction_set_response(result: TransactionSetResult) -> list[Segment]:
    segments = [Segment("AK2", [result.transaction_set_id, result.control_number,
                                result.implementation_reference or ""])]
    for findings in _by_segment(result.findings):
        segments.extend(_error_loop(findings))
    segments.append(Segment("IK5", [result.ack_code, *result.ik5_errors()]))
    return segments


def _by_segment(findings: tuple[Finding, ...]) -> list[list[Finding]]:
    """Element findings of one segment share its IK3; each segment-level finding gets its own IK3."""
    loops: dict[tuple, list[Finding]] = {}
    for number, finding in enumerate(findings):
        if finding.element_position is None:
            key: tuple = ("segment", number)
        else:
            key = ("elements", finding.segment_tag, finding.segment_position, finding.loop_id, finding.claim_id)
        loops.setdefault(key, []).append(finding)
    return list(loops.values())


def _error_loop(findings: list[Finding]) -> list[Segment]:
    first = findings[0]
    segment_level = first.element_position is None
    ik304 = first.code if segment_level else SEGMENT_HAS_ELEMENT_ERRORS
    segments = [Segment("IK3", [first.segment_tag, str(first.segment_position), _loop(first.loop_id), ik304])]
    # Both CTXs sit at position 0500 of the guide; the business unit goes first because that is the order
    # validators' loop walkers (pyx12's among them) recognise.
    if first.claim_id:
        # The guide caps the business unit id at 35 characters and says to truncate longer ones.
        segments.append(Segment("CTX", [f"CLM01:{free_text(first.claim_id)[:35]}"]))
    if segment_level and first.trigger:
        segments.append(_trigger_context(first.trigger))
    if not segment_level:
        for finding in findings:
            segments.extend(_element_note(finding))
    return segments


def _element_note(finding: Finding) -> list[Segment]:
    position = ":".join(str(p) if p else "" for p in
                        (finding.element_position, finding.component_position, finding.repetition_position))
    bad_value = free_text(finding.bad_value)[:99] if finding.bad_value else ""
    segments = [Segment("IK4", [position, finding.element_reference or "", finding.code, bad_value])]
    if finding.trigger and finding.code in _MISSING_CODES:
        segments.append(_trigger_context(finding.trigger))
    return segments


def _trigger_context(trigger: SituationalTrigger) -> Segment:
    return Segment("CTX", ["SITUATIONAL TRIGGER", trigger.segment_tag, str(trigger.segment_position),
                           _loop(trigger.loop_id), str(trigger.element_position or "")])


def _loop(loop_id: str | None) -> str:
    """Loop ids go in element 447, which holds 4 characters: guides' "2010BA" is sent as "2010" (the
    segment position next to it already pins the exact loop)."""
    return (loop_id or "").strip()[:4]


def _ak9(group: ReceivedGroup, results: Sequence[TransactionSetResult], group_errors: Sequence[str]) -> Segment:
    codes = [r.ack_code for r in results]
    accepted = sum(code in ("A", "E") for code in codes)
    if not codes or accepted == 0:
        status = "R"
    elif accepted < len(codes):
        status = "P"  # partially accepted: at least one set rejected
    elif "E" in codes or group_errors:
        status = "E"
    else:
        status = "A"
    included = group.transaction_sets_included if group.transaction_sets_included is not None else len(results)
    return Segment("AK9", [status, str(included), str(len(results)), str(accepted), *group_errors])
