"""Who may do what in denials: permission -> roles (admin holds all, auditor every read: rcm_runtime.roles)."""

from rcm_runtime.auth import permission_checker
from rcm_runtime.roles import AccessMap, Role

ACCESS = AccessMap(
    "denials",
    read={"denials.read": [Role.DENIAL_SPECIALIST, Role.BILLER, Role.ANALYST]},  # the work queue, one claim's denial
)
needs = permission_checker(ACCESS)
