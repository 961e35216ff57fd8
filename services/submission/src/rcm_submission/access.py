"""Who may do what in submission: permission -> roles (admin holds all, auditor every read: rcm_runtime.roles).
The acknowledgment-file routes span tenants: platform operators only (rcm_runtime.ops), like the dead-letter routes."""

from rcm_runtime.auth import permission_checker
from rcm_runtime.roles import AccessMap, Role

ACCESS = AccessMap(
    "submission",
    read={
        "submissions.read": [Role.BILLER, Role.DENIAL_SPECIALIST],  # claim status, interchanges sent
        "acceptance.read": [Role.BILLER, Role.ANALYST],  # first-pass acceptance
        "routes.read": [Role.BILLER],
        "claims.audit.read": [Role.BILLER, Role.DENIAL_SPECIALIST],
    },
    write={
        "routes.write": [Role.BILLER],  # which clearinghouse carries a payer's claims
        "claims.correct": [Role.BILLER, Role.DENIAL_SPECIALIST],  # replacement (7) and void (8) claims
        "claims.secondary": [Role.BILLER],
    },
)
needs = permission_checker(ACCESS)
