"""PHI sealing (rcm_runtime.phi): round trips, tampering and moved values detected, unknown key ids, the keyring
and its key manager, the secret check of the keys file, documents sealed in part. Rotation against PostgreSQL:
libs/runtime/tests/integration/test_phi_rotation.py."""

from __future__ import annotations

import json
import os

import pytest

from rcm_runtime import phi
from rcm_runtime.phi import CLAIM_PHI, SEALED_KEY, Keyring, KeyringError, LocalKeyManager, SealedColumn, Sealer
from rcm_runtime.phi import keyring as keyring_mod
from rcm_runtime.phi.sealing import PhiError, TamperedValue, UnknownKeyId, key_id_of
from rcm_runtime.secret_settings import problems
from rcm_runtime.settings import ServiceSettings
from sqlalchemy import Column, JSON, MetaData, Table, Text

K1, K2, INDEX = os.urandom(32), os.urandom(32), os.urandom(32)
OLD = Keyring("k1", {"k1": K1}, INDEX)
BOTH = Keyring("k2", {"k1": K1, "k2": K2}, INDEX)
PLACE = {"tenant": "tenant-a", "field": "charges.encounters.claim"}


def test_round_trip_and_format():
    s = Sealer(OLD)
    sealed = s.seal_text("Maria Gonzalez 1961-04-12", **PLACE)
    version, kid, nonce, body = sealed.split(".")
    assert (version, kid) == ("phi1", "k1") and "Maria" not in sealed
    assert s.open_text(sealed, **PLACE) == "Maria Gonzalez 1961-04-12"
    assert s.seal_text("x", **PLACE) != s.seal_text("x", **PLACE)  # a fresh nonce each time
    assert s.open_json(s.seal_json({"a": [1, "é"]}, **PLACE), **PLACE) == {"a": [1, "é"]}


@pytest.mark.parametrize("other", [{"tenant": "tenant-b", "field": PLACE["field"]},
                                   {"tenant": "tenant-a", "field": "charges.encounters.submission"}])
def test_a_value_moved_to_another_tenant_or_field_does_not_open(other):
    s = Sealer(OLD)
    sealed = s.seal_text("MEMBER123", **PLACE)
    with pytest.raises(TamperedValue) as e:
        s.open_text(sealed, **other)
    assert "MEMBER123" not in str(e.value)


def test_tampering_is_detected():
    s = Sealer(BOTH)
    sealed = s.seal_text("MEMBER123", **PLACE)
    v, kid, nonce, body = sealed.split(".")
    flipped = body[:-2] + ("A" if body[-2] != "A" else "B") + body[-1]
    for bad in (f"{v}.{kid}.{nonce}.{flipped}", f"{v}.k1.{nonce}.{body}"):  # altered bytes, relabelled key id
        with pytest.raises(TamperedValue):
            s.open_text(bad, **PLACE)
    with pytest.raises(PhiError):
        s.open_text("MEMBER123", **PLACE)


def test_unknown_key_id_names_the_id_not_the_value():
    sealed = Sealer(Keyring("k9", {"k9": os.urandom(32)}, INDEX)).seal_text("Gonzalez", **PLACE)
    with pytest.raises(UnknownKeyId) as e:
        Sealer(BOTH).open_text(sealed, **PLACE)
    assert "'k9'" in str(e.value) and "Gonzalez" not in str(e.value) and sealed not in str(e.value)


def test_rotation_reseals_under_the_active_key_and_old_values_still_open():
    old = Sealer(OLD).seal_text("Gonzalez", **PLACE)
    new = Sealer(BOTH)
    assert new.open_text(old, **PLACE) == "Gonzalez"  # readers accept every key id of the keyring
    fresh = new.reseal(old, **PLACE)
    assert key_id_of(fresh) == "k2" and new.open_text(fresh, **PLACE) == "Gonzalez"
    assert new.reseal(fresh, **PLACE) is fresh
    with pytest.raises(UnknownKeyId):
        Sealer(BOTH.retire("k1")).open_text(old, **PLACE)
    with pytest.raises(KeyringError):
        BOTH.retire("k2")  # the active key


def test_blind_index_is_keyed_per_tenant_and_field_and_normalised():
    s = Sealer(OLD)
    a = s.blind_index(" w123456789 ", tenant="tenant-a", field="member_id")
    assert a == s.blind_index("W123456789", tenant="tenant-a", field="member_id")
    assert a != s.blind_index("W123456789", tenant="tenant-b", field="member_id")
    assert a != Sealer(Keyring("k1", {"k1": K1}, os.urandom(32))).blind_index("W123456789", tenant="tenant-a",
                                                                                field="member_id")
    assert "W123456789" not in a and len(a) == 64


CLAIM = {"claim_id": "c1", "service_date": "2026-01-02", "payer_id": "P1",
         "patient": {"first_name": "Maria", "last_name": "Gonzalez", "birth_date": "1961-04-12"},
         "coverage": {"payer_id": "P1", "member_id": "W123QUILL", "group_number": "GRPQUILL9", "subscriber": None},
         "other_payers": [{"coverage": {"payer_id": "P0", "member_id": "XQUILLMEMBER1"}, "paid_amount": "1.00"},
                          {"coverage": {"payer_id": "P2", "member_id": "XQUILLMEMBER2", "insured": {"last_name": "Roebuckquill"}}}],
         "lines": [{"procedure_code": "99213"}]}
TABLE = Table("t", MetaData(), Column("tenant_id", Text), Column("claim", JSON), Column("content", Text))


def test_document_seals_only_its_phi_and_opens_to_the_same_document():
    col = SealedColumn(TABLE, "claim", paths=CLAIM_PHI)
    s = Sealer(OLD)
    sealed = col.seal(s, CLAIM, tenant="tenant-a", service="svc")
    text = json.dumps(sealed)
    # values long enough that random base64 cannot hold them by chance (a 2-letter one can)
    for phi_text in ("Maria", "Gonzalez", "1961-04-12", "W123QUILL", "GRPQUILL9", "XQUILLMEMBER1", "XQUILLMEMBER2",
                     "Roebuckquill"):
        assert phi_text not in text
    assert sealed["coverage"]["payer_id"] == "P1" and sealed["lines"] == CLAIM["lines"]  # the rest stays queryable
    assert "patient" not in sealed and SEALED_KEY in sealed
    assert col.open(s, sealed, tenant="tenant-a", service="svc") == CLAIM
    assert col.seal(s, sealed, tenant="tenant-a", service="svc") is sealed  # sealing twice is a no-op
    with pytest.raises(TamperedValue):
        col.open(s, sealed, tenant="tenant-b", service="svc")
    assert CLAIM["patient"]["last_name"] == "Gonzalez"  # the caller's document is not changed
    assert "member_id" not in sealed["coverage"]  # nor the stored one by opening it


def test_text_and_whole_json_columns():
    s = Sealer(OLD)
    text_col, json_col = SealedColumn(TABLE, "content", kind="text"), SealedColumn(TABLE, "claim", kind="json")
    x12 = "ISA*00*...~NM1*IL*1*GONZALEZ*MARIA~"
    sealed = text_col.seal(s, x12, tenant="tenant-a", service="svc")
    assert "GONZALEZ" not in sealed and text_col.open(s, sealed, tenant="tenant-a", service="svc") == x12
    items = [{"last_name": "Gonzalez"}]
    stored = json_col.seal(s, items, tenant="tenant-a", service="svc")
    assert "Gonzalez" not in json.dumps(stored) and json_col.open(s, stored, tenant="tenant-a", service="svc") == items
    assert text_col.seal(s, None, tenant="tenant-a", service="svc") is None


def _write(tmp_path, doc, name="keys.json"):
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return str(path)


def test_keys_file_raw_and_wrapped_by_the_local_key_manager(tmp_path, monkeypatch):
    raw = keyring_mod.new_keys_document(["2026-11", "2026-12"])
    ring = keyring_mod.load_file(_write(tmp_path, raw))
    assert ring.active == "2026-12" and set(ring.keys) == {"2026-11", "2026-12"}

    kek = tmp_path / "kek"
    kek.write_text(__import__("base64").b64encode(os.urandom(32)).decode())
    manager = LocalKeyManager.from_file(str(kek))
    assert isinstance(manager, phi.KeyManager)
    wrapped = keyring_mod.new_keys_document(["k1"], manager=manager, kms="local")
    path = _write(tmp_path, wrapped, "wrapped.json")
    monkeypatch.setenv("RCM_PHI_KEK_FILE", str(kek))
    ring = keyring_mod.load_file(path)
    assert ring.active == "k1" and len(ring.keys["k1"]) == 32
    # a wrapped key moved to another key id does not unwrap
    moved = {**wrapped, "keys": {"k2": wrapped["keys"]["k1"]}, "active": "k2"}
    with pytest.raises(KeyringError, match="does not unwrap"):
        keyring_mod.load_file(_write(tmp_path, moved, "moved.json"))
    monkeypatch.delenv("RCM_PHI_KEK_FILE")
    with pytest.raises(KeyringError, match="RCM_PHI_KEK_FILE"):
        keyring_mod.load_file(path)


def test_secret_check_of_the_keys_file(tmp_path):
    good = _write(tmp_path, keyring_mod.new_keys_document(["2026-12"]))
    assert keyring_mod.problems(good) == []
    dev = _write(tmp_path, {"active": "dev-1", "keys": {"dev-1": "raw:" + __import__("base64").b64encode(
        keyring_mod.DEVELOPMENT_KEYRING.keys["dev-1"]).decode()}, "index_key": "raw:AAAA"}, "dev.json")
    assert keyring_mod.problems(dev) == ["has a development key id", "has a development key"]
    assert keyring_mod.problems("") == ["is empty (no PHI keyring)"]
    empty = _write(tmp_path, {"active": "k", "keys": {}, "index_key": "raw:"}, "empty.json")
    assert keyring_mod.problems(empty) == ["is unusable: the keys file names no keys"]
    assert keyring_mod.problems(str(tmp_path / "missing.json"))[0].startswith("is unusable: the keys file cannot")

    base = {"service_name": "charges", "db_schema": "charges", "env": "production"}
    assert "RCM_PHI_KEYS_FILE is empty (no PHI keyring)" in problems(ServiceSettings(**base))
    assert not [p for p in problems(ServiceSettings(**base, phi_keys_file=good)) if "PHI" in p]
    with pytest.raises(KeyringError, match="RCM_PHI_KEYS_FILE is not set"):
        keyring_mod.load(ServiceSettings(**base))
    assert keyring_mod.load(ServiceSettings(**{**base, "env": "development"})) is keyring_mod.DEVELOPMENT_KEYRING
