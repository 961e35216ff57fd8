"""Who may do what in analytics: permission -> roles (admin holds all, auditor every read: rcm_runtime.roles)."""

from rcm_runtime.auth import permission_checker
from rcm_runtime.roles import AccessMap, Role

ACCESS = AccessMap(
    "analytics",
    read={
        # one claim's status and timeline across the stages, and the claim list
        "claims.read": [Role.ANALYST, Role.BILLER, Role.DENIAL_SPECIALIST, Role.CODER, Role.FRONT_DESK,
                        Role.PATIENT_BILLING_AGENT, Role.INTEGRATOR],
        "kpis.read": [Role.ANALYST, Role.BILLER],  # pipeline counts and rates
    },
)
needs = permission_checker(ACCESS)
