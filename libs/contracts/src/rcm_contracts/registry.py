"""Event type registry and upcaster chain.

A consumer reads whatever major version is on the wire; upcasters (pure functions on the `data` dict)
lift it step by step to the newest major the registry knows, then the newest model validates it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable

from pydantic import ValidationError

from rcm_contracts.base import Event
from rcm_contracts.envelope import Envelope, EnvelopeError, describe_validation_error
from rcm_contracts.events import ALL_EVENTS

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]
_TYPE_RE = re.compile(r"^(?P<base>.+)\.v(?P<major>\d+)$")


class UnknownEventType(EnvelopeError):
    pass


def split_type(event_type: str) -> tuple[str, int]:
    m = _TYPE_RE.match(event_type)
    if not m:
        raise UnknownEventType(f"event type has no .v<major> suffix: {event_type[:120]}")
    return m.group("base"), int(m.group("major"))


@dataclass
class Registry:
    models: dict[str, type[Event]] = field(default_factory=dict)
    upcasters: dict[str, Upcaster] = field(default_factory=dict)  # from type (vN) -> fn giving vN+1 data

    def register(self, model: type[Event]) -> None:
        self.models[model.event_type()] = model

    def register_upcaster(self, from_type: str, fn: Upcaster) -> None:
        split_type(from_type)  # validates the .v<major> suffix
        self.upcasters[from_type] = fn

    def upcast(self, event_type: str, data: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """Apply upcasters until no newer major exists. Returns (type, data)."""
        seen = 0
        while event_type in self.upcasters:
            base, major = split_type(event_type)
            data = self.upcasters[event_type](dict(data))
            event_type = f"{base}.v{major + 1}"
            seen += 1
            if seen > 100:
                raise RuntimeError("upcaster chain does not terminate")
        return event_type, data

    def parse(self, envelope: Envelope) -> Event:
        event_type, data = self.upcast(envelope.type, envelope.data)
        model = self.models.get(event_type)
        if model is None:
            raise UnknownEventType(f"unknown event type: {envelope.type[:120]}")
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            raise EnvelopeError(f"invalid {model.schema_name()} data: " + describe_validation_error(exc, "data.")) from None


REGISTRY = Registry()
for _model in ALL_EVENTS:
    REGISTRY.register(_model)

def encounter_submitted_v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    """v2 only relaxed required fields, so every v1 document is already a valid v2 document."""
    return data


REGISTRY.register_upcaster("org.openrcm.rcm.intake.encounter-submitted.v1", encounter_submitted_v1_to_v2)


def parse_event(envelope: Envelope) -> Event:
    return REGISTRY.parse(envelope)
