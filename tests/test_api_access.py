"""Authentication and roles on each business service's app in-process (tests/support/api.py: its own create_app,
the real PostgreSQL in a throwaway schema, the tests' token issuer): one route per service that its access map
grants a non-admin role (or only admin) and denies another. No token or a bad one -> 401; the wrong role -> 403
naming the permission, and nothing written; the right role -> 2xx, and the audit row names the token's subject
even when the client also sends an `X-User` header naming someone else."""

from __future__ import annotations

import importlib
import json
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Awaitable, Callable

import pytest
from sqlalchemy import text

from rcm_contracts.events import CoverageVerified, EligibilityResult
from rcm_runtime.dev_issuer import LocalIssuer
from tests.support import claims as factory
from tests.support.api import ServiceApi, bearer, service_api

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[1]
FEE_TABLE = "code,modifier,amount,effective_from,effective_to\n99213,,100.00,2020-01-01,\n"


async def _queued_claim(api: ServiceApi) -> dict[str, str]:
    """coding: a claim in the coder queue (a diagnosis that is not ICD-10-CM), to assign."""
    claim = factory.make_claim(diagnoses=["ZZZ9"], lines=[factory.make_line(1, "99213", "100.00")])
    event = CoverageVerified(claim=claim, eligibility=EligibilityResult(
        status="active", checked_at=datetime(2026, 9, 2, tzinfo=timezone.utc), payer_id="SBX01"))
    assert (await api.consume((event, "tenant-a", claim.claim_id))).applied == 1
    return {"claim_id": str(claim.claim_id)}


@dataclass(frozen=True)
class Case:
    service: str  # services/<service>
    method: str
    path: str  # may name {claim_id}, filled by `prepare`
    granted: str  # a role holding the route's permission
    denied: str  # a role without it
    permission: str
    body: Any = None
    actor_sql: str | None = None  # where the change records who made it
    settings: dict[str, Any] = field(default_factory=dict)
    prepare: Callable[[ServiceApi], Awaitable[dict[str, str]]] | None = None

    def __str__(self) -> str:
        return self.service


PROFILE = {"npi": "1245319599", "name": "Demo Family Practice", "tax_id": "123456789",
           "address": {"line1": "1 Main St", "city": "Boston", "state": "MA", "postal_code": "021081234"}}
CASES = [
    Case("charges", "PUT", "/v1/provider-profiles/1245319599", "admin", "biller", "settings.write", PROFILE,
         "SELECT updated_by FROM provider_profiles"),
    Case("eligibility", "PUT", "/v1/payers/SBX01/member-id-rule", "admin", "front_desk", "settings.write",
         {"pattern": "^[A-Z]{4}[0-9]{4}$"}, "SELECT updated_by FROM member_id_rules",
         settings={"payer_url": "http://payer.test"}),
    Case("coding", "POST", "/v1/claims/{claim_id}/assignment", "coder", "biller", "coding.assign",
         {"coder": "dana"}, "SELECT actor FROM coding_audit",
         settings={"coding_tables_dir": str(ROOT / "deploy" / "reference-data")}, prepare=_queued_claim),
    Case("scrubber", "POST", "/v1/rule-sets", "admin", "biller", "rules.write",
         {"payer_id": "SBX01", "version": 1, "effective_from": "2026-01-01", "edits": {}, "custom_rules": []},
         "SELECT created_by FROM rule_sets"),
    Case("submission", "PUT", "/v1/routes/SBX01", "biller", "coder", "routes.write", {"clearinghouse": "box"},
         "SELECT updated_by FROM clearinghouse_routes",
         settings={"clearinghouses": json.dumps({"box": {"kind": "file", "root": "/nonexistent/box"}}),
                   "default_clearinghouse": "box", "dispatch_enabled": False}),
    Case("remittance", "PUT", "/v1/payers/SANDBOX1/contract", "biller", "analyst", "contracts.write",
         {"fee_table": FEE_TABLE}, "SELECT actor FROM remittance_audit"),
    Case("denials", "GET", "/v1/denials", "denial_specialist", "coder", "denials.read"),
    Case("patient-billing", "GET", "/v1/balances", "patient_billing_agent", "patient", "balances.read"),
    Case("analytics", "GET", "/v1/kpis", "analyst", "coder", "kpis.read"),
]


@pytest.fixture(params=CASES, ids=str)
async def case_api(request):
    case: Case = request.param
    package = f"rcm_{case.service.replace('-', '_')}"
    app = importlib.import_module(f"{package}.app")
    settings = importlib.import_module(f"{package}.settings").Settings
    metadata = importlib.import_module(f"{package}.db").metadata
    async with service_api(app.create_app, settings, metadata, **case.settings) as api:
        yield case, api


async def call(api: ServiceApi, case: Case, headers: dict[str, str], params: dict[str, str]):
    return await api.client.request(case.method, case.path.format(**params), json=case.body, headers=headers)


async def recorded_actors(api: ServiceApi, case: Case) -> list[str]:
    if case.actor_sql is None:
        return []
    async with api.engine.connect() as conn:
        return [r[0] for r in (await conn.execute(text(case.actor_sql))).all()]


async def test_no_or_bad_credentials_answer_401_and_change_nothing(case_api):
    case, api = case_api
    params = await case.prepare(api) if case.prepare else {}
    stranger = LocalIssuer.generate(issuer="https://idp.elsewhere.example/")
    attempts = {
        "none": {},
        "a name only": {"X-User": "someone-else"},
        "expired": bearer(roles=[case.granted], now=time.time() - 7200, ttl_s=3600),
        "another issuer": {"authorization": "Bearer " + stranger.token(sub="x", tenant="tenant-a",
                                                                        roles=["admin"])},
        "another audience": bearer(roles=[case.granted], aud="someone-elses-api"),
        "garbage": {"authorization": "Bearer not-a-token"},
        "unknown API key": {"x-api-key": "key-zzz"},
    }
    for what, headers in attempts.items():
        resp = await call(api, case, headers, params)
        assert resp.status_code == 401, (what, resp.status_code, resp.text)
        body = resp.json()
        assert body["code"] == "unauthenticated" and body["description"], what
        assert resp.headers["www-authenticate"].startswith('Bearer realm="openrcm", error='), what
        assert "eyJ" not in resp.text and "not-a-token" not in resp.text, what  # the token is never echoed
    assert await recorded_actors(api, case) == []
    for open_path in ("/healthz", "/openapi.json", "/docs"):  # stay open: probes and integrators' tooling
        assert (await api.client.get(open_path)).status_code == 200, open_path


async def test_a_role_without_the_permission_gets_403_naming_it(case_api):
    case, api = case_api
    params = await case.prepare(api) if case.prepare else {}
    resp = await call(api, case, api.headers(user="mallory", roles=[case.denied]), params)
    assert resp.status_code == 403, resp.text
    assert resp.json()["code"] == "forbidden" and resp.json()["permission"] == case.permission
    assert case.permission in resp.json()["description"] and case.granted in resp.json()["description"]
    assert 'error="insufficient_scope"' in resp.headers["www-authenticate"]
    assert await recorded_actors(api, case) == []
    no_roles = await call(api, case, api.headers(user="mallory", roles=[]), params)
    assert no_roles.status_code == 403


async def test_the_right_role_succeeds_and_the_actor_is_the_tokens_subject(case_api):
    case, api = case_api
    params = await case.prepare(api) if case.prepare else {}
    subject = f"{case.granted}.{uuid.uuid4().hex[:6]}"
    resp = await call(api, case, api.headers(user=subject, roles=[case.granted], **{"X-User": "someone-else"}),
                      params)
    assert 200 <= resp.status_code < 300, resp.text
    if case.actor_sql is not None:
        assert await recorded_actors(api, case) == [subject]


async def test_an_auditor_reads_but_never_writes(case_api):
    case, api = case_api
    params = await case.prepare(api) if case.prepare else {}
    resp = await call(api, case, api.headers(user="audrey", roles=["auditor"]), params)
    assert resp.status_code == (200 if case.method == "GET" else 403), resp.text


async def test_an_api_key_is_a_principal_of_its_tenant(case_api):
    case, api = case_api
    params = await case.prepare(api) if case.prepare else {}
    resp = await call(api, case, {"x-api-key": "key-a", "X-User": "someone-else"}, params)  # an admin key
    assert 200 <= resp.status_code < 300, resp.text
    if case.actor_sql is not None:
        [actor] = await recorded_actors(api, case)
        assert actor.startswith("apikey:") and len(actor) == len("apikey:") + 8

