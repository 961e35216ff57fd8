"""What goes into each check (835) of one remit cycle (pure): the claims paid, reversed and corrected, and the
provider-level adjustments that go with them.

One check per (tenant, payer, billing provider): every claim the payer settles for that provider in the cycle
travels together, as payers batch them. Reversals come first, each followed by its correction, then the new
payments. Interest owed on a late payment is paid in the same check (PLB L6), an overpayment a correction left
with the provider is parked in it (PLB WO, negative), and overpayments parked in earlier checks are recovered
(PLB WO, positive) from whatever this check pays, never more than it pays: what it cannot take now stays due.
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


@dataclass
class CheckPlan:
    key: Hashable  # (tenant, payer, billing NPI)
    claims: list[RemittedClaim] = field(default_factory=list)
    adjustments: list[ProviderAdjustment] = field(default_factory=list)
    recovered: dict[uuid.UUID, Decimal] = field(default_factory=dict)  # payer claim -> taken back in this check
    overpaid: dict[uuid.UUID, Decimal] = field(default_factory=dict)  # payer claim -> parked in this check

    @property
    def total(self) -> Decimal:
        return check_total(sum((c.adjudication.paid for c in self.claims), ZERO), self.adjustments)


def _pcn(remitted: RemittedClaim) -> str:
    return patient_control_number(remitted.claim.claim_id)


def plan_checks(payments: list[tuple[Hashable, RemittedClaim]],
                reprocessed: list[tuple[Hashable, RemittedClaim, RemittedClaim]],
                pending: list[tuple[Hashable, PendingRecovery]]) -> list[CheckPlan]:
    """`payments`: (check key, first payment); `reprocessed`: (check key, the original payment as made, the
    corrected payment); `pending`: (check key, overpayment parked earlier). Checks come in first-seen order."""
    plans: dict[Hashable, CheckPlan] = {}

    def plan(key: Hashable) -> CheckPlan:
        return plans.setdefault(key, CheckPlan(key))

    for key, original, corrected in reprocessed:
        p = plan(key)
        p.claims.append(replace(original, adjudication=reversal_of(original.adjudication), reversal=True,
                                interest=ZERO))
        p.claims.append(corrected)
        over = overpayment(original.adjudication, corrected.adjudication)
        if over:
            p.adjustments.append(deferred_recovery(_pcn(corrected), over))
            p.overpaid[corrected.claim.claim_id] = over
    for key, remitted in payments:
        p = plan(key)
        p.claims.append(remitted)
    for p in plans.values():
        for c in p.claims:
            if c.interest:
                p.adjustments.append(interest_paid(_pcn(c), c.interest))
    for key, due in pending:
        p = plans.get(key)
        if p is None:
            continue  # no check for this provider this cycle: it waits for one
        take = min(due.amount, p.total)
        if take > 0:
            p.adjustments.append(recovery(patient_control_number(due.claim_id), take))
            p.recovered[due.claim_id] = take
    return list(plans.values())
