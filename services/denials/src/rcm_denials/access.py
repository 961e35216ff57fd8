"""Who may do what in denials: permission -> roles (admin holds all, auditor every read: rcm_runtime.roles)."""

from rcm_runtime.auth import permission_checker
from rcm_runtime.roles import AccessMap, Role

ACCESS = AccessMap(
    "denials",
    read={"denials.read": [Role.DENIAL_SPECIALIST, Role.BILLER, Role.ANALYST],  # the work queue, one claim's denial
          "denials.trends.read": [Role.DENIAL_SPECIALIST, Role.BILLER, Role.ANALYST],  # denial rates (aggregates)
          "denials.settings.read": [Role.DENIAL_SPECIALIST, Role.BILLER, Role.ANALYST]},  # pattern threshold
    write={"denials.settings.write": [Role.DENIAL_SPECIALIST]},  # the threshold decides which rules are proposed
)
needs = permission_checker(ACCESS)
