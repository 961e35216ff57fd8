"""Money in through the clearinghouse, end to end through the running services: the local stack's sandbox payer
SBX02 pays through the clearinghouse (RCM_ERA_VIA_CLEARINGHOUSE=SBX02 in deploy/stack.sh and docker-compose.yml),
so its 835 waits with the submitter's outbound files; submission polls it like a 999, forwards it to remittance
for the tenant whose claims it pays, and remittance posts it received by "clearinghouse:sandbox". SBX01 still
pushes to remittance's HTTP intake ("api")."""

from __future__ import annotations

import uuid

import pytest

from tests.support.client import OPERATOR, TENANT_B, eventually, url
from tests.support.encounters import generate

pytestmark = pytest.mark.e2e  # the `stack` fixture: tests/support/fixtures.py

ops = OPERATOR.headers  # a platform operator's token of the stack's issuer (rcm_runtime.ops)


async def _remittance_file(stack, cid: str) -> dict | None:
    """The remittance file a claim's payment was posted from, once it is posted."""
    async def probe():
        r = await stack.http.get(url("remittance", f"/v1/claims/{cid}"))
        if r.status_code != 200 or not r.json().get("file_id"):
            return None
        f = await stack.http.get(url("remittance", f"/v1/remittances/{r.json()['file_id']}"))
        return f.json() if f.status_code == 200 else None
    return await eventually(probe, bool, "the claim's remittance file", timeout_s=90, poll_s=0.5)


async def test_a_payers_835_through_the_clearinghouse_is_posted_for_the_tenant_as_the_push_is(stack):
    source = f"e2e-ch835-{uuid.uuid4().hex[:10]}"
    encounters = generate(3, seed=61, source_system=source, scenarios=["paid"])
    bodies = [{**g.body, "coverage": {**g.body["coverage"], "payer_id": payer}}
              for g, payer in zip(encounters, ("SBX02", "SBX02", "SBX01"))]
    cids = [(await stack.post_json(b)).json()["claim_id"] for b in bodies]

    via_clearinghouse = [await _remittance_file(stack, cid) for cid in cids[:2]]
    pushed = await _remittance_file(stack, cids[2])
    assert all(via_clearinghouse) and pushed, "a claim's payment was not posted"
    for f in via_clearinghouse:
        assert (f["received_by"], f["payer_id"], f["tenant_id"]) == ("clearinghouse:sandbox", "SBX02", "tenant-a")
        assert f["status"] in ("posted", "partially_posted")
    assert {p["claim_id"] for f in via_clearinghouse for p in f["payments"]} >= set(cids[:2])
    # the payer pushed with the integrator API key remittance issued it (deploy/stack.sh): named by its digest
    assert pushed["received_by"].startswith("apikey:") and pushed["payer_id"] == "SBX01"

    # submission's listing shows the 835s it forwarded, for the tenant they pay
    files = (await stack.http.get(url("submission", "/v1/acknowledgments"), params={"status": "forwarded"},
                                  headers=ops())).json()["files"]
    assert any(f["kind"] == "835" and f["tenant_id"] == "tenant-a" and f["clearinghouse"] == "sandbox" for f in files)
    # and the file is tenant a's alone
    other = await stack.http.get(url("remittance", f"/v1/remittances/{via_clearinghouse[0]['id']}"),
                                 headers=TENANT_B.headers())
    assert other.status_code == 404
