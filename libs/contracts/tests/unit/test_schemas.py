"""Contract CI: committed schemas match the models, golden examples still parse, and every committed schema
stays compatible with the last released schema set (schemas-released/, refreshed only by a release:
`python -m rcm_contracts.schema_export --baseline`)."""

import json
import shutil
from pathlib import Path

import pytest

from rcm_contracts import REGISTRY, decode_envelope
from rcm_contracts.compat import incompatibilities
from rcm_contracts.events import ALL_EVENTS
from rcm_contracts.schema_export import (
    BASELINE_DIR,
    EXAMPLES_DIR,
    SCHEMA_DIR,
    baseline_incompatibilities,
    generated,
    load_schemas,
    render,
    write_baseline,
)

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


RELEASED = load_schemas(BASELINE_DIR)


def test_the_released_baseline_is_committed():
    # an empty or missing baseline would make the compatibility test below compare nothing
    assert RELEASED, f"no released schemas under {BASELINE_DIR}: run python -m rcm_contracts.schema_export --baseline"
    assert set(RELEASED) <= set(GENERATED), sorted(set(RELEASED) - set(GENERATED))


@pytest.mark.parametrize("name", sorted(RELEASED))
def test_schema_stays_compatible_with_the_released_baseline(name):
    """The committed schema against the last released one (schemas-released/), both directions: a new
    required field, a removed field, a changed type or a narrowed enum is incompatible."""
    current = load_schemas(SCHEMA_DIR)
    assert name in current, f"{name} was released and is no longer exported"
    assert incompatibilities(RELEASED[name], current[name]) == []


def test_no_released_schema_is_incompatible_with_the_current_set():
    assert baseline_incompatibilities(RELEASED, load_schemas(SCHEMA_DIR)) == {}


# --- the baseline check itself catches incompatible changes ------------------------------------
def _released_copy(tmp_path: Path) -> Path:
    folder = tmp_path / "schemas-released"
    shutil.copytree(BASELINE_DIR, folder)
    return folder


def _object_with_enum(schema: dict) -> tuple[dict, str, list]:
    """The first (object node, property, enum values) of `schema` whose enum has two values or more."""
    for node in [schema, *schema.get("$defs", {}).values()]:
        for prop, spec in node.get("properties", {}).items():
            if len(spec.get("enum", [])) >= 2:
                return node, prop, spec["enum"]
    raise AssertionError("no enum of two values or more in this schema")


def _mutations() -> dict[str, tuple]:
    return {
        "new_required_field": ("backward: ", "is newly required"),
        "removed_required_field": ("forward: ", "was required and is gone"),
        "changed_type": ("both: ", "changed type"),
        "narrowed_enum": ("backward: ", "lost enum values"),
        "removed_schema": ("removed: ", "no longer exported"),
    }


@pytest.mark.parametrize("mutation", sorted(_mutations()))
def test_the_baseline_check_reports_an_incompatible_change(tmp_path, mutation):
    released_dir = _released_copy(tmp_path)
    schema_dir = tmp_path / "schemas"
    shutil.copytree(SCHEMA_DIR, schema_dir)
    name = "intake.encounter-submitted.v2"
    path = schema_dir / f"{name}.json"
    schema = json.loads(path.read_text())
    if mutation == "new_required_field":
        schema["properties"]["triage_note"] = {"type": "string"}
        schema["required"].append("triage_note")
    elif mutation == "removed_required_field":
        gone = schema["required"][0]
        del schema["properties"][gone]
        schema["required"].remove(gone)
    elif mutation == "changed_type":
        prop = next(p for p, spec in schema["properties"].items() if spec.get("type") == "string")
        schema["properties"][prop] = {"type": "integer"}
    elif mutation == "narrowed_enum":
        name = next(n for n, s in load_schemas(schema_dir).items() if _has_enum(s))
        path = schema_dir / f"{name}.json"
        schema = json.loads(path.read_text())
        node, prop, values = _object_with_enum(schema)
        node["properties"][prop]["enum"] = values[:-1]
    if mutation == "removed_schema":
        path.unlink()
    else:
        path.write_text(render(schema))

    problems = baseline_incompatibilities(load_schemas(released_dir), load_schemas(schema_dir))

    prefix, words = _mutations()[mutation]
    assert list(problems) == [name], problems
    assert any(p.startswith(prefix) and words in p for p in problems[name]), problems
    # and the release refuses to make it the new baseline, leaving the old one as it was
    before = {p.name: p.read_text() for p in released_dir.glob("*.json")}
    assert name in write_baseline(released_dir, schema_dir)
    assert {p.name: p.read_text() for p in released_dir.glob("*.json")} == before


def _has_enum(schema: dict) -> bool:
    try:
        _object_with_enum(schema)
    except AssertionError:
        return False
    return True


def test_the_baseline_check_accepts_a_new_optional_field_and_a_new_schema(tmp_path):
    released_dir = _released_copy(tmp_path)
    current = load_schemas(SCHEMA_DIR)
    current["intake.encounter-submitted.v2"]["properties"]["triage_note"] = {"type": "string"}
    current["intake.brand-new.v1"] = {"type": "object", "properties": {"x": {"type": "string"}}, "required": ["x"]}
    assert baseline_incompatibilities(load_schemas(released_dir), current) == {}


def test_a_release_writes_the_current_schemas_as_the_baseline(tmp_path):
    released_dir = tmp_path / "schemas-released"
    assert write_baseline(released_dir) == {}
    assert load_schemas(released_dir) == load_schemas(SCHEMA_DIR)
    assert sorted(p.name for p in released_dir.iterdir()) == sorted(p.name for p in SCHEMA_DIR.glob("*.json"))


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
