"""Who may do what in denials: permission -> roles (admin holds all, auditor every read: rcm_runtime.roles).

No supervisor role exists in rcm_runtime.roles, so approving a write-off above the tenant's amount is admin's
alone (`denials.write_off.approve` lists no other role); the approver must be another person than the requester
(rcm_denials.domain.workflow)."""

from rcm_runtime.auth import permission_checker
from rcm_runtime.roles import AccessMap, Role

ACCESS = AccessMap(
    "denials",
    read={
        "denials.read": [Role.DENIAL_SPECIALIST, Role.BILLER, Role.ANALYST],  # the work queue, an item, a claim's
        "denials.trends.read": [Role.DENIAL_SPECIALIST, Role.BILLER, Role.ANALYST],  # denial rates (aggregates)
        "denials.settings.read": [Role.DENIAL_SPECIALIST, Role.BILLER, Role.ANALYST],  # deadlines, settings, threshold
    },
    write={
        "denials.work": [Role.DENIAL_SPECIALIST],  # assign, appeal, answer, corrected, rebill, ask a write-off
        "denials.write_off.approve": [],  # admin only (see above)
        "denials.deadlines.write": [Role.BILLER],  # a payer's appeal window and timely-filing limit
        "denials.settings.write": [],  # tenant defaults and the write-off approval amount: admin only
        "denials.threshold.write": [Role.DENIAL_SPECIALIST],  # the pattern threshold decides which rules are proposed
    },
)
needs = permission_checker(ACCESS)
