"""Who may do what in denials: permission -> roles (admin holds all, auditor every read: rcm_runtime.roles).

A write-off above the tenant's amount is approved by a billing manager (or an admin), never by the person who asked
for it (rcm_denials.domain.workflow)."""

from rcm_runtime.auth import permission_checker
from rcm_runtime.roles import AccessMap, Role

ACCESS = AccessMap(
    "denials",
    read={
        "denials.read": [Role.DENIAL_SPECIALIST, Role.BILLER, Role.ANALYST, Role.BILLING_MANAGER],  # the work queue
        "denials.trends.read": [Role.DENIAL_SPECIALIST, Role.BILLER, Role.ANALYST],  # denial rates (aggregates)
        "denials.settings.read": [Role.DENIAL_SPECIALIST, Role.BILLER, Role.ANALYST],  # deadlines, settings, threshold
    },
    write={
        "denials.work": [Role.DENIAL_SPECIALIST],  # assign, appeal, answer, corrected, rebill, ask a write-off
        "denials.write_off.approve": [Role.BILLING_MANAGER],  # the second person (see above)
        "denials.deadlines.write": [Role.BILLER],  # a payer's appeal window and timely-filing limit
        "denials.settings.write": [],  # tenant defaults and the write-off approval amount: admin only
        "denials.threshold.write": [Role.DENIAL_SPECIALIST],  # the pattern threshold decides which rules are proposed
    },
)
needs = permission_checker(ACCESS)
