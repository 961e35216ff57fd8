"""Who may do what in patient-billing: permission -> roles (admin holds all, auditor every read: rcm_runtime.roles).

Staff read every balance of the tenant (work queues), link a claim's balance to its patient's account and set an
account's payment plan. A
`patient` holds only the `account.*` permissions, whose routes also need the token's `rcm_patient` claim and
select by it: a patient reads and pays their own account alone (another patient's statement is 404). No other
route of any service grants `patient` (tests/test_route_access.py)."""

from rcm_runtime.auth import permission_checker
from rcm_runtime.roles import AccessMap, Role

ACCESS = AccessMap(
    "patient-billing",
    read={
        "balances.read": [Role.PATIENT_BILLING_AGENT, Role.BILLER, Role.FRONT_DESK],  # front desk collects
        "account.read": [Role.PATIENT],  # one's own balances and statements (the token's rcm_patient account)
        "settings.read": [Role.PATIENT_BILLING_AGENT, Role.BILLER, Role.FRONT_DESK],  # the self-pay discount
    },
    write={
        # a claim's balance -> its patient's account; an account's payment plan
        "accounts.write": [Role.PATIENT_BILLING_AGENT, Role.FRONT_DESK],
        "account.pay": [Role.PATIENT],  # pay one's own statement
        "settings.write": [],  # the self-pay discount, a practice's pricing policy: admin only
    },
)
needs = permission_checker(ACCESS)
PATIENT_PERMISSIONS = frozenset({"account.read", "account.pay"})
