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
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from rcm_x12.codec import EnvelopeError, Segment, TransactionSet
from rcm_x12.format import d8_date, parse_number, quote_code, quote_control_number
from rcm_x12.reading import Unreadable, open_interchange, optional_number, transactions_of

IMPLEMENTATION = "005010X221A1"
ZERO = Decimal(0)

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


class Unparseable835(Unreadable):
    """The input is not a readable 835 (reason names segments and positions only, never element values)."""


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

    @property
    def denied(self) -> bool:
        return self.status_code == DENIED

    @property
    def all_adjustments(self) -> tuple[Adjustment, ...]:
        return self.adjustments + tuple(a for line in self.lines for a in line.adjustments)


@dataclass(frozen=True)
class ProviderAdjustment:
    """PLB: money the payer adds (negative) or withholds (positive) outside any claim."""

    provider_id: str
    reason: str  # PLB03-1, e.g. WO overpayment recovery, L6 interest, CV capital pass-through
    reference: str | None  # PLB03-2
    amount: Decimal


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
    envelope_errors: tuple[EnvelopeError, ...] = ()
    warnings: tuple[str, ...] = ()


def read_835(text: str) -> list[RemittancePayment]:
    interchange = open_interchange(text, Unparseable835)
    transactions = transactions_of(interchange, "835", Unparseable835)
    return [_PaymentReader(t, tuple(interchange.errors)).read() for t in transactions]


# ---------------------------------------------------------------- walking the transaction set


@dataclass
class _LineDraft:
    svc: Segment
    position: int
    segments: list[Segment] = field(default_factory=list)


@dataclass
class _ClaimDraft:
    clp: Segment
    position: int
    segments: list[Segment] = field(default_factory=list)
    lines: list[_LineDraft] = field(default_factory=list)


class _PaymentReader:
    """Routes each segment to where the last loop-opening segment put us: the header, a party (N1), a claim
    (CLP) or its current service line (SVC). LX/TS3/TS2 (header-number groups, institutional provider
    summaries) carry nothing the payment needs, so what follows them until the next CLP is skipped."""

    def __init__(self, transaction: TransactionSet, envelope_errors: tuple[EnvelopeError, ...]) -> None:
        self.transaction = transaction
        self.envelope_errors = envelope_errors
        self.warnings: list[str] = []
        self.header: list[Segment] = []
        self.parties: dict[str, list[Segment]] = {}
        self.claims: list[_ClaimDraft] = []
        self.plb: list[Segment] = []
        self.sink: list[Segment] | None = self.header
        self.positions: dict[int, int] = {}  # id(segment) -> its position in the set (ST = 1), for messages

    def read(self) -> RemittancePayment:
        if self.transaction.implementation_reference not in ("", IMPLEMENTATION):
            self.warnings.append(f"implementation reference {quote_code(self.transaction.implementation_reference)} "
                                 f"is not {IMPLEMENTATION}; read as {IMPLEMENTATION}")
        for position, seg in enumerate(self.transaction.body, start=2):
            self.route(seg, position)
        bpr = self.single("BPR")
        if bpr is None:
            raise Unparseable835(f"835 {quote_control_number(self.transaction.control_number)} has no BPR segment")
        return self.payment(bpr)

    def route(self, seg: Segment, position: int) -> None:
        self.positions[id(seg)] = position
        if seg.tag == "CLP":
            self.claims.append(_ClaimDraft(seg, position))
            self.sink = self.claims[-1].segments
        elif seg.tag == "SVC":
            if not self.claims:
                raise Unparseable835(f"SVC segment #{position} comes before any CLP")
            self.claims[-1].lines.append(_LineDraft(seg, position))
            self.sink = self.claims[-1].lines[-1].segments
        elif seg.tag == "N1":
            self.sink = self.parties.setdefault(seg.element(1), [])
            self.sink.append(seg)
        elif seg.tag in ("LX", "TS3", "TS2", "PLB"):
            if seg.tag == "PLB":
                self.plb.append(seg)
            self.sink = None
        elif self.sink is not None:
            self.sink.append(seg)
        else:
            self.warnings.append(f"{seg.tag} segment #{position} is outside any claim; ignored")

    def single(self, tag: str) -> Segment | None:
        found = [s for s in self.header if s.tag == tag]
        if len(found) > 1:
            self.warnings.append(f"835 has {len(found)} {tag} segments; the first is read")
        return found[0] if found else None

    def payment(self, bpr: Segment) -> RemittancePayment:
        trn = self.single("TRN")
        production = next((s for s in self.header if s.tag == "DTM" and s.element(1) == "405"), None)
        claims = tuple(self.claim(draft, number) for number, draft in enumerate(self.claims, start=1))
        adjustments = tuple(a for seg in self.plb for a in self.provider_adjustments(seg))
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
        status = clp.element(2)
        start = self.claim_date(draft, "232")
        end = self.claim_date(draft, "233")
        claim = ClaimPayment(
            patient_control_number=clp.element(1),
            status_code=status,
            status=CLAIM_STATUS.get(status) or f"Unrecognised claim status code {quote_code(status)}",
            charge=self.money(clp, 3),
            paid=self.money(clp, 4),
            patient_responsibility=self.optional_money(clp.element(5), f"{where} CLP05") or ZERO,
            claim_filing_indicator=clp.element(6) or None,
            payer_claim_control_number=clp.element(7) or None,
            adjustments=self.adjustments(draft.segments),
            remark_codes=_claim_remarks(draft.segments),
            lines=tuple(self.line(line, f"{where} line #{n}") for n, line in enumerate(draft.lines, start=1)),
            service_from=start, service_to=end or start,
        )
        if not claim.patient_control_number:
            self.warnings.append(f"{where} has no patient control number (CLP01)")
        self.check_claim(claim, where)
        return claim

    def claim_date(self, draft: _ClaimDraft, qualifier: str) -> date | None:
        dtm = next((s for s in draft.segments if s.tag == "DTM" and s.element(1) == qualifier), None)
        return self.date(dtm.element(2), f"DTM*{qualifier}") if dtm else None

    def line(self, draft: _LineDraft, where: str) -> ServicePayment:
        svc = draft.svc
        parts = svc.components(1)
        if len(parts) < 2 or not parts[1]:
            self.warnings.append(f"{where}: SVC01 has no procedure code (is the component separator in ISA16 "
                                 "the one the file uses?)")
        start, end = self.line_dates(draft.segments)
        allowed = next((s for s in draft.segments if s.tag == "AMT" and s.element(1) == "B6"), None)
        control = next((s for s in draft.segments if s.tag == "REF" and s.element(1) == "6R"), None)
        return ServicePayment(
            qualifier=(parts[0] or None) if parts else None,
            procedure_code=(parts[1] or None) if len(parts) > 1 else None,
            modifiers=tuple(p for p in parts[2:6] if p),
            charge=self.money(svc, 2),
            paid=self.money(svc, 3),
            units=self.optional_money(svc.element(5), f"{where} SVC05") or Decimal(1),
            original_units=self.optional_money(svc.element(7), f"{where} SVC07"),
            revenue_code=svc.element(4) or None,
            allowed=self.optional_money(allowed.element(2), f"{where} AMT*B6") if allowed else None,
            service_from=start, service_to=end,
            adjustments=self.adjustments(draft.segments),
            remark_codes=tuple(s.element(2) for s in draft.segments
                               if s.tag == "LQ" and s.element(1) == "HE" and s.element(2)),
            line_item_control_number=(control.element(2) or None) if control else None,
        )

    def line_dates(self, segments: list[Segment]) -> tuple[date | None, date | None]:
        dates = {s.element(1): self.date(s.element(2), f"DTM*{quote_code(s.element(1))}")
                 for s in segments if s.tag == "DTM"}
        start = dates.get("472") or dates.get("150")
        end = dates.get("472") or dates.get("151") or start
        return start, end

    def adjustments(self, segments: list[Segment]) -> tuple[Adjustment, ...]:
        found = []
        for seg in segments:
            if seg.tag != "CAS":
                continue
            for reason_at in _CAS_TRIPLETS:
                reason = seg.element(reason_at)
                if not reason:
                    continue
                found.append(Adjustment(
                    group=seg.element(1), reason=reason,
                    amount=self.money(seg, reason_at + 1),
                    quantity=self.optional_money(seg.element(reason_at + 2), f"CAS{reason_at + 2:02d}"),
                ))
        return tuple(found)

    def provider_adjustments(self, plb: Segment) -> list[ProviderAdjustment]:
        found = []
        for reason_at in _PLB_PAIRS:
            reason = plb.component(reason_at, 1)
            if not reason:
                continue
            found.append(ProviderAdjustment(
                provider_id=plb.element(1), reason=reason, reference=plb.component(reason_at, 2) or None,
                amount=self.money(plb, reason_at + 1),
            ))
        return found

    # ------------------------------------------------------------ balancing

    def check_claim(self, claim: ClaimPayment, where: str) -> None:
        for number, line in enumerate(claim.lines, start=1):
            adjusted = _total(line.adjustments)
            if line.charge - line.paid != adjusted:
                self.warnings.append(f"{where} line #{number} does not balance: SVC02 - SVC03 = "
                                     f"{line.charge - line.paid}, its adjustments total {adjusted}")
        adjusted = _total(claim.all_adjustments)
        if claim.charge - claim.paid != adjusted:
            self.warnings.append(f"{where} does not balance: CLP03 - CLP04 = {claim.charge - claim.paid}, "
                                 f"claim and line adjustments total {adjusted}")
        if claim.lines:
            from_lines = sum((line.paid for line in claim.lines), ZERO) - _total(claim.adjustments)
            if claim.paid != from_lines:
                self.warnings.append(f"{where}: CLP04 {claim.paid} is not the lines' SVC03 less claim-level "
                                     f"adjustments ({from_lines})")
        patient = _total(a for a in claim.all_adjustments if a.group == "PR")
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
        text = seg.element(element)
        amount = parse_number(text)
        if amount is None:
            state = "missing" if not text else "not an amount"
            raise Unparseable835(f"{seg.tag}{element:02d} of segment #{self.positions.get(id(seg), '?')} is {state}")
        return amount

    def optional_money(self, text: str, label: str) -> Decimal | None:
        return optional_number(text, label, self.warnings)

    def date(self, text: str, label: str) -> date | None:
        parsed = d8_date(text)
        if parsed is None and text:
            self.warnings.append(f"{label} is not a valid date; ignored")
        return parsed


def _claim_remarks(segments: list[Segment]) -> tuple[str, ...]:
    codes = []
    for seg in segments:
        positions = _MOA_REMARKS if seg.tag == "MOA" else _MIA_REMARKS if seg.tag == "MIA" else ()
        codes.extend(seg.element(p) for p in positions if seg.element(p))
    return tuple(codes)


def _total(adjustments: Iterable[Adjustment]) -> Decimal:
    return sum((a.amount for a in adjustments), ZERO)
