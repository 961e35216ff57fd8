"""Encounter intake through charges' API is a money change recorded with the claims it captured; a machine client
(API key) is recorded as `apikey:<digest prefix>`, kind api_key (rcm_runtime.audit)."""

from __future__ import annotations

import uuid

import pytest

from rcm_charges.app import create_app
from rcm_charges.db import metadata
from rcm_charges.settings import Settings
from rcm_runtime.api_keys import digest
from tests.support.api import service_api
from tests.support.encounters import generate

pytestmark = pytest.mark.integration


async def test_an_intake_by_api_key_names_the_key_and_the_claims_it_captured():
    async with service_api(create_app, Settings, metadata) as api:
        body = generate(1, seed=7, scenarios=["paid"], run_id=uuid.uuid4().hex[:8])[0].body
        resp = await api.client.post("/v1/encounters", json=body, headers={"x-api-key": "key-a"})
        assert resp.status_code == 201, resp.text
        listed = await api.client.get("/v1/audit", headers=api.headers(user="audrey", roles=["auditor"]))
        [row] = listed.json()["items"]
        assert (row["actor"], row["actor_kind"], row["roles"], row["category"], row["action"], row["resource_type"],
                row["resource_ids"], row["outcome"], row["status"]) == (
            f"apikey:{digest('key-a')[:8]}", "api_key", ["admin"], "money", "encounter.submit", "claim",
            [resp.json()["claim_id"]], "allowed", 201)
