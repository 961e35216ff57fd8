"""The 277CA claim acknowledgment (005010X214): reading one (what a submitter gets back for each claim of its
837) and writing one (what a clearinghouse or payer answers), pure.

- `read_277ca`: every claim's verdict (by its patient control number, TRN*2 of 2200D) with the STC codes
  decoded, the payer's claim control number (REF*1K) and the billing provider's NPI; plus the batch-level
  status of each information receiver, so a batch rejected as a whole is never lost. Every interchange of the
  file is read. Envelope defects are tolerated and reported (`envelope_errors`, and with the warnings as
  `issues`: `ReadingIssue`s naming the interchange); text that is not a 277 raises `UnparseableAcknowledgment`
  (reasons name segments and positions only: element values can be PHI). An interchange of another version
  than 5010 (ISA12, GS08, ST03; e.g. 4010's 004010X167) is refused alone with a rejected_interchange issue, as
  for the 999: its claims simply wait for an acknowledgment, the other interchanges' are applied;
  `UnsupportedAcknowledgmentVersion` when no interchange is 5010.
- `build_277ca`: 2000A information source, 2000B information receiver (the submitter) with the batch
  totals, 2000C billing provider, 2000D patient with the claim's STC. Decisions come from the caller: the
  writer refuses inputs that would make a contradictory acknowledgment. Messages name fields and codes,
  never values (names and ids are PHI).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from rcm_x12.codec import EnvelopeError, Segment, TransactionSet, build_interchange
from rcm_x12.format import d8_date, free_text, parse_count, quote_code, quote_control_number, x12_amount
from rcm_x12.reading import (
    ReadingIssue,
    UnparseableAcknowledgment,
    UnsupportedAcknowledgmentVersion,
    implementation_warnings,
    open_interchanges,
    optional_number,
    warning_issues,
)

__all__ = [
    "BatchAcknowledgment", "ClaimAcknowledgment", "ClaimAcknowledgments", "ClaimDecision", "ClaimStatus",
    "LineAcknowledgment", "Party", "StatusCode", "UnparseableAcknowledgment", "UnsupportedAcknowledgmentVersion",
    "build_277ca", "read_277ca",
    "transaction_277ca",
]

IMPLEMENTATION_277CA = "005010X214"
FUNCTIONAL_ID_277 = "HN"

# ---------------------------------------------------------------- code lists (plain-language paraphrases)

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

ACCEPTED_CATEGORIES = frozenset({"A0", "A1", "A2", "A5"})  # forwarded, received, accepted, split
REJECTED_CATEGORIES = frozenset({"A3", "A4", "A6", "A7", "A8"})  # returned, not found, rejected (missing,
# invalid, relational field)

_CODE = re.compile(r"[A-Z0-9]{1,3}")

# ================================================================ reading


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
    envelope_errors: tuple[EnvelopeError, ...] = ()  # every interchange's
    warnings: tuple[str, ...] = ()
    issues: tuple[ReadingIssue, ...] = ()  # the envelope errors and warnings by interchange, refused interchanges

    def for_claim(self, patient_control_number: str) -> ClaimAcknowledgment | None:
        return next((c for c in self.claims if c.patient_control_number == patient_control_number), None)


def read_277ca(text: str) -> ClaimAcknowledgments:
    opened = open_interchanges(text, "277", IMPLEMENTATION_277CA, UnparseableAcknowledgment,
                               UnsupportedAcknowledgmentVersion)
    warnings: list[str] = []
    batches: list[BatchAcknowledgment] = []
    claims: list[ClaimAcknowledgment] = []
    envelope_errors: list[EnvelopeError] = [e for _, interchange in opened.interchanges for e in interchange.errors]
    issues = list(opened.issues)
    for number, interchange, transaction in opened.sets("277", issues):
        found = implementation_warnings(transaction, IMPLEMENTATION_277CA)
        reader = _AcknowledgmentReader(transaction, found)
        found_batches, found_claims = reader.batches(), reader.claims()
        found.extend(_count_warnings(transaction, found_batches, found_claims))
        warnings += found
        issues += warning_issues(number, interchange, found, transaction.control_number)
        batches.extend(found_batches)
        claims.extend(found_claims)
    return ClaimAcknowledgments(batches=tuple(batches), claims=tuple(claims), envelope_errors=tuple(envelope_errors),
                                warnings=tuple(warnings), issues=tuple(issues))


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
            raise UnparseableAcknowledgment(f"277 {quote_control_number(transaction.control_number)} has no information source "
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
        quantities = {s.element(1): parse_count(s.element(2)) for s in loop.segments if s.tag == "QTY"}
        amounts = {s.element(1): optional_number(s.element(2), f"AMT*{quote_code(s.element(1))}", self.warnings)
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
    return [f"277 {quote_control_number(transaction.control_number)}: batch totals say {accepted} accepted and {rejected} rejected "
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
            charge=optional_number(self.svc.element(2), "SVC02", warnings),
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
            total_charge=optional_number(stcs[0].element(4), "STC04", warnings) if stcs else None,
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
                warnings.append(f"{seg.tag} in patient loop HL {quote_control_number(patient.hl_id)} comes before its TRN; "
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


def _first(segments: list[Segment], tag: str) -> Segment | None:
    return next((s for s in segments if s.tag == tag), None)


# ================================================================ writing


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
        Segment("NM1", ["AY" if source.is_clearinghouse else "PR", "2", free_text(source.name), "", "", "", "",
                        source.id_qualifier, source.identifier.strip()]),
        Segment("TRN", ["1", receipt_id]),  # the source's own id for this receipt
        Segment("DTP", ["050", "D8", f"{received:%Y%m%d}"]),  # received
        Segment("DTP", ["009", "D8", f"{processed:%Y%m%d}"]),  # processed
    ]


def _receiver_loop(hl: _HierarchyCounter, receiver: Party, source: Party, batch_reference: str,
                   decisions: Sequence[ClaimDecision], processed: date) -> list[Segment]:
    return [
        hl.next(1, "21", True),
        Segment("NM1", ["41", "2", free_text(receiver.name), "", "", "", "", "46", receiver.identifier.strip()]),
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
        Segment("NM1", ["85", "2", free_text(first.billing_provider_name), "", "", "", "", "XX",
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
    return Segment("STC", [status.composite(), f"{effective:%Y%m%d}" if effective else "", "WQ", x12_amount(total)])


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
        segments.append(Segment("AMT", ["YU", x12_amount(sum((d.total_charge for d in accepted), Decimal(0)))]))
    if rejected:
        segments.append(Segment("AMT", ["YY", x12_amount(sum((d.total_charge for d in rejected), Decimal(0)))]))
    return segments


def _by_billing_provider(decisions: Sequence[ClaimDecision]) -> list[list[ClaimDecision]]:
    groups: dict[tuple[str, str], list[ClaimDecision]] = {}
    for decision in decisions:
        key = (decision.billing_provider_npi.strip(), free_text(decision.billing_provider_name))
        groups.setdefault(key, []).append(decision)
    return list(groups.values())


def _patient_loop(hl: _HierarchyCounter, parent: int, decision: ClaimDecision, processed: date) -> list[Segment]:
    segments = [
        hl.next(parent, "PT", None),  # HL04 is not used at the patient level
        Segment("NM1", ["QC", "1", free_text(decision.patient_last_name), free_text(decision.patient_first_name),
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
        elements = [first.composite(), f"{processed:%Y%m%d}", action, x12_amount(decision.total_charge)]
        if more:
            elements += [""] * 5 + [s.composite() for s in more]  # STC05-STC09 are not used here
        segments.append(Segment("STC", elements))
    return segments


def _service_dates(decision: ClaimDecision) -> Segment:
    end = decision.service_to or decision.service_from
    if end == decision.service_from:
        return Segment("DTP", ["472", "D8", f"{decision.service_from:%Y%m%d}"])
    return Segment("DTP", ["472", "RD8", f"{decision.service_from:%Y%m%d}-{end:%Y%m%d}"])
