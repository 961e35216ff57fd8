"""charges' routers in-process (its own create_app, httpx ASGI transport) against the real PostgreSQL, and
its intake consumer through the app's own handlers."""

from __future__ import annotations

import copy
import json
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import text

from rcm_charges.app import create_app
from rcm_charges.db import metadata
from rcm_charges.service import Charges
from rcm_charges.settings import Settings
from rcm_contracts import topics
from rcm_contracts.envelope import new_envelope
from rcm_contracts.events import EncounterSubmitted
from rcm_runtime.clock import FixedClock
from tests.support.api import service_api
from tests.support.encounters import GOOD_NPI, generate, to_fhir_bundle, to_hl7_dft

pytestmark = pytest.mark.integration

AUDITOR = {"user": "biller-1"}  # api.headers(**AUDITOR): a token with this subject
START = datetime(2026, 10, 1, 9, 0, tzinfo=timezone.utc)


def encounter(seed: int = 1, scenario: str = "paid") -> dict:
    return generate(1, seed=seed, scenarios=[scenario], run_id=uuid.uuid4().hex[:8])[0].body


def fhir_two_encounters(body: dict) -> dict:
    """One patient's bundle with two Encounters, each with its own Condition and Procedure resources."""
    bundle = to_fhir_bundle(body)
    first = next(e for e in bundle["entry"] if e["resource"]["resourceType"] == "Encounter")
    second = copy.deepcopy(first)
    second["fullUrl"], second["resource"]["id"] = "urn:uuid:encounter-2", "encounter-2"
    second["resource"]["identifier"][0]["value"] += "-2"
    bundle["entry"].append(second)
    for entry in list(bundle["entry"]):
        if entry["resource"]["resourceType"] in ("Condition", "Procedure"):
            entry["resource"]["encounter"] = {"reference": "urn:uuid:encounter"}
            other = copy.deepcopy(entry)
            other["fullUrl"] += "-2"
            other["resource"]["encounter"] = {"reference": "urn:uuid:encounter-2"}
            bundle["entry"].append(other)
    return bundle


@pytest.fixture
async def api():
    async with service_api(create_app, Settings, metadata) as api:
        yield api


async def submit(api, body: dict, tenant: str = "tenant-a"):
    return await api.client.post("/v1/encounters", json=body, headers=api.headers(tenant))


async def encounter_row(api, claim_id) -> dict | None:
    row = await api.scalar("SELECT row_to_json(e) FROM encounters e WHERE claim_id = :id", id=uuid.UUID(str(claim_id)))
    return row


# ---------------------------------------------------------------- JSON intake
async def test_a_complete_encounter_is_captured_once_and_emits_encounter_captured(api):
    body = encounter(seed=1)
    first = await submit(api, body)
    again = await submit(api, body)

    assert first.status_code == 201 and first.json()["status"] == "captured"
    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    assert again.json()["claim_id"] == first.json()["claim_id"]
    [captured] = await api.outbox_events("encounter-captured")
    claim_id = first.json()["claim_id"]
    assert captured["tenantid"] == "tenant-a" and captured["partitionkey"] == claim_id
    assert captured["data"]["intake_channel"] == "json"
    assert captured["data"]["claim"]["claim_id"] == claim_id
    total = sum(float(line["charge"]) for line in body["lines"])
    assert float(captured["data"]["claim"]["total_charge"]) == total
    row = await encounter_row(api, claim_id)
    assert row["tenant_id"] == "tenant-a" and row["status"] == "captured" and row["intake_channel"] == "json"


async def test_a_secondary_coverage_travels_on_the_captured_claim(api):
    secondary = {"payer_id": "SBX02", "payer_name": "Sandbox Medigap", "member_id": "SUP-5521"}
    resp = await submit(api, {**encounter(seed=3), "secondary_coverage": secondary})
    assert resp.status_code == 201, resp.text
    [captured] = await api.outbox_events("encounter-captured")
    assert {k: captured["data"]["claim"]["secondary_coverage"][k] for k in secondary} == secondary


async def test_an_incomplete_encounter_is_held_with_what_is_missing(api):
    resp = await submit(api, encounter(seed=2, scenario="no_diagnosis"))

    assert resp.status_code == 201
    body = resp.json()
    assert body["status"] == "held" and [m["field"] for m in body["missing"]] == ["diagnoses"]
    [held] = await api.outbox_events("encounter-held")
    assert held["partitionkey"] == body["claim_id"] and held["data"]["missing"][0]["field"] == "diagnoses"
    assert await api.outbox_events("encounter-captured") == []


async def test_a_changed_resend_of_a_held_encounter_becomes_its_next_version(api):
    body = encounter(seed=3, scenario="no_diagnosis")
    held = (await submit(api, body)).json()
    resend = await submit(api, {**body, "diagnoses": ["J069"]})

    assert resend.status_code == 200
    assert resend.json() == {"claim_id": held["claim_id"], "encounter_id": held["encounter_id"], "status": "captured"}
    row = await encounter_row(api, held["claim_id"])
    assert row["version"] == 2 and row["status"] == "captured"
    [captured] = await api.outbox_events("encounter-captured")
    assert captured["data"]["claim"]["diagnoses"] == ["J069"]
    assert await api.scalar("SELECT actor || '/' || action FROM encounter_audit") == "intake/corrected_resend"


async def test_a_changed_resend_of_a_released_claim_is_a_409_and_changes_nothing(api):
    body = encounter(seed=4)
    first = (await submit(api, body)).json()
    resp = await submit(api, {**body, "place_of_service": "22"})

    assert resp.status_code == 409 and resp.json()["code"] == "conflicting_resend"
    assert (await encounter_row(api, first["claim_id"]))["version"] == 1
    assert len(await api.outbox_events()) == 1


async def test_an_invalid_encounter_is_a_422_naming_the_field_without_echoing_the_value(api):
    body = encounter(seed=5)
    body["patient"]["birth_date"] = "1961-13-45"
    resp = await submit(api, body)

    assert resp.status_code == 422 and resp.json()["code"] == "invalid_request"
    assert any(e["field"].endswith("patient.birth_date") for e in resp.json()["errors"])
    assert "1961-13-45" not in resp.text and body["patient"]["last_name"] not in resp.text
    assert await api.scalar("SELECT count(*) FROM encounters") == 0 and await api.outbox_events() == []


@pytest.mark.parametrize("number", [20240115, "20240115", 0])
async def test_a_date_of_service_sent_as_a_number_is_a_422_not_a_day_in_1970(api, number):
    # Found by fuzzing: pydantic read a number as seconds since 1970, so 20240115 was captured as 1970-08-23.
    resp = await submit(api, {**encounter(seed=5), "service_date": number})

    assert resp.status_code == 422 and resp.json()["code"] == "invalid_request"
    assert [e["field"] for e in resp.json()["errors"]] == ["body.service_date"]
    assert await api.scalar("SELECT count(*) FROM encounters") == 0


async def test_every_answer_of_intake_is_documented_a_resend_200_included(api):
    # Found by fuzzing: a resend answers 200, which the OpenAPI of the intake routes (201 only) did not list.
    body = encounter(seed=7)
    first, again = await submit(api, body), await submit(api, body)
    spec = api.app.openapi()["paths"]

    assert (first.status_code, again.status_code) == (201, 200)
    for path in ("/v1/encounters", "/v1/encounters/fhir", "/v1/encounters/hl7v2"):
        assert {"200", "201", "409", "422"} <= set(spec[path]["post"]["responses"]), path


async def test_without_an_api_key_the_answer_is_401_and_nothing_is_captured(api):
    resp = await api.client.post("/v1/encounters", json=encounter(seed=6))
    unknown = await api.client.get("/v1/encounters", headers={"x-api-key": "not-a-key"})

    assert resp.status_code == 401 and resp.json()["code"] == "unauthenticated"
    assert resp.headers["www-authenticate"].startswith('Bearer realm="openrcm", error="invalid_request"')
    assert unknown.status_code == 401 and unknown.json()["description"] == "unknown API key"
    assert await api.scalar("SELECT count(*) FROM encounters") == 0


# ---------------------------------------------------------------- FHIR intake
async def test_a_single_encounter_fhir_bundle_is_captured(api):
    body = encounter(seed=7)
    resp = await api.client.post("/v1/encounters/fhir", content=json.dumps(to_fhir_bundle(body)),
                                 headers=api.headers(**{"content-type": "application/fhir+json"}))

    assert resp.status_code == 201 and resp.json()["status"] == "captured"
    [captured] = await api.outbox_events("encounter-captured")
    assert captured["data"]["intake_channel"] == "fhir"
    assert captured["data"]["claim"]["source_encounter_id"] == body["source_encounter_id"]
    row = await encounter_row(api, resp.json()["claim_id"])
    assert row["source_system"] == "fhir" and row["intake_channel"] == "fhir"


async def test_a_multi_encounter_fhir_bundle_is_captured_per_encounter(api):
    body = encounter(seed=8)
    resp = await api.client.post("/v1/encounters/fhir?source_system=ehr-x",
                                 content=json.dumps(fhir_two_encounters(body)), headers=api.headers())

    assert resp.status_code == 201
    results = resp.json()["encounters"]
    assert [r["status"] for r in results] == ["captured", "captured"]
    captured = await api.outbox_events("encounter-captured")
    assert sorted(e["data"]["claim"]["source_encounter_id"] for e in captured) == \
        sorted([body["source_encounter_id"], body["source_encounter_id"] + "-2"])
    assert await api.scalar("SELECT count(*) FROM encounters WHERE source_system = 'ehr-x'") == 2
    again = await api.client.post("/v1/encounters/fhir?source_system=ehr-x",
                                  content=json.dumps(fhir_two_encounters(body)), headers=api.headers())
    assert again.status_code == 200 and [r["status"] for r in again.json()["encounters"]] == ["duplicate"] * 2


async def test_fhir_that_is_not_json_or_not_an_encounter_is_a_422_and_captures_nothing(api):
    not_json = await api.client.post("/v1/encounters/fhir", content=b"{not json", headers=api.headers())
    body = encounter(seed=9)
    bundle = to_fhir_bundle(body)
    patient = next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient")
    patient["birthDate"] = "19-04-1957"
    bad = await api.client.post("/v1/encounters/fhir", content=json.dumps(bundle), headers=api.headers())

    assert not_json.status_code == 422 and not_json.json()["code"] == "invalid_json"
    assert bad.status_code == 422 and bad.json()["code"] == "invalid_fhir_bundle"
    assert any("birthDate" in e["field"] for e in bad.json()["errors"])
    assert "19-04-1957" not in bad.text and body["patient"]["last_name"] not in bad.text
    assert await api.scalar("SELECT count(*) FROM encounters") == 0


# ---------------------------------------------------------------- HL7 v2 intake
async def test_hl7_dft_messages_are_captured(api):
    first, second = encounter(seed=10), encounter(seed=11)
    text = to_hl7_dft(first) + to_hl7_dft(second)
    resp = await api.client.post("/v1/encounters/hl7v2", content=text.encode(),
                                 headers=api.headers(**{"content-type": "x-application/hl7-v2+er7"}))

    assert resp.status_code == 201
    assert [r["status"] for r in resp.json()["encounters"]] == ["captured", "captured"]
    captured = await api.outbox_events("encounter-captured")
    assert {e["data"]["intake_channel"] for e in captured} == {"hl7v2"}
    assert sorted(e["data"]["claim"]["source_encounter_id"] for e in captured) == \
        sorted([first["source_encounter_id"], second["source_encounter_id"]])


async def test_hl7_with_a_non_npi_performer_is_held_naming_the_field_not_refused(api):
    body = encounter(seed=14)
    text = to_hl7_dft(body).replace(f"|{body['rendering_provider']['npi']}^Demo^Dana", "|123456789^Demo^Dana")
    resp = await api.client.post("/v1/encounters/hl7v2", content=text.encode(), headers=api.headers())

    assert resp.status_code == 201, resp.text
    [result] = resp.json()["encounters"]
    assert result["status"] == "held"
    [issue] = [m for m in result["missing"] if m["field"] == "rendering_provider.npi"]  # one finding for the field
    assert issue["reason"].startswith("FT1[1].20: ") and "123456789" not in resp.text
    assert len(await api.outbox_events("encounter-held")) == 1


async def test_hl7_without_a_message_or_with_a_bad_one_is_a_422_and_captures_nothing(api):
    empty = await api.client.post("/v1/encounters/hl7v2", content=b"\r\n", headers=api.headers())
    not_hl7 = await api.client.post("/v1/encounters/hl7v2", content=b"hello", headers=api.headers())
    good, bad = encounter(seed=12), encounter(seed=13)
    bad_text = to_hl7_dft(bad).replace(bad["patient"]["birth_date"].replace("-", ""), "19991399")
    rejected = await api.client.post("/v1/encounters/hl7v2", content=(to_hl7_dft(good) + bad_text).encode(),
                                     headers=api.headers())

    assert empty.status_code == 422 and empty.json()["code"] == "invalid_hl7"
    assert not_hl7.status_code == 422 and not_hl7.json()["errors"][0]["message"] == 1  # text before any MSH
    assert rejected.status_code == 422 and rejected.json()["code"] == "invalid_hl7_dft"
    assert rejected.json()["errors"] == [{"message": 2, "field": "PID-7", "reason": "must be a date YYYYMMDD"}]
    assert await api.scalar("SELECT count(*) FROM encounters") == 0 and await api.outbox_events() == []


# ---------------------------------------------------------------- completeness review (audited)
async def test_fixing_a_held_encounter_releases_it_and_is_audited(api):
    held = (await submit(api, encounter(seed=14, scenario="no_diagnosis"))).json()
    resp = await api.client.patch(f"/v1/encounters/{held['claim_id']}", json={"diagnoses": ["I10"]},
                                  headers=api.headers(**AUDITOR))

    assert resp.status_code == 200 and resp.json()["status"] == "captured"
    [captured] = await api.outbox_events("encounter-captured")
    assert captured["partitionkey"] == held["claim_id"] and captured["data"]["claim"]["diagnoses"] == ["I10"]
    audit = await api.client.get(f"/v1/encounters/{held['claim_id']}/audit", headers=api.headers())
    [change] = audit.json()["changes"]
    assert audit.status_code == 200
    assert (change["actor"], change["action"], change["version"]) == ("biller-1", "fixed", 2)
    assert change["before"]["diagnoses"] == [] and change["after"]["diagnoses"] == ["I10"]


async def test_fixing_answers_404_409_and_422_as_it_should(api):
    held = (await submit(api, encounter(seed=15, scenario="no_diagnosis"))).json()
    released = (await submit(api, encounter(seed=16))).json()
    fix = lambda claim_id, changes, tenant="tenant-a", **h: api.client.patch(  # noqa: E731
        f"/v1/encounters/{claim_id}", json=changes, headers=api.headers(tenant, **h))

    unknown = await fix(uuid.uuid4(), {"diagnoses": ["I10"]}, **AUDITOR)
    theirs = await fix(held["claim_id"], {"diagnoses": ["I10"]}, "tenant-b", **AUDITOR)
    closed = await fix(released["claim_id"], {"diagnoses": ["I10"]}, **AUDITOR)
    invalid = await fix(held["claim_id"], {"service_date": "2026-02-31"}, **AUDITOR)
    anonymous = await api.client.patch(f"/v1/encounters/{held['claim_id']}", json={"diagnoses": ["I10"]},
                                       headers={"X-User": "biller-1"})  # a name is no credential

    assert unknown.status_code == 404 and theirs.status_code == 404
    assert closed.status_code == 409 and closed.json()["code"] == "not_open"
    assert invalid.status_code == 422 and invalid.json()["code"] == "invalid_encounter"
    assert "service_date" in invalid.json()["description"] and "2026-02-31" not in invalid.text
    assert anonymous.status_code == 401
    row = await encounter_row(api, held["claim_id"])
    assert row["status"] == "held" and row["version"] == 1
    assert await api.scalar("SELECT count(*) FROM encounter_audit") == 0


async def test_the_audit_trail_is_only_the_callers(api):
    held = (await submit(api, encounter(seed=17, scenario="no_diagnosis"))).json()
    await api.client.patch(f"/v1/encounters/{held['claim_id']}", json={"diagnoses": ["I10"]},
                           headers=api.headers(**AUDITOR))

    theirs = await api.client.get(f"/v1/encounters/{held['claim_id']}/audit", headers=api.headers("tenant-b"))
    assert theirs.status_code == 200 and theirs.json()["changes"] == []


# ---------------------------------------------------------------- charge lag and late charges
async def test_charge_lag_holds_a_complete_encounter_open_until_the_clock_passes_it():
    clock = FixedClock(START)
    async with service_api(create_app, Settings, metadata, clock=clock, charge_lag_s=600) as api:
        charges: Charges = api.app.state.runtime.services[Charges]
        opened = await submit(api, encounter(seed=18))
        claim_id = opened.json()["claim_id"]
        assert opened.status_code == 201 and opened.json()["status"] == "open"
        row = await encounter_row(api, claim_id)
        assert datetime.fromisoformat(row["release_after"]) == START + timedelta(seconds=600)

        late = await api.client.post(f"/v1/encounters/{claim_id}/lines", headers=api.headers(**AUDITOR),
                                     json=[{"procedure_code": "36415", "units": "1", "charge": "20.00"}])
        assert late.status_code == 200 and late.json()["status"] == "open"
        clock.advance(timedelta(seconds=599))
        assert await charges.release_due() == 0
        assert await api.outbox_events() == []

        clock.advance(timedelta(seconds=2))
        await charges.release_due()  # the app's own release loop may have taken it first: either way, once
        assert await charges.release_due() == 0
        [captured] = await api.outbox_events("encounter-captured")
        assert captured["tenantid"] == "tenant-a" and captured["partitionkey"] == claim_id
        assert captured["data"]["claim"]["lines"][-1]["procedure_code"] == "36415"
        row = await encounter_row(api, claim_id)
        assert row["status"] == "captured"
        assert datetime.fromisoformat(row["released_at"]) == START + timedelta(seconds=601)
        assert await api.scalar("SELECT actor || '/' || action FROM encounter_audit") == "biller-1/late_charge"


async def test_late_charges_answer_404_409_and_422_as_they_should(api):
    released = (await submit(api, encounter(seed=19))).json()
    held = (await submit(api, encounter(seed=20, scenario="no_diagnosis"))).json()
    line = [{"procedure_code": "36415", "units": "1", "charge": "20.00"}]
    add = lambda claim_id, lines, tenant="tenant-a": api.client.post(  # noqa: E731
        f"/v1/encounters/{claim_id}/lines", json=lines, headers=api.headers(tenant, **AUDITOR))

    added = await add(held["claim_id"], line)
    theirs = await add(held["claim_id"], line, "tenant-b")
    closed = await add(released["claim_id"], line)
    negative = await add(held["claim_id"], [{"procedure_code": "36415", "charge": "-5.00"}])

    assert added.status_code == 200 and added.json()["status"] == "held"
    assert theirs.status_code == 404 and closed.status_code == 409 and closed.json()["code"] == "not_open"
    assert negative.status_code == 422 and any(e["field"].endswith("charge") for e in negative.json()["errors"])
    row = await encounter_row(api, held["claim_id"])
    assert row["version"] == 2 and [ln["procedure_code"] for ln in row["submission"]["lines"]][-1] == "36415"
    assert await api.scalar("SELECT count(*) FROM encounter_audit") == 1


# ---------------------------------------------------------------- chargemaster
CSV = "code,modifier,price,effective_from,effective_to\n99213,,123.45,2026-01-01,\n36415,,9.99,2026-01-01,\n"


async def test_chargemaster_import_lists_and_prices_lines_sent_without_a_charge(api):
    imported = await api.client.post("/v1/chargemaster", content=CSV.encode(),
                                     headers=api.headers(**{"content-type": "text/csv"}))
    listed = await api.client.get("/v1/chargemaster", headers=api.headers())
    one = await api.client.get("/v1/chargemaster?code=36415", headers=api.headers())
    theirs = await api.client.get("/v1/chargemaster", headers=api.headers("tenant-b"))

    assert imported.status_code == 200 and imported.json() == {"imported": 2}
    assert [(i["code"], i["price"]) for i in listed.json()["items"]] == [("36415", "9.99"), ("99213", "123.45")]
    assert [i["code"] for i in one.json()["items"]] == ["36415"]
    assert theirs.json()["items"] == []

    body = encounter(seed=21)
    body["lines"] = [{"procedure_code": "99213", "units": "2", "diagnosis_pointers": [1]}]
    priced = await submit(api, body)
    assert priced.json()["status"] == "captured"
    [captured] = await api.outbox_events("encounter-captured")
    assert captured["data"]["claim"]["lines"][0]["charge"] == "246.90"  # 123.45 x 2 units


async def test_chargemaster_replace_drops_the_tenants_other_rows(api):
    await api.client.post("/v1/chargemaster", content=CSV.encode(), headers=api.headers())
    await api.client.post("/v1/chargemaster", content=CSV.encode(), headers=api.headers("tenant-b"))
    replaced = await api.client.post("/v1/chargemaster?replace=true", headers=api.headers(),
                                     content=b"code,price,effective_from\n99214,200.00,2026-01-01\n")

    assert replaced.json() == {"imported": 1}
    assert [i["code"] for i in (await api.client.get("/v1/chargemaster", headers=api.headers())).json()["items"]] == \
        ["99214"]
    assert await api.scalar("SELECT count(*) FROM chargemaster_items WHERE tenant_id = 'tenant-b'") == 2


async def test_a_bad_chargemaster_is_a_422_listing_every_row_and_imports_nothing(api):
    bad = await api.client.post("/v1/chargemaster", headers=api.headers(),
                                content=b"code,price,effective_from\n99213,abc,2026-01-01\n99214,10.00,2026-13-01\n")
    no_header = await api.client.post("/v1/chargemaster", headers=api.headers(), content=b"code,modifier\n99213,25\n")
    not_utf8 = await api.client.post("/v1/chargemaster", headers=api.headers(), content=b"\xff\xfe\x00code")
    too_long = await api.client.get("/v1/chargemaster?limit=0", headers=api.headers())

    assert bad.status_code == 422 and bad.json()["code"] == "invalid_chargemaster"
    assert [e["field"] for e in bad.json()["errors"]] == ["row 2", "row 3"]
    assert no_header.status_code == 422 and no_header.json()["errors"][0]["field"] == "header"
    assert not_utf8.status_code == 422 and not_utf8.json()["code"] == "invalid_csv"
    assert too_long.status_code == 422 and too_long.json()["errors"][0]["field"] == "query.limit"
    assert await api.scalar("SELECT count(*) FROM chargemaster_items") == 0


async def test_a_chargemaster_with_a_row_twice_is_a_422_not_a_server_error(api):
    resp = await api.client.post("/v1/chargemaster", headers=api.headers(),
                                 content=b"code,price,effective_from\n99213,10.00,2026-01-01\n99213,12.00,2026-01-01\n")

    assert resp.status_code == 422 and resp.json()["code"] == "invalid_chargemaster"
    assert resp.json()["errors"] == [{"field": "row 3", "reason": "same code, modifier and effective_from as row 2"}]
    assert await api.scalar("SELECT count(*) FROM chargemaster_items") == 0


# ---------------------------------------------------------------- tenant settings and provider profiles
async def test_default_billing_provider_is_set_applied_and_cleared(api):
    provider = {"npi": GOOD_NPI, "name": "Group Practice", "tax_id": "987654321"}
    before = await api.client.get("/v1/settings/default-billing-provider", headers=api.headers())
    put = await api.client.put("/v1/settings/default-billing-provider", json=provider, headers=api.headers(**AUDITOR))
    got = await api.client.get("/v1/settings/default-billing-provider", headers=api.headers())
    theirs = await api.client.get("/v1/settings/default-billing-provider", headers=api.headers("tenant-b"))

    assert before.status_code == 404 and before.json()["code"] == "not_configured"
    assert put.status_code == 200 and put.json()["updated_by"] == "biller-1"
    assert put.json()["default_billing_provider"]["npi"] == GOOD_NPI
    assert got.status_code == 200 and got.json()["default_billing_provider"]["tax_id"] == "987654321"
    assert theirs.status_code == 404

    body = encounter(seed=22)
    del body["billing_provider"]
    assert (await submit(api, body)).json()["status"] == "captured"
    [captured] = await api.outbox_events("encounter-captured")
    assert captured["data"]["claim"]["billing_provider"]["name"] == "Group Practice"

    deleted = await api.client.delete("/v1/settings/default-billing-provider", headers=api.headers(**AUDITOR))
    assert deleted.status_code == 204
    assert (await api.client.get("/v1/settings/default-billing-provider", headers=api.headers())).status_code == 404
    body = encounter(seed=23)
    del body["billing_provider"]
    assert (await submit(api, body)).json()["status"] == "held"


async def test_default_billing_provider_needs_a_ten_digit_npi_and_an_admin(api):
    bad_npi = await api.client.put("/v1/settings/default-billing-provider", json={"npi": "12345"},
                                   headers=api.headers(**AUDITOR))
    biller = api.headers(**AUDITOR, roles=["biller"])
    not_admin = await api.client.put("/v1/settings/default-billing-provider", json={"npi": GOOD_NPI}, headers=biller)
    not_admin_delete = await api.client.delete("/v1/settings/default-billing-provider", headers=biller)

    assert bad_npi.status_code == 422 and any(e["field"] == "body.npi" for e in bad_npi.json()["errors"])
    assert not_admin.status_code == 403 and not_admin.json()["permission"] == "settings.write"
    assert not_admin_delete.status_code == 403
    assert await api.scalar("SELECT count(*) FROM tenant_settings") == 0


async def test_provider_profiles_are_enrolled_listed_per_tenant_and_fill_encounters(api):
    profile = {"npi": GOOD_NPI, "name": "Enrolled Practice", "tax_id": "111222333", "taxonomy": "207Q00000X",
               "address": {"line1": "1 Clinic Way", "city": "Springfield", "state": "IL", "postal_code": "627011234"}}
    put = await api.client.put(f"/v1/provider-profiles/{GOOD_NPI}", json=profile, headers=api.headers(**AUDITOR))
    mine = await api.client.get("/v1/provider-profiles", headers=api.headers())
    theirs = await api.client.get("/v1/provider-profiles", headers=api.headers("tenant-b"))

    assert put.status_code == 200 and put.json()["taxonomy"] == "207Q00000X"
    [listed] = mine.json()["providers"]
    assert listed["npi"] == GOOD_NPI and listed["updated_by"] == "biller-1" and listed["provider"]["tax_id"] == "111222333"
    assert theirs.json() == {"providers": []}

    body = encounter(seed=24)
    body["billing_provider"] = {"npi": GOOD_NPI}
    assert (await submit(api, body)).json()["status"] == "captured"
    [captured] = await api.outbox_events("encounter-captured")
    billing = captured["data"]["claim"]["billing_provider"]
    assert billing["tax_id"] == "111222333" and billing["address"]["postal_code"] == "627011234"


async def test_provider_profile_path_and_body_must_name_the_same_npi(api):
    mismatch = await api.client.put("/v1/provider-profiles/1982749354", json={"npi": GOOD_NPI},
                                    headers=api.headers(**AUDITOR))
    front_desk = await api.client.put(f"/v1/provider-profiles/{GOOD_NPI}", json={"npi": GOOD_NPI},
                                      headers=api.headers(**AUDITOR, roles=["front_desk"]))

    assert mismatch.status_code == 422 and mismatch.json()["code"] == "npi_mismatch"
    assert front_desk.status_code == 403  # enrolling providers is an admin's
    assert await api.scalar("SELECT count(*) FROM provider_profiles") == 0


# ---------------------------------------------------------------- reads
async def test_a_claim_and_the_encounter_queue_are_read_only_by_their_tenant(api):
    captured = (await submit(api, encounter(seed=25))).json()
    held = (await submit(api, encounter(seed=26, scenario="no_diagnosis"))).json()

    mine = await api.client.get(f"/v1/claims/{captured['claim_id']}", headers=api.headers())
    theirs = await api.client.get(f"/v1/claims/{captured['claim_id']}", headers=api.headers("tenant-b"))
    queue = await api.client.get("/v1/encounters?status=held", headers=api.headers())
    everything = await api.client.get("/v1/encounters", headers=api.headers())
    their_queue = await api.client.get("/v1/encounters", headers=api.headers("tenant-b"))
    bad_limit = await api.client.get("/v1/encounters?limit=5000", headers=api.headers())

    assert mine.status_code == 200 and mine.json()["status"] == "captured"
    assert mine.json()["claim"]["claim_id"] == captured["claim_id"]
    assert theirs.status_code == 404
    assert queue.json()["total"] == 1 and queue.json()["items"][0]["claim_id"] == held["claim_id"]
    assert everything.json()["total"] == 2 and their_queue.json() == {"total": 0, "items": []}
    assert bad_limit.status_code == 422


# ---------------------------------------------------------------- intake consumer
async def test_encounters_from_the_intake_topic_are_captured_with_the_event_as_cause(api):
    complete, incomplete = encounter(seed=27), encounter(seed=28, scenario="no_diagnosis")
    applier = await api.consume((EncounterSubmitted.model_validate(complete), "tenant-a", "k-1"),
                                (EncounterSubmitted.model_validate(incomplete), "tenant-b", "k-2"))

    assert applier.applied == 2 and applier.dead_lettered == 0
    [captured] = await api.outbox_events("encounter-captured")
    [held] = await api.outbox_events("encounter-held")
    assert captured["tenantid"] == "tenant-a" and held["tenantid"] == "tenant-b"
    assert captured["causationid"] is not None and captured["data"]["intake_channel"] == "kafka"
    claim_id = captured["partitionkey"]
    row = await encounter_row(api, claim_id)
    assert row["tenant_id"] == "tenant-a" and row["intake_channel"] == "kafka" and row["status"] == "captured"
    assert await api.scalar("SELECT status FROM encounters WHERE tenant_id = 'tenant-b'") == "held"


async def test_an_event_on_a_tenants_intake_topic_claiming_another_tenant_is_dead_lettered(api):
    """tenant-a's integrator alone may write tenant-a's topic (the broker's ACLs): a record there naming tenant-b
    is refused whole, with a reason that names no patient data, and nothing of it is applied."""
    applier = await api.consume((EncounterSubmitted.model_validate(encounter(seed=31)), "tenant-b", "k-1"),
                                (EncounterSubmitted.model_validate(encounter(seed=32)), "tenant-a", "k-2"),
                                topic=topics.intake_topic("tenant-a"))

    assert applier.applied == 1 and applier.dead_lettered == 1
    assert await api.scalar("SELECT count(*) FROM encounters WHERE tenant_id = 'tenant-b'") == 0
    assert await api.scalar("SELECT count(*) FROM encounters WHERE tenant_id = 'tenant-a'") == 1
    reason = await api.scalar("SELECT reason FROM dead_letters")
    assert reason == "tenantid: differs from the tenant of its intake topic"


async def test_a_redelivered_intake_event_is_applied_once(api):
    env = new_envelope(EncounterSubmitted.model_validate(encounter(seed=29)), service="intake", tenant_id="tenant-a",
                       key="k-1")
    first = await api.consume(env, env)
    again = await api.consume(env)

    assert (first.applied, first.duplicates) == (1, 1) and (again.applied, again.duplicates) == (0, 1)
    assert len(await api.outbox_events("encounter-captured")) == 1
    assert await api.scalar("SELECT count(*) FROM encounters") == 1
    assert str(await api.scalar("SELECT event_id FROM inbox")) == str(env.id)



async def test_an_unchanged_resend_of_an_encounter_stored_before_a_contract_upgrade_is_a_duplicate(api):
    """The content hash covers every field of today's contract (new optional fields too): an encounter stored by an
    older release hashes differently, yet an unchanged resend must not become a 409 or a new version."""
    body = encounter(seed=12)
    first = await submit(api, body)
    async with api.engine.begin() as conn:
        await conn.execute(text("UPDATE encounters SET content_hash = 'hash-of-an-older-release' WHERE claim_id = :id"),
                           {"id": uuid.UUID(first.json()["claim_id"])})

    again = await submit(api, body)
    changed = await submit(api, {**body, "lines": [{**body["lines"][0], "charge": "999.00"}]})

    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    assert changed.status_code == 409


async def test_a_held_hl7_encounter_with_an_invalid_performer_is_released_once_the_npi_is_supplied(api):
    body = encounter(seed=15)
    text = to_hl7_dft(body).replace(f"|{body['rendering_provider']['npi']}^Demo^Dana", "|a.doc@example.org^Demo^Dana")
    [held] = (await api.client.post("/v1/encounters/hl7v2", content=text.encode(), headers=api.headers())).json()[
        "encounters"]
    assert held["status"] == "held" and [m["field"] for m in held["missing"]] == ["rendering_provider.npi"]

    fixed = await api.client.patch(f"/v1/encounters/{held['claim_id']}", headers=api.headers(),
                                   json={"rendering_provider": {"npi": GOOD_NPI, "name": "Dana Demo"}})

    assert fixed.status_code == 200 and fixed.json()["status"] == "captured", fixed.text
