"""No PHI in logs, traces or errors: recognisable PHI (made up for this run, so earlier runs cannot hide or fake a
finding) goes through every intake channel, good and broken, and the pipeline runs with tracing on (deploy/test.sh:
RCM_STACK_SPANS=file). Then every log the stack writes (each service's log and spans, Kafka's, PostgreSQL's), every
error body answered and every dead-letter reason is searched for it."""

from __future__ import annotations

import asyncio
import json
import os
import random
import string
import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.support.client import PORTS, ROOT, url
from tests.support.encounters import generate, intake_record, to_fhir_bundle, to_hl7_dft

pytestmark = pytest.mark.e2e  # the `stack` fixture: tests/support/fixtures.py

LOG_DIR = Path(os.environ.get("RCM_STACK_DIR") or ROOT / ".stack") / "logs"
# the services whose consumers handle a settled claim's events: each must have exported spans of this run
TRACED = ("charges", "eligibility", "coding", "scrubber", "submission", "remittance", "patient-billing", "analytics")


def _word(rnd: random.Random, n: int) -> str:
    return rnd.choice(string.ascii_uppercase) + "".join(rnd.choices(string.ascii_lowercase, k=n - 1))


def _phi(rnd: random.Random) -> dict[str, str]:
    """Values no code, fixture or earlier run writes: two names, a member id, a street and a birth date outside the
    generator's range (it draws 1940 onwards)."""
    return {
        "first_name": _word(rnd, 11),
        "last_name": _word(rnd, 13),
        "member_id": f"PHI{rnd.randrange(16 ** 9):09X}",
        "line1": f"{rnd.randint(1000, 9999)} {_word(rnd, 12)} Crescent",
        "birth_date": f"19{rnd.randint(10, 38)}-{rnd.randint(1, 12):02d}-{rnd.randint(1, 28):02d}",
    }


def _with_phi(body: dict, phi: dict[str, str]) -> dict:
    patient = {**body["patient"], "first_name": phi["first_name"], "last_name": phi["last_name"],
               "birth_date": phi["birth_date"], "address": {**body["patient"]["address"], "line1": phi["line1"]}}
    return {**body, "patient": patient, "coverage": {**body["coverage"], "member_id": phi["member_id"]}}


def _needles(phis: list[dict[str, str]]) -> set[str]:
    """Each value as written and as X12 and HL7 write it (upper case names, CCYYMMDD dates)."""
    out = set()
    for phi in phis:
        out |= {phi["first_name"], phi["last_name"], phi["member_id"], phi["line1"], phi["birth_date"],
                phi["birth_date"].replace("-", "")}
    return {n.lower() for n in out}


def _found(haystack: str, needles: set[str]) -> set[str]:
    low = haystack.lower()
    return {n for n in needles if n in low}


def _span_file_sizes() -> dict[str, int]:
    return {svc: (LOG_DIR / f"{svc}.spans.jsonl").stat().st_size if (LOG_DIR / f"{svc}.spans.jsonl").exists() else 0
            for svc in TRACED}


async def _spans_exported(claim_ids: set[str], since: dict[str, int], timeout_s: float = 30.0) -> dict[str, int]:
    """Spans of this run per service, once every traced service has exported some (spans leave in batches, every
    few seconds): consumers' spans name the claim; charges' are its intake requests (before there is a claim)."""
    deadline = time.monotonic() + timeout_s
    while True:
        counts = {}
        for svc in TRACED:
            path = LOG_DIR / f"{svc}.spans.jsonl"
            with path.open(errors="replace") if path.exists() else open(os.devnull) as f:
                f.seek(since[svc])
                lines = f.read().splitlines()
            mine = ('"POST /v1/encounters',) if svc == "charges" else tuple(claim_ids)
            counts[svc] = sum(1 for line in lines if any(m in line for m in mine))
        if all(counts.values()) or time.monotonic() > deadline:
            return counts
        await asyncio.sleep(1.0)


async def test_phi_sent_through_every_channel_appears_in_no_log_span_error_or_dead_letter(stack, admin_engine):
    rnd = random.Random(uuid.uuid4().int)
    source = f"phi-{uuid.uuid4().hex[:10]}"
    started, span_sizes = await _now(admin_engine), _span_file_sizes()
    good = generate(4, seed=rnd.randrange(10 ** 6), source_system=source,
                    scenarios=["copay", "non_covered", "paid", "secondary"])
    phis = [_phi(rnd) for _ in range(len(good) + 4)]
    bodies = [_with_phi(g.body, phi) for g, phi in zip(good, phis)]

    # Good encounters, one through each channel (and the fourth on the intake topic too).
    responses = [await stack.post_json(bodies[0]),
                 await stack.post_fhir(to_fhir_bundle(bodies[1]), source),
                 await stack.http.post(url("charges", "/v1/encounters/hl7v2"), content=to_hl7_dft(bodies[2]).encode(),
                                       headers={"content-type": "x-application/hl7-v2+er7"})]
    assert [r.status_code for r in responses] == [201, 201, 201], [r.text for r in responses]
    await stack.publish_intake([intake_record(bodies[3], tenant_id=stack.tenant_id)])

    # Broken ones, each carrying PHI of its own next to what is wrong: the errors must say what, never echo values.
    broken_json = _with_phi(good[0].body, phis[4])
    broken_json = {**broken_json, "patient": {**broken_json["patient"], "birth_date": phis[4]["first_name"]},
                   "source_encounter_id": f"{source}-broken-json"}
    broken_fhir = to_fhir_bundle({**_with_phi(good[1].body, phis[5]), "source_encounter_id": f"{source}-broken-fhir"})
    for entry in broken_fhir["entry"]:
        if entry["resource"]["resourceType"] == "Patient":
            entry["resource"]["birthDate"] = f"{phis[5]['last_name']}"
    broken_hl7 = to_hl7_dft({**_with_phi(good[2].body, phis[6]), "source_encounter_id": f"{source}-broken-hl7"})
    broken_hl7 = broken_hl7.replace(phis[6]["birth_date"].replace("-", ""), phis[6]["member_id"])  # PID-7 not a date
    errors = [await stack.post_json(broken_json),
              await stack.post_fhir(broken_fhir, source),
              await stack.http.post(url("charges", "/v1/encounters/hl7v2"), content=broken_hl7.encode(),
                                    headers={"content-type": "x-application/hl7-v2+er7"})]
    # A patient's chart number in a URL path (the practice's id of the patient is PHI too): spans name the route.
    mrn = f"MRN{rnd.randrange(16 ** 10):010X}"
    errors.append(await stack.http.put(url("eligibility", f"/v1/patients/{mrn}"),
                                       json={"patient": {"first_name": phis[4]["last_name"]}}))
    assert all(400 <= r.status_code < 500 for r in errors), [(r.status_code, r.text[:300]) for r in errors]
    key, value, headers = intake_record({**_with_phi(good[3].body, phis[7]), "source_encounter_id": f"{source}-bad"},
                                        tenant_id=stack.tenant_id)
    envelope = json.loads(value)
    envelope["data"]["patient"]["birth_date"] = phis[7]["line1"]  # no EncounterSubmitted now: charges dead-letters it
    await stack.publish_intake([(key, json.dumps(envelope).encode(), headers)])

    await stack.wait_settled(source, len(good), timeout_s=120, poll_s=0.5)
    claim_ids = {c["claim_id"] for c in await stack.claims(source)}
    assert len(claim_ids) == len(good)
    spans = await _spans_exported(claim_ids, span_sizes)
    assert all(spans.values()), f"every traced service exports spans of the run's claims: {spans}"
    dead = await _dead_letter_reasons(admin_engine, started)
    assert any("birth_date" in reason for reason in dead), f"the broken intake event is dead-lettered: {dead}"

    needles = _needles(phis) | {mrn.lower()}
    leaks: dict[str, set[str]] = {}
    for r in errors:
        if hit := _found(r.text, needles):
            leaks[f"error body of {r.request.method} {r.request.url.path}"] = hit
    for reason in dead:
        if hit := _found(reason, needles):
            leaks["a dead letter's reason"] = hit
    files = sorted(p for p in LOG_DIR.iterdir() if p.is_file()) + [await _postgres_log(admin_engine)]
    assert {f"{svc}.log" for svc in PORTS} <= {p.name for p in files}
    for path in files:
        if hit := _found(path.read_text(errors="replace"), needles):
            leaks[str(path)] = hit
    assert not leaks, f"PHI found: {leaks}"


async def _now(admin_engine):
    async with admin_engine.connect() as conn:
        return (await conn.execute(text("SELECT now()"))).scalar_one()


async def _dead_letter_reasons(admin_engine, since) -> list[str]:
    async with admin_engine.connect() as conn:
        schemas = (await conn.execute(text(
            "SELECT table_schema FROM information_schema.tables WHERE table_name = 'dead_letters' "
            "AND table_schema = ANY(:names)"), {"names": [s.replace("-", "_") for s in PORTS]})).scalars().all()
        reasons = []
        for schema in schemas:
            reasons += (await conn.execute(text(
                f'SELECT reason FROM "{schema}".dead_letters WHERE created_at >= :since'), {"since": since})).scalars().all()
    return reasons


async def _postgres_log(admin_engine) -> Path:
    async with admin_engine.connect() as conn:
        data_dir = (await conn.execute(text("SELECT current_setting('data_directory')"))).scalar_one()
    return Path(data_dir) / "server.log"
