"""Contract CI: committed schemas match the models, golden examples still parse, changes stay compatible."""

import json
import subprocess
from pathlib import Path

import pytest

from rcm_contracts import REGISTRY, decode_envelope
from rcm_contracts.compat import incompatibilities
from rcm_contracts.events import ALL_EVENTS
from rcm_contracts.schema_export import EXAMPLES_DIR, SCHEMA_DIR, generated, render

GENERATED = generated()


@pytest.mark.parametrize("name", sorted(GENERATED))
def test_committed_schema_matches_model(name):
    path = SCHEMA_DIR / f"{name}.json"
    assert path.exists(), f"{path.name} missing: run python -m rcm_contracts.schema_export"
    assert path.read_text() == render(GENERATED[name]), f"{name} drifted: run python -m rcm_contracts.schema_export"


def test_no_orphan_schema_files():
    assert {p.stem for p in SCHEMA_DIR.glob("*.json")} == set(GENERATED)


def _examples():
    return sorted(EXAMPLES_DIR.glob("*/*.json"))


@pytest.mark.parametrize("path", _examples(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_golden_example_still_parses(path):
    env = decode_envelope(path.read_bytes())
    event = REGISTRY.parse(env)
    assert event.schema_name() == path.parent.name or env.type.startswith(f"org.openrcm.rcm.{path.parent.name.rsplit('.v', 1)[0]}")


def test_every_event_has_a_golden_example():
    have = {p.parent.name for p in _examples()}
    assert {m.schema_name() for m in ALL_EVENTS} <= have


def _schema_at(ref: str, name: str) -> dict | None:
    root = Path(__file__).resolve().parents[4]
    rel = (SCHEMA_DIR / f"{name}.json").relative_to(root)
    try:
        out = subprocess.run(["git", "show", f"{ref}:{rel}"], cwd=root, capture_output=True, check=True, timeout=10)
    except (subprocess.CalledProcessError, FileNotFoundError, subprocess.TimeoutExpired):
        return None
    return json.loads(out.stdout)


@pytest.mark.parametrize("ref", ["main", "HEAD"])
@pytest.mark.parametrize("name", sorted(n for n in GENERATED if n != "envelope"))
def test_schema_stays_compatible_with_committed_version(ref, name):
    old = _schema_at(ref, name)
    if old is None:
        pytest.skip(f"{name} not present at {ref} (new event type or no git history)")
    assert incompatibilities(old, GENERATED[name]) == []


# --- the compatibility rules themselves --------------------------------------------------------
BASE = {"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "integer"}}, "required": ["a"]}


def _with(**changes):
    s = json.loads(json.dumps(BASE))
    s.update(changes)
    return s


def test_adding_optional_field_is_compatible():
    new = _with(properties={**BASE["properties"], "c": {"type": "string"}})
    assert incompatibilities(BASE, new) == []


def test_new_required_field_breaks_backward():
    new = _with(properties={**BASE["properties"], "c": {"type": "string"}}, required=["a", "c"])
    assert incompatibilities(BASE, new) == ["backward: c is newly required"]


def test_removing_required_field_breaks_forward():
    new = _with(properties={"b": {"type": "integer"}}, required=[])
    assert incompatibilities(BASE, new) == ["forward: a was required and is gone"]


def test_type_change_breaks_both():
    new = _with(properties={"a": {"type": "string"}, "b": {"type": "string"}})
    assert incompatibilities(BASE, new) == ["both: b changed type"]


def test_nested_definitions_are_compared():
    old = {"type": "object", "properties": {"x": {"$ref": "#/$defs/X"}}, "$defs": {"X": {"type": "object", "properties": {"v": {"type": "string"}}, "required": []}}}
    new = {"type": "object", "properties": {"x": {"$ref": "#/$defs/X"}}, "$defs": {"X": {"type": "object", "properties": {"v": {"type": "string"}, "w": {"type": "string"}}, "required": ["w"]}}}
    assert incompatibilities(old, new) == ["backward: x.w is newly required"]


def test_enum_narrowing_and_widening():
    old = {"type": "object", "properties": {"s": {"type": "string", "enum": ["a", "b"]}}}
    assert incompatibilities(old, {"type": "object", "properties": {"s": {"type": "string", "enum": ["a"]}}}) == ["backward: s lost enum values ['b']"]
    assert incompatibilities(old, {"type": "object", "properties": {"s": {"type": "string", "enum": ["a", "b", "c"]}}}) == ["forward: s gained enum values ['c']"]
