"""Reading a 005010X221A1 835 (electronic remittance advice) into payments (pure).

One `RemittancePayment` per 835 transaction set: the money (BPR/TRN), who paid whom, and per CLP the claim's
payment with its claim-level and line-level adjustments and remark codes. Patient names and ids are not
kept: a claim is matched back by its patient control number (CLP01 = the 837's CLM01).

Real ERAs are often slightly off, and a posting clerk still needs to read them, so imbalances are reported
as warnings rather than refused:
- line:     SVC02 - SVC03 = sum of the line's CAS
- claim:    CLP03 - CLP04 = sum of claim and line CAS, and (with lines) CLP04 = sum of SVC03 - claim CAS
- patient:  CLP05 = sum of the PR CAS
- payment:  BPR02 = sum of CLP04 - sum of PLB amounts (a positive PLB withholds money from the provider)
Unreadable money in a required position raises `Unparseable835`: posting a guessed amount is worse than
stopping. Messages and warnings name segments and positions, never patient data.

The contract, per file (`read_835` and `read_835_file` read the same way):
- Every interchange (ISA..IEA) of the file is read, and every 835 transaction set in each: one
  `RemittancePayment` per set, in file order, each knowing its interchange (ISA13), group (GS06) and set (ST02).
- The whole file is rejected, nothing returned, when any part of it cannot be trusted to be complete or is not
  an 005010X221A1 835: `Unsupported835Version` (GS08 or ST03 names another version, e.g. a 4010
  004010X091A1 835), `Incomplete835` (a missing IEA/GE/SE trailer, a wrong SE01/GE01/IEA01 count, segments
  outside an envelope or after the last IEA: a truncated file), or `Unparseable835` (not X12, no 835 at all,
  no BPR, an unreadable amount). All three are `Unparseable835`, hence `Unreadable`: a permanent rejection
  whose reason is safe to keep and show.
- What does not put the money in doubt is returned, never dropped: envelope defects that leave every segment
  in place (a control number that does not match, GS01 not HP) are in each payment's `envelope_errors`; the
  balancing and value findings are in its `warnings`. `read_835_file(...).findings()` lists them all for the
  file, each prefixed with where it is (interchange and transaction set).
"""

from __future__ import annotations

import gc
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from rcm_x12.codec import (
    EnvelopeError,
    EnvelopeErrorCode,
    FunctionalGroup,
    Interchange,
    Segment,
    TransactionSet,
    X12Error,
    parse_interchanges,
)
from rcm_x12.format import d8_date, parse_number, quote_code, quote_control_number
from rcm_x12.reading import Unreadable

IMPLEMENTATION = "005010X221A1"
ZERO = Decimal(0)
ONE = Decimal(1)

CLAIM_STATUS: dict[str, str] = {  # CLP02
    "1": "Processed as primary",
    "2": "Processed as secondary",
    "3": "Processed as tertiary",
    "4": "Denied",
    "19": "Processed as primary, forwarded to additional payer(s)",
    "20": "Processed as secondary, forwarded to additional payer(s)",
    "21": "Processed as tertiary, forwarded to additional payer(s)",
    "22": "Reversal of previous payment",
    "23": "Not our claim, forwarded to additional payer(s)",
    "25": "Predetermination pricing only, no payment",
}
DENIED = "4"

_CAS_TRIPLETS = range(2, 20, 3)  # CAS02/05/08/11/14/17: reason; the amount and quantity follow each
_PLB_PAIRS = range(3, 15, 2)  # PLB03/05/.../13: reason:reference composite; the amount follows each
_MIA_REMARKS = (5, 20, 21, 22, 23)
_MOA_REMARKS = (3, 4, 5, 6, 7)


# Envelope defects after which some of the file may be missing or misplaced: the file is rejected whole.
INCOMPLETE: frozenset[EnvelopeErrorCode] = frozenset({
    EnvelopeErrorCode.MISSING_IEA, EnvelopeErrorCode.IEA_GROUP_COUNT,
    EnvelopeErrorCode.MISSING_GE, EnvelopeErrorCode.GE_TRANSACTION_COUNT,
    EnvelopeErrorCode.MISSING_SE, EnvelopeErrorCode.SE_SEGMENT_COUNT,
    EnvelopeErrorCode.OUTSIDE_ENVELOPE, EnvelopeErrorCode.DATA_AFTER_IEA,
})


class Unparseable835(Unreadable):
    """The input is not a readable 835 (reason names segments and positions only, never element values)."""


class Unsupported835Version(Unparseable835):
    """An 835 of another version than 005010X221A1 (e.g. 4010's 004010X091A1): rejected, never read as 5010."""

    def __init__(self, reason: str, version: str) -> None:
        super().__init__(reason)
        self.version = version


class Incomplete835(Unparseable835):
    """The file is truncated or its envelopes do not hold together: rejected whole, with every defect found."""

    def __init__(self, reason: str, envelope_errors: tuple[EnvelopeError, ...]) -> None:
        super().__init__(reason)
        self.envelope_errors = envelope_errors


@dataclass(frozen=True)
class Adjustment:
    group: str  # CO contractual, PR patient responsibility, OA other, PI payer initiated
    reason: str  # CARC
    amount: Decimal
    quantity: Decimal | None = None


@dataclass(frozen=True)
class ServicePayment:
    qualifier: str | None  # SVC01-1: HC (HCPCS/CPT), AD (dental), NU (revenue code), ...
    procedure_code: str | None
    modifiers: tuple[str, ...]
    charge: Decimal  # SVC02
    paid: Decimal  # SVC03
    units: Decimal  # SVC05: units paid; the guide says absent means 1
    original_units: Decimal | None  # SVC07: units billed, when they differ from those paid
    revenue_code: str | None  # SVC04
    allowed: Decimal | None  # AMT*B6
    service_from: date | None
    service_to: date | None
    adjustments: tuple[Adjustment, ...]
    remark_codes: tuple[str, ...]  # LQ*HE
    line_item_control_number: str | None  # REF*6R: echoes the 837's line control number
    submitted_procedure_code: str | None = None  # SVC06-2: the code billed, when the payer paid another


@dataclass(frozen=True)
class ClaimPosition:
    """Where a claim payment sits in the file: with the payer and trace, what tells two payments apart when
    everything else (even CLP07) is the same."""

    interchange_control_number: str  # ISA13
    group_control_number: str  # GS06
    transaction_control_number: str  # ST02
    claim_index: int  # 1-based order of the CLP within its transaction set
    segment_position: int  # the CLP's segment number within the set (ST = 1)


@dataclass(frozen=True)
class ClaimIdentity:
    """What identifies one claim payment (see RemittancePayment.identity): the payer as it names itself
    (N1*PR N104, REF*2U; TRN03 is the trace's originator, kept apart), the check/EFT trace, the claim's own
    numbers and dates, and its position in the file."""

    payer_identifier: str | None  # N1*PR N104
    payer_reference: str | None  # N1*PR loop REF*2U
    trace_number: str | None  # TRN02
    trace_originator: str | None  # TRN03
    patient_control_number: str  # CLP01
    status_code: str  # CLP02
    payer_claim_control_number: str | None  # CLP07
    service_from: date | None  # claim DTM*232, else the earliest line date
    service_to: date | None  # claim DTM*233, else the latest line date
    position: ClaimPosition | None


@dataclass(frozen=True)
class ClaimPayment:
    patient_control_number: str  # CLP01
    status_code: str  # CLP02
    status: str
    charge: Decimal  # CLP03
    paid: Decimal  # CLP04
    patient_responsibility: Decimal  # CLP05 (0 when absent)
    claim_filing_indicator: str | None  # CLP06
    payer_claim_control_number: str | None  # CLP07
    adjustments: tuple[Adjustment, ...]  # claim level only; see all_adjustments
    remark_codes: tuple[str, ...]  # MOA/MIA
    lines: tuple[ServicePayment, ...]
    service_from: date | None  # DTM*232
    service_to: date | None  # DTM*233
    position: ClaimPosition | None = None  # where it is in the file
    dates: tuple[tuple[str, date], ...] = ()  # every claim-level DTM as (qualifier, date): 050 received, 036/037 ...

    @property
    def denied(self) -> bool:
        return self.status_code == DENIED

    @property
    def all_adjustments(self) -> tuple[Adjustment, ...]:
        return self.adjustments + tuple(a for line in self.lines for a in line.adjustments)


@dataclass(frozen=True)
class ProviderAdjustment:
    """PLB: money the payer adds (negative) or withholds (positive) outside any claim."""

    provider_id: str  # PLB01
    reason: str  # PLB03-1, e.g. WO overpayment recovery, L6 interest, FB forwarding balance, CS, 72, CV, ...
    reference: str | None  # PLB03-2
    amount: Decimal
    fiscal_period: date | None = None  # PLB02: the last day of the provider's fiscal year
    plb_index: int = 0  # 1-based order of the PLB segment within its transaction set
    pair_index: int = 0  # 1-based order of the (reason, amount) pair within that PLB (PLB03/04 = 1 ... PLB13/14 = 6)


@dataclass(frozen=True)
class RemittancePayment:
    control_number: str  # ST02
    payer_id: str | None  # N1*PR N104, else REF*2U, else TRN03
    payer_name: str | None
    payee_name: str | None
    payee_npi: str | None  # N1*PE N104 when N103 is XX
    payee_tax_id: str | None  # N1*PE N104 when N103 is FI, else REF*TJ
    handling_code: str  # BPR01: C payment + advice, I advice only, H notification only, ...
    payment_method: str  # BPR04: ACH, CHK, NON, BOP, FWT
    amount: Decimal  # BPR02
    credit: bool  # BPR03 C (money to the provider) rather than D
    payment_date: date | None  # BPR16
    production_date: date | None  # DTM*405
    trace_number: str | None  # TRN02: EFT trace or check number
    trace_originator: str | None  # TRN03
    claims: tuple[ClaimPayment, ...]
    provider_adjustments: tuple[ProviderAdjustment, ...]
    envelope_errors: tuple[EnvelopeError, ...] = ()  # its interchange's defects that leave every segment in place
    warnings: tuple[str, ...] = ()
    interchange_control_number: str = ""  # ISA13
    group_control_number: str = ""  # GS06
    version: str = IMPLEMENTATION  # GS08
    sender_id: str = ""  # ISA06
    receiver_id: str = ""  # ISA08
    payer_identifier: str | None = None  # N1*PR N104 alone (payer_id falls back to REF*2U and TRN03)
    payer_identifier_qualifier: str | None = None  # N1*PR N103: XV (CMS plan id), ...
    payer_reference: str | None = None  # N1*PR loop REF*2U

    @property
    def where(self) -> str:
        """'interchange '000000005' 835 '0001'': the prefix findings are shown with."""
        return (f"interchange {quote_control_number(self.interchange_control_number)} "
                f"835 {quote_control_number(self.control_number)}")

    def identity(self, claim: ClaimPayment) -> ClaimIdentity:
        start = claim.service_from or min((ln.service_from for ln in claim.lines if ln.service_from), default=None)
        end = claim.service_to if claim.service_from else max(
            (ln.service_to or ln.service_from for ln in claim.lines if ln.service_to or ln.service_from),
            default=None)
        return ClaimIdentity(
            payer_identifier=self.payer_identifier, payer_reference=self.payer_reference,
            trace_number=self.trace_number, trace_originator=self.trace_originator,
            patient_control_number=claim.patient_control_number, status_code=claim.status_code,
            payer_claim_control_number=claim.payer_claim_control_number,
            service_from=start, service_to=end or start, position=claim.position)


@dataclass(frozen=True)
class InterchangeSummary:
    control_number: str  # ISA13
    sender_id: str  # ISA06
    receiver_id: str  # ISA08
    usage: str  # ISA15: P production, T test
    transaction_control_numbers: tuple[str, ...]  # ST02 of each 835 read from it
    envelope_errors: tuple[EnvelopeError, ...]  # the non-fatal ones (the fatal ones reject the file)
    warnings: tuple[str, ...]  # e.g. a transaction set that is not an 835, ignored


@dataclass(frozen=True)
class Remittance835:
    """A whole 835 file as read: its payments (every interchange, in order) and its interchanges."""

    payments: tuple[RemittancePayment, ...]
    interchanges: tuple[InterchangeSummary, ...]

    @property
    def claim_count(self) -> int:
        return sum(len(p.claims) for p in self.payments)

    @property
    def envelope_errors(self) -> tuple[EnvelopeError, ...]:
        return tuple(e for i in self.interchanges for e in i.envelope_errors)

    def findings(self) -> tuple[str, ...]:
        """Every envelope error and warning of the file, each prefixed with where it is (PHI-free)."""
        found = []
        for summary in self.interchanges:
            where = f"interchange {quote_control_number(summary.control_number)}"
            found += [f"{where}: {e}" for e in summary.envelope_errors]
            found += [f"{where}: {w}" for w in summary.warnings]
        for payment in self.payments:
            found += [f"{payment.where}: {w}" for w in payment.warnings]
        return tuple(found)


def read_835(text: str) -> list[RemittancePayment]:
    """Every 835 payment of the file (all interchanges), or the file rejected whole: see the module's contract."""
    return list(read_835_file(text).payments)


def read_835_file(text: str) -> Remittance835:
    """The whole file: payments and interchanges; raises Unparseable835 (or a subclass) for the whole file."""
    # A file makes hundreds of thousands of small objects that all live until the read ends: the cyclic
    # collector would walk them over and over (it doubled the read time of a 10,000-claim file) and can free
    # none of them, so it is paused for the read (reference counting still frees as usual).
    paused = gc.isenabled()
    gc.disable()
    try:
        return _read_file(text)
    finally:
        if paused:
            gc.enable()


def _read_file(text: str) -> Remittance835:
    try:
        interchanges = parse_interchanges(text)
    except X12Error as exc:
        raise Unparseable835(f"not an X12 interchange: {exc}") from None
    _reject_incomplete(interchanges)
    found = [(i, t) for i in interchanges for g in i.groups for t in g.transactions if t.id_code == "835"]
    if not found:
        present = sorted({quote_code(t.id_code) for i in interchanges for t in i.transactions})
        raise Unparseable835(f"no 835 transaction set in the interchange (found: {', '.join(present) or 'none'})")
    _reject_other_versions(interchanges)
    payments = []
    summaries = []
    for interchange in interchanges:
        kept = tuple(e for e in interchange.errors if e.code not in INCOMPLETE)
        read = [_PaymentReader(t, kept, interchange, group).read()
                for group in interchange.groups for t in group.transactions if t.id_code == "835"]
        ignored = tuple(f"transaction set {quote_control_number(t.control_number)} (ST01 {quote_code(t.id_code)}) "
                        "is not an 835; ignored" for t in interchange.transactions if t.id_code != "835")
        payments += read
        summaries.append(InterchangeSummary(
            control_number=interchange.control_number, sender_id=interchange.sender_id,
            receiver_id=interchange.receiver_id, usage=interchange.usage,
            transaction_control_numbers=tuple(p.control_number for p in read), envelope_errors=kept,
            warnings=ignored))
    return Remittance835(payments=tuple(payments), interchanges=tuple(summaries))


def _reject_incomplete(interchanges: list[Interchange]) -> None:
    fatal = [(i, e) for i in interchanges for e in i.errors if e.code in INCOMPLETE]
    if not fatal:
        return
    shown = "; ".join(f"interchange #{n} ({quote_control_number(i.control_number)}): {e}"
                      for n, i in enumerate(interchanges, start=1) for e in i.errors if e.code in INCOMPLETE)
    raise Incomplete835(f"835 file rejected whole, it is truncated or its envelopes do not hold together: {shown}",
                        tuple(e for _, e in fatal))


def _reject_other_versions(interchanges: list[Interchange]) -> None:
    for interchange in interchanges:
        for group in interchange.groups:
            sets = [t for t in group.transactions if t.id_code == "835"]
            if not sets:
                continue
            where = (f"interchange {quote_control_number(interchange.control_number)} functional group "
                     f"{quote_control_number(group.control_number)}")
            if group.version != IMPLEMENTATION:
                raise Unsupported835Version(
                    f"{where}: version {quote_code(group.version) if group.version else 'absent'} (GS08) is not "
                    f"{IMPLEMENTATION}; only 005010X221A1 835s are read", group.version)
            for t in sets:
                if t.implementation_reference not in ("", IMPLEMENTATION):
                    raise Unsupported835Version(
                        f"{where} 835 {quote_control_number(t.control_number)}: implementation reference "
                        f"{quote_code(t.implementation_reference)} (ST03) is not {IMPLEMENTATION}",
                        t.implementation_reference)


# ---------------------------------------------------------------- walking the transaction set


class _LineDraft:
    __slots__ = ("svc", "position", "segments")

    def __init__(self, svc: Segment, position: int) -> None:
        self.svc = svc
        self.position = position
        self.segments: list[Segment] = []


class _ClaimDraft:
    __slots__ = ("clp", "position", "segments", "lines")

    def __init__(self, clp: Segment, position: int) -> None:
        self.clp = clp
        self.position = position
        self.segments: list[Segment] = []
        self.lines: list[_LineDraft] = []


_SKIPPED = frozenset({"LX", "TS3", "TS2"})


class _PaymentReader:
    """Routes each segment to where the last loop-opening segment put us: the header, a party (N1), a claim
    (CLP) or its current service line (SVC). LX/TS3/TS2 (header-number groups, institutional provider
    summaries) carry nothing the payment needs, so what follows them until the next CLP is skipped."""

    def __init__(self, transaction: TransactionSet, envelope_errors: tuple[EnvelopeError, ...],
                 interchange: Interchange, group: FunctionalGroup) -> None:
        self.transaction = transaction
        self.envelope_errors = envelope_errors
        self.interchange = interchange
        self.group = group
        self.warnings: list[str] = []
        self.header: list[Segment] = []
        self.parties: dict[str, list[Segment]] = {}
        self.claims: list[_ClaimDraft] = []
        self.plb: list[Segment] = []
        self.component = interchange.delimiters.component
        self.repetition = interchange.delimiters.repetition

    def read(self) -> RemittancePayment:
        self.walk()
        bpr = self.single("BPR")
        if bpr is None:
            raise Unparseable835(f"835 {quote_control_number(self.transaction.control_number)} has no BPR segment")
        return self.payment(bpr)

    def walk(self) -> None:
        claims, plb, parties, skipped = self.claims, self.plb, self.parties, _SKIPPED
        sink: list[Segment] | None = self.header
        position = 1
        for seg in self.transaction.body:
            position += 1
            tag = seg.tag
            if tag == "CLP":
                claim = _ClaimDraft(seg, position)
                claims.append(claim)
                sink = claim.segments
            elif tag == "SVC":
                if not claims:
                    raise Unparseable835(f"SVC segment #{position} comes before any CLP")
                line = _LineDraft(seg, position)
                claims[-1].lines.append(line)
                sink = line.segments
            elif tag == "N1":
                sink = parties.setdefault(seg.element(1), [])
                sink.append(seg)
            elif tag in skipped:
                sink = None
            elif tag == "PLB":
                plb.append(seg)
                sink = None
            elif sink is not None:
                sink.append(seg)
            else:
                self.warnings.append(f"{tag} segment #{position} is outside any claim; ignored")

    def position_of(self, seg: Segment) -> int | str:
        """A segment's position in the set (ST = 1), looked up only for a message."""
        return next((n for n, s in enumerate(self.transaction.segments, start=1) if s is seg), "?")

    def single(self, tag: str) -> Segment | None:
        found = [s for s in self.header if s.tag == tag]
        if len(found) > 1:
            self.warnings.append(f"835 has {len(found)} {tag} segments; the first is read")
        return found[0] if found else None

    def payment(self, bpr: Segment) -> RemittancePayment:
        trn = self.single("TRN")
        production = next((s for s in self.header if s.tag == "DTM" and s.element(1) == "405"), None)
        claims = tuple(self.claim(draft, number) for number, draft in enumerate(self.claims, start=1))
        adjustments = tuple(a for n, seg in enumerate(self.plb, start=1) for a in self.provider_adjustments(seg, n))
        amount = self.money(bpr, 2)
        self.check_payment(amount, claims, adjustments)
        payee_npi, payee_tax_id = self.payee_ids()
        payer, payee = self.party_name("PR"), self.party_name("PE")
        if not bpr.element(16):
            self.warnings.append("BPR16 (check issue or EFT effective date) is missing")
        return RemittancePayment(
            control_number=self.transaction.control_number,
            payer_id=self.payer_id(trn),
            payer_name=(payer.element(2) or None) if payer else None,
            payee_name=(payee.element(2) or None) if payee else None,
            payee_npi=payee_npi, payee_tax_id=payee_tax_id,
            handling_code=bpr.element(1), payment_method=bpr.element(4), amount=amount,
            credit=bpr.element(3) != "D",
            payment_date=self.date(bpr.element(16), "BPR16"),
            production_date=self.date(production.element(2), "DTM*405") if production else None,
            trace_number=(trn.element(2) or None) if trn else None,
            trace_originator=(trn.element(3) or None) if trn else None,
            claims=claims, provider_adjustments=adjustments,
            envelope_errors=self.envelope_errors, warnings=tuple(self.warnings),
            interchange_control_number=self.interchange.control_number,
            group_control_number=self.group.control_number, version=self.group.version,
            sender_id=self.interchange.sender_id, receiver_id=self.interchange.receiver_id,
            payer_identifier=(payer.element(4) or None) if payer else None,
            payer_identifier_qualifier=(payer.element(3) or None) if payer else None,
            payer_reference=self.party_ref("PR", "2U"),
        )

    # ------------------------------------------------------------ parties

    def party_name(self, qualifier: str) -> Segment | None:
        segments = self.parties.get(qualifier, [])
        return segments[0] if segments else None

    def party_ref(self, qualifier: str, ref: str) -> str | None:
        found = next((s for s in self.parties.get(qualifier, []) if s.tag == "REF" and s.element(1) == ref), None)
        return (found.element(2) or None) if found else None

    def payer_id(self, trn: Segment | None) -> str | None:
        name = self.party_name("PR")
        # N104 is the CMS plan id once mandated; REF*2U is how payers name themselves today; TRN03 is the
        # guide's last-resort "payer identifier" (1 + EIN).
        return ((name.element(4) if name else "") or self.party_ref("PR", "2U")
                or (trn.element(3) if trn else "") or None)

    def payee_ids(self) -> tuple[str | None, str | None]:
        name = self.party_name("PE")
        qualifier, identifier = (name.element(3), name.element(4)) if name else ("", "")
        npi = identifier if qualifier == "XX" and identifier else None
        tax_id = identifier if qualifier == "FI" and identifier else self.party_ref("PE", "TJ")
        return npi, tax_id

    # ------------------------------------------------------------ claims

    def claim(self, draft: _ClaimDraft, number: int) -> ClaimPayment:
        clp, where = draft.clp, f"claim #{number} (CLP segment #{draft.position})"
        el = clp.elements
        size = len(el)
        cas, dtm, remarks = [], [], []
        for seg in draft.segments:
            tag = seg.tag
            if tag == "CAS":
                cas.append(seg)
            elif tag == "DTM":
                dtm.append(seg)
            elif tag == "MOA" or tag == "MIA":
                se = seg.elements
                remarks += [se[p - 1] for p in (_MOA_REMARKS if tag == "MOA" else _MIA_REMARKS)
                            if p <= len(se) and se[p - 1]]
        start = self.claim_date(dtm, "232")
        end = self.claim_date(dtm, "233")
        status = el[1] if size > 1 else ""
        claim = _frozen(ClaimPayment, {
            "patient_control_number": el[0] if size else "",
            "status_code": status,
            "status": CLAIM_STATUS.get(status) or f"Unrecognised claim status code {quote_code(status)}",
            "charge": _AMOUNTS.get(el[2] if size > 2 else "") or self.money(clp, 3),
            "paid": _AMOUNTS.get(el[3] if size > 3 else "") or self.money(clp, 4),
            "patient_responsibility": self.optional_money(el[4] if size > 4 else "", where, " CLP05") or ZERO,
            "claim_filing_indicator": (el[5] if size > 5 else "") or None,
            "payer_claim_control_number": (el[6] if size > 6 else "") or None,
            "adjustments": self.adjustments(cas) if cas else (),
            "remark_codes": tuple(remarks),
            "lines": tuple(self.line(line, where, n) for n, line in enumerate(draft.lines, start=1)),
            "service_from": start, "service_to": end or start,
            "position": _frozen(ClaimPosition, {
                "interchange_control_number": self.interchange.control_number,
                "group_control_number": self.group.control_number,
                "transaction_control_number": self.transaction.control_number,
                "claim_index": number, "segment_position": draft.position}),
            "dates": self.claim_dates(dtm, where) if dtm else (),
        })
        if not claim.patient_control_number:
            self.warnings.append(f"{where} has no patient control number (CLP01)")
        self.check_claim(claim, where)
        return claim

    def claim_dates(self, dtm: list[Segment], where: str) -> tuple[tuple[str, date], ...]:
        found = []
        for seg in dtm:
            qualifier = seg.element(1)
            # 232/233 are read (and warned about) by claim_date; the others are only kept here
            text = seg.element(2)
            parsed = _DATES.get(text) or (d8_date(text) if qualifier in ("232", "233") else self.date(
                text, f"{where} DTM*{quote_code(qualifier)}"))
            if parsed is not None:
                found.append((qualifier, parsed))
        return tuple(found)

    def claim_date(self, dtm: list[Segment], qualifier: str) -> date | None:
        for seg in dtm:
            se = seg.elements
            if se and se[0] == qualifier:
                text = se[1] if len(se) > 1 else ""
                return _DATES.get(text) or self.date(text, f"DTM*{qualifier}")
        return None

    def line(self, draft: _LineDraft, claim_where: str, number: int) -> ServicePayment:
        svc = draft.svc
        el = svc.elements
        size = len(el)
        parts = el[0].split(self.component) if size else []
        if self.repetition and self.repetition in el[0]:
            parts = svc.components(1)
        if len(parts) < 2 or not parts[1]:
            self.warnings.append(f"{claim_where} line #{number}: SVC01 has no procedure code (is the component "
                                 "separator in ISA16 the one the file uses?)")
        cas, remarks = [], []
        dates: dict[str, date | None] = {}
        allowed = control = None
        for seg in draft.segments:
            tag, se = seg.tag, seg.elements
            if tag == "CAS":
                cas.append(seg)
            elif tag == "DTM":
                qualifier = se[0] if se else ""
                text = se[1] if len(se) > 1 else ""
                dates[qualifier] = _DATES.get(text) or self.date(text, f"DTM*{quote_code(qualifier)}")
            elif tag == "LQ":
                if len(se) > 1 and se[0] == "HE" and se[1]:
                    remarks.append(se[1])
            elif tag == "AMT":
                if allowed is None and se and se[0] == "B6":
                    allowed = seg
            elif tag == "REF":
                if control is None and se and se[0] == "6R":
                    control = seg
        start = dates.get("472") or dates.get("150")
        end = dates.get("472") or dates.get("151") or start
        units = el[4] if size > 4 else ""
        return _frozen(ServicePayment, {
            "qualifier": (parts[0] or None) if parts else None,
            "procedure_code": (parts[1] or None) if len(parts) > 1 else None,
            "modifiers": tuple(filter(None, parts[2:6])) if len(parts) > 2 else (),
            "charge": _AMOUNTS.get(el[1] if size > 1 else "") or self.money(svc, 2),
            "paid": _AMOUNTS.get(el[2] if size > 2 else "") or self.money(svc, 3),
            "units": self.optional_money(units, claim_where, " line #", number, " SVC05") or ONE,
            "original_units": self.optional_money(el[6], claim_where, " line #", number, " SVC07")
            if size > 6 else None,
            "revenue_code": (el[3] if size > 3 else "") or None,
            "allowed": self.optional_money(allowed.element(2), claim_where, " line #", number, " AMT*B6")
            if allowed else None,
            "service_from": start, "service_to": end,
            "adjustments": self.adjustments(cas) if cas else (),
            "remark_codes": tuple(remarks),
            "line_item_control_number": (control.element(2) or None) if control else None,
            "submitted_procedure_code": svc.component(6, 2) or None if size > 5 else None,
        })

    def adjustments(self, segments: list[Segment]) -> tuple[Adjustment, ...]:
        found = []
        for seg in segments:
            el = seg.elements
            size = len(el)
            group = el[0] if size else ""
            for reason_at in _CAS_TRIPLETS:
                if reason_at > size:
                    break
                reason = el[reason_at - 1]
                if not reason:
                    continue
                quantity = el[reason_at + 1] if reason_at + 1 < size else ""
                found.append(_frozen(Adjustment, {
                    "group": group, "reason": reason,
                    "amount": _AMOUNTS.get(el[reason_at] if reason_at < size else "")
                    or self.money(seg, reason_at + 1),
                    "quantity": self.optional_money(quantity, "CAS", f"{reason_at + 2:02d}") if quantity else None,
                }))
        return tuple(found)

    def provider_adjustments(self, plb: Segment, number: int) -> list[ProviderAdjustment]:
        found = []
        period = self.date(plb.element(2), f"PLB #{number} PLB02")
        for pair, reason_at in enumerate(_PLB_PAIRS, start=1):
            reason = plb.component(reason_at, 1)
            if not reason:
                continue
            found.append(ProviderAdjustment(
                provider_id=plb.element(1), reason=reason, reference=plb.component(reason_at, 2) or None,
                amount=self.money(plb, reason_at + 1), fiscal_period=period, plb_index=number, pair_index=pair,
            ))
        return found

    # ------------------------------------------------------------ balancing

    def check_claim(self, claim: ClaimPayment, where: str) -> None:
        adjusted = patient = ZERO
        for a in claim.adjustments:
            adjusted += a.amount
            if a.group == "PR":
                patient += a.amount
        claim_level = adjusted
        lines_paid = ZERO
        for number, line in enumerate(claim.lines, start=1):
            line_adjusted = ZERO
            for a in line.adjustments:
                line_adjusted += a.amount
                if a.group == "PR":
                    patient += a.amount
            adjusted += line_adjusted
            lines_paid += line.paid
            if line.charge - line.paid != line_adjusted:
                self.warnings.append(f"{where} line #{number} does not balance: SVC02 - SVC03 = "
                                     f"{line.charge - line.paid}, its adjustments total {line_adjusted}")
        if claim.charge - claim.paid != adjusted:
            self.warnings.append(f"{where} does not balance: CLP03 - CLP04 = {claim.charge - claim.paid}, "
                                 f"claim and line adjustments total {adjusted}")
        if claim.lines:
            from_lines = lines_paid - claim_level
            if claim.paid != from_lines:
                self.warnings.append(f"{where}: CLP04 {claim.paid} is not the lines' SVC03 less claim-level "
                                     f"adjustments ({from_lines})")
        if claim.patient_responsibility != patient:
            self.warnings.append(f"{where}: CLP05 {claim.patient_responsibility} is not the sum of its PR "
                                 f"adjustments ({patient})")
        if claim.denied and claim.paid:
            self.warnings.append(f"{where} is denied (CLP02 4) but pays {claim.paid}")

    def check_payment(self, amount: Decimal, claims: tuple[ClaimPayment, ...],
                      adjustments: tuple[ProviderAdjustment, ...]) -> None:
        expected = sum((c.paid for c in claims), ZERO) - sum((a.amount for a in adjustments), ZERO)
        if amount != expected:
            self.warnings.append(f"payment does not balance: BPR02 {amount}, claims' CLP04 less PLB adjustments "
                                 f"{expected}")

    # ------------------------------------------------------------ values

    def money(self, seg: Segment, element: int) -> Decimal:
        """A required amount: guessing one would post the wrong money, so an unreadable one stops the read."""
        el = seg.elements
        text = el[element - 1] if element <= len(el) else ""
        amount = _AMOUNTS.get(text)
        if amount is None:
            amount = _amount(text)
            if amount is None:
                state = "missing" if not text else "not an amount"
                raise Unparseable835(f"{seg.tag}{element:02d} of segment #{self.position_of(seg)} is {state}")
        return amount

    def optional_money(self, text: str, *label: object) -> Decimal | None:
        """An optional amount; `label`'s parts are joined only for the warning when it is unreadable."""
        if not text:
            return None
        amount = _AMOUNTS.get(text)
        if amount is None:
            amount = _amount(text)
            if amount is None:
                self.warnings.append(f"{''.join(map(str, label))} is not a number; ignored")
        return amount

    def date(self, text: str, label: str) -> date | None:
        parsed = _DATES.get(text)
        if parsed is None:
            parsed = d8_date(text)
            if parsed is not None:
                if len(_DATES) >= _AMOUNTS_MAX:
                    _DATES.clear()
                _DATES[text] = parsed
            elif text:
                self.warnings.append(f"{label} is not a valid date; ignored")
        return parsed


_new, _set = object.__new__, object.__setattr__


def _frozen(cls, values: dict):  # type: ignore[no-untyped-def]
    """`cls(**values)` for one of this module's frozen dataclasses, without the generated __init__'s
    object.__setattr__ per field (3x the cost, and the reader makes several such objects per claim). The
    object is the same: equal, hashable, immutable. `values` must name every field: the unit tests check that
    each object the reader returns has exactly its class's fields."""
    obj = _new(cls)
    _set(obj, "__dict__", values)
    return obj


# Amounts as read -> Decimal: most amounts in a file repeat ("0", "10", "25.50"), and a dictionary look-up is
# cheaper than the R-number check and Decimal's parse (`_AMOUNTS.get(text) or self.money(...)`: a cached zero
# is falsy and simply takes the checked path). Bounded: emptied when it grows past _AMOUNTS_MAX.
_AMOUNTS: dict[str, Decimal] = {}
_DATES: dict[str, date] = {}  # the same for D8 dates
_AMOUNTS_MAX = 50_000


def _amount(text: str) -> Decimal | None:
    amount = parse_number(text)
    if amount is not None:
        if len(_AMOUNTS) >= _AMOUNTS_MAX:
            _AMOUNTS.clear()
        _AMOUNTS[text] = amount
    return amount


def _total(adjustments: Iterable[Adjustment]) -> Decimal:
    return sum((a.amount for a in adjustments), ZERO)
