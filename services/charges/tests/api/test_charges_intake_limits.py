"""Bounded intake on charges' real endpoints (rcm_runtime.body_limits, rcm_runtime.rate_limits), in-process
against the real PostgreSQL: oversized bodies are 413 before they are read whole, a patient's 10 MB FHIR history
export still goes through, and each client's intake is rate limited (429 with Retry-After)."""

from __future__ import annotations

import base64
import copy
import json
import tracemalloc
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from rcm_charges.app import create_app
from rcm_charges.db import metadata
from rcm_charges.settings import Settings
from rcm_runtime.clock import FixedClock
from tests.support.api import service_api
from tests.support.encounters import generate, to_fhir_bundle

pytestmark = pytest.mark.integration

MiB = 1 << 20
CHUNK = 64 * 1024
NOW = datetime(2026, 10, 1, 9, 0, tzinfo=timezone.utc)


def encounter(seed: int = 1) -> dict:
    return generate(1, seed=seed, scenarios=["paid"], run_id=uuid.uuid4().hex[:8])[0].body


def patient_history(body: dict, encounters: int, note_bytes: int) -> dict:
    """One patient's export as Synthea writes it: every visit an Encounter with its Condition, Procedure and the
    visit's clinical note (a DocumentReference carrying the note as base64, which makes such files large)."""
    bundle = to_fhir_bundle(body)
    shared = [e for e in bundle["entry"] if e["resource"]["resourceType"] not in ("Encounter", "Condition", "Procedure")]
    template = {t: next(e for e in bundle["entry"] if e["resource"]["resourceType"] == t)
                for t in ("Encounter", "Condition", "Procedure")}
    note = base64.b64encode(b"Subjective: follow-up visit. Objective: stable. Plan: continue. " * (note_bytes // 64))
    entries = list(shared)
    for i in range(encounters):
        enc = copy.deepcopy(template["Encounter"])
        enc["fullUrl"], enc["resource"]["id"] = f"urn:uuid:encounter-{i}", f"encounter-{i}"
        enc["resource"]["identifier"][0]["value"] += f"-{i}"
        entries.append(enc)
        for kind in ("Condition", "Procedure"):
            part = copy.deepcopy(template[kind])
            part["fullUrl"] = f"urn:uuid:{kind.lower()}-{i}"
            part["resource"]["encounter"] = {"reference": enc["fullUrl"]}
            entries.append(part)
        entries.append({"fullUrl": f"urn:uuid:note-{i}", "resource": {
            "resourceType": "DocumentReference", "status": "current",
            "subject": {"reference": "urn:uuid:patient"}, "context": {"encounter": [{"reference": enc["fullUrl"]}]},
            "content": [{"attachment": {"contentType": "text/plain", "data": note.decode()}}]}})
    return {**bundle, "type": "collection", "entry": entries}


async def chunks(total: int, pulled: list[int]):
    """`total` bytes made as they are sent, 64 KiB at a time (no Content-Length: chunked)."""
    sent = 0
    while sent < total:
        n = min(CHUNK, total - sent)
        sent += n
        pulled.append(n)
        yield b" " * n


def assert_too_large(resp, limit: int) -> None:
    assert resp.status_code == 413, resp.text[:300]
    assert resp.json() == {"code": "payload_too_large", "description": (
        f"the request body is larger than this endpoint takes ({limit / MiB:g} MiB, {limit} bytes)")}


async def captured(api) -> int:
    return await api.scalar("SELECT count(*) FROM encounters")


async def test_a_50_mb_json_body_is_refused_without_being_read_whole():
    async with service_api(create_app, Settings, metadata) as api:
        limit = api.settings.max_body_bytes
        pulled: list[int] = []
        tracemalloc.start()
        try:
            resp = await api.client.post("/v1/encounters", content=chunks(50 * MiB, pulled),
                                         headers=api.headers(**{"content-type": "application/json"}))
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert_too_large(resp, limit)
        assert sum(pulled) <= limit + CHUNK  # the rest of the 50 MB was never asked for
        assert peak < 16 * MiB, f"peak {peak / MiB:.1f} MiB while refusing a 50 MiB body"

        pulled.clear()
        declared = await api.client.post("/v1/encounters/fhir", content=chunks(50 * MiB, pulled),
                                         headers=api.headers(**{"content-length": str(50 * MiB)}))
        assert_too_large(declared, api.settings.max_file_body_bytes)
        assert pulled == []  # refused on its Content-Length: not a byte read
        assert await captured(api) == 0


async def test_a_chunked_fhir_bundle_over_the_file_limit_is_refused_and_captures_nothing():
    async with service_api(create_app, Settings, metadata, max_file_body_bytes=2 * MiB) as api:
        pulled: list[int] = []
        resp = await api.client.post("/v1/encounters/fhir", content=chunks(5 * MiB, pulled), headers=api.headers())
        assert_too_large(resp, 2 * MiB)
        assert 2 * MiB < sum(pulled) <= 2 * MiB + CHUNK
        hl7 = await api.client.post("/v1/encounters/hl7v2", content=chunks(3 * MiB, []), headers=api.headers())
        assert_too_large(hl7, 2 * MiB)
        assert await captured(api) == 0

        small = await api.client.post("/v1/encounters/fhir", json=to_fhir_bundle(encounter()), headers=api.headers())
        assert small.status_code == 201 and await captured(api) == 1


async def test_a_10_mb_fhir_history_of_300_encounters_is_captured():
    body = encounter(seed=7)
    bundle = json.dumps(patient_history(body, 300, note_bytes=26_000)).encode()
    assert 10 * MiB <= len(bundle) < 12 * MiB
    async with service_api(create_app, Settings, metadata) as api:
        assert len(bundle) > api.settings.max_body_bytes  # needs the file intake limit
        resp = await api.client.post("/v1/encounters/fhir?source_system=ehr-history", content=bundle,
                                     headers=api.headers(**{"content-type": "application/fhir+json"}))
        assert resp.status_code == 201, resp.text[:500]
        assert len(resp.json()["encounters"]) == 300
        assert await captured(api) == 300


async def test_each_client_is_rate_limited_on_intake_with_retry_after():
    clock = FixedClock(NOW)
    async with service_api(create_app, Settings, metadata, clock=clock, intake_rate_per_s=0.5, intake_burst=2) as api:
        sent = [await api.client.post("/v1/encounters", json=encounter(seed=i), headers=api.headers())
                for i in range(3)]
        assert [r.status_code for r in sent] == [201, 201, 429]
        assert sent[2].headers["retry-after"] == "2"  # one token every 2 s
        assert sent[2].json()["code"] == "rate_limited"
        assert await captured(api) == 2

        # the other channels share the client's bucket; another client has its own; no key is a 401, not a 429
        fhir = await api.client.post("/v1/encounters/fhir", json=to_fhir_bundle(encounter(seed=9)),
                                     headers=api.headers())
        assert fhir.status_code == 429
        assert (await api.client.post("/v1/encounters", json=encounter(seed=10),
                                      headers=api.headers("tenant-b"))).status_code == 201
        assert (await api.client.post("/v1/encounters", json=encounter(seed=11))).status_code == 401
        # reads and reviews are not intake
        assert (await api.client.get("/v1/encounters", headers=api.headers())).status_code == 200

        clock.at = NOW + timedelta(seconds=2)
        assert (await api.client.post("/v1/encounters", json=encounter(seed=12), headers=api.headers())).status_code == 201
        assert await captured(api) == 4


async def test_the_openapi_documents_each_routes_body_limit_and_rate_limit():
    async with service_api(create_app, Settings, metadata, max_file_body_bytes=16 * MiB) as api:
        paths = api.app.openapi()["paths"]
    fhir = paths["/v1/encounters/fhir"]["post"]["responses"]
    assert fhir["413"]["description"] == "payload_too_large: the body is over 16 MiB (RCM_MAX_FILE_BODY_BYTES)"
    assert "Retry-After" in fhir["429"]["headers"]
    review = paths["/v1/encounters/{claim_id}"]["patch"]["responses"]
    assert review["413"]["description"] == "payload_too_large: the body is over 1 MiB (RCM_MAX_BODY_BYTES)"
    assert "429" not in review  # not intake
    assert "413" not in paths["/v1/encounters"]["get"]["responses"]  # no body
