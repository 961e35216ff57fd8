"""835 claim payment posting rules (pure): balancing and the claim's outcome."""

from __future__ import annotations

from decimal import Decimal

from rcm_contracts.wire import ClaimRemittance

NOT_DENIAL_CARCS = {"1", "2", "3", "45", "253", "23"}


class UnbalancedRemittance(ValueError):
    pass


def check_balanced(remit: ClaimRemittance) -> None:
    """CLP03 (charge) must equal CLP04 (paid) plus every CAS adjustment; otherwise do not post."""
    adjusted = sum((a.amount for a in remit.adjustments), Decimal("0"))
    if remit.total_charge != remit.paid_amount + adjusted:
        raise UnbalancedRemittance("claim charge does not equal payment plus adjustments")
    pr = sum((a.amount for a in remit.adjustments if a.group_code == "PR"), Decimal("0"))
    if pr != remit.patient_responsibility:
        raise UnbalancedRemittance("patient responsibility does not equal the PR adjustments")


def outcome(remit: ClaimRemittance) -> str:
    denied = any(a.group_code != "PR" and a.reason_code not in NOT_DENIAL_CARCS and a.amount > 0 for a in remit.adjustments)
    if denied and remit.paid_amount == 0 and remit.patient_responsibility == 0:
        return "denied"  # zero pay with only contractual write-offs is a paid claim, not a denial
    return "partially_paid" if denied else "paid"
