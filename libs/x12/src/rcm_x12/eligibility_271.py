"""Reading a 005010X279A1 271 eligibility response into coverage summaries (pure).

One `CoverageSummary` per patient loop (2000C subscriber, or 2000D dependent when the patient is a
dependent). A response with no patient loop at all (e.g. the payer refused the provider at 2100B) still
yields one summary per information source, so its rejection is never lost.

Only the member id is kept from the patient's identity: names, birth dates and addresses are PHI the
pipeline does not need once the response is matched to the inquiry (via the echoed TRN trace number).

Every interchange of the file is read (each with its own delimiters). Envelope defects are tolerated and carried
on each summary of their interchange; `read_271` also returns them, with the warnings, as `ReadingIssue`s. Text
that is not a 271 raises Unparseable271.

Versions: an interchange of another version than 5010 (ISA12, GS08 or ST03 of 4010, e.g. 004010X092A1) is never
read as 5010. Only that interchange is refused (a rejected_interchange issue): each interchange answers its own
270 inquiries, and an inquiry left unanswered is simply not verified (its claim waits for the front desk), while
the 5010 answers beside it are as good as alone. When no 5010 interchange is left, Unsupported271Version.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Protocol, TypeVar

from rcm_x12.codec import EnvelopeError, Segment, TransactionSet
from rcm_x12.format import d8_date, quote_code, quote_control_number
from rcm_x12.reading import (
    ReadingIssue,
    Unreadable,
    UnsupportedVersion,
    open_interchanges,
    optional_number,
    warning_issues,
)

IMPLEMENTATION = "005010X279A1"

# EB01. 9-12 arrived after 005010 but are harmless to understand when a payer sends them early.
ACTIVE_CODES = frozenset({"1", "2", "3", "4", "5", "11"})
INACTIVE_CODES = frozenset({"6", "7", "8", "9", "10", "12"})
COINSURANCE, COPAY, DEDUCTIBLE, OUT_OF_POCKET = "A", "B", "C", "G"
INDIVIDUAL, FAMILY = "IND", "FAM"  # EB02 coverage levels most callers ask about

_LOOP_LETTER = {"20": "A", "21": "B", "22": "C", "23": "D"}

REJECT_REASONS: dict[str, str] = {  # AAA03 as used by the 271 (TR3 code list, in plain words)
    "04": "Authorized quantity exceeded",
    "15": "Required application data missing",
    "33": "Input errors",
    "35": "Out of network",
    "41": "Authorization/access restrictions: the submitter may not make this inquiry",
    "42": "Payer unable to respond at the current time (system unavailable)",
    "43": "Invalid or missing provider identification",
    "44": "Invalid or missing provider name",
    "45": "Invalid or missing provider specialty",
    "46": "Invalid or missing provider phone number",
    "47": "Invalid or missing provider state",
    "48": "Invalid or missing referring provider identification number",
    "49": "Provider is not the patient's primary care physician",
    "50": "Provider ineligible for inquiries: the payer does not accept eligibility inquiries from this provider",
    "51": "Provider not on file with the payer",
    "52": "Service dates not within the provider's plan enrollment",
    "53": "Inquired benefit inconsistent with provider type",
    "54": "Inappropriate product/service ID qualifier",
    "55": "Inappropriate product/service ID",
    "56": "Inappropriate date",
    "57": "Invalid or missing date(s) of service",
    "58": "Invalid or missing date of birth",
    "60": "Date of birth follows the date(s) of service",
    "61": "Date of death precedes the date(s) of service",
    "62": "Date of service not within the allowable inquiry period",
    "63": "Date of service is in the future",
    "64": "Invalid or missing patient ID",
    "65": "Invalid or missing patient name",
    "66": "Invalid or missing patient gender code",
    "67": "Patient not found",
    "68": "Duplicate patient ID number",
    "69": "Inconsistent with the patient's age",
    "70": "Inconsistent with the patient's gender",
    "71": "Patient birth date does not match the payer's records",
    "72": "Invalid or missing subscriber/insured ID",
    "73": "Invalid or missing subscriber/insured name",
    "74": "Invalid or missing subscriber/insured gender code",
    "75": "Subscriber/insured not found",
    "76": "Duplicate subscriber/insured ID number",
    "77": "Subscriber found, patient not found",
    "78": "Subscriber/insured not in the group/plan identified",
    "79": "Invalid participant identification",
    "80": "No response received; transaction terminated",
    "97": "Invalid or missing provider address",
    "T4": "Payer name or identifier missing",
}

FOLLOW_UP_ACTIONS: dict[str, str] = {  # AAA04
    "C": "Please correct and resubmit",
    "N": "Resubmission not allowed",
    "P": "Please resubmit original transaction",
    "R": "Resubmission allowed",
    "S": "Do not resubmit; inquiry initiated to a third party",
    "W": "Please wait 30 days and resubmit",
    "X": "Please wait 10 days and resubmit",
    "Y": "Do not resubmit; we will hold your request and respond again shortly",
}


class Unparseable271(Unreadable):
    """The input is not a 271 (reason names structure only, never patient data)."""


class Unsupported271Version(Unparseable271, UnsupportedVersion):
    """No interchange of the file is a 5010 271 (e.g. all 4010 004010X092A1): nothing is read."""


class Network(StrEnum):
    """EB12: whether a benefit applies to in-plan-network providers."""

    IN = "in"  # Y
    OUT = "out"  # N
    NOT_APPLICABLE = "not_applicable"  # W: applies regardless of network
    UNKNOWN = "unknown"  # U, or EB12 absent


class AmountBasis(StrEnum):
    """What an EB06 time period makes of an accumulator amount."""

    TOTAL = "total"  # the limit for the period (calendar/service year, contract, lifetime...)
    REMAINING = "remaining"  # 29 remaining, 33 lifetime remaining
    MET = "met"  # 24 year to date: already satisfied
    OTHER = "other"  # absent or a period we do not classify (kept raw in time_period)


_NETWORKS = {"Y": Network.IN, "N": Network.OUT, "W": Network.NOT_APPLICABLE, "U": Network.UNKNOWN}
_BASES = {**dict.fromkeys(("21", "22", "23", "25", "26", "27", "32", "34", "35", "36", "37"), AmountBasis.TOTAL),
          "29": AmountBasis.REMAINING, "33": AmountBasis.REMAINING, "24": AmountBasis.MET}


@dataclass(frozen=True)
class DateRange:
    start: date | None
    end: date | None

    def contains(self, day: date) -> bool:
        return (self.start is None or self.start <= day) and (self.end is None or day <= self.end)


@dataclass(frozen=True)
class Accumulator:
    """A deductible or out-of-pocket (stop-loss) amount from one EB segment."""

    amount: Decimal
    coverage_level: str | None  # EB02: IND, FAM, EMP, ESP...
    basis: AmountBasis
    network: Network
    time_period: str | None  # raw EB06
    service_types: tuple[str, ...]  # EB03 repetitions ('30' = plan level)
    insurance_type: str | None  # EB04


@dataclass(frozen=True)
class CostShare:
    """A copay (value in dollars) or coinsurance (value as a fraction, 0.2 = 20 %) for one service type."""

    service_type: str | None  # None when EB03 was absent
    value: Decimal
    network: Network
    coverage_level: str | None
    time_period: str | None  # e.g. 27 = per visit


@dataclass(frozen=True)
class AuthorizationRule:
    """EB11 for one service type: True = prior authorization/certification required."""

    service_type: str | None
    required: bool | None  # None = payer answered U (unknown)
    network: Network


@dataclass(frozen=True)
class EligibilityRejection:
    code: str  # AAA03, '' when the payer sent none
    meaning: str
    follow_up_action: str
    follow_up_code: str | None = None  # AAA04
    loop: str = ""  # where the payer put it: 2000A/2100A/2100B/2100C/2110C/2100D/2110D
    request_valid: bool | None = None  # AAA01


@dataclass(frozen=True)
class CoverageSummary:
    payer_id: str | None
    payer_name: str | None
    member_id: str | None
    is_dependent: bool = False
    relationship_code: str | None = None  # INS02 of a dependent (19 child, 01 spouse...)
    trace_number: str | None = None  # our 270 TRN02, echoed back (TRN01 = 2)
    active: bool | None = None  # None when the payer did not say (rejections, cannot process)
    insurance_types: tuple[str, ...] = ()  # EB04 of the coverage (HM, PR, MA, MB...)
    plan_description: str | None = None  # EB05 of the active coverage
    plan_number: str | None = None  # REF*18
    group_number: str | None = None  # REF*6P (or REF*1L)
    group_name: str | None = None  # REF03 of the group REF
    coverage_period: DateRange | None = None
    deductibles: tuple[Accumulator, ...] = ()
    out_of_pocket_limits: tuple[Accumulator, ...] = ()
    copays: tuple[CostShare, ...] = ()
    coinsurance: tuple[CostShare, ...] = ()
    authorizations: tuple[AuthorizationRule, ...] = ()
    rejections: tuple[EligibilityRejection, ...] = ()
    envelope_errors: tuple[EnvelopeError, ...] = ()  # its interchange's
    warnings: tuple[str, ...] = ()  # content problems we read around (bad numbers/dates, another 5010 guide)
    interchange: int = 1  # the 1-based place in the file of the interchange it came from

    def deductible_amount(self, level: str | None = INDIVIDUAL, basis: AmountBasis = AmountBasis.TOTAL,
                          network: Network = Network.IN, service_type: str | None = None) -> Decimal | None:
        return _accumulator(self.deductibles, level, basis, network, service_type)

    def out_of_pocket_amount(self, level: str | None = INDIVIDUAL, basis: AmountBasis = AmountBasis.TOTAL,
                             network: Network = Network.IN, service_type: str | None = None) -> Decimal | None:
        return _accumulator(self.out_of_pocket_limits, level, basis, network, service_type)

    def copay_amount(self, service_type: str = "30", network: Network = Network.IN) -> Decimal | None:
        share = _network_pick(self.copays, network, lambda c: c.service_type == service_type)
        return share.value if share else None

    def coinsurance_rate(self, service_type: str = "30", network: Network = Network.IN) -> Decimal | None:
        share = _network_pick(self.coinsurance, network, lambda c: c.service_type == service_type)
        return share.value if share else None

    def authorization_required(self, service_type: str = "30", network: Network = Network.IN) -> bool | None:
        rule = _network_pick(self.authorizations, network, lambda a: a.service_type == service_type)
        return rule.required if rule else None


class _NetworkScoped(Protocol):
    @property
    def network(self) -> Network: ...


_T = TypeVar("_T", bound=_NetworkScoped)


def _network_pick(items: Iterable[_T], network: Network, wanted: Callable[[_T], bool]) -> _T | None:
    """The first matching item for `network`, else one that is not network-specific (W, or unknown)."""
    matching = [i for i in items if wanted(i)]
    for candidate in (network, Network.NOT_APPLICABLE, Network.UNKNOWN):
        for item in matching:
            if item.network == candidate:
                return item
    return None


def _accumulator(items: tuple[Accumulator, ...], level: str | None, basis: AmountBasis, network: Network,
                 service_type: str | None) -> Decimal | None:
    def wanted(a: Accumulator) -> bool:
        applies = service_type is None or not a.service_types or service_type in a.service_types
        return a.coverage_level == level and a.basis == basis and applies

    found = _network_pick(items, network, wanted)
    return found.amount if found else None


# ---------------------------------------------------------------- reading


@dataclass(frozen=True)
class EligibilityResponses:
    """A 271 file as read: a summary per patient loop of every 5010 interchange, and what the reader found."""

    summaries: tuple[CoverageSummary, ...]
    issues: tuple[ReadingIssue, ...]  # envelope errors, warnings, interchanges refused (4010), stray text


def parse_271(text: str) -> list[CoverageSummary]:
    """The summaries of every 5010 interchange of the file (see read_271 for the issues)."""
    return list(read_271(text).summaries)


def read_271(text: str) -> EligibilityResponses:
    """Every interchange's 271s; raises Unparseable271 (Unsupported271Version when nothing is 5010)."""
    opened = open_interchanges(text, "271", IMPLEMENTATION, Unparseable271, Unsupported271Version)
    summaries: list[CoverageSummary] = []
    issues = list(opened.issues)
    for number, interchange, transaction in opened.sets("271", issues):
        read = _read_transaction(transaction, tuple(interchange.errors))
        warned = dict.fromkeys(w for s in read for w in s.warnings)  # each once, though every summary has it
        issues += warning_issues(number, interchange, list(warned), transaction.control_number)
        summaries += [dataclasses.replace(s, interchange=number) for s in read]
    return EligibilityResponses(tuple(summaries), tuple(issues))


@dataclass
class _Benefit:
    eb: Segment
    dates: list[Segment] = field(default_factory=list)
    refs: list[Segment] = field(default_factory=list)

    @property
    def code(self) -> str:
        return self.eb.element(1)


@dataclass
class _Loop:
    """One HL loop with its 2100 segments split from its 2110 benefits (2120 LS/LE content is skipped)."""

    hl_id: str
    parent_id: str
    level: str
    names: list[Segment] = field(default_factory=list)
    refs: list[Segment] = field(default_factory=list)
    dates: list[Segment] = field(default_factory=list)
    traces: list[Segment] = field(default_factory=list)
    ins: Segment | None = None
    rejections: list[tuple[str, Segment]] = field(default_factory=list)  # (loop id, AAA)
    benefits: list[_Benefit] = field(default_factory=list)

    def add(self, seg: Segment) -> None:
        benefit = self.benefits[-1] if self.benefits else None
        letter = _LOOP_LETTER.get(self.level, "?")
        if seg.tag == "EB":
            self.benefits.append(_Benefit(seg))
        elif seg.tag == "AAA":
            loop = f"2110{letter}" if benefit else f"2100{letter}" if self.names else f"2000{letter}"
            self.rejections.append((loop, seg))
        elif seg.tag in ("DTP", "REF") and benefit is not None:
            (benefit.dates if seg.tag == "DTP" else benefit.refs).append(seg)
        elif benefit is None and seg.tag == "INS":
            self.ins = seg
        elif benefit is None and seg.tag in ("NM1", "REF", "DTP", "TRN"):
            {"NM1": self.names, "REF": self.refs, "DTP": self.dates, "TRN": self.traces}[seg.tag].append(seg)

    @property
    def name_rejections(self) -> list[tuple[str, Segment]]:
        return [(loop, seg) for loop, seg in self.rejections if not loop.startswith("2110")]


def _read_loops(body: list[Segment]) -> list[_Loop]:
    loops: list[_Loop] = []
    in_2120 = False
    for seg in body:
        if seg.tag == "HL":
            loops.append(_Loop(seg.element(1), seg.element(2), seg.element(3)))
            in_2120 = False
        elif seg.tag in ("LS", "LE"):
            in_2120 = seg.tag == "LS"  # 2120 names other entities (PCP, other payer): not the patient's plan
        elif loops and not in_2120:
            loops[-1].add(seg)
    return loops


def _read_transaction(
    transaction: TransactionSet, envelope_errors: tuple[EnvelopeError, ...],
) -> list[CoverageSummary]:
    warnings: list[str] = []
    if transaction.implementation_reference != IMPLEMENTATION:
        warnings.append(f"implementation reference {quote_code(transaction.implementation_reference)} "
                        f"is not {IMPLEMENTATION}; read as {IMPLEMENTATION}")
    loops = _read_loops(transaction.body)
    if not any(loop.level == "20" for loop in loops):
        raise Unparseable271(f"271 {quote_control_number(transaction.control_number)} has no information source "
                             "(HL level 20) loop")
    by_id = {loop.hl_id: loop for loop in loops}
    parents_with_dependents = {loop.parent_id for loop in loops if loop.level == "23"}
    context = _Context(by_id, envelope_errors, warnings)
    patients = [loop for loop in loops if loop.level == "23" or (
        loop.level == "22" and (loop.benefits or loop.hl_id not in parents_with_dependents))]
    if patients:
        return [context.summary(p) for p in patients]
    return [context.source_only_summary(s, loops) for s in loops if s.level == "20"]


@dataclass
class _Context:
    by_id: dict[str, _Loop]
    envelope_errors: tuple[EnvelopeError, ...]
    warnings: list[str]

    def ancestors(self, loop: _Loop) -> list[_Loop]:
        chain, seen = [], {loop.hl_id}
        while loop.parent_id and loop.parent_id in self.by_id and loop.parent_id not in seen:
            loop = self.by_id[loop.parent_id]
            seen.add(loop.hl_id)
            chain.append(loop)
        return chain

    def summary(self, patient: _Loop) -> CoverageSummary:
        warnings = list(self.warnings)
        chain = self.ancestors(patient)
        source = next((a for a in chain if a.level == "20"), None)
        subscriber = next((a for a in chain if a.level == "22"), None)
        # Rejections above the patient (payer, provider, subscriber identification) block its answer too.
        inherited = [r for a in reversed(chain) for r in a.name_rejections]
        active_benefits = [b for b in patient.benefits if b.code in ACTIVE_CODES]
        payer_id, payer_name = _payer(source)
        return CoverageSummary(
            payer_id=payer_id,
            payer_name=payer_name,
            member_id=_member_id(patient) or (_member_id(subscriber) if subscriber else None),
            is_dependent=patient.level == "23",
            relationship_code=(patient.ins.element(2) or None) if patient.ins else None,
            trace_number=_trace_number(patient) or (_trace_number(subscriber) if subscriber else None),
            active=_active(patient.benefits),
            insurance_types=_insurance_types(patient.benefits),
            plan_description=next((b.eb.element(5) for b in active_benefits if b.eb.element(5)), None),
            plan_number=_ref(patient.refs, active_benefits, ("18",)),
            group_number=_ref(patient.refs, active_benefits, ("6P", "1L")),
            group_name=_ref(patient.refs, active_benefits, ("6P", "1L"), element=3),
            # a dependent's own dates first; the subscriber's 2100C plan dates when the 2100D has none
            coverage_period=_coverage_period([patient.dates, *(b.dates for b in active_benefits),
                                              *([subscriber.dates] if subscriber else [])], warnings),
            deductibles=_accumulators(patient.benefits, DEDUCTIBLE, warnings),
            out_of_pocket_limits=_accumulators(patient.benefits, OUT_OF_POCKET, warnings),
            copays=_cost_shares(patient.benefits, COPAY, 7, warnings),
            coinsurance=_cost_shares(patient.benefits, COINSURANCE, 8, warnings),
            authorizations=_authorizations(patient.benefits),
            rejections=tuple(_rejection(loop, seg) for loop, seg in [*inherited, *patient.rejections]),
            envelope_errors=self.envelope_errors,
            warnings=tuple(warnings),
        )

    def source_only_summary(self, source: _Loop, loops: list[_Loop]) -> CoverageSummary:
        below = [loop for loop in loops if any(a is source for a in self.ancestors(loop))]
        rejections = [r for loop in [source, *below] for r in loop.rejections]
        payer_id, payer_name = _payer(source)
        return CoverageSummary(
            payer_id=payer_id, payer_name=payer_name, member_id=None,
            rejections=tuple(_rejection(loop, seg) for loop, seg in rejections),
            envelope_errors=self.envelope_errors, warnings=tuple(self.warnings),
        )


def _payer(source: _Loop | None) -> tuple[str | None, str | None]:
    """(id, name) from the 2100A NM1 (never from 2120 NM1*PR, which names some other payer)."""
    name = source.names[0] if source and source.names else None
    return ((name.element(9) or None), (name.element(3) or None)) if name else (None, None)


def _member_id(loop: _Loop) -> str | None:
    name = next((n for n in loop.names if n.element(1) in ("IL", "03")), None)
    return (name.element(9) or None) if name else None


def _trace_number(loop: _Loop) -> str | None:
    echoed = next((t for t in loop.traces if t.element(1) == "2"), None)  # 2 = referenced (our) trace
    return (echoed.element(2) or None) if echoed else None


def _active(benefits: list[_Benefit]) -> bool | None:
    codes = {b.code for b in benefits}
    if codes & ACTIVE_CODES:
        return True
    return False if codes & INACTIVE_CODES else None


def _insurance_types(benefits: list[_Benefit]) -> tuple[str, ...]:
    # Prefer what the active-coverage EBs say; many payers only put EB04 on the cost-share EBs.
    # EB01 R (other payer) describes someone else's plan, so it never counts.
    active = [b.eb.element(4) for b in benefits if b.code in ACTIVE_CODES and b.eb.element(4)]
    others = [b.eb.element(4) for b in benefits if b.code != "R" and b.eb.element(4)]
    return tuple(dict.fromkeys(active or others))


def _ref(patient_refs: list[Segment], active: list[_Benefit], qualifiers: tuple[str, ...],
         element: int = 2) -> str | None:
    for refs in (patient_refs, *(b.refs for b in active)):
        for qualifier in qualifiers:
            found = next((r for r in refs if r.element(1) == qualifier and r.element(element)), None)
            if found:
                return found.element(element)
    return None


# Which DTP qualifiers give the start / end of coverage, in order of preference: the plan's dates, then the
# member's eligibility dates. 291 (plan) and 292 (benefit) are plan dates at the EB level: a range (RD8) gives
# both ends, a single 291 date the start and a single 292 date the end. 307 (eligibility) last, and only as a range
# of more than one day: CMS-style payers put the date the inquiry was answered there (one day, D8 or RD8), which is
# neither end of the coverage, while many commercial payers give the real period as 307 RD8.
ELIGIBILITY_DATES = "307"
_START_QUALIFIERS = ("346", "356", "291", "292", ELIGIBILITY_DATES)  # plan begin, eligibility begin, plan, benefit
_END_QUALIFIERS = ("347", "357", "291", "292", "346", "356", ELIGIBILITY_DATES)  # ends, then the RD8 ranges
_END_DATE_QUALIFIERS = frozenset({"347", "357", "292"})  # a single date of these closes the period
_PERIOD_QUALIFIERS = frozenset(_START_QUALIFIERS + _END_QUALIFIERS)


def _coverage_period(date_groups: list[list[Segment]], warnings: list[str]) -> DateRange | None:
    """Patient-level dates first; the active-coverage EB dates fill in what the 2100 level left out."""
    ranges = [[(seg.element(1), _dtp_range(seg, warnings)) for seg in group if seg.element(1) in _PERIOD_QUALIFIERS]
              for group in date_groups]
    start = _first(ranges, _START_QUALIFIERS, lambda r: r.start)
    end = _first(ranges, _END_QUALIFIERS, lambda r: r.end)
    return DateRange(start, end) if start or end else None


def _first(ranges: list[list[tuple[str, DateRange | None]]], qualifiers: tuple[str, ...],
           pick: Callable[[DateRange], date | None]) -> date | None:
    for group in ranges:
        for qualifier in qualifiers:
            for found_qualifier, found in group:
                if found_qualifier == qualifier and found and pick(found):
                    return pick(found)
    return None


def _dtp_range(seg: Segment, warnings: list[str]) -> DateRange | None:
    qualifier, fmt, value = seg.element(1), seg.element(2), seg.element(3)
    if fmt == "RD8":
        start_text, _, end_text = value.partition("-")
        start, end = d8_date(start_text), d8_date(end_text)
        if start and end:
            return DateRange(start, end) if qualifier != ELIGIBILITY_DATES or end > start else None
    elif fmt == "D8" and qualifier == ELIGIBILITY_DATES and d8_date(value):
        return None  # the day the inquiry was answered: not a coverage date
    elif fmt == "D8" and (day := d8_date(value)):
        # A single end-qualified date closes the range; any other single date is when coverage began.
        return DateRange(None, day) if qualifier in _END_DATE_QUALIFIERS else DateRange(day, None)
    warnings.append(f"DTP*{quote_code(qualifier)} has an unreadable date")
    return None


def _accumulators(benefits: list[_Benefit], code: str, warnings: list[str]) -> tuple[Accumulator, ...]:
    found = []
    for b in benefits:
        if b.code != code:
            continue
        amount = optional_number(b.eb.element(7), f"EB07 of EB*{code}", warnings)
        if amount is None:
            continue
        period = b.eb.element(6) or None
        found.append(Accumulator(
            amount=amount, coverage_level=b.eb.element(2) or None,
            basis=_BASES.get(period or "", AmountBasis.OTHER), network=_network(b.eb),
            time_period=period, service_types=tuple(b.eb.repetitions(3)), insurance_type=b.eb.element(4) or None,
        ))
    return tuple(found)


def _cost_shares(benefits: list[_Benefit], code: str, position: int, warnings: list[str]) -> tuple[CostShare, ...]:
    found = []
    for b in benefits:
        if b.code != code:
            continue
        value = optional_number(b.eb.element(position), f"EB{position:02d} of EB*{code}", warnings)
        if value is None:
            continue
        if code == COINSURANCE and not Decimal(0) <= value <= Decimal(1):
            warnings.append("EB08 coinsurance is outside 0..1 (percent sent instead of a fraction?)")
        for service_type in _service_types(b.eb):
            found.append(CostShare(service_type=service_type, value=value, network=_network(b.eb),
                                   coverage_level=b.eb.element(2) or None, time_period=b.eb.element(6) or None))
    return tuple(found)


def _authorizations(benefits: list[_Benefit]) -> tuple[AuthorizationRule, ...]:
    answers = {"Y": True, "N": False, "U": None}
    return tuple(
        AuthorizationRule(service_type=service_type, required=answers[b.eb.element(11)], network=_network(b.eb))
        for b in benefits if b.eb.element(11) in answers
        for service_type in _service_types(b.eb)
    )


def _service_types(eb: Segment) -> list[str | None]:
    # EB03 may be absent (EB13 names a procedure instead); keep the benefit, with no service type.
    return [*eb.repetitions(3)] or [None]


def _network(eb: Segment) -> Network:
    return _NETWORKS.get(eb.element(12), Network.UNKNOWN)


def _rejection(loop: str, aaa: Segment) -> EligibilityRejection:
    code, follow_up = aaa.element(3), aaa.element(4)
    meaning = REJECT_REASONS.get(code) or (f"Unrecognised reject reason code {quote_code(code)}" if code
                                           else "Request rejected without a reason code")
    action = FOLLOW_UP_ACTIONS.get(follow_up) or (f"Unrecognised follow-up action code {quote_code(follow_up)}"
                                                  if follow_up else "No follow-up action given")
    valid = {"Y": True, "N": False}.get(aaa.element(1))
    return EligibilityRejection(code=code, meaning=meaning, follow_up_action=action,
                                follow_up_code=follow_up or None, loop=loop, request_valid=valid)

