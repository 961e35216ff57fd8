"""PreparedHandler: the prepare step runs before the batch transaction (no connection held), its values reach
the handler on `delivery.prepared`, a redelivered event is neither prepared nor applied again, and a
TransientError from prepare retries the batch instead of dead-lettering it."""

from __future__ import annotations

import pytest
from aiokafka import ConsumerRecord

from rcm_contracts.events import PatientBalanceOpened
from rcm_runtime.consumer import BatchApplier, Delivery, PreparedHandler, decode_record
from rcm_runtime.errors import TransientError
from rcm_runtime.unit_of_work import UnitOfWork

from .support import count_effect, create_effects, effect_counts, envelope, table_count

pytestmark = pytest.mark.integration


def _records(*envs):
    return [decode_record(ConsumerRecord(topic="t", partition=0, offset=i, timestamp=0, timestamp_type=0,
                                         key=env.partitionkey.encode(), value=env.to_bytes(), checksum=None,
                                         serialized_key_size=0, serialized_value_size=0, headers=()))
            for i, env in enumerate(envs)]


class Recorder:
    """prepare: notes what it was asked and whether the engine had any connection checked out meanwhile."""

    def __init__(self, engine, *, fail: Exception | None = None) -> None:
        self.engine = engine
        self.fail = fail
        self.prepared: list[list[str]] = []
        self.checked_out_during_prepare: list[int] = []
        self.seen_in_apply: list[tuple[str, object]] = []

    async def prepare(self, deliveries: list[Delivery]) -> list[str]:
        self.checked_out_during_prepare.append(self.engine.pool.checkedout())
        self.prepared.append([d.key for d in deliveries])
        if self.fail is not None:
            raise self.fail
        return [f"answer-for-{d.key}" for d in deliveries]

    async def apply(self, uow: UnitOfWork, deliveries: list[Delivery]) -> None:
        self.seen_in_apply += [(d.key, d.prepared) for d in deliveries]
        await count_effect(uow, deliveries)


def _applier(settings, engine, recorder):
    handler = PreparedHandler(recorder.prepare, recorder.apply)
    return BatchApplier(engine, {PatientBalanceOpened.event_type(): handler}, settings.service_name, "unused.topic")


async def test_prepare_runs_outside_the_transaction_and_hands_each_delivery_its_value(scratch_schema):
    settings, engine = scratch_schema
    await create_effects(engine)
    recorder = Recorder(engine)
    a, b = envelope("10.00"), envelope("20.00")

    await _applier(settings, engine, recorder).apply_with_fallback(_records(a, b), max_retries=1, backoff_s=0)

    assert recorder.prepared == [[a.partitionkey, b.partitionkey]]
    assert recorder.checked_out_during_prepare == [0]  # no connection (so no transaction) held while preparing
    assert recorder.seen_in_apply == [(a.partitionkey, f"answer-for-{a.partitionkey}"),
                                      (b.partitionkey, f"answer-for-{b.partitionkey}")]
    assert await effect_counts(engine) == {a.partitionkey: 1, b.partitionkey: 1}


async def test_a_redelivered_event_is_neither_prepared_nor_applied_again(scratch_schema):
    settings, engine = scratch_schema
    await create_effects(engine)
    recorder = Recorder(engine)
    old, new = envelope("10.00"), envelope("30.00")
    applier = _applier(settings, engine, recorder)
    await applier.apply_with_fallback(_records(old), max_retries=1, backoff_s=0)

    await applier.apply_with_fallback(_records(old, new), max_retries=1, backoff_s=0)

    assert recorder.prepared == [[old.partitionkey], [new.partitionkey]]
    assert await effect_counts(engine) == {old.partitionkey: 1, new.partitionkey: 1}
    assert applier.duplicates == 1 and applier.applied == 2


async def test_a_transient_failure_in_prepare_retries_the_batch_and_dead_letters_nothing(scratch_schema):
    settings, engine = scratch_schema
    await create_effects(engine)
    recorder = Recorder(engine, fail=TransientError("payer unreachable"))
    applier = _applier(settings, engine, recorder)

    with pytest.raises(TransientError):
        await applier.apply_with_fallback(_records(envelope(), envelope()), max_retries=3, backoff_s=0)

    assert len(recorder.prepared) == 1  # not retried record by record
    assert await table_count(engine, "inbox") == 0 and await table_count(engine, "dead_letters") == 0
    assert await effect_counts(engine) == {}
