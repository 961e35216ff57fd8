"""Export JSON Schemas of every event: `python -m rcm_contracts.schema_export [--check | --baseline]`.

- no flag: write `schemas/` from the models;
- `--check`: exit 1 when `schemas/` drifted from the models;
- `--baseline`: a release records its schema set as the compatibility baseline: copy the committed
  `schemas/` into `schemas-released/`, refusing when they drifted from the models or break the previous
  baseline (the contract tests compare every change against `schemas-released/`, see README.md).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from rcm_contracts.compat import incompatibilities
from rcm_contracts.envelope import Envelope
from rcm_contracts.events import ALL_EVENTS, RETIRED_EVENTS

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas"
EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "examples"
# The last released schema set: what consumers in the field read and write. Changed only by a release.
BASELINE_DIR = Path(__file__).resolve().parents[2] / "schemas-released"


def generated() -> dict[str, dict]:
    out = {"envelope": Envelope.model_json_schema()}
    for model in ALL_EVENTS + RETIRED_EVENTS:
        schema = model.model_json_schema()
        schema["$id"] = model.dataschema()
        schema["x-event-type"] = model.event_type()
        out[model.schema_name()] = schema
    return out


def render(schema: dict) -> str:
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def load_schemas(folder: Path) -> dict[str, dict]:
    """Every `<name>.json` schema in `folder`, by name; {} when the folder does not exist."""
    return {p.stem: json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))}


def baseline_incompatibilities(released: dict[str, dict], current: dict[str, dict]) -> dict[str, list[str]]:
    """Per released schema, why the current set is incompatible with it (both directions, see compat);
    a released schema that is no longer exported is incompatible too. New schemas are compatible."""
    problems: dict[str, list[str]] = {}
    for name, old in sorted(released.items()):
        if name not in current:
            problems[name] = [f"removed: {name} was released and is no longer exported"]
        elif found := incompatibilities(old, current[name]):
            problems[name] = found
    return problems


def write_baseline(folder: Path = BASELINE_DIR, schema_dir: Path = SCHEMA_DIR) -> dict[str, list[str]]:
    """Make the schemas in `schema_dir` the released baseline in `folder`, unless they drifted from the
    models or are incompatible with the baseline already there; returns those problems (nothing written)."""
    current = load_schemas(schema_dir)
    problems = {name: ["drifted from the model: run python -m rcm_contracts.schema_export"]
                for name, schema in generated().items() if render(current.get(name, {})) != render(schema)}
    problems.update(baseline_incompatibilities(load_schemas(folder), current))
    if problems:
        return problems
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.json"):
        old.unlink()
    for name, schema in current.items():
        (folder / f"{name}.json").write_text(render(schema))
    return {}


def main(argv: list[str]) -> int:
    if "--baseline" in argv:
        problems = write_baseline()
        for name, found in problems.items():
            print(f"{name}: " + "; ".join(found))
        return 1 if problems else 0
    SCHEMA_DIR.mkdir(exist_ok=True)
    drift = []
    for name, schema in generated().items():
        path = SCHEMA_DIR / f"{name}.json"
        text = render(schema)
        if "--check" in argv:
            if not path.exists() or path.read_text() != text:
                drift.append(name)
        else:
            path.write_text(text)
    if drift:
        print("schema drift: " + ", ".join(drift) + " (run python -m rcm_contracts.schema_export)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
