"""One remittance file in posting terms (pure): the checks (one per 835 transaction set, or the JSON
RemittanceAdvice) and their claim payments with lines and adjustments, whatever the file's format.

`read_x12_file` reads the file with rcm_x12's 835 reader (`read_835_file`), the one reading path: it reads every
interchange of a file and rejects the file whole when it is truncated, its envelopes do not hold together
(`Incomplete835`) or an interchange, group or set is not 5010 005010X221A1 (`Unsupported835Version`: ISA12, GS08,
ST03). Here only what posting adds: every amount must fit the ledger's NUMERIC(12, 2). Any of these refuses the
whole file (`RejectedFile`), so nothing of it is posted. Reasons name segments and positions, never patient data.
What the reader read around (envelope defects that lose nothing, warnings) travels with the checks as structured
issues (`Check.issues`: interchange, transaction set, segment position, reason) for the file's findings.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, fields, is_dataclass, replace
from datetime import date
from decimal import Decimal
from functools import cached_property
from itertools import repeat

from rcm_contracts.wire import RemittanceAdvice
from rcm_x12.codec import X12Error
from rcm_x12.remit_835 import RemittancePayment, Unparseable835, read_835_file

ZERO = Decimal("0.00")


class RejectedFile(ValueError):
    """The file cannot be posted at all; the reason names structure only."""


@dataclass(frozen=True)
class Adj:
    group: str
    reason: str
    amount: Decimal


@dataclass(frozen=True)
class Line:
    procedure_code: str | None
    modifiers: tuple[str, ...]
    charge: Decimal
    paid: Decimal
    allowed: Decimal | None
    adjustments: tuple[Adj, ...]
    remark_codes: tuple[str, ...]
    service_from: date | None = None
    service_to: date | None = None
    units: Decimal = Decimal(1)  # SVC05 (units paid; absent = 1)


@dataclass(frozen=True)
class ClaimPay:
    patient_control_number: str  # CLP01 (the JSON path: our claim id)
    status_code: str  # CLP02 (the JSON path: "1")
    charge: Decimal
    paid: Decimal
    patient_responsibility: Decimal
    payer_claim_control_number: str | None  # CLP07
    adjustments: tuple[Adj, ...]  # claim level
    lines: tuple[Line, ...]
    remark_codes: tuple[str, ...]
    service_from: date | None = None
    service_to: date | None = None
    allowed: Decimal | None = None  # the JSON path gives it; from an 835: AMT*B6 over the lines
    claim_id: uuid.UUID | None = None  # the JSON path names our claim

    @cached_property  # read by balancing, identity, the ledger and the events: built once per claim
    def all_adjustments(self) -> tuple[Adj, ...]:
        return self.adjustments + tuple(a for line in self.lines for a in line.adjustments)

    @property
    def dates(self) -> tuple[date | None, date | None]:
        """The claim's service dates: DTM*232/233, else the lines' earliest and latest."""
        if self.service_from:
            return self.service_from, self.service_to or self.service_from
        starts = [d for line in self.lines for d in (line.service_from,) if d]
        ends = [d for line in self.lines for d in (line.service_to or line.service_from,) if d]
        return (min(starts) if starts else None), (max(ends) if ends else None)


@dataclass(frozen=True)
class PLB:
    provider_id: str
    reason: str
    reference: str | None
    amount: Decimal  # positive: withheld from the provider


@dataclass(frozen=True)
class Check:
    """One payment (BPR/TRN) with its claims; `interchange`/`control_number` say where it is in the file."""

    interchange: str  # ISA13 ("" for JSON)
    control_number: str  # ST02 ("" for JSON)
    payer_id: str | None  # N1*PR N104, else REF*2U (None when the 835 names the payer only in TRN03)
    payer_name: str | None
    trace_number: str  # TRN02
    trace_originator: str | None  # TRN03
    amount: Decimal | None  # BPR02 (None for JSON: no check total to balance)
    payment_date: date
    payment_method: str
    claims: tuple[ClaimPay, ...]
    provider_adjustments: tuple[PLB, ...] = ()
    warnings: tuple[str, ...] = ()
    envelope_errors: tuple[str, ...] = ()
    # the reader's ReadingIssues (as JSON) of this check, and of its interchange for its interchange's first check:
    # each once in the file's findings
    issues: tuple[dict, ...] = ()
    payee_npi: str | None = None  # N1*PE N104 when N103 is XX (the billing provider); None for JSON


def sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


# ---------------------------------------------------------------- X12


MAX_AMOUNT = Decimal("9999999999.99")  # what NUMERIC(12, 2) and the events' Money hold


CENT = Decimal("0.01")


def _fits(value: Decimal) -> bool:
    return abs(value) <= MAX_AMOUNT and value == value.quantize(CENT)


def _amount(value: Decimal, where: str) -> Decimal:
    if not _fits(value):
        raise RejectedFile(f"{where}: the amount is out of range or has more than two decimals")
    return value


def _check_amounts(payment: RemittancePayment) -> None:
    """Every amount must fit NUMERIC(12, 2); the reason (built only for the first that does not) says where."""
    where = f"transaction set {payment.control_number}"
    _amount(payment.amount, f"{where} BPR02")
    for n, c in enumerate(payment.claims, start=1):
        for label, v in (("CLP03", c.charge), ("CLP04", c.paid), ("CLP05", c.patient_responsibility)):
            if not _fits(v):
                _amount(v, f"{where} claim #{n} {label}")
        for a in c.all_adjustments:
            if not _fits(a.amount):
                _amount(a.amount, f"{where} claim #{n} CAS")
        for m, s in enumerate(c.lines, start=1):
            if not _fits(s.charge):
                _amount(s.charge, f"{where} claim #{n} line #{m} SVC02")
            if not _fits(s.paid):
                _amount(s.paid, f"{where} claim #{n} line #{m} SVC03")
            if s.allowed is not None and not _fits(s.allowed):
                _amount(s.allowed, f"{where} claim #{n} line #{m} AMT*B6")
    for p in payment.provider_adjustments:
        _amount(p.amount, f"{where} PLB")


def _amounts_fit(amounts: list[Decimal]) -> bool:
    """_fits for every amount at once, in C (min, max, map, list equality): a file has ~12 amounts a claim.
    False (then _check_amounts finds and names the first that does not fit) also when one is not a number."""
    try:
        return (-MAX_AMOUNT <= min(amounts) and max(amounts) <= MAX_AMOUNT
                and amounts == list(map(Decimal.quantize, amounts, repeat(CENT))))
    except ArithmeticError:  # NaN: compared, it signals
        return False


def _check(payment: RemittancePayment, extra_warnings: tuple[str, ...] = (), issues: tuple[dict, ...] = ()) -> Check:
    amounts = [payment.amount]  # every amount _check_amounts checks, collected on the way
    claims = []
    for clp in payment.claims:
        amounts += (clp.charge, clp.paid, clp.patient_responsibility)
        lines = []
        for s in clp.lines:
            amounts += (s.charge, s.paid)
            if s.allowed is not None:
                amounts.append(s.allowed)
            adjustments = tuple([Adj(a.group, a.reason, a.amount) for a in s.adjustments])
            amounts += [a.amount for a in adjustments]
            lines.append(Line(procedure_code=s.procedure_code, modifiers=s.modifiers, charge=s.charge, paid=s.paid,
                              allowed=s.allowed, adjustments=adjustments, remark_codes=s.remark_codes,
                              service_from=s.service_from, service_to=s.service_to, units=s.units))
        allowed = (sum([s.allowed for s in clp.lines], ZERO)
                   if clp.lines and all(s.allowed is not None for s in clp.lines) else None)
        adjustments = tuple([Adj(a.group, a.reason, a.amount) for a in clp.adjustments])
        amounts += [a.amount for a in adjustments]
        claims.append(ClaimPay(
            patient_control_number=clp.patient_control_number, status_code=clp.status_code, charge=clp.charge,
            paid=clp.paid, patient_responsibility=clp.patient_responsibility,
            payer_claim_control_number=clp.payer_claim_control_number,
            adjustments=adjustments, lines=tuple(lines),
            remark_codes=clp.remark_codes, service_from=clp.service_from, service_to=clp.service_to, allowed=allowed))
    amounts += [p.amount for p in payment.provider_adjustments]
    if not _amounts_fit(amounts):
        _check_amounts(payment)  # raises RejectedFile naming the first amount out of range
    # N1*PR N104, else REF*2U: never TRN03 (the reader's last resort in payer_id), which names the trace's
    # originator; identity.payer_key relates the two through the aliases a tenant's files teach it.
    payer_id = payment.payer_identifier or payment.payer_reference
    return Check(
        interchange=payment.interchange_control_number, control_number=payment.control_number, payer_id=payer_id,
        payer_name=payment.payer_name, trace_number=payment.trace_number or payment.control_number,
        trace_originator=payment.trace_originator, amount=payment.amount,
        payment_date=payment.payment_date or payment.production_date or date(1970, 1, 1),
        payment_method=payment.payment_method, claims=tuple(claims),
        provider_adjustments=tuple(PLB(p.provider_id, p.reason, p.reference, p.amount)
                                   for p in payment.provider_adjustments),
        warnings=tuple(payment.warnings) + extra_warnings, envelope_errors=tuple(str(e) for e in payment.envelope_errors),
        issues=issues, payee_npi=payment.payee_npi)


def read_x12_file(text: str) -> list[Check]:
    """Every check of every interchange, read by rcm_x12's reader (`read_835_file`: it splits the interchanges,
    rejects a truncated file, broken envelopes and any version but 005010X221A1); RejectedFile when any of it
    cannot be read, so nothing of it is posted."""
    try:
        remittance = read_835_file(text)
    except (Unparseable835, X12Error) as exc:  # Incomplete835 and Unsupported835Version included
        raise RejectedFile(str(exc)) from None
    # what an interchange found outside its 835s (e.g. a transaction set that is not an 835) goes with its
    # first check, so it reaches the file's findings; so do its envelope issues (each once)
    ignored = {i.control_number: i.warnings for i in remittance.interchanges if i.warnings}
    issues: dict[tuple[int, str | None], list[dict]] = {}
    for issue in remittance.issues():  # by (interchange, transaction set); None: the interchange's own
        issues.setdefault((issue.interchange, issue.transaction_set), []).append(issue.as_json())
    checks = []
    for payment in remittance.payments:
        own = issues.pop((payment.interchange, None), []) + issues.pop((payment.interchange, payment.control_number), [])
        checks.append(_check(payment, ignored.pop(payment.interchange_control_number, ()), tuple(own)))
    if not checks:
        raise RejectedFile("the file holds no 835 transaction set")
    if issues:  # an interchange with no 835 of its own: its issues go with the last check
        checks[-1] = replace(checks[-1], issues=checks[-1].issues + tuple(i for found in issues.values() for i in found))
    return checks


# ---------------------------------------------------------------- JSON (RemittanceAdvice)


def read_advice(advice: RemittanceAdvice) -> list[Check]:
    claims = tuple(ClaimPay(
        patient_control_number=str(c.claim_id), status_code="1", charge=c.total_charge, paid=c.paid_amount,
        patient_responsibility=c.patient_responsibility, payer_claim_control_number=c.payer_claim_control_number,
        adjustments=tuple(Adj(a.group_code, a.reason_code, a.amount) for a in c.adjustments), lines=(),
        remark_codes=tuple(c.remark_codes), allowed=c.allowed_amount, claim_id=c.claim_id) for c in advice.claims)
    return [Check(interchange="", control_number="", payer_id=advice.payer_id, payer_name=None,
                  trace_number=advice.trace_number, trace_originator=None, amount=None,
                  payment_date=advice.payment_date, payment_method=advice.payment_method, claims=claims)]


# ---------------------------------------------------------------- (de)serialising a claim payment


def _jsonable(v):
    """Dataclasses as dicts of their fields, Decimal/date/UUID as strings, tuples as lists: what
    dataclasses.asdict plus that conversion gave, without asdict's deep copy of every leaf (a held or
    unmatched claim's advice is written for each one a file queues)."""
    if v is None or isinstance(v, (str, int)):
        return v
    if isinstance(v, Decimal):
        return str(v)
    if isinstance(v, date):
        return v.isoformat()
    if isinstance(v, uuid.UUID):
        return str(v)
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, dict):
        return {k: _jsonable(x) for k, x in v.items()}
    if is_dataclass(v):
        return {f.name: _jsonable(getattr(v, f.name)) for f in fields(v)}
    return v


def claim_to_json(c: ClaimPay) -> dict:
    return _jsonable(c)


def claim_from_json(d: dict) -> ClaimPay:
    def dec(v):
        return None if v is None else Decimal(v)

    def day(v):
        return None if v is None else date.fromisoformat(v)

    def adjs(xs):
        return tuple(Adj(a["group"], a["reason"], Decimal(a["amount"])) for a in xs)
    lines = tuple(Line(procedure_code=x["procedure_code"], modifiers=tuple(x["modifiers"]), charge=Decimal(x["charge"]),
                       paid=Decimal(x["paid"]), allowed=dec(x["allowed"]), adjustments=adjs(x["adjustments"]),
                       remark_codes=tuple(x["remark_codes"]), service_from=day(x["service_from"]),
                       service_to=day(x["service_to"]), units=Decimal(x.get("units", "1"))) for x in d["lines"])
    return ClaimPay(patient_control_number=d["patient_control_number"], status_code=d["status_code"],
                    charge=Decimal(d["charge"]), paid=Decimal(d["paid"]),
                    patient_responsibility=Decimal(d["patient_responsibility"]),
                    payer_claim_control_number=d["payer_claim_control_number"], adjustments=adjs(d["adjustments"]),
                    lines=lines, remark_codes=tuple(d["remark_codes"]), service_from=day(d["service_from"]),
                    service_to=day(d["service_to"]), allowed=dec(d["allowed"]),
                    claim_id=uuid.UUID(d["claim_id"]) if d.get("claim_id") else None)
