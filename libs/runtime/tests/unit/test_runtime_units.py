"""Pure parts of rcm_runtime: outbox emitter, record decoding, dead letters, safe reasons, JSON logs, settings."""

import json
import logging
import traceback
import uuid
from datetime import date

import pytest
from aiokafka.structs import ConsumerRecord
from pydantic import ValidationError

from rcm_contracts.claim import Claim, Person
from rcm_contracts.envelope import EnvelopeError, decode_envelope, new_envelope
from rcm_contracts.events import ClaimAcknowledged, EncounterCaptured
from rcm_runtime.consumer import Decoded, decode_record, dead_letter_row
from rcm_runtime.errors import DomainError
from rcm_runtime.failures import safe_reason
from rcm_runtime.outbox import Emitter, outbox_row
from rcm_runtime.settings import ServiceSettings
from rcm_runtime.telemetry import JsonFormatter
from tests.support.claims import make_claim, make_line, make_patient

TENANT = "tenant-a"
FIRST, LAST = "Zebulon", "Quackenbush"
TOPIC = "rcm.charges.events"


def ack_event(claim_id: uuid.UUID) -> ClaimAcknowledged:
    return ClaimAcknowledged(claim_id=claim_id, accepted=True, status_code="A2:20", payer_claim_control_number="SBX1")


def claim() -> Claim:
    return make_claim(patient=make_patient(first_name=FIRST, last_name=LAST, birth_date=date(1977, 3, 14)),
                      lines=[make_line(1, "99213", "150.00")])


def record(value: bytes | None, *, key: bytes | None = None, headers=(), topic=TOPIC, partition=2, offset=41) -> ConsumerRecord:
    return ConsumerRecord(
        topic=topic, partition=partition, offset=offset, timestamp=1_700_000_000_000, timestamp_type=0,
        key=key, value=value, checksum=None, serialized_key_size=len(key) if key else -1,
        serialized_value_size=len(value) if value else -1, headers=list(headers),
    )


def envelope_record(event, *, key: str, record_key: bytes | None = None, **env_overrides):
    env = new_envelope(event, service="charges", tenant_id=TENANT, key=key)
    if env_overrides:
        env = env.model_copy(update=env_overrides)
    rk = key.encode() if record_key is None else record_key
    return env, record(env.to_bytes(), key=rk, headers=env.headers())


# ---------------------------------------------------------------- outbox.Emitter


def test_emit_takes_correlation_and_causation_from_the_cause():
    claim_id = uuid.uuid4()
    cause = new_envelope(ack_event(claim_id), service="submission", tenant_id=TENANT, key=str(claim_id),
                         correlation_id=uuid.uuid4())
    env = Emitter("remittance", "rcm.remittance.events").emit(ack_event(claim_id), tenant_id=TENANT, key=claim_id,
                                                               cause=cause)
    assert env.correlationid == cause.correlationid
    assert env.causationid == cause.id
    assert env.id != cause.id


def test_cause_wins_over_an_explicit_correlation_id():
    cause = new_envelope(ack_event(uuid.uuid4()), service="submission", tenant_id=TENANT, key="k")
    env = Emitter("x", "t").emit(ack_event(uuid.uuid4()), tenant_id=TENANT, key="k", cause=cause,
                                 correlation_id=uuid.uuid4())
    assert env.correlationid == cause.correlationid


def test_emit_without_cause_uses_the_given_correlation_id():
    corr = uuid.uuid4()
    env = Emitter("charges", TOPIC).emit(ack_event(uuid.uuid4()), tenant_id=TENANT, key="k", correlation_id=corr)
    assert env.correlationid == corr
    assert env.causationid is None


def test_emit_without_cause_or_correlation_starts_a_new_correlation():
    env = Emitter("charges", TOPIC).emit(ack_event(uuid.uuid4()), tenant_id=TENANT, key="k")
    assert env.correlationid == env.id
    assert env.causationid is None


def test_emit_writes_a_row_with_topic_key_type_and_tenant():
    claim_id = uuid.uuid4()
    emitter = Emitter("charges", TOPIC)
    env = emitter.emit(ack_event(claim_id), tenant_id=TENANT, key=claim_id)
    assert len(emitter.rows) == 1
    row = emitter.rows[0]
    assert row["event_id"] == env.id
    assert row["topic"] == TOPIC
    assert row["key"] == str(claim_id)
    assert row["event_type"] == ClaimAcknowledged.event_type()
    assert row["tenant_id"] == TENANT
    assert row["traceparent"] is None  # no active span in a unit test
    assert decode_envelope(row["payload"]) == env


def test_emit_puts_a_given_traceparent_on_envelope_and_row():
    tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    emitter = Emitter("charges", TOPIC)
    env = emitter.emit(ack_event(uuid.uuid4()), tenant_id=TENANT, key="k", traceparent=tp)
    assert env.traceparent == tp
    assert emitter.rows[0]["traceparent"] == tp


def test_emitted_envelope_names_the_service_and_partition_key():
    claim_id = uuid.uuid4()
    env = Emitter("charges", TOPIC).emit(ack_event(claim_id), tenant_id=TENANT, key=claim_id)
    assert env.source == "/rcm/charges"
    assert env.partitionkey == str(claim_id)
    assert env.subject == f"claim/{claim_id}"
    assert env.tenantid == TENANT


def test_emit_accumulates_rows_in_order():
    emitter = Emitter("charges", TOPIC)
    envs = [emitter.emit(ack_event(uuid.uuid4()), tenant_id=TENANT, key=str(i)) for i in range(3)]
    assert [r["event_id"] for r in emitter.rows] == [e.id for e in envs]
    assert [r["key"] for r in emitter.rows] == ["0", "1", "2"]


def test_outbox_row_payload_is_the_envelope_bytes():
    env = new_envelope(ack_event(uuid.uuid4()), service="s", tenant_id=TENANT, key="k")
    assert outbox_row(env, "topic-x")["payload"] == env.to_bytes()


def test_emit_many_writes_the_rows_and_envelopes_emit_writes_in_order():
    cause = new_envelope(ack_event(uuid.uuid4()), service="submission", tenant_id=TENANT, key="k",
                         correlation_id=uuid.uuid4())
    tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    events = [(ack_event(uuid.uuid4()), uuid.uuid4()), (claim_event := ack_event(uuid.uuid4()), "key-2")]
    one, many = Emitter("remittance", TOPIC), Emitter("remittance", TOPIC)
    envs = [one.emit(e, tenant_id=TENANT, key=k, cause=cause, traceparent=tp) for e, k in events]
    ids = many.emit_many(events, tenant_id=TENANT, cause=cause, traceparent=tp)
    assert ids == [r["event_id"] for r in many.rows] and len(set(ids)) == 2
    for env, row, expected in zip(envs, many.rows, one.rows):
        got = decode_envelope(row["payload"])
        assert got == env.model_copy(update={"id": got.id, "time": got.time})  # all but its own id and time
        assert {**row, "event_id": None, "payload": None} == {**expected, "event_id": None, "payload": None}
    assert decode_envelope(many.rows[1]["payload"]).data == claim_event.model_dump(mode="json", exclude_none=True)


def test_emit_many_without_cause_starts_a_correlation_per_event():
    emitter = Emitter("charges", TOPIC)
    ids = emitter.emit_many([(ack_event(uuid.uuid4()), "k")] * 2, tenant_id=TENANT)
    envs = [decode_envelope(r["payload"]) for r in emitter.rows]
    assert [e.correlationid for e in envs] == ids and all(e.causationid is None for e in envs)


# ---------------------------------------------------------------- consumer.decode_record


def test_decode_good_record():
    claim_id = uuid.uuid4()
    env, rec = envelope_record(ack_event(claim_id), key=str(claim_id))
    d = decode_record(rec)
    assert d.error is None
    assert d.envelope == env
    assert d.event == ack_event(claim_id)
    assert d.record is rec


def test_decode_record_without_key_is_accepted():
    claim_id = uuid.uuid4()
    env, _ = envelope_record(ack_event(claim_id), key=str(claim_id))
    d = decode_record(record(env.to_bytes(), key=None))
    assert d.error is None
    assert d.event is not None


def test_decode_not_json_record():
    d = decode_record(record(b"this is not json", key=b"k"))
    assert d.envelope is None and d.event is None
    assert d.error.startswith("record value is not JSON")


def test_decode_json_that_is_not_an_object():
    assert decode_record(record(b"[1, 2]")).error == "record value is not a JSON object"


def test_decode_record_without_value():
    assert decode_record(record(None)).error == "record has no value"


def test_decode_unknown_event_type():
    env, rec = envelope_record(ack_event(uuid.uuid4()), key="k", type="org.openrcm.rcm.nobody.nothing.v1")
    d = decode_record(rec)
    assert d.event is None
    assert d.error == "unknown event type: org.openrcm.rcm.nobody.nothing.v1"


def test_decode_key_mismatch():
    _, rec = envelope_record(ack_event(uuid.uuid4()), key="claim-a", record_key=b"claim-b")
    d = decode_record(rec)
    assert d.event is None
    assert d.error == "record key does not match envelope partitionkey"


def test_decode_invalid_data_names_fields_not_values():
    c = claim()
    env = new_envelope(EncounterCaptured(claim=c, intake_channel="json"), service="charges", tenant_id=TENANT,
                       key=str(c.claim_id))
    data = json.loads(json.dumps(env.data))
    data["claim"]["patient"]["first_name"] = FIRST * 10  # longer than 35 characters
    data["claim"]["patient"]["birth_date"] = f"{LAST}-day"
    bad = env.model_copy(update={"data": data})
    d = decode_record(record(bad.to_bytes(), key=str(c.claim_id).encode()))
    assert d.error.startswith("invalid charges.encounter-captured.v1 data: ")
    assert "data.claim.patient.first_name" in d.error
    assert FIRST not in d.error and LAST not in d.error


# ---------------------------------------------------------------- consumer.dead_letter_row

HEADERS = [("ce_id", b"11111111-1111-4111-8111-111111111111"), ("ce_type", b"org.openrcm.rcm.x.y.v1"),
           ("ce_tenantid", b"tenant-h")]


def test_dead_letter_row_takes_ids_from_headers_when_envelope_did_not_decode():
    rec = record(b"{broken", key=b"claim-1", headers=HEADERS)
    d = decode_record(rec)
    row = dead_letter_row(d, d.error)
    assert row == {
        "topic": TOPIC, "partition": 2, "offset": 41, "key": "claim-1",
        "event_id": "11111111-1111-4111-8111-111111111111", "event_type": "org.openrcm.rcm.x.y.v1",
        "tenant_id": "tenant-h", "reason": d.error, "payload": b"{broken",
    }


def test_dead_letter_row_without_headers_or_envelope_has_no_ids():
    row = dead_letter_row(decode_record(record(b"nope")), "bad")
    assert row["event_id"] is None and row["event_type"] is None and row["tenant_id"] is None
    assert row["key"] is None


def test_dead_letter_row_prefers_the_decoded_envelope():
    claim_id = uuid.uuid4()
    env, _ = envelope_record(ack_event(claim_id), key=str(claim_id))
    rec = record(env.to_bytes(), key=str(claim_id).encode(), headers=HEADERS)  # headers disagree
    row = dead_letter_row(decode_record(rec), "handler failed")
    assert row["event_id"] == str(env.id)
    assert row["event_type"] == env.type
    assert row["tenant_id"] == TENANT
    assert row["reason"] == "handler failed"


def test_dead_letter_row_skips_headers_with_no_value():
    rec = record(b"x", headers=[("ce_tenantid", None), ("ce_tenantid", b"tenant-2")])
    assert dead_letter_row(Decoded(rec, error="e"), "e")["tenant_id"] == "tenant-2"


def test_dead_letter_row_truncates_long_header_values():
    rec = record(b"x", headers=[("ce_type", b"t" * 5000)])
    assert len(dead_letter_row(Decoded(rec, error="e"), "e")["event_type"]) == 200


# ---------------------------------------------------------------- errors.safe_reason


def _person_error() -> ValidationError:
    with pytest.raises(ValidationError) as info:
        Person.model_validate({"first_name": FIRST * 10, "last_name": LAST, "birth_date": LAST, "sex": FIRST})
    return info.value


def test_validation_error_itself_quotes_the_name():
    assert FIRST in str(_person_error())  # so the next test is meaningful


def test_safe_reason_of_validation_error_never_includes_the_name():
    reason = safe_reason(_person_error())
    assert reason.startswith("validation failed: ")
    assert "first_name" in reason and "birth_date" in reason and "sex" in reason
    assert FIRST not in reason and LAST not in reason


def test_safe_reason_of_envelope_and_domain_errors_is_their_message():
    assert safe_reason(EnvelopeError("record has no value")) == "record has no value"
    assert safe_reason(DomainError("claim already submitted")) == "claim already submitted"


def test_safe_reason_of_other_exceptions_is_the_type_only():
    assert safe_reason(ValueError(f"{FIRST} {LAST}")) == "unhandled ValueError"


# ---------------------------------------------------------------- telemetry.JsonFormatter


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, rec: logging.LogRecord) -> None:
        self.lines.append(self.format(rec))


@pytest.fixture
def json_log():
    logger = logging.getLogger(f"test.rcm.{uuid.uuid4().hex}")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    handler = _Capture()
    handler.setFormatter(JsonFormatter("charges"))
    logger.addHandler(handler)
    yield logger, handler.lines
    logger.removeHandler(handler)


def test_log_line_is_json_with_core_fields(json_log):
    logger, lines = json_log
    logger.warning("batch applied")
    out = json.loads(lines[0])
    assert out["level"] == "WARNING"
    assert out["service"] == "charges"
    assert out["logger"] == logger.name
    assert out["msg"] == "batch applied"
    assert "ts" in out


def test_whitelisted_extras_pass_through(json_log):
    logger, lines = json_log
    logger.info("x", extra={"claim_id": "c-1", "count": 3, "tenant_id": "t-1", "duration_ms": 1.5})
    out = json.loads(lines[0])
    assert (out["claim_id"], out["count"], out["tenant_id"], out["duration_ms"]) == ("c-1", 3, "t-1", 1.5)


def test_non_whitelisted_extras_are_dropped(json_log):
    logger, lines = json_log
    logger.info("x", extra={"patient_name": "X", "member_id": "M999", "claim_id": "c-1"})
    out = json.loads(lines[0])
    assert "patient_name" not in out and "member_id" not in out
    assert "M999" not in lines[0]
    assert out["claim_id"] == "c-1"


def test_exception_logs_type_and_location_but_not_the_message(json_log):
    logger, lines = json_log
    try:
        raise ValueError("Jane Doe")
    except ValueError as exc:
        where = traceback.extract_tb(exc.__traceback__)[-1]
        logger.exception("handler failed")
    out = json.loads(lines[0])
    assert out["error"] == "ValueError"
    assert out["error_at"] == f"test_runtime_units.py:{where.lineno}"
    assert "Jane" not in lines[0]
    assert "Traceback" not in lines[0]


def test_line_without_exception_has_no_error_keys(json_log):
    logger, lines = json_log
    logger.info("fine")
    out = json.loads(lines[0])
    assert "error" not in out and "error_at" not in out


# ---------------------------------------------------------------- settings.ServiceSettings


def settings(**kw) -> ServiceSettings:
    return ServiceSettings(service_name="charges", db_schema="charges", **kw)


def test_service_url_finds_the_named_service_and_strips_trailing_slash():
    s = settings(service_urls="sandbox=http://127.0.0.1:8010/, eligibility = http://elig:8000 ")
    assert s.service_url("sandbox") == "http://127.0.0.1:8010"
    assert s.service_url("eligibility") == "http://elig:8000"


def test_service_url_keeps_equals_signs_in_the_url():
    assert settings(service_urls="x=http://h/p?a=1").service_url("x") == "http://h/p?a=1"


def test_service_url_of_unknown_service_raises_key_error():
    s = settings(service_urls="sandbox=http://127.0.0.1:8010")
    with pytest.raises(KeyError, match="submission"):
        s.service_url("submission")


def test_service_url_without_any_urls_raises_key_error():
    with pytest.raises(KeyError):
        settings(service_urls="").service_url("sandbox")


def test_group_id_defaults_to_the_service_name(monkeypatch):
    monkeypatch.delenv("RCM_CONSUMER_GROUP", raising=False)
    assert settings().group_id == "rcm.charges"
    assert settings(consumer_group="custom").group_id == "custom"


# ---------------------------------------------------------------- domain errors raised in a request


async def test_a_domain_error_in_a_request_is_a_422_with_its_reason_never_a_500():
    import httpx
    from fastapi import APIRouter

    from rcm_runtime.app import create_service_app
    from rcm_runtime.errors import Conflict, DomainError, NotFound

    class BadFile(DomainError):
        code = "invalid_file"

        def __init__(self) -> None:
            super().__init__("the file cannot be read (1 problem(s))")
            self.errors = [{"line": 3, "reason": "amount is not a number"}]

    router = APIRouter()

    @router.get("/boom/{kind}")
    async def boom(kind: str):
        raise {"plain": DomainError("refused by a rule"), "file": BadFile(), "missing": NotFound("no such claim"),
               "conflict": Conflict("already released")}[kind]

    app = create_service_app(ServiceSettings(service_name="t", db_schema="t"), title="t", routers=[router])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        plain, bad, missing, conflict = [await client.get(f"/boom/{k}") for k in ("plain", "file", "missing", "conflict")]
    assert (plain.status_code, plain.json()) == (422, {"code": "rejected", "description": "refused by a rule"})
    assert bad.status_code == 422 and bad.json()["code"] == "invalid_file"
    assert bad.json()["errors"] == [{"line": 3, "reason": "amount is not a number"}]
    assert (missing.status_code, missing.json()["code"]) == (404, "not_found")
    assert (conflict.status_code, conflict.json()["code"]) == (409, "conflict")


def test_a_library_repeating_itself_is_logged_once_per_interval_then_says_how_many_were_held():
    import logging

    from rcm_runtime.telemetry import RepeatLimit

    t = [0.0]
    limit = RepeatLimit(every_s=60.0, now=lambda: t[0])

    def record(name: str, msg: str, *args) -> logging.LogRecord:
        return logging.LogRecord(name, logging.ERROR, __file__, 1, msg, args, None)

    connect = "Unable connect to node with id %s: %s"
    assert limit.filter(record("aiokafka", connect, 1, "refused"))
    assert not any(limit.filter(record("aiokafka", connect, 1, "refused")) for _ in range(50))
    # another template, another library logger and our own loggers are not held back
    assert limit.filter(record("aiokafka", "Unable to update metadata from %s", [1]))
    assert limit.filter(record("aiokafka.consumer.fetcher", connect, 1, "refused"))
    assert all(limit.filter(record("rcm.consumer", "waiting it out")) for _ in range(3))
    t[0] = 61.0
    again = record("aiokafka", connect, 1, "refused")
    assert limit.filter(again)
    assert again.getMessage() == "Unable connect to node with id 1: refused (50 like it in the last 60s not logged)"


# ---------------------------------------------------------------- the error shape, served and documented (fuzzing)


def _app_raising_http_errors():
    from fastapi import APIRouter, HTTPException

    from rcm_runtime.app import create_service_app

    router = APIRouter()

    @router.get("/v1/things/{thing_id}")
    async def thing(thing_id: int):
        raise HTTPException(404, detail={"code": "not_found", "description": "no such thing for this tenant"})

    @router.put("/v1/things/{thing_id}")
    async def put_thing(thing_id: int, body: dict[str, int]):
        return body

    return create_service_app(ServiceSettings(service_name="t", db_schema="t"), title="t", routers=[router])


async def test_an_http_exception_answers_the_flat_error_shape_not_a_detail_wrapper():
    # Found by schemathesis: 404s of the read routers and 401s of the auth dependency came as {"detail": {...}}
    # while every other error is {"code", "description"}, breaking the documented error schema.
    import httpx

    app = _app_raising_http_errors()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        raised = await client.get("/v1/things/1")
        unknown_path = await client.get("/v1/nothing-here")
        wrong_method = await client.delete("/v1/things/1")
        not_utf8 = await client.put("/v1/things/1", content=b'{"n": "\xff"}',
                                    headers={"content-type": "application/json"})
    assert (raised.status_code, raised.json()) == (404, {"code": "not_found",
                                                         "description": "no such thing for this tenant"})
    assert (unknown_path.status_code, unknown_path.json()) == (404, {"code": "not_found", "description": "Not Found"})
    assert wrong_method.status_code == 405 and wrong_method.json()["code"] == "method_not_allowed"
    assert "GET" in wrong_method.headers["allow"]  # the framework's headers are kept
    # Found by schemathesis: a JSON body that is not UTF-8 is FastAPI's 400, now documented and in the error shape.
    assert (not_utf8.status_code, not_utf8.json()["code"]) == (400, "bad_request")


def test_every_route_documents_the_common_error_responses_with_the_error_shape():
    # Found by schemathesis: 404, 409 and 503 answered by routes whose OpenAPI listed only 200 and 422 (with
    # FastAPI's {"detail": [...]} schema, which the app never sends).
    spec = _app_raising_http_errors().openapi()
    error_ref = {"$ref": "#/components/schemas/ErrorBody"}
    for path, method in [("/v1/things/{thing_id}", "get"), ("/v1/ops/dead-letters/summary", "get")]:
        responses = spec["paths"][path][method]["responses"]
        for status in ("400", "401", "404", "409", "422", "503"):
            assert responses[status]["content"]["application/json"]["schema"] == error_ref, (path, status)
    assert set(spec["components"]["schemas"]["ErrorBody"]["required"]) == {"code", "description"}
    assert "503" in spec["paths"]["/readyz"]["get"]["responses"]
    assert set(spec["paths"]["/healthz"]["get"]["responses"]) == {"200"}
