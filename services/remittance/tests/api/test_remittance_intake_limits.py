"""Bounded intake on remittance's real endpoints, in-process against the real PostgreSQL: an 835 larger than the
file intake limit is 413 and stores nothing; 835 and JSON ERA uploads share each client's rate limit (429)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from rcm_remittance.app import create_app
from rcm_remittance.db import metadata
from rcm_remittance.settings import Settings
from rcm_runtime.clock import FixedClock
from tests.support.api import service_api
from tests.support.era835 import check, clp, era, svc

pytestmark = pytest.mark.integration

X12 = {"content-type": "application/edi-x12"}
NOW = datetime(2026, 11, 2, 12, 0, tzinfo=timezone.utc)


def file_835(claims: int, isa13: str = "000000901") -> bytes:
    return era(check([clp(f"PCN-{i}", "100.00", "80.00", lines=[svc("99213", "100.00", "80.00",
                                                                    cas=[("CO", "45", "20.00")])])
                      for i in range(claims)]), isa13=isa13).encode()


async def test_an_835_over_the_file_limit_is_413_and_nothing_is_stored():
    async with service_api(create_app, Settings, metadata, max_file_body_bytes=64 * 1024) as api:
        big, small = file_835(1000), file_835(3, isa13="000000902")
        assert len(big) > 64 * 1024 > len(small)
        refused = await api.client.post("/v1/remittances/x12", content=big, headers=api.headers(**X12))
        assert refused.status_code == 413 and refused.json()["code"] == "payload_too_large"
        assert "64 KiB, 65536 bytes" in refused.json()["description"]

        async def chunked():
            for i in range(0, len(big), 8192):
                yield big[i:i + 8192]

        streamed = await api.client.post("/v1/remittances/x12", content=chunked(), headers=api.headers(**X12))
        assert streamed.status_code == 413
        assert await api.scalar("SELECT count(*) FROM remittance_files") == 0

        posted = await api.client.post("/v1/remittances/x12", content=small, headers=api.headers(**X12))
        assert posted.status_code == 200, posted.text[:300]
        assert await api.scalar("SELECT count(*) FROM remittance_files") == 1


async def test_era_uploads_share_each_clients_intake_rate_limit():
    clock = FixedClock(NOW)
    async with service_api(create_app, Settings, metadata, clock=clock, intake_rate_per_s=0.1, intake_burst=1) as api:
        first = await api.client.post("/v1/remittances/x12", content=file_835(1), headers=api.headers(**X12))
        assert first.status_code == 200
        second = await api.client.post("/v1/remittances/x12", content=file_835(1, "000000902"),
                                       headers=api.headers(**X12))
        assert second.status_code == 429 and second.headers["retry-after"] == "10"
        assert second.json()["code"] == "rate_limited"
        as_json = await api.client.post("/v1/remittances", json={"payer_id": "SANDBOX1", "claims": []},
                                        headers=api.headers())
        assert as_json.status_code == 429
        assert (await api.client.get("/v1/remittances", headers=api.headers())).status_code == 200  # not intake
        assert await api.scalar("SELECT count(*) FROM remittance_files") == 1

        clock.at = NOW + timedelta(seconds=10)
        again = await api.client.post("/v1/remittances/x12", content=file_835(1, "000000903"),
                                      headers=api.headers(**X12))
        assert again.status_code == 200
