"""The upcaster chain lifts old majors to the newest model, one pure step at a time."""

import uuid
from typing import ClassVar

import pytest

from rcm_contracts.base import Event
from rcm_contracts.envelope import new_envelope
from rcm_contracts.registry import Registry, UnknownEventType


class PaymentV1(Event):
    SERVICE: ClassVar[str] = "test"
    NAME: ClassVar[str] = "payment"
    MAJOR: ClassVar[int] = 1
    amount_cents: int


class PaymentV2(Event):
    SERVICE: ClassVar[str] = "test"
    NAME: ClassVar[str] = "payment"
    MAJOR: ClassVar[int] = 2
    amount: str  # decimal string


class PaymentV3(Event):
    SERVICE: ClassVar[str] = "test"
    NAME: ClassVar[str] = "payment"
    MAJOR: ClassVar[int] = 3
    amount: str
    currency: str


def v1_to_v2(data: dict) -> dict:
    cents = data.pop("amount_cents")
    return {**data, "amount": f"{cents // 100}.{cents % 100:02d}"}


def v2_to_v3(data: dict) -> dict:
    return {**data, "currency": "USD"}


@pytest.fixture
def registry() -> Registry:
    reg = Registry()
    reg.register(PaymentV3)  # only the newest model is registered; old majors arrive via upcasters
    reg.register_upcaster(PaymentV1.event_type(), v1_to_v2)
    reg.register_upcaster(PaymentV2.event_type(), v2_to_v3)
    return reg


def test_v1_event_is_upcast_through_v2_to_v3(registry):
    env = new_envelope(PaymentV1(amount_cents=12345), service="test", tenant_id="t", key=str(uuid.uuid4()))
    event = registry.parse(env)
    assert event == PaymentV3(amount="123.45", currency="USD")


def test_v2_event_takes_only_the_last_step(registry):
    env = new_envelope(PaymentV2(amount="1.00"), service="test", tenant_id="t", key="k")
    assert registry.parse(env) == PaymentV3(amount="1.00", currency="USD")


def test_current_version_passes_untouched(registry):
    env = new_envelope(PaymentV3(amount="2.00", currency="CAD"), service="test", tenant_id="t", key="k")
    assert registry.parse(env) == PaymentV3(amount="2.00", currency="CAD")


def test_upcasters_do_not_mutate_the_envelope_data(registry):
    env = new_envelope(PaymentV1(amount_cents=5), service="test", tenant_id="t", key="k")
    registry.parse(env)
    assert env.data == {"amount_cents": 5}


def test_a_major_without_model_or_upcaster_is_unknown(registry):
    env = new_envelope(PaymentV1(amount_cents=5), service="test", tenant_id="t", key="k")
    bare = Registry()
    with pytest.raises(UnknownEventType):
        bare.parse(env)
