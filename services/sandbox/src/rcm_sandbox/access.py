"""The sandbox plays the payer and the clearinghouse: its X12 routes check the submitter key. Only the payer's
claim listing is per tenant, read with a token or API key like every other API."""

from rcm_runtime.auth import permission_checker
from rcm_runtime.roles import AccessMap, Role

ACCESS = AccessMap("sandbox", read={"payer_claims.read": [Role.BILLER, Role.INTEGRATOR]})
needs = permission_checker(ACCESS)
