"""Which clearinghouse a claim goes through (pure): routes per tenant and payer, with fallbacks.

Billing companies send most payers through one clearinghouse and a few payers directly or through
another (better enrollment, cheaper per claim). Precedence: the tenant's route for the payer, then the
tenant's fallback ('*'), then the deployment's default.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

FALLBACK = "*"


@dataclass(frozen=True)
class Route:
    tenant_id: str
    payer_id: str  # FALLBACK for every payer without a route of its own
    clearinghouse: str


class RouteTable:
    def __init__(self, routes: Iterable[Route], default: str) -> None:
        self._routes = {(r.tenant_id, r.payer_id): r.clearinghouse for r in routes}
        self.default = default

    def clearinghouse_for(self, tenant_id: str, payer_id: str) -> str:
        return (self._routes.get((tenant_id, payer_id))
                or self._routes.get((tenant_id, FALLBACK))
                or self.default)
