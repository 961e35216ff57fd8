"""Who may do what in scrubber: permission -> roles (admin holds all, auditor every read: rcm_runtime.roles)."""

from rcm_runtime.auth import permission_checker
from rcm_runtime.roles import AccessMap, Role

ACCESS = AccessMap(
    "scrubber",
    read={
        "review.read": [Role.BILLER, Role.CODER],  # a claim's scrub result and the review queue
        "review.audit.read": [Role.BILLER, Role.CODER],
        "rules.read": [Role.BILLER, Role.CODER, Role.ANALYST],  # edit catalog, rule sets
    },
    write={
        "review.write": [Role.BILLER, Role.CODER],  # correct, re-scrub, hold, release
        "rules.write": [],  # rule-set versions change what every claim meets: admin only
        # approve or dismiss a rule a denial pattern proposes: the approval adds that one rule to the payer's set
        "rules.proposals.write": [Role.BILLER, Role.DENIAL_SPECIALIST],
    },
)
needs = permission_checker(ACCESS)
