"""Who may do what in patient-billing: permission -> roles (admin holds all, auditor every read: rcm_runtime.roles).

No permission for `patient`: these routes list every balance of the tenant (staff work queues); a patient may
only see their own, which needs a route that takes the account from the token's `rcm_patient` claim."""

from rcm_runtime.auth import permission_checker
from rcm_runtime.roles import AccessMap, Role

ACCESS = AccessMap(
    "patient-billing",
    read={"balances.read": [Role.PATIENT_BILLING_AGENT, Role.BILLER, Role.FRONT_DESK]},  # front desk collects
)
needs = permission_checker(ACCESS)
