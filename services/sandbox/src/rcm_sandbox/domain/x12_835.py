"""The sandbox payer's 005010X221A1 835 (electronic remittance advice) from its adjudication results (pure).

One 835 is one payment (BPR/TRN) to one payee for any number of claims. Amounts must balance the way
the guide requires before anything is written, because a provider's posting system rejects (or, worse,
mis-posts) an unbalanced ERA:

- line:        SVC02 (charge) - SVC03 (paid) = sum of the line's CAS amounts
- claim:       CLP03 (charge) - CLP04 (paid) = sum of claim and line CAS amounts,
               and CLP04 = sum of SVC03 - claim-level CAS
- patient:     CLP05 = sum of the PR (patient responsibility) CAS amounts
- payment:     BPR02 = sum of CLP04 - sum of PLB04 (provider-level adjustments: negative pays the provider,
               positive takes money back), never below zero
- interest:    the PLB L6 amounts are the claims' AMT*I interest, negated (TR3 1.10.2.9)

A reversal (CLP02 22) is a claim whose adjudication is the original's with every amount negated: the same rules
hold with the signs turned, so it needs no rules of its own.

Adjustments are reported per line (the sandbox adjudicates lines); only what the claim-level summary holds
beyond its lines goes into claim-level CAS, so nothing is reported twice. Error messages name claims by
their position in the input and lines by number, never by patient data.

This is the sandbox's own mapping (its adjudication results to the guide's loops); the X12 value rules
(amounts, free text, CAS) are rcm_x12.format's, shared with every other writer.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from rcm_contracts.claim import Address, Claim, ServiceLine, patient_control_number
from rcm_x12.codec import Segment, build_interchange
from rcm_x12.format import cas_segments, free_text, x12_amount, x12_decimal

from rcm_sandbox.domain.adjudication import AdjustmentRow, ClaimAdjudication, LineAdjudication
from rcm_sandbox.domain.reprocessing import INTEREST, ProviderAdjustment, check_total

IMPLEMENTATION = "005010X221A1"
FUNCTIONAL_ID = "HP"  # GS01 for an 835

GROUP_CODES = ("CO", "OA", "PI", "PR")  # CAS01 in 5010 (CR was retired: reversals resend the original groups)
# CLP06. Narrower than the 837's SBR09: there is no CI (commercial) here, so a commercial PPO plan is 12.
CLAIM_FILING_INDICATORS = frozenset({"12", "13", "14", "15", "16", "17", "AM", "CH", "DS", "HM", "LM", "MA", "MB",
                                     "MC", "OF", "TV", "VA", "WC", "ZZ"})
DENIED = "4"  # CLP02
REVERSAL = "22"  # CLP02: reversal of a previous payment
_PLB_PAIRS = 6  # PLB03/04 .. PLB13/14
_PROCESSED_AS = {"P": "1", "S": "2", "T": "3"}  # CLP02 by the claim's place in the order of benefits
_MOA_REMARKS = 5  # MOA03-MOA07

PaymentMethod = Literal["ACH", "CHK", "NON"]

ZERO = Decimal("0.00")
_DIGITS9 = re.compile(r"[0-9]{9}")
_NPI = re.compile(r"[0-9]{10}")
_PHONE = re.compile(r"[0-9]{10}")
_REMARK = re.compile(r"[A-Z0-9]{1,5}")


@dataclass(frozen=True)
class Payer:
    name: str
    payer_id: str  # REF*2U: the id providers know the payer by
    tax_id: str  # 9-digit EIN; TRN03/BPR10 are "1" + EIN as the guide requires
    address: Address
    contact_phone: str  # PER*BL: the payer's technical (EDI) contact, 10 digits
    contact_name: str | None = None

    def __post_init__(self) -> None:
        if not _DIGITS9.fullmatch(self.tax_id):
            raise ValueError("payer tax id must be a 9-digit EIN")
        if not _PHONE.fullmatch(self.contact_phone):
            raise ValueError("payer contact phone must be 10 digits")
        if not self.name.strip() or not self.payer_id.strip():
            raise ValueError("payer name and id are required")

    @property
    def originator(self) -> str:
        return "1" + self.tax_id


@dataclass(frozen=True)
class Payee:
    name: str
    npi: str
    tax_id: str | None = None  # REF*TJ
    address: Address | None = None

    def __post_init__(self) -> None:
        if not _NPI.fullmatch(self.npi):
            raise ValueError("payee NPI must be 10 digits")
        if self.tax_id is not None and not _DIGITS9.fullmatch(self.tax_id):
            raise ValueError("payee tax id must be 9 digits")
        if not self.name.strip():
            raise ValueError("payee name is required")


@dataclass(frozen=True)
class BankAccount:
    routing_number: str  # ABA routing/transit number
    account_number: str

    def __post_init__(self) -> None:
        if not _DIGITS9.fullmatch(self.routing_number):
            raise ValueError("bank routing number must be 9 digits")
        if not re.fullmatch(r"[0-9A-Za-z-]{1,35}", self.account_number):
            raise ValueError("bank account number must be 1-35 letters, digits or dashes")


@dataclass(frozen=True)
class Payment:
    method: PaymentMethod  # ACH transfer, CHK paper check, NON no payment (zero-pay ERA)
    payment_date: date  # BPR16: check issue or EFT effective date
    trace_number: str  # TRN02: the EFT trace or check number the provider reassociates the money with
    payer_bank: BankAccount | None = None  # ACH only: BPR06-BPR09
    payee_bank: BankAccount | None = None  # ACH only: BPR12-BPR15

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[0-9A-Za-z-]{1,50}", self.trace_number):
            raise ValueError("trace number must be 1-50 letters, digits or dashes")
        ach = self.method == "ACH"
        if ach != (self.payer_bank is not None and self.payee_bank is not None):
            raise ValueError("an ACH payment needs both bank accounts, and only an ACH payment has them")


@dataclass(frozen=True)
class RemittedClaim:
    """One claim as paid: the claim as submitted (identity, dates, units, modifiers) and its adjudication."""

    claim: Claim
    adjudication: ClaimAdjudication
    payer_claim_control_number: str  # CLP07
    claim_filing_indicator: str = "12"  # CLP06: 12 PPO, HM HMO, MB Medicare Part B, MC Medicaid, ...
    reversal: bool = False  # CLP02 22: this adjudication takes back an earlier payment (amounts negated)
    interest: Decimal = ZERO  # AMT*I: interest paid with this claim (the check's PLB L6 pays it)

    def __post_init__(self) -> None:
        if self.claim.claim_id != self.adjudication.claim_id:
            raise ValueError("adjudication is not for this claim")
        if not self.payer_claim_control_number.strip():
            raise ValueError("payer claim control number is required")
        if self.claim_filing_indicator not in CLAIM_FILING_INDICATORS:
            raise ValueError("claim filing indicator is not a CLP06 code")
        numbers = {line.line_number for line in self.claim.lines}
        if any(line.line_number not in numbers for line in self.adjudication.lines):
            raise ValueError("adjudication has a line the claim does not have")
        if self.interest < 0 or (self.interest and self.reversal):
            raise ValueError("interest is a positive amount paid with a payment, not with its reversal")
        if self.reversal and self.adjudication.paid > 0:
            raise ValueError("a reversal takes money back: its paid amount is the original's negated")


def build_835(
    claims: Sequence[RemittedClaim],
    *,
    payer: Payer,
    payee: Payee,
    payment: Payment,
    control_number: int,
    sender_id: str,
    receiver_id: str,
    now: datetime,
    usage: str = "P",
    provider_adjustments: Sequence[ProviderAdjustment] = (),
) -> str:
    """A complete interchange holding one 835 paying `claims` (and the provider-level adjustments) to `payee`."""
    segments = transaction_835(claims, payer=payer, payee=payee, payment=payment, control_number=control_number,
                               now=now, provider_adjustments=provider_adjustments)
    return build_interchange(sender_id, receiver_id, control_number, FUNCTIONAL_ID, IMPLEMENTATION, [segments],
                             now=now, usage=usage)


def transaction_835(
    claims: Sequence[RemittedClaim], *, payer: Payer, payee: Payee, payment: Payment, control_number: int,
    now: datetime, provider_adjustments: Sequence[ProviderAdjustment] = (),
) -> list[Segment]:
    if not claims:
        raise ValueError("an 835 pays at least one claim")
    for position, remitted in enumerate(claims, start=1):
        _check_balanced(remitted, position)
    _check_interest(claims, provider_adjustments)
    total = check_total(sum((c.adjudication.paid for c in claims), ZERO), list(provider_adjustments))
    _check_payment(payment, total)
    # ST03 is not used by the 835 guide, unlike the 27x/999 guides.
    segments = [
        Segment("ST", ["835", f"{control_number:04d}"]),
        _bpr(payment, total, payer),
        Segment("TRN", ["1", payment.trace_number, payer.originator]),
        Segment("DTM", ["405", f"{now:%Y%m%d}"]),  # production date of this remittance run
        *_payer_loop(payer),
        *_payee_loop(payee),
        Segment("LX", ["1"]),
    ]
    for remitted in claims:
        segments.extend(_claim_loop(remitted))
    segments.extend(_plb(provider_adjustments, payee, payment))
    return segments


# ---------------------------------------------------------------- balancing


def _claim_level_adjustments(adjudication: ClaimAdjudication) -> list[AdjustmentRow]:
    """What the claim-level summary holds beyond the sum of its lines (normally nothing)."""
    remaining: dict[tuple[str, str], Decimal] = {}
    for group, carc, amount in adjudication.adjustments:
        remaining[(group, carc)] = remaining.get((group, carc), ZERO) + amount
    for line in adjudication.lines:
        for group, carc, amount in line.adjustments:
            remaining[(group, carc)] = remaining.get((group, carc), ZERO) - amount
    return [(group, carc, amount) for (group, carc), amount in remaining.items() if amount]


def _check_balanced(remitted: RemittedClaim, position: int) -> None:
    adj = remitted.adjudication
    for line in adj.lines:
        for group, _, _ in line.adjustments:
            _check_group(group, position)
        line_total = _sum(line.adjustments)
        if line.charge - line.paid != line_total:
            raise ValueError(f"claim #{position} line {line.line_number} does not balance: charge {line.charge} - "
                             f"paid {line.paid} != adjustments {line_total}")
    claim_level = _claim_level_adjustments(adj)
    for group, _, _ in claim_level:
        _check_group(group, position)
    line_adjustments = [row for line in adj.lines for row in line.adjustments]
    every = claim_level + line_adjustments
    if adj.total_charge - adj.paid != _sum(every):
        raise ValueError(f"claim #{position} does not balance: charge {adj.total_charge} - paid {adj.paid} != "
                         f"adjustments {_sum(every)}")
    lines_paid = sum((line.paid for line in adj.lines), ZERO)
    if adj.paid != lines_paid - _sum(claim_level):
        raise ValueError(f"claim #{position} paid {adj.paid} is not its lines' payments {lines_paid} "
                         f"less claim-level adjustments {_sum(claim_level)}")
    patient = _sum([row for row in every if row[0] == "PR"])
    if adj.patient_responsibility != patient:
        raise ValueError(f"claim #{position} patient responsibility {adj.patient_responsibility} is not the sum of "
                         f"its PR adjustments {patient}")
    if _status(remitted) == DENIED and adj.paid:
        raise ValueError(f"claim #{position} is denied but pays {adj.paid}")


def _check_interest(claims: Sequence[RemittedClaim], adjustments: Sequence[ProviderAdjustment]) -> None:
    on_claims = sum((c.interest for c in claims), ZERO)
    paid = -sum((p.amount for p in adjustments if p.reason == INTEREST), ZERO)
    if on_claims != paid:
        raise ValueError(f"the claims' interest (AMT*I) {on_claims} is not what PLB L6 pays {paid}")


def _check_group(group: str, position: int) -> None:
    if group not in GROUP_CODES:
        raise ValueError(f"claim #{position} has adjustment group {group!r}: 5010 835s allow CO, OA, PI and PR only")


def _check_payment(payment: Payment, total: Decimal) -> None:
    if total < 0:
        raise ValueError("the check totals a negative amount (claims less provider adjustments): an 835 cannot take "
                         "money back this way")
    if payment.method == "NON" and total != 0:
        raise ValueError("payment method NON is for a zero-pay remittance; these claims pay money")
    if payment.method != "NON" and total == 0:
        raise ValueError("a zero-pay remittance uses payment method NON")


def _sum(rows: Sequence[AdjustmentRow]) -> Decimal:
    return sum((amount for _, _, amount in rows), ZERO)


# ---------------------------------------------------------------- header and parties


def _bpr(payment: Payment, total: Decimal, payer: Payer) -> Segment:
    dated = f"{payment.payment_date:%Y%m%d}"
    if payment.method == "NON":
        # H = notification only: nothing moves, the ERA just reports the adjudication.
        return Segment("BPR", ["H", "0", "C", "NON", *[""] * 11, dated])
    if payment.method == "CHK":
        # I = remittance information only: the check travels separately.
        return Segment("BPR", ["I", x12_amount(total), "C", "CHK", *[""] * 11, dated])
    sender, receiver = payment.payer_bank, payment.payee_bank
    if sender is None or receiver is None:  # Payment refuses this already; kept for the type checker
        raise ValueError("an ACH payment needs both bank accounts")
    # Dollars and data travel separately (the ERA goes through the clearinghouse): I + CCP.
    return Segment("BPR", ["I", x12_amount(total), "C", "ACH", "CCP",
                           "01", sender.routing_number, "DA", sender.account_number, payer.originator, "",
                           "01", receiver.routing_number, "DA", receiver.account_number, dated])


def _payer_loop(payer: Payer) -> list[Segment]:
    return [
        Segment("N1", ["PR", free_text(payer.name)]),
        *_address(payer.address),
        Segment("REF", ["2U", payer.payer_id.strip()]),
        Segment("PER", ["BL", free_text(payer.contact_name or ""), "TE", payer.contact_phone]),
    ]


def _payee_loop(payee: Payee) -> list[Segment]:
    segments = [Segment("N1", ["PE", free_text(payee.name), "XX", payee.npi])]
    if payee.address:
        segments.extend(_address(payee.address))
    if payee.tax_id:
        segments.append(Segment("REF", ["TJ", payee.tax_id]))
    return segments


def _address(address: Address) -> list[Segment]:
    return [Segment("N3", [free_text(address.line1), free_text(address.line2 or "")]),
            Segment("N4", [free_text(address.city), address.state, address.postal_code])]


# ---------------------------------------------------------------- claims and lines


def _status(remitted: RemittedClaim) -> str:
    if remitted.reversal:
        return REVERSAL
    if remitted.adjudication.outcome == "denied":
        return DENIED
    return _PROCESSED_AS[remitted.claim.payer_responsibility]


def _claim_loop(remitted: RemittedClaim) -> list[Segment]:
    claim, adj = remitted.claim, remitted.adjudication
    patient = adj.patient_responsibility
    segments = [
        Segment("CLP", [patient_control_number(claim.claim_id), _status(remitted), x12_amount(adj.total_charge),
                        x12_amount(adj.paid), x12_amount(patient) if patient else "", remitted.claim_filing_indicator,
                        remitted.payer_claim_control_number.strip(),
                        # Facility code and frequency echo CLM05-1/-3 of the claim, as the guide asks.
                        claim.place_of_service, claim.frequency_code]),
        *_cas(_claim_level_adjustments(adj)),
        *_names(claim),
    ]
    if adj.remark_codes:
        segments.append(_moa(adj.remark_codes))
    segments.extend(_statement_dates(claim))
    if remitted.interest:
        segments.append(Segment("AMT", ["I", x12_amount(remitted.interest)]))
    lines = {line.line_number: line for line in claim.lines}
    for line in sorted(adj.lines, key=lambda ln: ln.line_number):
        segments.extend(_service_loop(line, lines[line.line_number], claim))
    return segments


def _names(claim: Claim) -> list[Segment]:
    patient = claim.patient
    coverage = claim.coverage
    name = ["QC", "1", free_text(patient.last_name), free_text(patient.first_name)]
    if coverage is None:
        return [Segment("NM1", name)]
    # A dependent has no member id of their own: the id belongs to the insured, named in NM1*IL
    # (a full subscriber, or the insured the 837P named without a birth date).
    subscriber = coverage.subscriber or (coverage.insured if coverage.relationship != "self" else None)
    if subscriber is None:
        return [Segment("NM1", [*name, "", "", "", "MI", coverage.member_id.strip()])]
    return [Segment("NM1", name),
            Segment("NM1", ["IL", "1", free_text(subscriber.last_name), free_text(subscriber.first_name), "", "", "", "MI",
                            coverage.member_id.strip()])]


def _moa(remark_codes: Sequence[str]) -> Segment:
    codes = list(dict.fromkeys(remark_codes))
    if len(codes) > _MOA_REMARKS or not all(_REMARK.fullmatch(c) for c in codes):
        raise ValueError("claim remark codes must be at most 5 RARC codes (MOA03-MOA07)")
    return Segment("MOA", ["", "", *codes])


def _statement_dates(claim: Claim) -> list[Segment]:
    dates = [line.service_date or claim.service_date for line in claim.lines]
    start, end = min(dates), max(dates)
    segments = [Segment("DTM", ["232", f"{start:%Y%m%d}"])]
    if end != start:
        segments.append(Segment("DTM", ["233", f"{end:%Y%m%d}"]))
    return segments


def _service_loop(result: LineAdjudication, line: ServiceLine, claim: Claim) -> list[Segment]:
    procedure = ":".join(["HC", result.procedure_code, *line.modifiers])
    units = x12_decimal(line.units) if line.units != 1 else ""  # SVC05 is sent only when not 1
    served = line.service_date or claim.service_date
    return [
        Segment("SVC", [procedure, x12_amount(result.charge), x12_amount(result.paid), "", units]),
        Segment("DTM", ["472", f"{served:%Y%m%d}"]),
        *_cas(result.adjustments),
        Segment("AMT", ["B6", x12_amount(result.allowed)]),
    ]


def _cas(rows: Sequence[AdjustmentRow]) -> list[Segment]:
    """One CAS per group code, six reason/amount pairs each (CAS04, 07, ... quantities left empty)."""
    return cas_segments((group, carc, x12_amount(amount)) for group, carc, amount in rows)


def _plb(adjustments: Sequence[ProviderAdjustment], payee: Payee, payment: Payment) -> list[Segment]:
    """PLB: the provider (PLB01, the payee's NPI), the end of its fiscal year (PLB02; the calendar year here),
    then up to six reason:reference/amount pairs per segment."""
    fiscal_year_end = f"{payment.payment_date.year}1231"
    pairs = [[f"{p.reason}:{p.reference.strip()}" if p.reference else p.reason, x12_amount(p.amount)]
             for p in adjustments]
    return [Segment("PLB", [payee.npi, fiscal_year_end, *[e for pair in pairs[i:i + _PLB_PAIRS] for e in pair]])
            for i in range(0, len(pairs), _PLB_PAIRS)]
