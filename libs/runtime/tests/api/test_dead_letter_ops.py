"""Dead letters on a service's ops API, in process against the real PostgreSQL: summary, listing, redrive.

The service under test is the smallest real one: `create_service_app` with one consumer handler that posts a
patient statement and refuses it (a DomainError: permanent) until the tenant's statement terms, its reference
data, exist; and that meets an outage (TransientError) while the test says the payer is down.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from aiokafka import ConsumerRecord
from sqlalchemy import Column, Integer, MetaData, Table, Text, select
from sqlalchemy.dialects.postgresql import insert

from rcm_contracts.envelope import new_envelope
from rcm_contracts.events import PatientBalanceOpened
from rcm_runtime.app import create_service_app
from rcm_runtime.clock import FixedClock
from rcm_runtime.consumer import BatchApplier, Delivery, PreparedHandler, decode_record
from rcm_runtime.errors import DomainError, TransientError
from rcm_runtime.messaging import PHI, dead_letters
from rcm_runtime.settings import ServiceSettings
from rcm_runtime.unit_of_work import UnitOfWork
from libs.runtime.tests.integration.support import balance_event
from tests.support.api import OPS_TENANT, ServiceApi, bearer, service_api

ops = ServiceApi.operator_headers  # a platform operator's token (rcm_runtime.ops), minted per request
NO_TERMS = "no statement terms for the tenant"
NOW = datetime(2026, 12, 7, 9, 30, tzinfo=timezone.utc)

md = MetaData()
terms = Table("statement_terms", md, Column("tenant_id", Text, primary_key=True))
statements = Table("statements", md, Column("claim_key", Text, primary_key=True), Column("tenant_id", Text, nullable=False),
                   Column("applied", Integer, nullable=False))
payer = {"down": False}

_post = insert(statements)
_post = _post.on_conflict_do_update(index_elements=[statements.c.claim_key], set_={"applied": statements.c.applied + 1})


async def post_statements(uow: UnitOfWork, deliveries: list[Delivery]) -> None:
    """Counts applications (2 would be a record applied twice); refuses a tenant without terms."""
    if payer["down"]:
        raise TransientError("payer unavailable")
    for d in deliveries:
        known = (await uow.conn.execute(select(terms.c.tenant_id).where(terms.c.tenant_id == d.tenant_id))).first()
        if known is None:
            raise DomainError(NO_TERMS)
        await uow.conn.execute(_post, {"claim_key": d.key, "tenant_id": d.tenant_id, "applied": 1})


class LedgerSettings(ServiceSettings):
    service_name: str = "ledger-test"
    db_schema: str = "ledger_test"


def create_app(settings: LedgerSettings | None = None, *, clock=None):
    return create_service_app(settings or LedgerSettings(), title="ledger test", clock=clock,
                              handlers={PatientBalanceOpened.event_type(): post_statements},
                              consume_topics=["rcm.patient_billing.events"])


@pytest.fixture
async def api():
    payer["down"] = False
    async with service_api(create_app, LedgerSettings, md, clock=FixedClock(NOW)) as api:
        yield api


def statement(tenant: str = "tenant-a"):
    ev = balance_event()
    return new_envelope(ev, service="patient_billing", tenant_id=tenant, key=str(ev.claim_id))


async def add_terms(api, tenant: str) -> None:
    async with api.engine.begin() as conn:
        await conn.execute(terms.insert().values(tenant_id=tenant))


async def applied(api, env) -> int:
    return await api.scalar("SELECT coalesce(sum(applied), 0) FROM statements WHERE claim_key = :k", k=env.partitionkey)


async def rows(api) -> list[dict]:
    async with api.engine.connect() as conn:
        stored = (await conn.execute(select(dead_letters).order_by(dead_letters.c.id))).mappings().all()
    assert all(r["payload"] is None or bytes(r["payload"]).startswith(b"phi1.") for r in stored)  # sealed at rest
    return [dict(r) for r in PHI.open_all(dead_letters, stored)]


async def redrive(api, body: dict, user: str = "alice"):
    """Redrive as operator `user` (the token's subject is who is recorded)."""
    return await api.client.post("/v1/ops/dead-letters/redrive", headers=ops(user), json=body)


async def test_a_record_refused_for_missing_reference_data_is_redriven_once_applied(api):
    env = statement()
    applier = await api.consume(env, topic="rcm.patient_billing.events")
    assert applier.dead_lettered == 1 and await applied(api, env) == 0
    [row] = await rows(api)
    assert row["status"] == "open" and row["reason"] == NO_TERMS and row["payload"] == env.to_bytes()

    await add_terms(api, "tenant-a")  # the fix: the reference data it needed
    r = await redrive(api, {"id": row["id"]})
    assert r.status_code == 200, r.text
    assert r.json() == {"selected": 1, "applied": [row["id"]], "already_applied": [], "not_handled": [],
                        "failed_again": [], "skipped": [], "left_open": []}
    assert await applied(api, env) == 1
    [after] = await rows(api)
    assert (after["status"], after["closed_by"], after["closed_at"], after["redriven_to"]) == (
        "redriven", "alice", NOW, None)
    # Through the consumer's path: the inbox has the event, so a redelivery by Kafka is not applied again.
    assert await api.scalar("SELECT count(*) FROM inbox WHERE event_id = :e", e=env.id) == 1
    again = await api.consume(env, topic="rcm.patient_billing.events")
    assert again.duplicates == 1 and await applied(api, env) == 1

    # Redrive again: nothing is open, nothing happens.
    r2 = await redrive(api, {"id": row["id"]}, user="bob")
    assert r2.status_code == 200 and r2.json()["selected"] == 0 and r2.json()["applied"] == []
    assert await applied(api, env) == 1
    [still] = await rows(api)
    assert still["closed_by"] == "alice"


async def test_a_record_failing_again_returns_as_a_new_open_dead_letter(api):
    env = statement("tenant-b")
    await api.consume(env, topic="rcm.patient_billing.events")
    [old] = await rows(api)

    r = await redrive(api, {"reason": NO_TERMS})  # not fixed yet
    assert r.status_code == 200, r.text
    [failed] = r.json()["failed_again"]
    assert r.json()["applied"] == [] and failed["id"] == old["id"] and failed["reason"] == NO_TERMS
    old_now, new = await rows(api)
    assert (old_now["status"], old_now["closed_by"], old_now["redriven_to"]) == ("redriven", "alice", new["id"])
    assert new["id"] == failed["new_id"] and new["status"] == "open" and new["reason"] == NO_TERMS
    assert (new["topic"], new["partition"], new["offset"], new["event_id"], new["payload"]) == (
        old["topic"], old["partition"], old["offset"], old["event_id"], old["payload"])
    assert await api.scalar("SELECT count(*) FROM inbox") == 0  # the failed attempt rolled back its inbox row

    # Fixed, then redriven by event type since a time: the new row is the one applied.
    await add_terms(api, "tenant-b")
    r2 = await redrive(api, {"event_type": "balance-opened", "since": (NOW - timedelta(days=3650)).isoformat()})
    assert r2.json()["applied"] == [new["id"]] and r2.json()["selected"] == 1
    assert await applied(api, env) == 1
    assert [x["status"] for x in await rows(api)] == ["redriven", "redriven"]


async def test_an_outage_during_redrive_leaves_the_record_open_and_answers_503(api):
    envs = [statement(), statement()]
    await api.consume(*envs, topic="rcm.patient_billing.events")
    first, second = await rows(api)
    await add_terms(api, "tenant-a")
    payer["down"] = True
    r = await redrive(api, {"reason": NO_TERMS})
    assert r.status_code == 503 and r.headers["retry-after"]
    assert r.json()["code"] == "unavailable" and r.json()["result"]["left_open"] == [first["id"], second["id"]]
    assert [x["status"] for x in await rows(api)] == ["open", "open"]
    assert [await applied(api, e) for e in envs] == [0, 0]

    payer["down"] = False
    r2 = await redrive(api, {"reason": NO_TERMS})
    assert r2.status_code == 200 and r2.json()["applied"] == [first["id"], second["id"]]
    assert [await applied(api, e) for e in envs] == [1, 1]


async def test_summary_counts_open_dead_letters_by_reason_and_type(api):
    empty = await api.client.get("/v1/ops/dead-letters/summary", headers=ops())
    assert empty.json() == {"service": "ledger-test", "open": 0, "oldest_at": None, "by_reason": {},
                            "by_event_type": {}}
    await api.consume(statement(), statement("tenant-b"), topic="rcm.patient_billing.events")
    # An undecodable record, dead-lettered straight away by the consumer's path.
    junk = ConsumerRecord(topic="rcm.patient_billing.events", partition=1, offset=9, timestamp=0, timestamp_type=0,
                          key=b"k", value=b"not an envelope", checksum=None, serialized_key_size=1,
                          serialized_value_size=15, headers=[])
    rt = api.app.state.runtime
    await BatchApplier(api.engine, rt.handlers, "ledger-test", rt.out_topic).apply([decode_record(junk)])
    s = (await api.client.get("/v1/ops/dead-letters/summary", headers=ops())).json()
    assert s["open"] == 3
    assert s["by_reason"][NO_TERMS] == 2 and sum(s["by_reason"].values()) == 3
    assert s["by_event_type"] == {PatientBalanceOpened.event_type(): 2, "unknown": 1}
    created = await api.scalar("SELECT min(created_at) FROM dead_letters")
    assert datetime.fromisoformat(s["oldest_at"]) == created

    # The undecodable one fails again the same way on redrive; the others are applied: 1 open, a new row.
    await add_terms(api, "tenant-a")
    await add_terms(api, "tenant-b")
    junk_id = (await rows(api))[-1]["id"]
    r = await redrive(api, {"id": junk_id})
    assert r.json()["failed_again"][0]["id"] == junk_id
    await redrive(api, {"reason": NO_TERMS})
    s2 = (await api.client.get("/v1/ops/dead-letters/summary", headers=ops())).json()
    assert s2["open"] == 1 and list(s2["by_event_type"]) == ["unknown"]


async def test_listing_filters_and_shows_no_payload(api):
    await api.consume(statement(), statement("tenant-b"), topic="rcm.patient_billing.events")
    await add_terms(api, "tenant-a")
    await redrive(api, {"reason": NO_TERMS})  # tenant-a applied, tenant-b fails again
    everything = (await api.client.get("/v1/ops/dead-letters", headers=ops())).json()
    assert len(everything) == 3 and all("payload" not in x and "key" not in x for x in everything)
    by_status = {s: (await api.client.get("/v1/ops/dead-letters", headers=ops(), params={"status": s})).json()
                 for s in ("open", "redriven", "resolved")}
    assert [len(by_status[s]) for s in ("open", "redriven", "resolved")] == [1, 2, 0]
    assert by_status["open"][0]["tenant_id"] == "tenant-b" and by_status["open"][0]["reason"] == NO_TERMS
    assert {x["closed_by"] for x in by_status["redriven"]} == {"alice"}
    typed = await api.client.get("/v1/ops/dead-letters", headers=ops(),
                                 params={"event_type": "patient_billing.balance-opened.v1", "status": "open"})
    assert [x["id"] for x in typed.json()] == [by_status["open"][0]["id"]]
    none = await api.client.get("/v1/ops/dead-letters", headers=ops(), params={"event_type": "claim-coded"})
    assert none.json() == []
    later = await api.client.get("/v1/ops/dead-letters", headers=ops(),
                                 params={"since": (datetime.now(timezone.utc) + timedelta(hours=1)).isoformat()})
    assert later.json() == []
    assert (await api.client.get("/v1/ops/dead-letters", headers=ops(), params={"reason": "other"})).json() == []

    # Resolved by hand: no longer open, who and when kept; a second resolve changes nothing.
    open_id = by_status["open"][0]["id"]
    carol = ops("carol")
    res = await api.client.post(f"/v1/ops/dead-letters/{open_id}/resolve", headers=carol)
    assert res.json() == {"id": open_id, "status": "resolved", "changed": True}
    assert (await rows(api))[-1]["closed_by"] == "carol"  # the token's subject
    res2 = await api.client.post(f"/v1/ops/dead-letters/{open_id}/resolve", headers=carol)
    assert res2.json()["changed"] is False
    assert (await api.client.post("/v1/ops/dead-letters/999999/resolve", headers=carol)).status_code == 404
    assert (await api.client.get("/v1/ops/dead-letters/summary", headers=ops())).json()["open"] == 0


async def test_ops_routes_need_a_platform_operators_token_and_redrive_one_selection(api):
    """No credentials: 401. A tenant's token, even its admin's, or an `operator` role in a practice's token: 403
    (dead letters span tenants). Only `operator` of the operations tenant acts, and a client-sent X-User header
    names nobody: the token's subject is recorded."""
    await api.consume(statement(), topic="rcm.patient_billing.events")
    routes = (("GET", "/v1/ops/dead-letters"), ("GET", "/v1/ops/dead-letters/summary"),
              ("POST", "/v1/ops/dead-letters/redrive"), ("POST", "/v1/ops/dead-letters/1/resolve"))
    refused = {401: [{}, {"x-user": "alice"}, {"x-ops-key": "dev-ops-key"}, {"authorization": "Bearer not-a-token"}],
               403: [api.headers("tenant-a"), api.headers("tenant-a", roles=["operator"]),
                     api.headers("tenant-b", roles=["admin", "auditor"]), bearer(OPS_TENANT, roles=["admin"])]}
    for status, attempts in refused.items():
        for method, path in routes:
            for headers in attempts:
                r = await api.client.request(method, path, headers=headers, json={"id": 1})
                assert r.status_code == status, (method, path, headers, r.text)
                assert r.json()["code"] == ("unauthenticated" if status == 401 else "forbidden")
    assert [(x["status"], x["closed_by"]) for x in await rows(api)] == [("open", None)]
    [row] = await rows(api)
    resolved = await api.client.post(f"/v1/ops/dead-letters/{row['id']}/resolve",
                                     headers={**ops("olga.ops"), "x-user": "mallory"})
    assert resolved.status_code == 200 and resolved.json()["changed"] is True
    assert [(x["status"], x["closed_by"]) for x in await rows(api)] == [("resolved", "olga.ops")]
    await api.consume(statement(), topic="rcm.patient_billing.events")
    for body in ({}, {"id": 1, "reason": NO_TERMS}, {"event_type": "balance-opened"}):
        bad = await redrive(api, body)
        assert bad.status_code == 422 and bad.json()["code"] == "invalid_selection", body
    assert [x["status"] for x in await rows(api)] == ["resolved", "open"]
    assert (await api.client.get("/v1/ops/dead-letters", headers=ops(), params={"status": "gone"})).status_code == 422


async def test_a_redelivered_failing_record_keeps_one_open_dead_letter(api):
    env = statement()
    await api.consume(env, topic="rcm.patient_billing.events")
    await api.consume(env, topic="rcm.patient_billing.events")  # Kafka redelivers it (offsets not committed)
    assert [x["status"] for x in await rows(api)] == ["open"]
    await redrive(api, {"reason": NO_TERMS})  # fails again: redriven + a new open row
    await api.consume(env, topic="rcm.patient_billing.events")
    assert [x["status"] for x in await rows(api)] == ["redriven", "open"]


async def test_a_prepared_handler_is_prepared_again_on_redrive_outside_the_transaction():
    """A handler that asks an outside party first (PreparedHandler): redrive runs its prepare step too, and an
    outage there answers 503 with the record still open."""
    asked: list[str] = []

    async def ask_payer(deliveries: list[Delivery]) -> list[str]:
        if payer["down"]:
            raise TransientError("payer unavailable")
        asked.extend(d.key for d in deliveries)
        return ["covered" for _ in deliveries]

    async def apply(uow: UnitOfWork, deliveries: list[Delivery]) -> None:
        assert all(d.prepared == "covered" for d in deliveries)
        await post_statements(uow, deliveries)

    def create_prepared_app(settings=None, *, clock=None):
        return create_service_app(settings or LedgerSettings(), title="ledger test", clock=clock,
                                  handlers={PatientBalanceOpened.event_type(): PreparedHandler(ask_payer, apply)},
                                  consume_topics=["rcm.patient_billing.events"])

    payer["down"] = False
    async with service_api(create_prepared_app, LedgerSettings, md, clock=FixedClock(NOW)) as api:
        env = statement()
        await api.consume(env, topic="rcm.patient_billing.events")
        [row] = await rows(api)
        assert row["reason"] == NO_TERMS and asked == [env.partitionkey]
        await add_terms(api, "tenant-a")
        payer["down"] = True
        r = await redrive(api, {"id": row["id"]})
        assert r.status_code == 503 and [x["status"] for x in await rows(api)] == ["open"]
        payer["down"] = False
        r = await redrive(api, {"id": row["id"]})
        assert r.json()["applied"] == [row["id"]] and asked == [env.partitionkey] * 2
        assert await applied(api, env) == 1


async def test_a_since_sent_as_a_number_is_a_422_not_1970(api):
    # Found by fuzzing: pydantic read since=0.5 as half a second after 1970 and listed everything.
    listed = await api.client.get("/v1/ops/dead-letters", params={"since": "0.5"}, headers=ops())
    redriven = await api.client.post("/v1/ops/dead-letters/redrive", json={"event_type": "x", "since": 0},
                                     headers=ops())
    assert listed.status_code == 422 and [e["field"] for e in listed.json()["errors"]] == ["query.since"]
    assert redriven.status_code == 422 and [e["field"] for e in redriven.json()["errors"]] == ["body.since"]
