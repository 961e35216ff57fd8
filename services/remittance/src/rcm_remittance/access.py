"""Who may do what in remittance: permission -> roles (admin holds all, auditor every read: rcm_runtime.roles)."""

from rcm_runtime.auth import permission_checker
from rcm_runtime.roles import AccessMap, Role

_MONEY_READERS = [Role.BILLER, Role.DENIAL_SPECIALIST, Role.PATIENT_BILLING_AGENT, Role.ANALYST]

ACCESS = AccessMap(
    "remittance",
    read={
        "remittances.read": _MONEY_READERS,  # files, their findings, the unmatched queue
        "payments.read": _MONEY_READERS,  # posted claim payments
        "ledger.read": [Role.BILLER, Role.DENIAL_SPECIALIST, Role.PATIENT_BILLING_AGENT],
        "deposits.read": [Role.BILLER, Role.ANALYST],
        "contracts.read": [Role.BILLER, Role.DENIAL_SPECIALIST, Role.ANALYST],  # contracts and underpayments
    },
    write={
        "remittances.post": [Role.INTEGRATOR, Role.BILLER],  # 835 files and ERAs in (payers, clearinghouses)
        "remittances.review": [Role.BILLER],  # release or reject a held file
        "unmatched.resolve": [Role.BILLER],  # match a payment to a claim, or return it
        "deposits.post": [Role.INTEGRATOR, Role.BILLER],  # bank files
        "contracts.write": [Role.BILLER],
    },
)
needs = permission_checker(ACCESS)
