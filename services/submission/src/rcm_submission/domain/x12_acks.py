"""Reading the acknowledgments of a submitted 837 (pure): the 999 (005010X231A1) and the 277CA (005010X214).

- `read_999`: one `GroupAcknowledgment` per 999 transaction set: the AK1 group it answers, the AK9 verdict,
  and per acknowledged transaction set (AK2, by its ST02) accepted / accepted with errors / rejected, with
  every IK3/IK4 finding decoded into plain words.
- `read_277ca`: every claim's verdict (by its patient control number, TRN*2 of 2200D) with the STC codes
  decoded, the payer's claim control number (REF*1K) and the billing provider's NPI; plus the batch-level
  status of each information receiver, so a batch rejected as a whole is never lost.

Envelope defects are tolerated and reported (`envelope_errors`); text that is not such an acknowledgment
raises `UnparseableAcknowledgment`, whose reason names segments and positions only: element values can be
PHI. For the same reason IK404 (the 999's copy of the bad data element) is never kept.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum

from rcm_runtime.errors import DomainError
from rcm_runtime.x12 import (
    EnvelopeError, Interchange, Segment, TransactionSet, X12Error, d8_date, parse_interchange, quote_code,
)

IMPLEMENTATION_999 = "005010X231A1"
IMPLEMENTATION_277CA = "005010X214"

_DIGITS = re.compile(r"[0-9]+")
_NUMBER = re.compile(r"-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)")  # X12 'R' type, ASCII digits only

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

CATEGORY_CODES: dict[str, str] = {  # STC01-1 acknowledgment categories
    "A0": "Acknowledgement/Forwarded: the claim was forwarded to another entity",
    "A1": "Acknowledgement/Receipt: the claim was received (not yet accepted for adjudication)",
    "A2": "Acknowledgement/Acceptance into the adjudication system",
    "A3": "Acknowledgement/Returned as unprocessable claim",
    "A4": "Acknowledgement/Not found",
    "A5": "Acknowledgement/Split claim",
    "A6": "Acknowledgement/Rejected for missing information",
    "A7": "Acknowledgement/Rejected for invalid information",
    "A8": "Acknowledgement/Rejected for relational field in error",
}

STATUS_CODES: dict[str, str] = {  # STC01-2, the frequent ones on 277CAs
    "0": "Cannot provide further status electronically",
    "3": "Claim has been adjudicated and is awaiting payment cycle",
    "16": "Claim has been forwarded to the entity",
    "19": "Entity acknowledges receipt of the claim",
    "20": "Accepted for processing",
    "21": "Missing or invalid information",
    "23": "Returned to entity",
    "24": "Entity not approved as an electronic submitter",
    "26": "Entity not found",
    "29": "Subscriber and policy number/contract number mismatched",
    "30": "Subscriber and subscriber id mismatched",
    "33": "Subscriber and subscriber id not found",
    "35": "Claim not found",
    "54": "Duplicate of a previously processed claim or line",
    "78": "Duplicate of an existing claim or line, awaiting processing",
    "85": "Entity not primary",
    "88": "Entity not eligible for benefits for the submitted dates of service",
    "96": "No agreement with the entity",
    "97": "Patient eligibility not found with the entity",
    "109": "Entity not eligible",
    "116": "Claim submitted to the incorrect payer",
    "125": "Entity's name",
    "126": "Entity's address",
    "128": "Entity's tax id",
    "145": "Entity's specialty/taxonomy code",
    "153": "Entity's id number",
    "158": "Entity's date of birth",
    "164": "Entity's contract/member number",
    "178": "Submitted charges",
    "187": "Date(s) of service",
    "247": "Line information",
    "249": "Place of service",
    "254": "Principal diagnosis code",
    "255": "Diagnosis code",
    "400": "Claim is out of balance",
    "453": "Procedure code modifier(s) for the service(s) rendered",
    "454": "Procedure code for the services rendered",
    "464": "Payer assigned claim control number",
    "476": "Missing or invalid units of service",
    "477": "Diagnosis code pointer is missing or invalid",
    "481": "Claim/submission format is invalid",
    "496": "Submitter not approved for electronic claim submissions on behalf of this entity",
    "503": "Entity's street address",
    "510": "Future date",
    "511": "Invalid character",
    "562": "Entity's National Provider Identifier (NPI)",
    "673": "Patient reason for visit",
    "684": "Rejected: syntax error noted for this claim (see the 999 acknowledgment)",
}

ENTITY_CODES: dict[str, str] = {  # STC01-3
    "03": "Dependent",
    "1P": "Provider",
    "36": "Employer",
    "40": "Receiver",
    "41": "Submitter",
    "71": "Attending physician",
    "72": "Operating physician",
    "77": "Service location",
    "82": "Rendering provider",
    "85": "Billing provider",
    "87": "Pay-to provider",
    "AY": "Clearinghouse",
    "DK": "Ordering physician",
    "DN": "Referring provider",
    "DQ": "Supervising physician",
    "IL": "Insured or subscriber",
    "PR": "Payer",
    "QC": "Patient",
}

ACCEPTED_CATEGORIES = frozenset({"A0", "A1", "A2", "A5"})
REJECTED_CATEGORIES = frozenset({"A3", "A4", "A6", "A7", "A8"})


class UnparseableAcknowledgment(DomainError):
    """The input is not the expected acknowledgment (reason names structure only, never element values)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


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
    envelope_errors: tuple[EnvelopeError, ...] = ()
    warnings: tuple[str, ...] = ()

    def for_transaction_set(self, control_number: str) -> TransactionSetAcknowledgment | None:
        return next((t for t in self.transaction_sets if t.control_number == control_number), None)


# ---------------------------------------------------------------- 999


def read_999(text: str) -> list[GroupAcknowledgment]:
    interchange = _interchange(text)
    acks = _transactions(interchange, "999")
    return [_GroupReader(t, tuple(interchange.errors)).read() for t in acks]


class _GroupReader:
    """Walks one 999: AK1, then per AK2 its IK3 loops (CTX, IK4, CTX) and IK5, then AK9."""

    def __init__(self, transaction: TransactionSet, envelope_errors: tuple[EnvelopeError, ...]) -> None:
        self.transaction = transaction
        self.envelope_errors = envelope_errors
        self.warnings: list[str] = _implementation_warnings(transaction, IMPLEMENTATION_999)
        self.ak1: Segment | None = None
        self.ak9: Segment | None = None
        self.sets: list[TransactionSetAcknowledgment] = []
        self.ak2: Segment | None = None
        self.loops: list[_ErrorLoop] = []

    def read(self) -> GroupAcknowledgment:
        for position, seg in enumerate(self.transaction.body, start=2):
            self.add(seg, position)
        if self.ak2 is not None:
            raise UnparseableAcknowledgment(f"999 {_safe(self.transaction.control_number)}: "
                                            "AK2 has no IK5 trailer")
        if self.ak1 is None or self.ak9 is None:
            missing = "AK1" if self.ak1 is None else "AK9"
            raise UnparseableAcknowledgment(f"999 {_safe(self.transaction.control_number)} has no {missing} segment")
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
            transaction_sets_included=_count(self.ak9.element(2)),
            transaction_sets_received=_count(self.ak9.element(3)),
            transaction_sets_accepted=_count(self.ak9.element(4)),
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
            segment_tag=ik3.element(1), segment_position=_count(ik3.element(2)), loop_id=ik3.element(3) or None,
            segment_error=_decode(ik3.element(4), SEGMENT_ERRORS, "segment syntax error"),
            business_unit=(unit.component(1, 1) or None) if unit else None,
            business_unit_id=(unit.component(1, 2) or None) if unit else None,
            trigger_segment=(trigger.element(2) or None) if trigger else None,
        )
        if not self.notes:
            return [SyntaxFinding(**base)]
        return [SyntaxFinding(
            **base,
            element_position=_count(note.component(1, 1)), component_position=_count(note.component(1, 2)),
            repetition_position=_count(note.component(1, 3)), element_reference=note.element(2) or None,
            element_error=_decode(note.element(3), ELEMENT_ERRORS, "element syntax error"),
        ) for note in self.notes]


# ---------------------------------------------------------------- 277CA


@dataclass(frozen=True)
class ClaimStatus:
    """One STC composite (STC01, STC10 or STC11) decoded."""

    category: str
    category_meaning: str
    code: str
    meaning: str
    entity: str | None
    entity_meaning: str | None
    action: str | None  # STC03 of its segment: WQ accepted, U rejected
    effective_date: date | None  # STC02 of its segment

    @property
    def rejects(self) -> bool:
        return self.category in REJECTED_CATEGORIES

    @property
    def accepts(self) -> bool:
        return self.category in ACCEPTED_CATEGORIES


@dataclass(frozen=True)
class LineAcknowledgment:
    """A service line the 277CA reports on (2220D), usually because that line is why a claim was rejected."""

    procedure_code: str | None
    modifiers: tuple[str, ...]
    charge: Decimal | None
    statuses: tuple[ClaimStatus, ...]
    line_item_control_number: str | None  # REF*FJ: echoes the 837's REF*6R
    service_from: date | None
    service_to: date | None


@dataclass(frozen=True)
class ClaimAcknowledgment:
    patient_control_number: str | None  # TRN02 of 2200D = CLM01 of the 837
    accepted: bool | None  # None when no recognised category says either way (see warnings)
    statuses: tuple[ClaimStatus, ...]
    payer_claim_control_number: str | None  # REF*1K
    clearinghouse_trace_number: str | None  # REF*D9
    billing_provider_npi: str | None  # 2100C NM109 when NM108 is XX
    total_charge: Decimal | None  # STC04
    service_from: date | None
    service_to: date | None
    lines: tuple[LineAcknowledgment, ...] = ()


@dataclass(frozen=True)
class BatchAcknowledgment:
    """2000A/2000B: the information source's verdict on the submitter's batch as a whole."""

    source_name: str | None  # 2100A NM103
    source_id: str | None  # 2100A NM109
    receiver_id: str | None  # 2100B NM109: the submitter's id
    batch_reference: str | None  # 2200B TRN02: the 837's BHT03
    statuses: tuple[ClaimStatus, ...]
    accepted_quantity: int | None  # QTY*90
    rejected_quantity: int | None  # QTY*AA
    accepted_amount: Decimal | None  # AMT*YU
    rejected_amount: Decimal | None  # AMT*YY


@dataclass(frozen=True)
class ClaimAcknowledgments:
    batches: tuple[BatchAcknowledgment, ...]
    claims: tuple[ClaimAcknowledgment, ...]
    envelope_errors: tuple[EnvelopeError, ...] = ()
    warnings: tuple[str, ...] = ()

    def for_claim(self, patient_control_number: str) -> ClaimAcknowledgment | None:
        return next((c for c in self.claims if c.patient_control_number == patient_control_number), None)


def read_277ca(text: str) -> ClaimAcknowledgments:
    interchange = _interchange(text)
    warnings: list[str] = []
    batches: list[BatchAcknowledgment] = []
    claims: list[ClaimAcknowledgment] = []
    for transaction in _transactions(interchange, "277"):
        warnings.extend(_implementation_warnings(transaction, IMPLEMENTATION_277CA))
        reader = _AcknowledgmentReader(transaction, warnings)
        found_batches, found_claims = reader.batches(), reader.claims()
        warnings.extend(_count_warnings(transaction, found_batches, found_claims))
        batches.extend(found_batches)
        claims.extend(found_claims)
    return ClaimAcknowledgments(batches=tuple(batches), claims=tuple(claims),
                                envelope_errors=tuple(interchange.errors), warnings=tuple(warnings))


@dataclass
class _Hl:
    hl_id: str
    parent_id: str
    level: str
    segments: list[Segment] = field(default_factory=list)


_PATIENT_LEVELS = ("PT", "22", "23")  # 277CA uses PT; some senders keep the 277's subscriber/dependent levels


class _AcknowledgmentReader:
    def __init__(self, transaction: TransactionSet, warnings: list[str]) -> None:
        self.warnings = warnings
        self.loops = self._loops(transaction)
        self.by_id = {loop.hl_id: loop for loop in self.loops}
        if not any(loop.level == "20" for loop in self.loops):
            raise UnparseableAcknowledgment(f"277 {_safe(transaction.control_number)} has no information source "
                                            "(HL level 20) loop")

    @staticmethod
    def _loops(transaction: TransactionSet) -> list[_Hl]:
        loops: list[_Hl] = []
        for seg in transaction.body:
            if seg.tag == "HL":
                loops.append(_Hl(seg.element(1), seg.element(2), seg.element(3)))
            elif loops:
                loops[-1].segments.append(seg)
        return loops

    def ancestor(self, loop: _Hl, level: str) -> _Hl | None:
        seen = {loop.hl_id}
        while loop.parent_id in self.by_id and loop.parent_id not in seen:
            loop = self.by_id[loop.parent_id]
            if loop.level == level:
                return loop
            seen.add(loop.hl_id)
        return None

    def batches(self) -> list[BatchAcknowledgment]:
        return [self._batch(loop) for loop in self.loops if loop.level == "21"]

    def _batch(self, loop: _Hl) -> BatchAcknowledgment:
        source = self.ancestor(loop, "20")
        source_name = _first(source.segments, "NM1") if source else None
        receiver_name = _first(loop.segments, "NM1")
        trace = _first(loop.segments, "TRN")
        quantities = {s.element(1): _count(s.element(2)) for s in loop.segments if s.tag == "QTY"}
        amounts = {s.element(1): _money(s.element(2), f"AMT*{quote_code(s.element(1))}", self.warnings)
                   for s in loop.segments if s.tag == "AMT"}
        return BatchAcknowledgment(
            source_name=(source_name.element(3) or None) if source_name else None,
            source_id=(source_name.element(9) or None) if source_name else None,
            receiver_id=(receiver_name.element(9) or None) if receiver_name else None,
            batch_reference=(trace.element(2) or None) if trace else None,
            statuses=tuple(_statuses([s for s in loop.segments if s.tag == "STC"], self.warnings)),
            accepted_quantity=quantities.get("90"), rejected_quantity=quantities.get("AA"),
            accepted_amount=amounts.get("YU"), rejected_amount=amounts.get("YY"),
        )

    def claims(self) -> list[ClaimAcknowledgment]:
        found = []
        for loop in self.loops:
            if loop.level in _PATIENT_LEVELS:
                provider = self.ancestor(loop, "19")
                npi = _billing_npi(provider)
                found.extend(claim.build(npi, self.warnings) for claim in _claims_of(loop, self.warnings))
        return found


def _count_warnings(transaction: TransactionSet, batches: list[BatchAcknowledgment],
                    claims: list[ClaimAcknowledgment]) -> list[str]:
    """The batch totals (QTY*90/AA) are what a submitter reconciles first; say when the claim loops disagree."""
    stated = [(b.accepted_quantity, b.rejected_quantity) for b in batches]
    if not stated or all(a is None and r is None for a, r in stated):
        return []
    accepted = sum(a or 0 for a, _ in stated)
    rejected = sum(r or 0 for _, r in stated)
    found_accepted = sum(c.accepted is True for c in claims)
    found_rejected = sum(c.accepted is False for c in claims)
    if (accepted, rejected) == (found_accepted, found_rejected):
        return []
    return [f"277 {_safe(transaction.control_number)}: batch totals say {accepted} accepted and {rejected} rejected "
            f"claims, the claim loops hold {found_accepted} accepted and {found_rejected} rejected"]


def _billing_npi(provider: _Hl | None) -> str | None:
    name = next((s for s in provider.segments if s.tag == "NM1" and s.element(1) == "85"), None) if provider else None
    return (name.element(9) or None) if name and name.element(8) == "XX" else None


@dataclass
class _LineDraft:
    svc: Segment
    segments: list[Segment] = field(default_factory=list)

    def build(self, warnings: list[str]) -> LineAcknowledgment:
        start, end = _service_period(self.segments, warnings)
        ref = next((s for s in self.segments if s.tag == "REF" and s.element(1) == "FJ"), None)
        parts = self.svc.components(1)
        return LineAcknowledgment(
            procedure_code=(parts[1] or None) if len(parts) > 1 else None, modifiers=tuple(p for p in parts[2:] if p),
            charge=_money(self.svc.element(2), "SVC02", warnings),
            statuses=tuple(_statuses([s for s in self.segments if s.tag == "STC"], warnings)),
            line_item_control_number=(ref.element(2) or None) if ref else None, service_from=start, service_to=end,
        )


@dataclass
class _ClaimDraft:
    trn: Segment | None
    segments: list[Segment] = field(default_factory=list)
    lines: list[_LineDraft] = field(default_factory=list)

    def add(self, seg: Segment) -> None:
        if seg.tag == "SVC":
            self.lines.append(_LineDraft(seg))
        elif self.lines:
            self.lines[-1].segments.append(seg)
        else:
            self.segments.append(seg)

    def build(self, billing_npi: str | None, warnings: list[str]) -> ClaimAcknowledgment:
        stcs = [s for s in self.segments if s.tag == "STC"]
        statuses = _statuses(stcs, warnings)
        refs = {s.element(1): s.element(2) for s in self.segments if s.tag == "REF"}
        start, end = _service_period(self.segments, warnings)
        return ClaimAcknowledgment(
            patient_control_number=(self.trn.element(2) or None) if self.trn else None,
            accepted=_accepted(statuses, stcs, warnings),
            statuses=tuple(statuses),
            payer_claim_control_number=refs.get("1K") or None,
            clearinghouse_trace_number=refs.get("D9") or None,
            billing_provider_npi=billing_npi,
            total_charge=_money(stcs[0].element(4), "STC04", warnings) if stcs else None,
            service_from=start, service_to=end,
            lines=tuple(line.build(warnings) for line in self.lines),
        )


def _claims_of(patient: _Hl, warnings: list[str]) -> list[_ClaimDraft]:
    """Each TRN*2 in a patient loop starts one claim (2200D repeats when a patient has several claims)."""
    claims: list[_ClaimDraft] = []
    for seg in patient.segments:
        if seg.tag == "TRN":
            claims.append(_ClaimDraft(seg))
        elif seg.tag in ("STC", "REF", "DTP", "SVC"):
            if not claims:
                warnings.append(f"{seg.tag} in patient loop HL {_safe(patient.hl_id)} comes before its TRN; "
                                "read as a claim without a patient control number")
                claims.append(_ClaimDraft(None))
            claims[-1].add(seg)
    return claims


def _accepted(statuses: list[ClaimStatus], stcs: list[Segment], warnings: list[str]) -> bool | None:
    """Any rejection category (or a U action) rejects the claim; otherwise an acceptance category accepts it."""
    if any(s.rejects for s in statuses) or any(stc.element(3) == "U" for stc in stcs):
        return False
    if any(s.accepts for s in statuses):
        return True
    warnings.append("a claim's STC categories neither accept nor reject it; acceptance unknown")
    return None


def _statuses(stcs: list[Segment], warnings: list[str]) -> list[ClaimStatus]:
    found = []
    for stc in stcs:
        effective = d8_date(stc.element(2)) if stc.element(2) else None
        if stc.element(2) and effective is None:
            warnings.append("STC02 has an unreadable date")
        for position in (1, 10, 11):  # STC01, STC10, STC11: up to three statuses per segment
            category, code, entity = (stc.component(position, i) for i in (1, 2, 3))
            if category or code:
                found.append(_status(category, code, entity, stc.element(3) or None, effective))
    return found


def _status(category: str, code: str, entity: str, action: str | None, effective: date | None) -> ClaimStatus:
    return ClaimStatus(
        category=category,
        category_meaning=CATEGORY_CODES.get(category) or f"Unrecognised status category {quote_code(category)}",
        code=code,
        meaning=STATUS_CODES.get(code) or f"Status code {quote_code(code)} (not in the local table)",
        entity=entity or None,
        entity_meaning=(ENTITY_CODES.get(entity) or f"Entity code {quote_code(entity)}") if entity else None,
        action=action,
        effective_date=effective,
    )


def _service_period(segments: list[Segment], warnings: list[str]) -> tuple[date | None, date | None]:
    dtp = next((s for s in segments if s.tag == "DTP" and s.element(1) == "472"), None)
    if dtp is None:
        return None, None
    value = dtp.element(3)
    start_text, _, end_text = value.partition("-") if dtp.element(2) == "RD8" else (value, "", value)
    start, end = d8_date(start_text), d8_date(end_text)
    if start is None or end is None:
        warnings.append("DTP*472 has an unreadable service date")
        return None, None
    if start.year < 1900:
        warnings.append("DTP*472 service date is before 1900 (a placeholder?)")
    return start, end


# ---------------------------------------------------------------- shared helpers


def _interchange(text: str) -> Interchange:
    try:
        return parse_interchange(text)
    except X12Error as exc:
        raise UnparseableAcknowledgment(f"not an X12 interchange: {exc}") from None


def _transactions(interchange: Interchange, id_code: str) -> list[TransactionSet]:
    found = [t for t in interchange.transactions if t.id_code == id_code]
    if not found:
        present = sorted({quote_code(t.id_code) for t in interchange.transactions})
        raise UnparseableAcknowledgment(f"no {id_code} transaction set in the interchange "
                                        f"(found: {', '.join(present) or 'none'})")
    return found


def _implementation_warnings(transaction: TransactionSet, expected: str) -> list[str]:
    reference = transaction.implementation_reference
    if reference == expected:
        return []
    return [f"transaction set {_safe(transaction.control_number)}: implementation reference "
            f"{quote_code(reference) if reference else 'absent'} is not {expected}; read as {expected}"]


def _first(segments: list[Segment], tag: str) -> Segment | None:
    return next((s for s in segments if s.tag == tag), None)


def _coded(seg: Segment, positions: range, table: dict[str, str], kind: str) -> tuple[CodedError, ...]:
    codes = [seg.element(p) for p in positions]
    return tuple(CodedError(c, _meaning(c, table, kind)) for c in codes if c)


def _decode(code: str, table: dict[str, str], kind: str) -> CodedError | None:
    return CodedError(code, _meaning(code, table, kind)) if code else None


def _meaning(code: str, table: dict[str, str], kind: str) -> str:
    return table.get(code) or f"Unrecognised {kind} code {quote_code(code)}"


def _count(value: str) -> int | None:
    return int(value) if _DIGITS.fullmatch(value.strip()) else None


def _money(text: str, label: str, warnings: list[str]) -> Decimal | None:
    if not text:
        return None
    if not _NUMBER.fullmatch(text):
        warnings.append(f"{label} is not a number; ignored")
        return None
    return Decimal(text)



def _safe(control_number: str) -> str:
    return repr(control_number) if re.fullmatch(r"[A-Za-z0-9]{1,15}", control_number) else "<invalid>"
