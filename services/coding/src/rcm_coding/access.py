"""Who may do what in coding: permission -> roles (admin holds all, auditor every read: rcm_runtime.roles)."""

from rcm_runtime.auth import permission_checker
from rcm_runtime.roles import AccessMap, Role

ACCESS = AccessMap(
    "coding",
    read={
        "coding.read": [Role.CODER, Role.BILLER],  # a claim's coding result and the coder queue
        "coding.audit.read": [Role.CODER, Role.BILLER],
        "reference.read": [Role.CODER, Role.BILLER, Role.ANALYST],  # which code tables are loaded
    },
    write={
        "coding.assign": [Role.CODER],
        "coding.recode": [Role.CODER],
    },
)
needs = permission_checker(ACCESS)
