"""Every event type declares its data classification (rcm_contracts.base.Event: DATA_CLASS and PHI_FIELDS), and the
declaration holds against the model: a field whose type carries a person, an insured, a coverage or a claim is
PHI, so an event with one must say `phi` and name it; an `internal` event names none."""

from __future__ import annotations

import typing

import pytest
from pydantic import BaseModel

from rcm_contracts.claim import Claim, Coverage, Insured, Person
from rcm_contracts.events import ALL_EVENTS, RETIRED_EVENTS
from rcm_contracts.registry import REGISTRY

PHI_MODELS = (Person, Insured, Coverage, Claim)  # a provider's address is not PHI: not descended into
EVENTS = [*ALL_EVENTS, *RETIRED_EVENTS]


def carries_phi_model(annotation, seen=frozenset()) -> bool:
    """Whether a type is, holds or nests one of PHI_MODELS (through unions, lists and sub-models)."""
    if isinstance(annotation, type) and issubclass(annotation, PHI_MODELS):
        return True
    if isinstance(annotation, type) and issubclass(annotation, BaseModel) and annotation not in seen:
        return any(carries_phi_model(f.annotation, seen | {annotation}) for f in annotation.model_fields.values())
    return any(carries_phi_model(arg, seen) for arg in typing.get_args(annotation))


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: e.schema_name())
def test_each_event_declares_its_classification(event):
    assert "DATA_CLASS" in vars(event), f"{event.__name__} declares no DATA_CLASS"
    assert event.DATA_CLASS in ("phi", "internal")
    assert set(event.PHI_FIELDS) <= set(event.model_fields), "PHI_FIELDS names fields the event does not have"
    assert (event.DATA_CLASS == "phi") == bool(event.PHI_FIELDS)
    inferred = {name for name, f in event.model_fields.items() if carries_phi_model(f.annotation)}
    assert inferred <= set(event.PHI_FIELDS), f"{event.__name__}: {sorted(inferred - set(event.PHI_FIELDS))} carry PHI"


def test_the_registry_knows_every_classified_event():
    assert {e.event_type() for e in ALL_EVENTS} == set(REGISTRY.models)
    assert all(REGISTRY.models[t].DATA_CLASS in ("phi", "internal") for t in REGISTRY.models)


def test_the_inference_finds_phi_where_it_is():
    from rcm_contracts.events import ClaimSubmitted, EncounterCaptured
    assert carries_phi_model(EncounterCaptured.model_fields["claim"].annotation)
    assert not any(carries_phi_model(f.annotation) for f in ClaimSubmitted.model_fields.values())
