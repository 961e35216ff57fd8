"""Who is calling: an OAuth2 bearer token (JWT) or an API key becomes a `Principal` (subject, tenant, roles),
and each route names the one permission it needs.

    needs = permission_checker(ACCESS)           # once per service, in its access.py

    @router.post("/claims/{claim_id}/hold", dependencies=[needs("review.write")])
    async def hold(claim_id: UUID, tenant_id: TenantId, actor: Actor, ...): ...

`TenantId` is the token's tenant claim (or the key's bound tenant) and `Actor` the token's `sub` (or
`apikey:<digest prefix>`): nothing a client can set in a header. `request.state.client_id` names the client
(non-secret) for per-client limits. Token claims (names configurable): `sub`, `iss`, `aud`, `exp` (`nbf`, `iat`
when present), `rcm_tenant` (the tenant id) and `rcm_roles` (a list of role names, or one space-separated string).

401 (`WWW-Authenticate: Bearer error="invalid_request"|"invalid_token"`) when no valid credentials; 403
`forbidden` (`error="insufficient_scope"`) naming the permission and the roles holding it when the roles fall
short."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Annotated, Any, Callable, Iterator, Mapping

import httpx
from fastapi import Depends, Request, Security
from fastapi.routing import APIRoute
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer, SecurityScopes

from rcm_runtime.api_keys import TENANT_ID, ApiKeyBinding, lookup, parse_api_keys
from rcm_runtime.roles import AccessMap, Role, known_roles
from rcm_runtime.tokens import KeySet, TokenRejected, TokenVerifier, asymmetric_algorithms, jwks_fetcher

REALM = "openrcm"
_TENANT = re.compile(rf"^{TENANT_ID}$")
SUBJECT_MAX = 200


@dataclass(frozen=True)
class Principal:
    """An authenticated caller. `subject` is what audit rows record as the actor."""

    subject: str
    tenant_id: str
    roles: frozenset[Role]
    client_id: str  # non-secret, stable per client: what per-client limits key on
    issuer: str | None = None  # None for an API key
    patient_account: str | None = None  # a patient's binding to their account (claim `rcm_patient`), if any


class Unauthenticated(Exception):
    """401: no credentials, or credentials that cannot be trusted. The message never contains them."""

    def __init__(self, description: str, error: str = "invalid_token") -> None:
        super().__init__(description)
        self.error = error

    def www_authenticate(self) -> str:
        return f'Bearer realm="{REALM}", error="{self.error}", error_description="{self}"'


class Forbidden(Exception):
    """403: authenticated, but none of the caller's roles holds the permission the route needs."""

    def __init__(self, permission: str, roles: frozenset[Role]) -> None:
        super().__init__(f"needs permission {permission!r} (held by roles: {', '.join(sorted(roles))})")
        self.permission = permission

    def www_authenticate(self) -> str:
        return f'Bearer realm="{REALM}", error="insufficient_scope", scope="{self.permission}"'


def _client_id(issuer: str, subject: str) -> str:
    return "jwt:" + hashlib.sha256(f"{issuer}\n{subject}".encode()).hexdigest()[:16]


@dataclass(frozen=True)
class ClaimNames:
    tenant: str = "rcm_tenant"
    roles: str = "rcm_roles"
    patient: str = "rcm_patient"


@dataclass
class Authenticator:
    """Turns presented credentials into a Principal. Built once per process from the settings."""

    tokens: TokenVerifier | None
    api_keys: Mapping[str, ApiKeyBinding]
    claims: ClaimNames = ClaimNames()

    @classmethod
    def from_settings(cls, settings: Any, http: httpx.AsyncClient | None = None) -> "Authenticator":
        issuers = settings.auth_issuer_jwks()
        tokens = None
        if issuers:
            tokens = TokenVerifier(
                issuers={iss: KeySet(jwks_fetcher(url, http), ttl_s=settings.auth_jwks_ttl_s,
                                     refetch_min_s=settings.auth_jwks_refetch_min_s) for iss, url in issuers.items()},
                audiences=frozenset(a.strip() for a in settings.auth_audience.split(",") if a.strip()),
                algorithms=asymmetric_algorithms(settings.auth_algorithms.split(",")),
                leeway_s=settings.auth_leeway_s)
        return cls(tokens, parse_api_keys(settings.api_keys),
                   ClaimNames(settings.auth_tenant_claim, settings.auth_roles_claim, settings.auth_patient_claim))

    async def authenticate(self, bearer: str | None, api_key: str | None) -> Principal:
        if bearer and api_key:
            raise Unauthenticated("send a bearer token or an API key, not both", "invalid_request")
        if api_key:
            binding = lookup(self.api_keys, api_key)
            if binding is None:
                raise Unauthenticated("unknown API key")
            return Principal(subject=binding.subject, tenant_id=binding.tenant_id, roles=binding.roles,
                             client_id=binding.subject)
        if not bearer:
            raise Unauthenticated("no credentials: send Authorization: Bearer <token> (or X-API-Key for a machine "
                                  "client)", "invalid_request")
        if self.tokens is None:
            raise Unauthenticated("bearer tokens are not accepted: no token issuer is configured")
        try:
            claims = await self.tokens.verify(bearer)
        except TokenRejected as exc:
            raise Unauthenticated(str(exc)) from None
        return self.principal(claims)

    def principal(self, claims: Mapping[str, Any]) -> Principal:
        subject, issuer = claims.get("sub"), claims["iss"]
        if not isinstance(subject, str) or not 0 < len(subject) <= SUBJECT_MAX:
            raise Unauthenticated(f"token 'sub' claim must be a string of 1 to {SUBJECT_MAX} characters")
        tenant = claims.get(self.claims.tenant)
        if not isinstance(tenant, str) or not _TENANT.match(tenant):
            raise Unauthenticated(f"token lacks a valid {self.claims.tenant!r} (tenant) claim")
        raw_roles = claims.get(self.claims.roles, [])
        if isinstance(raw_roles, str):
            raw_roles = raw_roles.split()
        if not isinstance(raw_roles, list):
            raise Unauthenticated(f"token {self.claims.roles!r} (roles) claim must be a list of role names")
        patient = claims.get(self.claims.patient)
        return Principal(subject=subject, tenant_id=tenant, roles=known_roles(raw_roles),
                         client_id=_client_id(issuer, subject), issuer=issuer,
                         patient_account=patient if isinstance(patient, str) and patient else None)


# ---------------------------------------------------------------- FastAPI dependencies
bearer_scheme = HTTPBearer(auto_error=False, scheme_name="bearerAuth", bearerFormat="JWT",
                           description="OAuth2 access token (JWT) from a configured issuer; claims: sub, iss, aud, "
                                       "exp, rcm_tenant, rcm_roles")
api_key_scheme = APIKeyHeader(name="X-API-Key", auto_error=False, scheme_name="apiKey",
                              description="machine clients: an API key bound to one tenant and its roles")


async def authenticate(request: Request,
                       bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
                       api_key: Annotated[str | None, Depends(api_key_scheme)]) -> Principal:
    principal = getattr(request.state, "principal", None)
    if principal is None:  # once per request, however many dependencies ask
        authenticator: Authenticator = request.app.state.runtime.authenticator
        principal = await authenticator.authenticate(bearer.credentials if bearer else None, api_key)
        request.state.principal = principal
        request.state.client_id = principal.client_id
    return principal


async def authorize(request: Request, security_scopes: SecurityScopes,
                    principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
    access: AccessMap = request.app.state.access
    for permission in security_scopes.scopes:
        if not access.allows(principal.roles, permission):
            raise Forbidden(permission, access.roles_for(permission))
    return principal


def requires(permission: str) -> Any:
    """The dependency a route declares (`dependencies=[...]`): authenticated, and a role holding `permission`."""
    return Security(authorize, scopes=[permission])


def permission_checker(access: AccessMap) -> Callable[[str], Any]:
    """`needs("x")` for one service: like `requires`, but a permission missing from the map fails at import."""

    def needs(permission: str) -> Any:
        access.roles_for(permission)
        return requires(permission)

    return needs


def _tenant_of(principal: Annotated[Principal, Depends(authenticate)]) -> str:
    return principal.tenant_id


def _actor_of(principal: Annotated[Principal, Depends(authenticate)]) -> str:
    return principal.subject


Caller = Annotated[Principal, Depends(authenticate)]
TenantId = Annotated[str, Depends(_tenant_of)]
Actor = Annotated[str, Depends(_actor_of)]


# ---------------------------------------------------------------- introspection (OpenAPI, architecture tests)
def _walk(dependant) -> Iterator[Any]:
    yield dependant
    for sub in dependant.dependencies:
        yield from _walk(sub)


def route_permissions(route: APIRoute) -> set[str]:
    """The permissions a route's dependencies demand."""
    return {p for d in _walk(route.dependant) if d.call is authorize for p in (d.security_scopes or [])}


def route_authenticates(route: APIRoute) -> bool:
    return any(d.call is authenticate for d in _walk(route.dependant))


def document_access(openapi: dict, routes: list, access: AccessMap) -> dict:
    """Each operation's security requirement names its permission (OpenAPI 3.1 lets a non-OAuth2 scheme list
    role names: we list the permission there and the roles in `x-rcm-roles`), once per scheme."""
    for route in routes:
        if not isinstance(route, APIRoute) or not route_authenticates(route):
            continue
        perms = sorted(route_permissions(route))
        roles = sorted(set().union(*(access.roles_for(p) for p in perms))) if perms else []
        for method in route.methods:
            op = openapi.get("paths", {}).get(route.path_format, {}).get(method.lower())
            if op is None:
                continue
            op["security"] = [{bearer_scheme.scheme_name: perms}, {api_key_scheme.scheme_name: perms}]
            op["x-rcm-permissions"] = perms
            op["x-rcm-roles"] = roles
            note = f"Permission: `{', '.join(perms)}` (roles: {', '.join(roles)})." if perms else ""
            op["description"] = f"{op.get('description', '')}\n\n{note}".strip()
    return openapi
