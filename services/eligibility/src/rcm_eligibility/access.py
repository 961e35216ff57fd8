"""Who may do what in eligibility: permission -> roles (admin holds all, auditor every read: rcm_runtime.roles)."""

from rcm_runtime.auth import permission_checker
from rcm_runtime.roles import AccessMap, Role

ACCESS = AccessMap(
    "eligibility",
    read={
        "coverage.read": [Role.FRONT_DESK, Role.BILLER],  # a claim's coverage check and the work queues
        "appointments.read": [Role.FRONT_DESK, Role.BILLER],
        "settings.read": [Role.FRONT_DESK, Role.BILLER],
    },
    write={
        "coverage.resolve": [Role.FRONT_DESK, Role.BILLER],  # prior authorization, recheck: releases held claims
        "eligibility.check": [Role.FRONT_DESK, Role.BILLER, Role.INTEGRATOR],  # asks the payer (270/271)
        "patients.register": [Role.FRONT_DESK, Role.INTEGRATOR],
        "appointments.write": [Role.FRONT_DESK, Role.INTEGRATOR],
        "settings.write": [],  # member-id formats: admin only
    },
)
needs = permission_checker(ACCESS)
