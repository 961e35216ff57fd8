"""The claim ledger (pure): immutable entries per service line (claim level when the payer gives no lines),
what each claim status does, reversals, and the totals.

Entries carry the amount as the 835 gives it (a reversal's entries are the original's negated). Each kind
moves the claim's balance (what is still owed on it, by the payer or the patient) by SIGN[kind] x amount:

    charge +1 | payer_payment -1 | contractual (CO) -1 | other_adjustment (OA, PI, CR, ...) -1
    deductible (PR-1), coinsurance (PR-2), copay (PR-3), patient_other (other PR): 0 -- they say who owes
        the balance (the patient), they do not change it
    prior_payer (OA-23 on a secondary/tertiary payment: the earlier payer's adjudication, already on the
        ledger) 0 | provider_adjustment (PLB, on the check, not the claim) 0

so balance = sum(SIGN[kind] x amount) over the claim's entries = charge - paid - contractual - other, and
after a balanced adjudication it equals the patient responsibility.

Claim statuses (CLP02), as the 835 guide defines them:
    1, 19   processed as primary (19: and forwarded to another payer): charge, payment, adjustments
    2, 20   processed as secondary   \\  the charge is posted once (the first payer's); OA-23 is the prior
    3, 21   processed as tertiary    /  payer's adjudication (memo); the earlier patient responsibility is
                                        replaced by this payer's (negated, then posted anew)
    4       denied: charge and the denial's adjustments, no payment
    22      reversal of a previous payment: the original's entries negated (the correction follows as a
            new payment)
    23      not our claim, forwarded to another payer: no money moves; nothing is posted to the ledger
    other   unknown: held with the reason, never guessed
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import Iterable, NamedTuple

from rcm_remittance.domain.remit import Adj, ClaimPay

ZERO = Decimal("0.00")
PRIMARY, SECONDARY, TERTIARY = {"1", "19"}, {"2", "20"}, {"3", "21"}
DENIED, REVERSAL, NOT_OURS = "4", "22", "23"
POSTABLE = PRIMARY | SECONDARY | TERTIARY | {DENIED}
KNOWN = POSTABLE | {REVERSAL, NOT_OURS}
PATIENT_KINDS = {"1": "deductible", "2": "coinsurance", "3": "copay"}
PR_KINDS = ("deductible", "coinsurance", "copay", "patient_other")
SIGN = {"charge": 1, "payer_payment": -1, "contractual": -1, "other_adjustment": -1, "deductible": 0,
        "coinsurance": 0, "copay": 0, "patient_other": 0, "prior_payer": 0, "provider_adjustment": 0}


class Entry(NamedTuple):
    """One ledger entry (immutable; a named tuple: a posted 835 builds ~7 a claim, and a frozen dataclass costs
    nearly three times as much to construct)."""

    kind: str
    amount: Decimal
    line_number: int = 0  # 0: claim level; else the service line, from 1
    procedure_code: str | None = None
    group_code: str | None = None
    reason_code: str | None = None
    remark_codes: tuple[str, ...] = ()


def status_action(status_code: str) -> str:
    """post | reverse | not_ours | hold"""
    if status_code in POSTABLE:
        return "post"
    if status_code == REVERSAL:
        return "reverse"
    if status_code == NOT_OURS:
        return "not_ours"
    return "hold"


def _adjustment_kind(adj: Adj, later_payer: bool) -> str:
    if adj.group == "PR":
        return PATIENT_KINDS.get(adj.reason, "patient_other")
    if adj.group == "CO":
        return "contractual"
    if later_payer and adj.group == "OA" and adj.reason == "23":
        return "prior_payer"
    return "other_adjustment"


def _adjustments(adjs: Iterable[Adj], line_number: int, code: str | None, later_payer: bool,
                 remarks: tuple[str, ...]) -> list[Entry]:
    return [Entry(_adjustment_kind(a, later_payer), a.amount, line_number, code, a.group, a.reason, remarks)
            for a in adjs if a.amount]


def payment_entries(claim: ClaimPay, *, charge_posted: bool, later_payer: bool | None = None) -> list[Entry]:
    """The entries a postable claim payment (statuses 1-4, 19-21) makes. `charge_posted`: the claim's
    charge is already on the ledger (a later payer's payment does not charge the claim again). `later_payer`:
    this payer follows another (default: from CLP02 2/3/20/21; a secondary claim's denial, CLP02 4, is one too)."""
    if later_payer is None:
        later_payer = claim.status_code in SECONDARY | TERTIARY
    later = later_payer and charge_posted  # OA-23 is then a memo
    with_charge = not later
    entries: list[Entry] = []
    if claim.lines:
        for n, line in enumerate(claim.lines, start=1):
            if with_charge:
                entries.append(Entry("charge", line.charge, n, line.procedure_code, remark_codes=line.remark_codes))
            if line.paid:
                entries.append(Entry("payer_payment", line.paid, n, line.procedure_code))
            entries += _adjustments(line.adjustments, n, line.procedure_code, later, line.remark_codes)
        entries += _adjustments(claim.adjustments, 0, None, later, claim.remark_codes)
        # CLP04 = sum(SVC03) - claim CAS: claim-level adjustments are money taken off the lines' payments, so the
        # payer paid CLP04, not the lines' sum (the guide's own example: lines 500.00, CO-A2 50.00, CLP04 450.00).
        taken_off = sum((line.paid for line in claim.lines), ZERO) - claim.paid
        if taken_off:
            entries.append(Entry("payer_payment", -taken_off, 0, None))
    else:
        if with_charge:
            entries.append(Entry("charge", claim.charge, remark_codes=claim.remark_codes))
        if claim.paid:
            entries.append(Entry("payer_payment", claim.paid))
        entries += _adjustments(claim.adjustments, 0, None, later, claim.remark_codes)
    return entries


def awaiting_payer(status_code: str, patient_total: Decimal, next_payer_id: str | None) -> str | None:
    """The payer the patient's share waits for: after a primary adjudication (1, or 19 forwarded by the payer itself)
    that leaves the patient a share, when the claim has a payer after this one. None: bill the patient now."""
    if next_payer_id and status_code in PRIMARY and patient_total > 0:
        return next_payer_id
    return None


def negated(entries: Iterable[Entry]) -> list[Entry]:
    return [Entry(e.kind, -e.amount, e.line_number, e.procedure_code, e.group_code, e.reason_code, e.remark_codes)
            for e in entries]


def superseded_patient_share(existing: Iterable[Entry]) -> list[Entry]:
    """A later payer's adjudication replaces the patient responsibility left by the earlier one: the
    existing PR kinds' net amounts, negated (claim level)."""
    net: dict[tuple[str, str | None, str | None], Decimal] = defaultdict(lambda: ZERO)
    for e in existing:
        if e.kind in PR_KINDS:
            net[(e.kind, e.group_code, e.reason_code)] += e.amount
    return [Entry(kind, -amount, 0, None, group, reason) for (kind, group, reason), amount in net.items() if amount]


@dataclass(frozen=True)
class Totals:
    charge: Decimal
    payer_paid: Decimal
    contractual: Decimal
    deductible: Decimal
    coinsurance: Decimal
    copay: Decimal
    patient_other: Decimal
    other_adjustments: Decimal
    provider_adjustments: Decimal
    balance: Decimal

    @property
    def patient_responsibility(self) -> Decimal:
        return self.deductible + self.coinsurance + self.copay + self.patient_other

    def as_json(self) -> dict:
        return {"charge": str(self.charge), "payer_paid": str(self.payer_paid), "contractual": str(self.contractual),
                "patient_responsibility": {"total": str(self.patient_responsibility),
                                           "deductible": str(self.deductible),
                                           "coinsurance": str(self.coinsurance), "copay": str(self.copay),
                                           "other": str(self.patient_other)},
                "other_adjustments": str(self.other_adjustments),
                "provider_adjustments": str(self.provider_adjustments), "balance": str(self.balance)}


def totals(entries: Iterable[tuple[str, Decimal]]) -> Totals:
    """From (kind, amount) pairs; every figure is a sum of entries, the balance the signed sum."""
    by: dict[str, Decimal] = defaultdict(lambda: ZERO)
    balance = ZERO
    for kind, amount in entries:
        by[kind] += amount
        balance += SIGN.get(kind, 0) * amount
    q = Decimal("0.01")
    return Totals(charge=by["charge"].quantize(q), payer_paid=by["payer_payment"].quantize(q),
                  contractual=by["contractual"].quantize(q), deductible=by["deductible"].quantize(q),
                  coinsurance=by["coinsurance"].quantize(q), copay=by["copay"].quantize(q),
                  patient_other=by["patient_other"].quantize(q), other_adjustments=by["other_adjustment"].quantize(q),
                  provider_adjustments=by["provider_adjustment"].quantize(q), balance=balance.quantize(q))


def outcome(claim: ClaimPay) -> str:
    """PaymentPosted's outcome (paid | partially_paid | denied), as rcm_remittance.domain.posting.outcome
    decides it, and denied whenever the payer says so (CLP02 4) and pays nothing."""
    from rcm_remittance.domain.posting import NOT_DENIAL_CARCS

    adjs = claim.all_adjustments
    if claim.status_code == DENIED and not claim.paid:
        return "denied"
    denied = any(a.group != "PR" and a.reason not in NOT_DENIAL_CARCS and a.amount > 0 for a in adjs)
    pr = sum((a.amount for a in adjs if a.group == "PR"), ZERO)
    if denied and claim.paid == 0 and pr == 0:
        return "denied"
    return "partially_paid" if denied else "paid"
