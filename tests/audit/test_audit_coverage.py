"""Every route of every service app is either in the audit trail (`@audited.phi_read/phi_change/money/codes`) or
left out with a reason (`@not_audited`): a route added without either fails here (rcm_runtime.audit)."""

from __future__ import annotations

import pytest
from fastapi.routing import APIRoute

from rcm_runtime.audit import AuditSpec, Exempt, route_audit
from tests.test_architecture import SERVICES
from tests.test_route_access import OPEN_PATHS, service_app


def audit_violations(service: str) -> list[str]:
    app, _ = service_app(service)
    problems = []
    for route in app.routes:
        if not isinstance(route, APIRoute) or route.path in OPEN_PATHS:
            continue
        where = f"{service} {sorted(route.methods)} {route.path}"
        found = route_audit(route.endpoint)
        if isinstance(found, Exempt):
            if not found.reason.strip():
                problems.append(f"{where}: exempt without a reason")
        elif isinstance(found, AuditSpec):
            if found.id_param and "{" + found.id_param + "}" not in route.path:
                problems.append(f"{where}: the audited id {found.id_param!r} is no path parameter")
            if found.category != "phi_read" and route.methods == {"GET"}:
                problems.append(f"{where}: a GET recorded as a change ({found.category})")
        else:
            problems.append(f"{where}: neither @audited nor @not_audited")
    return problems


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_every_route_is_audited_or_exempt_with_a_reason(service):
    assert audit_violations(service) == []


def test_every_service_has_the_auditor_api():
    for service in SERVICES:
        app, access = service_app(service)
        paths = {r.path for r in app.routes if isinstance(r, APIRoute)}
        assert {"/v1/audit", "/v1/audit/verify"} <= paths, service
        assert sorted(access.roles_for("audit.read")) == ["admin", "auditor"], service
