"""The sandbox clearinghouse/payer's acknowledgments of a received 837: the 999 and the 277CA (pure).

- 999 (005010X231A1) answers the syntax of one functional group: one AK2/IK5 per transaction set, with an
  IK3 (segment) and IK4 (element) note per finding the caller made, and AK9 counts for the group.
- 277CA (005010X214) answers each claim: 2000A information source (us), 2000B information receiver (the
  submitter) with the batch totals, 2000C billing provider, 2000D patient with the claim's STC.

Findings and decisions come from the caller: these writers only put them into the shape the guides
require and refuse inputs that would make a contradictory acknowledgment. Messages name fields and
codes, never values (names and ids are PHI).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from rcm_runtime.x12 import Segment, build_interchange

IMPLEMENTATION_999 = "005010X231A1"
IMPLEMENTATION_277CA = "005010X214"
FUNCTIONAL_ID_999 = "FA"
FUNCTIONAL_ID_277 = "HN"

# IK304 (segment syntax error codes) and IK403 (element syntax error codes) of the 999 code lists.
SEGMENT_ERROR_CODES = frozenset({"1", "2", "3", "4", "5", "6", "7", "8", "I4", "I6", "I7", "I8", "I9"})
ELEMENT_ERROR_CODES = frozenset({"1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "12", "13",
                                 "I6", "I9", "I10", "I11", "I12", "I13"})
TRANSACTION_SET_ERROR_CODES = frozenset({"1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13", "15",
                                         "16", "17", "18", "19", "23", "24", "25", "26", "27", "I5", "I6"})
GROUP_ERROR_CODES = frozenset({"1", "2", "3", "4", "5", "6", "10", "11", "12", "13", "14", "15", "16", "17",
                               "18", "19", "23", "24", "25", "26"})
SEGMENT_HAS_ELEMENT_ERRORS = "8"  # IK304 for an IK3 that only carries IK4s
_MISSING_CODES = frozenset({"I6", "I9"})  # "implementation dependent ... missing/present": a trigger explains them

ACCEPTED_CATEGORIES = frozenset({"A0", "A1", "A2", "A5"})  # forwarded, received, accepted, split
REJECTED_CATEGORIES = frozenset({"A3", "A4", "A6", "A7", "A8"})  # returned, not found, rejected (missing,
# invalid, relational field)

_CODE = re.compile(r"[A-Z0-9]{1,3}")
_X12_UNSAFE = re.compile(r"[*~:^|>]")  # delimiters we write or that partners commonly use
CENT = Decimal("0.01")


# ---------------------------------------------------------------- 999


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
        segments.append(Segment("CTX", [f"CLM01:{_text(first.claim_id)[:35]}"]))
    if segment_level and first.trigger:
        segments.append(_trigger_context(first.trigger))
    if not segment_level:
        for finding in findings:
            segments.extend(_element_note(finding))
    return segments


def _element_note(finding: Finding) -> list[Segment]:
    position = ":".join(str(p) if p else "" for p in
                        (finding.element_position, finding.component_position, finding.repetition_position))
    bad_value = _text(finding.bad_value)[:99] if finding.bad_value else ""
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


# ---------------------------------------------------------------- 277CA


@dataclass(frozen=True)
class StatusCode:
    """One STC01 (or STC10/STC11) composite: category, status code and, where the code needs it, entity."""

    category: str  # e.g. A2 accepted, A7 rejected for invalid information
    code: str  # e.g. 20 accepted for processing, 562 entity's NPI
    entity: str | None = None  # e.g. 85 billing provider

    def __post_init__(self) -> None:
        if not _CODE.fullmatch(self.category) or not _CODE.fullmatch(self.code):
            raise ValueError("status category and code must be short upper-case codes")
        if self.entity is not None and not _CODE.fullmatch(self.entity):
            raise ValueError("status entity must be a short upper-case code")

    def composite(self) -> str:
        return ":".join(p for p in (self.category, self.code, self.entity or "") if p)


ACCEPTED_FOR_PROCESSING = StatusCode("A2", "20")
RECEIVED_BY_PAYER = StatusCode("A1", "19", "PR")  # batch/provider level: the payer acknowledges receipt


@dataclass(frozen=True)
class ClaimDecision:
    """The clearinghouse's verdict on one claim of the 837."""

    patient_control_number: str  # CLM01
    billing_provider_npi: str
    billing_provider_name: str
    patient_last_name: str
    patient_first_name: str
    member_id: str  # 2100D NM109 is required by the guide
    total_charge: Decimal
    service_from: date
    accepted: bool
    statuses: tuple[StatusCode, ...] = ()  # defaults to A2:20 when accepted; a rejection must say why
    payer_claim_control_number: str | None = None  # REF*1K
    service_to: date | None = None

    def __post_init__(self) -> None:
        statuses = tuple(self.statuses) or ((ACCEPTED_FOR_PROCESSING,) if self.accepted else ())
        object.__setattr__(self, "statuses", statuses)
        if not statuses:
            raise ValueError("a rejected claim needs at least one status code saying why")
        categories = {s.category for s in statuses}
        if self.accepted and categories & REJECTED_CATEGORIES:
            raise ValueError("an accepted claim cannot carry a rejection category (A3/A4/A6/A7/A8)")
        if not self.accepted and not categories & REJECTED_CATEGORIES:
            raise ValueError("a rejected claim needs a rejection category (A3/A4/A6/A7/A8)")
        if not self.patient_control_number.strip() or len(self.patient_control_number) > 20:
            raise ValueError("patient control number must be 1-20 characters")
        for label, value in (("billing provider NPI", self.billing_provider_npi),
                             ("billing provider name", self.billing_provider_name),
                             ("patient last name", self.patient_last_name), ("member id", self.member_id)):
            if not value.strip():
                raise ValueError(f"{label} is required")
        if self.total_charge < 0:
            raise ValueError("total charge cannot be negative")
        if self.service_to is not None and self.service_to < self.service_from:
            raise ValueError("service end date precedes its start")


@dataclass(frozen=True)
class Party:
    """An organisation named in the 277CA: the information source (payer/clearinghouse) or the receiver."""

    name: str
    identifier: str  # payer id (2100A NM109) or the submitter's ETIN (2100B NM109)
    id_qualifier: str = "PI"  # 2100A only: PI payer id, 46 ETIN, FI tax id, XV CMS plan id
    is_clearinghouse: bool = False  # 2100A NM101 AY instead of PR

    def __post_init__(self) -> None:
        if not self.name.strip() or not self.identifier.strip():
            raise ValueError("party name and identifier are required")
        if self.id_qualifier not in ("PI", "46", "FI", "XV"):
            raise ValueError("party id qualifier must be PI, 46, FI or XV")


def build_277ca(
    decisions: Sequence[ClaimDecision],
    *,
    source: Party,
    receiver: Party,
    batch_reference: str,
    received: date,
    control_number: int,
    sender_id: str,
    receiver_id: str,
    now: datetime,
    usage: str = "P",
) -> str:
    """A complete interchange holding one 277CA. `batch_reference` is the 837's BHT03, echoed in 2200B TRN02
    so the submitter can tie the acknowledgment to its batch."""
    segments = transaction_277ca(decisions, source=source, receiver=receiver, batch_reference=batch_reference,
                                 received=received, control_number=control_number, now=now)
    return build_interchange(sender_id, receiver_id, control_number, FUNCTIONAL_ID_277, IMPLEMENTATION_277CA,
                             [segments], now=now, usage=usage)


def transaction_277ca(
    decisions: Sequence[ClaimDecision], *, source: Party, receiver: Party, batch_reference: str, received: date,
    control_number: int, now: datetime,
) -> list[Segment]:
    if not decisions:
        raise ValueError("a 277CA acknowledges at least one claim")
    if not batch_reference.strip():
        raise ValueError("batch reference (the 837's BHT03) is required")
    processed = now.date()
    receipt_id = str(control_number)
    hl = _HierarchyCounter()
    segments = [
        Segment("ST", ["277", f"{control_number:04d}", IMPLEMENTATION_277CA]),
        # 0085 = information source, receiver, provider, patient; 08 = status; TH = receipt acknowledgment
        Segment("BHT", ["0085", "08", receipt_id, f"{now:%Y%m%d}", f"{now:%H%M}", "TH"]),
        *_source_loop(hl, source, receipt_id, received, processed),
        *_receiver_loop(hl, receiver, source, batch_reference, decisions, processed),
    ]
    receiver_hl = hl.current
    for provider_claims in _by_billing_provider(decisions):
        segments.extend(_provider_loop(hl, receiver_hl, provider_claims, source))
        provider_hl = hl.current
        for decision in provider_claims:
            segments.extend(_patient_loop(hl, provider_hl, decision, processed))
    return segments


@dataclass
class _HierarchyCounter:
    current: int = 0

    def next(self, parent: int | None, level: str, has_children: bool | None) -> Segment:
        self.current += 1
        child = "" if has_children is None else ("1" if has_children else "0")
        return Segment("HL", [str(self.current), str(parent or ""), level, child])


def _source_loop(hl: _HierarchyCounter, source: Party, receipt_id: str, received: date,
                 processed: date) -> list[Segment]:
    return [
        hl.next(None, "20", True),
        Segment("NM1", ["AY" if source.is_clearinghouse else "PR", "2", _text(source.name), "", "", "", "",
                        source.id_qualifier, source.identifier.strip()]),
        Segment("TRN", ["1", receipt_id]),  # the source's own id for this receipt
        Segment("DTP", ["050", "D8", f"{received:%Y%m%d}"]),  # received
        Segment("DTP", ["009", "D8", f"{processed:%Y%m%d}"]),  # processed
    ]


def _receiver_loop(hl: _HierarchyCounter, receiver: Party, source: Party, batch_reference: str,
                   decisions: Sequence[ClaimDecision], processed: date) -> list[Segment]:
    return [
        hl.next(1, "21", True),
        Segment("NM1", ["41", "2", _text(receiver.name), "", "", "", "", "46", receiver.identifier.strip()]),
        Segment("TRN", ["2", batch_reference.strip()]),
        _summary_status(source, decisions, processed),
        *_totals(decisions, accepted_qty="90", rejected_qty="AA"),
    ]


def _provider_loop(hl: _HierarchyCounter, parent: int, decisions: list[ClaimDecision],
                   source: Party) -> list[Segment]:
    first = decisions[0]
    status = _summary_status(source, decisions, None)
    return [
        hl.next(parent, "19", True),
        Segment("NM1", ["85", "2", _text(first.billing_provider_name), "", "", "", "", "XX",
                        first.billing_provider_npi.strip()]),
        # The guide allows 0 when the source keeps no trace of its own per provider, which is our case.
        Segment("TRN", ["1", "0"]),
        status,
        *_totals(decisions, accepted_qty="QA", rejected_qty="QC"),
    ]


def _summary_status(source: Party, decisions: Sequence[ClaimDecision], effective: date | None) -> Segment:
    """Batch/provider level: receipt acknowledged by the source; the per-claim verdicts come in 2200D."""
    entity = "AY" if source.is_clearinghouse else "PR"
    status = StatusCode(RECEIVED_BY_PAYER.category, RECEIVED_BY_PAYER.code, entity)
    total = sum((d.total_charge for d in decisions), Decimal(0))
    # STC02 (effective date) is required at 2200B and not used at 2200C.
    return Segment("STC", [status.composite(), f"{effective:%Y%m%d}" if effective else "", "WQ", _amount(total)])


def _totals(decisions: Sequence[ClaimDecision], *, accepted_qty: str, rejected_qty: str) -> list[Segment]:
    accepted = [d for d in decisions if d.accepted]
    rejected = [d for d in decisions if not d.accepted]
    segments = []
    # Each count/amount is sent only when there is something to count (the guide's situational rule).
    if accepted:
        segments.append(Segment("QTY", [accepted_qty, str(len(accepted))]))
    if rejected:
        segments.append(Segment("QTY", [rejected_qty, str(len(rejected))]))
    if accepted:
        segments.append(Segment("AMT", ["YU", _amount(sum((d.total_charge for d in accepted), Decimal(0)))]))
    if rejected:
        segments.append(Segment("AMT", ["YY", _amount(sum((d.total_charge for d in rejected), Decimal(0)))]))
    return segments


def _by_billing_provider(decisions: Sequence[ClaimDecision]) -> list[list[ClaimDecision]]:
    groups: dict[tuple[str, str], list[ClaimDecision]] = {}
    for decision in decisions:
        key = (decision.billing_provider_npi.strip(), _text(decision.billing_provider_name))
        groups.setdefault(key, []).append(decision)
    return list(groups.values())


def _patient_loop(hl: _HierarchyCounter, parent: int, decision: ClaimDecision, processed: date) -> list[Segment]:
    segments = [
        hl.next(parent, "PT", None),  # HL04 is not used at the patient level
        Segment("NM1", ["QC", "1", _text(decision.patient_last_name), _text(decision.patient_first_name),
                        "", "", "", "MI", decision.member_id.strip()]),
        Segment("TRN", ["2", decision.patient_control_number.strip()]),
        *_claim_statuses(decision, processed),
    ]
    if decision.payer_claim_control_number:
        segments.append(Segment("REF", ["1K", decision.payer_claim_control_number.strip()]))
    segments.append(_service_dates(decision))
    return segments


def _claim_statuses(decision: ClaimDecision, processed: date) -> list[Segment]:
    """STC01, STC10 and STC11 hold up to three status composites; more statuses repeat the STC."""
    action = "WQ" if decision.accepted else "U"  # WQ accept, U reject
    segments = []
    statuses = list(decision.statuses)
    for start in range(0, len(statuses), 3):
        first, *more = statuses[start:start + 3]
        elements = [first.composite(), f"{processed:%Y%m%d}", action, _amount(decision.total_charge)]
        if more:
            elements += [""] * 5 + [s.composite() for s in more]  # STC05-STC09 are not used here
        segments.append(Segment("STC", elements))
    return segments


def _service_dates(decision: ClaimDecision) -> Segment:
    end = decision.service_to or decision.service_from
    if end == decision.service_from:
        return Segment("DTP", ["472", "D8", f"{decision.service_from:%Y%m%d}"])
    return Segment("DTP", ["472", "RD8", f"{decision.service_from:%Y%m%d}-{end:%Y%m%d}"])


# ---------------------------------------------------------------- formatting


def _amount(value: Decimal) -> str:
    """X12 'R' amounts: cents at most, no trailing zeros after the point (the standard suppresses them)."""
    text = f"{value.quantize(CENT):f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def _text(value: str) -> str:
    """Free text from people's records may hold delimiter characters; blank them rather than fail the ack."""
    return " ".join(_X12_UNSAFE.sub(" ", value).split())
