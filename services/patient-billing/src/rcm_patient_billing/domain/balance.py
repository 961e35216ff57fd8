"""One patient balance per claim (pure): what a posted payment or a reversal does to it.

Remittance's events carry the claim's running patient responsibility (`patient_responsibility_total`, the ledger's
PR total after the payment or reversal): it REPLACES the amount due, it is never added to it, so after a secondary
payment or a reversal the patient owes the ledger's figure, never the sum of both. A PaymentPosted without it (1.0
producers) falls back to its own per-payment patient share, also replacing.

Coordination of benefits: a primary payment that names the payer the patient's share now goes to
(`awaiting_payer_id`, PaymentPosted 1.2) keeps the balance `awaiting_insurance`: recorded, not billed. The next
posting without it (the secondary's payment or denial) bills the patient what is left (`opened`), or settles the
balance unbilled when nothing is. A balance already billed is never taken back into waiting: later postings change it
as usual.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

ZERO = Decimal("0.00")
AWAITING = "awaiting_insurance"

Effect = Literal["opened", "changed", "unchanged", "none", "superseded", "awaiting", "settled"]


@dataclass(frozen=True)
class Posting:
    remittance_id: uuid.UUID
    kind: Literal["payment", "reversal"]
    patient_responsibility: Decimal  # this payment's share, or what the reversal took back
    total: Decimal | None  # the claim's running patient responsibility after it (None: a 1.0 PaymentPosted)
    reversed_remittance_id: uuid.UUID | None = None
    awaiting_payer_id: str | None = None  # the payer the patient's share goes to next (PaymentPosted 1.2)

    @property
    def amount_due(self) -> Decimal:
        """What the patient owes after this posting."""
        return self.total if self.total is not None else self.patient_responsibility


@dataclass(frozen=True)
class Outcome:
    effect: Effect
    previous: Decimal | None  # the amount due before (None: no balance)
    amount_due: Decimal | None  # after (None: still no balance)

    @property
    def status(self) -> str | None:
        if self.amount_due is None:
            return None
        if self.effect == "awaiting":
            return AWAITING
        return "closed" if self.amount_due == 0 else "open"


def apply(current: Decimal | None, posting: Posting, *, already_reversed: bool = False,
          current_status: str | None = None) -> Outcome:
    """`current` is the claim's amount due (None if it has no balance), `current_status` its status. `already_reversed`:
    a reversal naming this payment was applied before the payment itself arrived (a replay out of order); the
    reversal's total already accounts for it, so the late payment changes nothing."""
    if posting.kind == "payment" and already_reversed:
        return Outcome("superseded", current, current)
    new = posting.amount_due
    waiting = current is not None and current_status == AWAITING
    if posting.awaiting_payer_id and (current is None or waiting):
        return Outcome("awaiting", current, new)  # recorded, not billed: the next payer answers first
    if waiting:
        # the next payer answered (or a reversal ended the wait): bill what is left, or settle unbilled
        return Outcome("opened", current, new) if new > 0 else Outcome("settled", current, new)
    if current is None:
        # no balance yet: open one only if the patient owes something (a reversal of a payment we never saw
        # opens one too when the ledger says the patient owes: the ledger's running total is authoritative)
        return Outcome("opened", None, new) if new > 0 else Outcome("none", None, None)
    if new == current:
        return Outcome("unchanged", current, current)
    return Outcome("changed", current, new)
