"""Coverage determination before a claim moves on (pure).

Walking-skeleton rule: a claim with a complete coverage (payer and member id) on file is treated as
active for its date of service; without one it is 'unknown' (self-pay candidates). Real 270/271
verification replaces this behind the same function.
"""

from __future__ import annotations

from datetime import datetime

from rcm_contracts.claim import Claim
from rcm_contracts.events import EligibilityResult


def determine_coverage(claim: Claim, *, now: datetime) -> EligibilityResult:
    cov = claim.coverage
    if cov is None:
        return EligibilityResult(status="unknown", checked_at=now, reason="no coverage on file")
    return EligibilityResult(status="active", checked_at=now, payer_id=cov.payer_id, plan_name=cov.payer_name)
