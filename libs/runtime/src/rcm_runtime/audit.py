"""The audit trail: every API read that returns PHI and every change that moves money or codes (or changes PHI),
refused attempts included, appended to the service's `audit_log` (who, tenant, what, when, from where, outcome),
a hash chain per tenant that the runtime role can append to but never change (rcm_runtime.audit_chain).

Routes say what they are, next to their permission (a route with neither fails tests/test_audit_coverage.py):

    @router.post("/remittances/{file_id}/release", dependencies=[needs("remittances.review")])
    @audited.money("remittance.release", "remittance_file", id="file_id")
    async def release(...): ...

    @not_audited("configuration: no PHI, no money or codes")

- A change (`money`, `codes`, `phi_change`) is recorded in the same transaction as the change: the command's
  unit of work (`UnitsOfWork.begin`) appends the row just before it commits (outcome `allowed`, the route's
  success status), so no change commits without its row. An attempt that fails or is refused (403) is
  recorded after the answer, in a transaction of its own (`denied` for 403, else `failed`, with the status).
- A PHI read (`phi_read`) is recorded once the answer's status is known and before its body is sent: if the row
  cannot be written, the caller gets 503 instead of the PHI.
- Consumed events that move money or codes are recorded per batch and tenant (`record_batch`): the actor is the
  service, the source the topic, partitions and offsets, the resources the claims; the row is appended last in
  the batch's transaction.

The actor is the credential's subject (`Principal.subject`: a token's `sub`, `apikey:<digest prefix>`), never a
header; `actor_kind` user | api_key | service. Rows hold ids only, never PHI values. A request without a valid
credential (401) has no tenant and is not recorded here.
"""

from __future__ import annotations

import logging
import re
import uuid
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Literal, Mapping, TypeVar

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rcm_runtime.failures import is_transient
from rcm_runtime.messaging import audit_log
from rcm_runtime.tenant_scope import enter_scope, tenant_scope

log = logging.getLogger("rcm.audit")

Category = Literal["phi_read", "phi_change", "money", "codes"]
CHANGES = frozenset({"phi_change", "money", "codes"})
AUDIT_ATTRIBUTE = "__rcm_audit__"
F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class AuditSpec:
    """What an audited route does: its category, the action recorded, and the resource (type, and the path
    parameter holding its id, if the route names one)."""

    category: Category
    action: str
    resource_type: str
    id_param: str | None = None

    def resource_ids(self, path_params: Mapping[str, Any]) -> list[str]:
        value = path_params.get(self.id_param) if self.id_param else None
        return [str(value)] if value is not None else []


@dataclass(frozen=True)
class Exempt:
    """A route deliberately left out of the trail, with why."""

    reason: str


def _mark(value: AuditSpec | Exempt) -> Callable[[F], F]:
    def mark(endpoint: F) -> F:
        setattr(endpoint, AUDIT_ATTRIBUTE, value)
        return endpoint
    return mark


class audited:  # noqa: N801 - used as a namespace of decorators: @audited.money(...)
    @staticmethod
    def phi_read(action: str, resource: str, *, id: str | None = None) -> Callable[[F], F]:
        return _mark(AuditSpec("phi_read", action, resource, id))

    @staticmethod
    def phi_change(action: str, resource: str, *, id: str | None = None) -> Callable[[F], F]:
        return _mark(AuditSpec("phi_change", action, resource, id))

    @staticmethod
    def money(action: str, resource: str, *, id: str | None = None) -> Callable[[F], F]:
        return _mark(AuditSpec("money", action, resource, id))

    @staticmethod
    def codes(action: str, resource: str, *, id: str | None = None) -> Callable[[F], F]:
        return _mark(AuditSpec("codes", action, resource, id))


def not_audited(reason: str) -> Callable[[F], F]:
    return _mark(Exempt(reason))


# The usual reasons a route is left out.
AGGREGATES = "counts and rates over many claims: no one patient's data"
CONFIGURATION = "configuration or reference data: no PHI, no money or codes moved"
OPERATORS = "operators' files across tenants (operator tokens of the operations tenant): no tenant principal"
SIMULATOR = "the sandbox payer/clearinghouse's X12 interface (submitter key): no tenant principal"


def route_audit(endpoint: Any) -> AuditSpec | Exempt | None:
    return getattr(endpoint, AUDIT_ATTRIBUTE, None)


# ---------------------------------------------------------------- writing rows
def _actor_kind(principal: Any) -> str:
    return "user" if getattr(principal, "issuer", None) else "api_key"


async def append(conn: AsyncConnection, rows: Iterable[dict[str, Any]]) -> None:
    """Append rows in the connection's transaction (its scope must include their tenants). The trigger sets
    seq, at and the hashes."""
    rows = list(rows)
    if rows:
        await conn.execute(insert(audit_log), rows)


async def append_alone(engine: AsyncEngine, row: dict[str, Any]) -> None:
    """Append one row in a transaction of its own, scoped to the row's tenant."""
    async with engine.begin() as conn:
        await enter_scope(conn, tenant_scope([row["tenant_id"]]))
        await append(conn, [row])


def batch_row(*, tenant_id: str, service: str, category: Category, action: str, resource_type: str,
              resource_ids: Iterable[str], source: str, detail: dict | None = None) -> dict[str, Any]:
    """The row of a consumed batch's changes for one tenant (rcm_runtime.consumer)."""
    return {"tenant_id": tenant_id, "actor": service, "actor_kind": "service", "roles": [], "category": category,
            "action": action, "resource_type": resource_type, "resource_ids": sorted(set(resource_ids)),
            "outcome": "allowed", "status": None, "source": source, "request_id": None, "detail": detail}


# ---------------------------------------------------------------- the request being served
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,100}$")
_TRACEPARENT = re.compile(r"^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$")


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return None


class RequestAudit:
    """The audit state of one HTTP request: what the matched route declares (known once routed), who called
    (known once authenticated), and how many change rows committed with the request's units of work."""

    __slots__ = ("scope", "request_id", "committed")

    def __init__(self, scope: Scope) -> None:
        self.scope = scope
        traceparent = _TRACEPARENT.match(_header(scope, b"traceparent") or "")
        given = _header(scope, b"x-request-id")
        self.request_id = (traceparent.group(1) if traceparent
                           else given if given and _REQUEST_ID.match(given) else uuid.uuid4().hex)
        self.committed = 0

    @property
    def spec(self) -> AuditSpec | None:
        found = route_audit(self.scope.get("endpoint"))
        return found if isinstance(found, AuditSpec) else None

    @property
    def principal(self) -> Any:
        return self.scope.get("state", {}).get("principal")

    def row(self, outcome: str, status: int | None) -> dict[str, Any] | None:
        spec, principal = self.spec, self.principal
        if spec is None or principal is None:
            return None
        client = self.scope.get("client")
        return {"tenant_id": principal.tenant_id, "actor": principal.subject, "actor_kind": _actor_kind(principal),
                "roles": sorted(principal.roles), "category": spec.category, "action": spec.action,
                "resource_type": spec.resource_type, "resource_ids": spec.resource_ids(self.scope.get("path_params", {})),
                "outcome": outcome, "status": status, "source": f"http:{client[0]}" if client else "http:unknown",
                "request_id": self.request_id, "detail": None}

    def change_for(self, tenant_id: str) -> "RequestAudit | None":
        """Self when this request is an audited change by a caller of `tenant_id` (a unit of work of that tenant
        then records it), else None."""
        spec, principal = self.spec, self.principal
        if spec is None or spec.category not in CHANGES or principal is None or principal.tenant_id != tenant_id:
            return None
        return self

    async def record_change(self, conn: AsyncConnection, named: Iterable[str] = (),
                            detail: dict[str, Any] | None = None) -> None:
        """In the change's own transaction, just before it commits; `named`: ids the unit of work named
        (`UnitOfWork.audit_names`), beside the path's; `detail`: what it did (`UnitOfWork.audit_detail`)."""
        route = self.scope.get("route")
        row = self.row("allowed", getattr(route, "status_code", None) or 200)
        if row is not None:
            row["resource_ids"] = list(dict.fromkeys([*row["resource_ids"], *named]))
            row["detail"] = detail
            await append(conn, [row])

    async def record_answer(self, status: int) -> None:
        """After the answer: a PHI read, a refused or failed attempt, or a change that committed no unit of work
        of its own (nothing written: the attempt is still on record)."""
        spec = self.spec
        if spec is None or (spec.category in CHANGES and status < 400 and self.committed):
            return
        row = self.row("denied" if status == 403 else "failed" if status >= 400 else "allowed", status)
        if row is not None:
            await append_alone(self.scope["app"].state.runtime.engine, row)


_current: ContextVar[RequestAudit | None] = ContextVar("rcm_request_audit", default=None)


def change_in_progress(tenant_id: str) -> RequestAudit | None:
    """For a command's unit of work: the audited change of the request it serves, if any."""
    request = _current.get()
    return request.change_for(tenant_id) if request is not None else None


_UNAVAILABLE = (b'{"code":"unavailable","description":"the access could not be recorded in the audit trail; '
                b'retry later"}')


class AuditMiddleware:
    """Records each audited request's outcome once its status is known. The response start is held until the row
    is written; a PHI read whose row cannot be written answers 503 instead of the PHI."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = RequestAudit(scope)
        token = _current.set(request)
        held: Message | None = None
        replaced = answered = False

        async def audited_send(message: Message) -> None:
            nonlocal held, replaced, answered
            if replaced:
                return
            if message["type"] == "http.response.start" and request.spec is not None:
                held = message  # sent with the first body message, once the row is written
                return
            if held is not None:
                start, held = held, None
                answered = True
                try:
                    await request.record_answer(start["status"])
                except Exception as exc:  # noqa: BLE001 - the database refused or is away: never hand out PHI
                    log.error("audit row not written", extra={"reason": type(exc).__name__})
                    if request.spec is not None and request.spec.category == "phi_read" and start["status"] < 400:
                        replaced = True
                        await send({"type": "http.response.start", "status": 503,
                                    "headers": [(b"content-type", b"application/json"), (b"retry-after", b"5"),
                                                (b"content-length", str(len(_UNAVAILABLE)).encode())]})
                        await send({"type": "http.response.body", "body": _UNAVAILABLE})
                        return
                await send(start)
            await send(message)

        try:
            await self.app(scope, receive, audited_send)
        except Exception as exc:
            if not answered and request.spec is not None:
                try:
                    await request.record_answer(503 if is_transient(exc) else 500)
                except Exception as failed:  # noqa: BLE001 - the original error is the one to report
                    log.error("audit row not written", extra={"reason": type(failed).__name__})
            raise
        finally:
            _current.reset(token)
