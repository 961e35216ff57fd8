"""Every route of every service app authenticates its caller and names a permission of that service's access
map (services/<svc>/src/rcm_<svc>/access.py), and the OpenAPI says which. Checked on the apps that
`create_app` builds, so a route added without `dependencies=[needs(...)]` fails here, not in production.

Open by design: health and readiness, the docs and the OpenAPI document. Operator routes (they span tenants: dead
letters, acknowledgment files) need a platform operator's token (rcm_runtime.ops.require_operator) and name no
permission of any map, and the sandbox's clearinghouse/payer X12 routes keep its submitter key.
"""

from __future__ import annotations

import importlib
from functools import cache

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute

from rcm_runtime.auth import TenantId, permission_checker, route_authenticates, route_permissions
from rcm_runtime.roles import AccessMap, Role
from tests.test_architecture import SERVICES

OPEN_PATHS = {"/healthz", "/readyz"}
# (service, path) of operator routes besides the dead-letter ones (/v1/ops/...)
OPERATOR_PATHS = {("submission", "/v1/acknowledgments")}
# (service, path) of routes guarded by another key, each with the dependency that checks it
OTHER_KEYS = {
    ("sandbox", "/v1/x12/inbound"): "_require_submitter",
    ("sandbox", "/v1/x12/outbound"): "_require_submitter",
    ("sandbox", "/v1/x12/outbound/{file_id}"): "_require_submitter",
    ("sandbox", "/v1/eligibility"): "_require_submitter",
}


@cache
def service_app(service: str) -> tuple[FastAPI, AccessMap]:
    package = SERVICES[service].name
    app_module = importlib.import_module(f"{package}.app")
    settings = importlib.import_module(f"{package}.settings").Settings()
    access = importlib.import_module(f"{package}.access").ACCESS
    return app_module.create_app(settings), access


def _calls(route: APIRoute) -> set[str]:
    def walk(d):
        yield getattr(d.call, "__name__", "")
        for sub in d.dependencies:
            yield from walk(sub)
    return set(walk(route.dependant))


def access_violations(service: str, app: FastAPI, access: AccessMap) -> list[str]:
    problems = []
    for route in app.routes:
        if not isinstance(route, APIRoute) or route.path in OPEN_PATHS:
            continue
        where = f"{service} {sorted(route.methods)} {route.path}"
        if route.path.startswith("/v1/ops/") or (service, route.path) in OPERATOR_PATHS:
            if "require_operator" not in _calls(route) or route_permissions(route):
                problems.append(f"{where}: an operator route without require_operator (or with a permission)")
            continue
        other_key = OTHER_KEYS.get((service, route.path))
        if other_key is not None:
            if other_key not in _calls(route):
                problems.append(f"{where}: expected {other_key}")
            continue
        permissions = route_permissions(route)
        if not route_authenticates(route) or not permissions:
            problems.append(f"{where}: names no permission (dependencies=[needs(...)])")
        for p in sorted(permissions - access.permissions):
            problems.append(f"{where}: permission {p!r} is not in {service}'s access map")
    return problems


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_every_route_authenticates_and_names_a_known_permission(service):
    app, access = service_app(service)
    assert access_violations(service, app, access) == []


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_the_openapi_names_each_operations_permission_and_roles(service):
    app, access = service_app(service)
    spec = app.openapi()
    assert {"bearerAuth", "apiKey"} <= set(spec["components"]["securitySchemes"])
    documented = 0
    for route in app.routes:
        if isinstance(route, APIRoute) and route_permissions(route):
            for method in route.methods:
                op = spec["paths"][route.path_format][method.lower()]
                [perm] = op["x-rcm-permissions"]
                assert op["security"] == [{"bearerAuth": [perm]}, {"apiKey": [perm]}]
                assert op["x-rcm-roles"] == sorted(access.roles_for(perm)) and "admin" in op["x-rcm-roles"]
                documented += 1
    assert documented > 0
    assert "security" not in spec["paths"]["/healthz"]["get"]


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_every_permission_of_an_access_map_is_used_by_a_route(service):
    app, access = service_app(service)
    used = set().union(*(route_permissions(r) for r in app.routes if isinstance(r, APIRoute)))
    assert access.permissions - used == set()


def test_no_role_but_admin_and_auditor_holds_every_permission_and_patient_and_operator_almost_none():
    """`patient` holds patient-billing's own-account permissions alone (their routes select by the token's
    rcm_patient account); `operator` holds no permission of any map (the ops routes check it themselves)."""
    from rcm_patient_billing.access import PATIENT_PERMISSIONS

    for service in SERVICES:
        _, access = service_app(service)
        for permission in access.permissions:
            patients = service == "patient-billing" and permission in PATIENT_PERMISSIONS
            assert (Role.PATIENT in access.roles_for(permission)) == patients, (service, permission)
            if patients:
                assert access.roles_for(permission) - {Role.ADMIN, Role.AUDITOR} == {Role.PATIENT}
            assert Role.OPERATOR not in access.roles_for(permission), (service, permission)
            assert (Role.AUDITOR in access.roles_for(permission)) == access.is_read(permission)


def test_a_route_without_a_permission_is_reported():
    access = AccessMap("demo", read={"things.read": [Role.ANALYST]})
    needs = permission_checker(access)
    router = APIRouter()

    @router.get("/v1/guarded", dependencies=[needs("things.read")])
    async def guarded(tenant_id: TenantId) -> dict:
        return {}

    @router.get("/v1/tenant-only")
    async def tenant_only(tenant_id: TenantId) -> dict:
        return {}

    @router.get("/v1/open")
    async def wide_open() -> dict:
        return {}

    @router.get("/v1/ops/unguarded")
    async def ops() -> dict:
        return {}

    app = FastAPI()
    app.include_router(router)
    assert access_violations("demo", app, access) == [
        "demo ['GET'] /v1/tenant-only: names no permission (dependencies=[needs(...)])",
        "demo ['GET'] /v1/open: names no permission (dependencies=[needs(...)])",
        "demo ['GET'] /v1/ops/unguarded: an operator route without require_operator (or with a permission)",
    ]
    with pytest.raises(KeyError):
        needs("things.write")  # a permission missing from the map fails where the route is declared
