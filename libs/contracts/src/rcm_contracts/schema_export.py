"""Export JSON Schemas of every event: `python -m rcm_contracts.schema_export [--check]`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from rcm_contracts.envelope import Envelope
from rcm_contracts.events import ALL_EVENTS, RETIRED_EVENTS

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas"
EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "examples"


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


def main(argv: list[str]) -> int:
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
