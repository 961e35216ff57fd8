"""What goes into each check (835) of one remit cycle (pure): the claims paid, reversed and corrected (or reversed
alone: a void), and the provider-level adjustments that go with them.

One check per (tenant, payer, billing provider): every claim the payer settles for that provider in the cycle
travels together, as payers batch them. Reversals come first, each followed by its correction (a void's reversal
by nothing), then the new payments. Interest owed on a late payment is paid in the same check (PLB L6), an
overpayment a correction or void left with the provider is parked in it (PLB WO, negative), and overpayments parked
in earlier checks are recovered (PLB WO, positive) from whatever this check pays, never more than it pays: what it
cannot take now stays due.
"""

from __future__ import annotations

import uuid
from collections.abc import Hashable
from dataclasses import dataclass, field, replace
from decimal import Decimal

from rcm_contracts.claim import patient_control_number

from rcm_sandbox.domain.adjudication import ZERO
from rcm_sandbox.domain.reprocessing import (
    ProviderAdjustment,
    check_total,
    deferred_recovery,
    interest_paid,
    overpayment,
    recovery,
    reversal_of,
)
from rcm_sandbox.domain.x12_835 import RemittedClaim


@dataclass(frozen=True)
class PendingRecovery:
    """An overpayment parked in an earlier check, still to be taken back."""

    claim_id: uuid.UUID  # the payer's claim
    amount: Decimal


# The guide lets a check carry several PLB segments, but pyx12 (the oracle the tests hold every 835 to) reads a
# second PLB as a second footer loop: one PLB of six adjustments per check, and what does not fit waits.
MAX_ADJUSTMENTS = 6


@dataclass
class CheckPlan:
    key: Hashable  # (tenant, payer, billing NPI)
    claims: list[RemittedClaim] = field(default_factory=list)
    adjustments: list[ProviderAdjustment] = field(default_factory=list)
    reprocessed: list[RemittedClaim] = field(default_factory=list)  # corrections made in this check
    voided: list[RemittedClaim] = field(default_factory=list)  # payments reversed with no correction (voids)
    recovered: dict[uuid.UUID, Decimal] = field(default_factory=dict)  # payer claim -> taken back in this check
    overpaid: dict[uuid.UUID, Decimal] = field(default_factory=dict)  # payer claim -> parked in this check

    @property
    def total(self) -> Decimal:
        return check_total(sum((c.adjudication.paid for c in self.claims), ZERO), self.adjustments)

    @property
    def room(self) -> int:
        return MAX_ADJUSTMENTS - len(self.adjustments)


def plan_checks(payments: list[tuple[Hashable, RemittedClaim]],
                reprocessed: list[tuple[Hashable, RemittedClaim, RemittedClaim | None]],
                pending: list[tuple[Hashable, PendingRecovery]]) -> list[CheckPlan]:
    """`payments`: (check key, first payment); `reprocessed`: (check key, the original payment as made, the
    corrected payment, or None for a void: the reversal alone); `pending`: (check key, overpayment parked earlier).
    Checks come in first-seen order; a reprocessing whose parked overpayment finds no room in its check's PLB is
    left for the next cycle."""
    plans: dict[Hashable, CheckPlan] = {}
    for key, remitted in payments:
        plans.setdefault(key, CheckPlan(key)).claims.append(remitted)
    for p in plans.values():
        # Interest goes with the payment it is owed on (TR3 1.10.2.9: the L6s equal the claims' AMT*I): one L6
        # per claim, naming its CLP01 so the provider can post it to the claim; past the PLB's room the rest
        # is paid net in the last L6, naming no claim.
        late = [c for c in p.claims if c.interest]
        named, netted = (late, []) if len(late) <= MAX_ADJUSTMENTS else (late[:MAX_ADJUSTMENTS - 1],
                                                                         late[MAX_ADJUSTMENTS - 1:])
        p.adjustments += [interest_paid(_pcn(c), c.interest) for c in named]
        if netted:
            p.adjustments.append(interest_paid(None, sum((c.interest for c in netted), ZERO)))
    for key, original, corrected in reprocessed:
        p = plans.setdefault(key, CheckPlan(key))
        # a void takes the whole payment back: parked like a correction's overpayment, so the check never goes
        # below zero for it
        over = (overpayment(original.adjudication, corrected.adjudication) if corrected is not None
                else max(original.adjudication.paid, ZERO))
        if over and not p.room:
            continue
        # reversals first, each followed by its correction, ahead of the check's new payments
        at = 2 * len(p.reprocessed) + len(p.voided)
        reversal = replace(original, adjudication=reversal_of(original.adjudication), reversal=True, interest=ZERO)
        p.claims[at:at] = [reversal] if corrected is None else [reversal, corrected]
        if corrected is None:
            p.voided.append(original)
        else:
            p.reprocessed.append(corrected)
        if over:
            p.adjustments.append(deferred_recovery(_pcn(original), over))
            p.overpaid[original.claim.claim_id] = over
    for key, due in pending:
        p = plans.get(key)
        if p is None or not p.room or not p.claims:
            continue  # no check (or no room in its PLB) for this provider this cycle: it waits for one
        take = min(due.amount, p.total)
        if take > 0:
            p.adjustments.append(recovery(patient_control_number(due.claim_id), take))
            p.recovered[due.claim_id] = take
    return [p for p in plans.values() if p.claims]


def _pcn(remitted: RemittedClaim) -> str:
    return patient_control_number(remitted.claim.claim_id)
