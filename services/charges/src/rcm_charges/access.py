"""Who may do what in charges: permission -> roles (admin holds all, auditor every read: rcm_runtime.roles)."""

from rcm_runtime.auth import permission_checker
from rcm_runtime.roles import AccessMap, Role

ACCESS = AccessMap(
    "charges",
    read={
        "encounters.read": [Role.FRONT_DESK, Role.CODER, Role.BILLER, Role.INTEGRATOR],
        "encounters.audit.read": [Role.BILLER],
        "chargemaster.read": [Role.BILLER, Role.CODER, Role.FRONT_DESK, Role.ANALYST],
        "settings.read": [Role.BILLER, Role.CODER, Role.FRONT_DESK],
    },
    write={
        "encounters.submit": [Role.INTEGRATOR, Role.FRONT_DESK],  # EHR feeds, and charges keyed at the desk
        "encounters.fix": [Role.FRONT_DESK, Role.CODER, Role.BILLER],  # completeness review
        "encounters.late_charges": [Role.INTEGRATOR, Role.FRONT_DESK, Role.CODER, Role.BILLER],
        "chargemaster.write": [Role.BILLER],
        "settings.write": [],  # default billing provider, provider enrollment: admin only
    },
)
needs = permission_checker(ACCESS)
