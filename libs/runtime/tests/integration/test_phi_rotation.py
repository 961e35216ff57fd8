"""Key rotation against PostgreSQL (rcm_runtime.phi.rotation): values under an old key id are re-encrypted to the
active key in small batches while readers open both; a key still in use cannot be retired; existing plaintext rows
are sealed in place by the migration step (rcm_runtime.phi.existing_rows)."""

from __future__ import annotations

import json
import os
import uuid

import pytest
from sqlalchemy import Column, MetaData, Table, Text, insert, select, text
from sqlalchemy.dialects.postgresql import JSONB, UUID

from rcm_runtime.phi import CLAIM_PHI, Keyring, SealedColumn, SealedColumns, Sealer, key_id_of
from rcm_runtime.phi.existing_rows import rewrite
from rcm_runtime.phi.keyring import new_keys_document, read_document
from rcm_runtime.phi.rotation import KeyInUse, key_use, retire, rotate

pytestmark = pytest.mark.integration

K1, K2, INDEX = os.urandom(32), os.urandom(32), os.urandom(32)
OLD = Sealer(Keyring("k1", {"k1": K1}, INDEX))
NEW = Sealer(Keyring("k2", {"k1": K1, "k2": K2}, INDEX))

meta = MetaData()
claims = Table("claims", meta, Column("id", UUID(as_uuid=True), primary_key=True), Column("tenant_id", Text),
               Column("claim", JSONB), Column("content", Text))
PHI = SealedColumns("test", (SealedColumn(claims, "claim", paths=CLAIM_PHI),
                             SealedColumn(claims, "content", kind="text")))


def claim(i: int) -> dict:
    return {"claim_id": str(uuid.UUID(int=i)), "patient": {"last_name": f"Rotationson{i}", "birth_date": "1970-01-01"},
            "coverage": {"payer_id": "P1", "member_id": f"ROT{i:05d}"}}


@pytest.fixture
async def table(scratch_schema):
    _, engine = scratch_schema
    async with engine.begin() as conn:
        await conn.run_sync(meta.create_all)
    yield engine


async def _stored(engine) -> list[dict]:
    async with engine.connect() as conn:
        return [dict(r) for r in (await conn.execute(select(claims).order_by(claims.c.id))).mappings()]


async def test_rotation_reencrypts_every_old_value_online_and_retire_waits_for_it(table, tmp_path):
    engine = table
    rows = [{"id": uuid.UUID(int=i), "tenant_id": f"tenant-{'ab'[i % 2]}", "claim": claim(i),
             "content": f"NM1*QC*1*ROT{i}"} for i in range(1, 12)]
    async with engine.begin() as conn:
        await conn.execute(insert(claims), [PHI.seal(claims, r, sealer=OLD) for r in rows])
    assert await key_use(engine, PHI) == {"k1": 22}

    keys_file = tmp_path / "keys.json"
    keys_file.write_text(json.dumps(new_keys_document(["k1", "k2"])))
    with pytest.raises(KeyInUse, match="still seals 22 values"):
        retire(str(keys_file), "k1", await key_use(engine, PHI))

    # readers accept both key ids while rotation runs: a half-rotated table opens whole
    assert await rotate(engine, PHI, NEW, batch=4) == {"claims.claim": 11, "claims.content": 11}
    stored = await _stored(engine)
    assert {key_id_of(r["claim"]["_phi"]) for r in stored} == {key_id_of(r["content"]) for r in stored} == {"k2"}
    assert [PHI.open(claims, r, sealer=NEW)["claim"] for r in stored] == [r["claim"] for r in rows]
    assert await key_use(engine, PHI) == {"k2": 22}
    assert await rotate(engine, PHI, NEW) == {"claims.claim": 0, "claims.content": 0}  # nothing left to do

    retire(str(keys_file), "k1", await key_use(engine, PHI))
    assert set(read_document(str(keys_file))["keys"]) == {"k2"}
    with pytest.raises(KeyInUse, match="active key"):
        retire(str(keys_file), "k2", {})


async def test_existing_plaintext_rows_are_sealed_in_place_in_batches(table):
    engine = table
    rows = [{"id": uuid.UUID(int=i), "tenant_id": "tenant-a", "claim": claim(i), "content": f"NM1*QC*1*ROT{i}"}
            for i in range(1, 8)]
    rows.append({"id": uuid.UUID(int=99), "tenant_id": "tenant-a", "claim": None, "content": None})
    async with engine.begin() as conn:
        await conn.execute(insert(claims), rows)
        done = await conn.run_sync(lambda sync: rewrite(sync, PHI, OLD, seal=True, batch=3))
    assert done == {"claims": 8}
    async with engine.connect() as conn:
        raw = (await conn.execute(text("SELECT claim::text || coalesce(content, '') FROM claims"))).scalars().all()
    assert not any("Rotationson" in r or "ROT0" in r or "NM1*QC" in r for r in raw if r)
    assert [PHI.open(claims, r, sealer=OLD)["claim"] for r in await _stored(engine)] == [r["claim"] for r in rows]
    async with engine.begin() as conn:  # the downgrade opens them again
        await conn.run_sync(lambda sync: rewrite(sync, PHI, OLD, seal=False, batch=3))
    assert [r["content"] for r in await _stored(engine)] == [r["content"] for r in rows]
