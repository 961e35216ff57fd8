"""The cross-tenant sweep's machinery (tests/isolation/test_cross_tenant_sweep.py): every operation of a service's
own OpenAPI called with another tenant's token against what tenant A made, and what that may answer.

A `Recipe` says how to call one operation at tenant A's resources (path, query and body, with `{name}` filled from
the ids the service's seed returned) and which answer is right:
- `A_RESOURCE`: the call names something of A's (a claim id, a file id, an unmatched payment...): a read answers 404
  (or 200 revealing nothing of A's), a write 403 or 404;
- `B_OWN`: the call acts in the caller's own tenant (a listing, an intake, B's own settings under the same payer
  or NPI as A's): any answer but a server error, revealing nothing of A's;
- `OPERATOR`: a route for platform operators; a tenant's admin is refused (401/403).
The caller is B's admin, or (`patient_account`) B's patient whose token names the same account id as A's patient.
Whatever the answer, no row of tenant A in the service's schema may change (a digest of every tenant-A row of
every tenant-scoped table, read as the superuser, before and after) and the response may carry no id of A's that
the caller did not send itself (every UUID found in A's rows) nor A's tenant id."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Awaitable, Callable

import httpx
from sqlalchemy import text

from tests.support.api import ServiceApi, bearer

A, B = "tenant-a", "tenant-b"
_TEMPLATE = re.compile(r"\{(\w+)\}")
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


class Expect(Enum):
    A_RESOURCE = "names A's resource: 404 (a read may answer 200 with nothing of A's), a write 403/404"
    B_OWN = "acts in the caller's tenant: anything but a 5xx, nothing of A's"
    OPERATOR = "an operator route: a tenant's admin gets 401/403"


@dataclass(frozen=True)
class Recipe:
    expect: Expect
    params: dict[str, str] = field(default_factory=dict)  # path parameters; "{seed_name}" templates
    query: dict[str, str] = field(default_factory=dict)
    json: Any = None
    content: str | None = None  # a text body (X12, HL7, CSV), with its content type
    content_type: str | None = None
    patient_account: str | None = None  # call as B's patient naming this account (claim rcm_patient), not B's admin


def own(**kw: Any) -> Recipe:
    return Recipe(Expect.B_OWN, **kw)


def of_a(**kw: Any) -> Recipe:
    return Recipe(Expect.A_RESOURCE, **kw)


Seed = Callable[[ServiceApi], Awaitable[dict[str, str]]]


def _fill(value: Any, ids: dict[str, str]) -> Any:
    if isinstance(value, str):  # only `{name}` of a seeded id is replaced: bodies may hold other braces
        return _TEMPLATE.sub(lambda m: ids.get(m[1], m[0]), value)
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, ids) for v in value]
    return value


async def tenant_rows(api: ServiceApi, tenant: str = A) -> dict[str, list[str]]:
    """Every row of `tenant` in every tenant-scoped table of the service's schema, as text, sorted: what must
    not change, and where A's ids are found."""
    async with api.engine.connect() as conn:
        tables = [r[0] for r in await conn.execute(text(
            "SELECT table_name FROM information_schema.columns WHERE table_schema = :s AND column_name = 'tenant_id' "
            "ORDER BY table_name"), {"s": api.schema})]
        out = {}
        for table in tables:
            rows = await conn.execute(text(f'SELECT t::text FROM "{api.schema}"."{table}" t WHERE t.tenant_id = :t'),
                                      {"t": tenant})
            out[table] = sorted(r[0] for r in rows)
    return out


@dataclass
class Finding:
    operation: str
    problem: str

    def __str__(self) -> str:
        return f"{self.operation}: {self.problem}"


async def sweep_operation(api: ServiceApi, label: str, method: str, path: str, recipe: Recipe,
                          ids: dict[str, str], named: set[str]) -> list[Finding]:
    """Call one operation as tenant B's admin at A's resources; what it did wrong, if anything. `named` collects
    the ids B has sent so far in this sweep: B's own rows may carry them (B resent A's ERA naming A's claim id), so
    they are no leak when they come back."""
    before = await tenant_rows(api)
    a_ids = {u for rows in before.values() for row in rows for u in UUID.findall(row)}
    url = _fill(path, _fill(recipe.params, ids))
    query = _fill(recipe.query, ids)
    headers = (bearer(B, user="sweep.b-patient", roles=["patient"], rcm_patient=recipe.patient_account)
               if recipe.patient_account else api.headers(B, user="sweep.b-admin"))
    kwargs: dict[str, Any] = {"params": query, "headers": headers}
    if recipe.content is not None:
        kwargs["content"] = _fill(recipe.content, ids).encode()
        kwargs["headers"]["content-type"] = recipe.content_type or "text/plain"
    elif recipe.json is not None:
        kwargs["json"] = _fill(recipe.json, ids)
    resp: httpx.Response = await api.client.request(method, url, **kwargs)
    sent = url + str(query) + (kwargs.get("content") or b"").decode() + str(kwargs.get("json") or "")
    found = []
    status = resp.status_code
    if status >= 500:
        found.append(Finding(label, f"server error {status}: {resp.text[:300]}"))
    if recipe.expect is Expect.OPERATOR and status not in (401, 403):
        found.append(Finding(label, f"a tenant admin reached an operator route: {status}"))
    if recipe.expect is Expect.A_RESOURCE:
        allowed = (404, 200) if method == "GET" else (403, 404)
        if status not in allowed:
            found.append(Finding(label, f"answered {status} at A's resource (expected {' or '.join(map(str, allowed))})"
                                        f": {resp.text[:300]}"))
    named |= set(UUID.findall(sent))
    leaked = sorted(u for u in a_ids - named if u in resp.text)
    if leaked:
        found.append(Finding(label, f"the response carries A's ids {leaked[:3]}"))
    if A in resp.text:
        found.append(Finding(label, "the response names tenant A"))
    after = await tenant_rows(api)
    changed = sorted(t for t in set(before) | set(after) if before.get(t) != after.get(t))
    if changed:
        found.append(Finding(label, f"changed tenant A's rows in {changed}"))
    return found


def operations(api: ServiceApi) -> list[tuple[str, str]]:
    """(METHOD, path) of every operation the app publishes."""
    return [(m.upper(), p) for p, ops in api.app.openapi()["paths"].items() for m in ops]
