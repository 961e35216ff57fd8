"""The fault drill in the suite (issue 13), bounded: 300 encounters, half in a burst and the rest in groups, while
PostgreSQL is stopped for 12 s (longer than the retry budget that used to dead-letter records), eligibility and
scrubber are killed with SIGKILL and restarted, coding is stopped with SIGTERM (and must exit within the grace
period) and restarted, and Kafka is restarted. Every claim reaches every stage exactly once and no dead letter
is written. bench/fault_drill.py runs the same drill over 10,000 encounters.

It stops and starts the stack's own PostgreSQL, Kafka and services (deploy/stack.sh), and leaves them all
running, also when it fails."""

from __future__ import annotations

import pytest

from tests.support import faults
from tests.support.client import TENANT_A
from tests.support.fault_drill import DrillPlan, run_drill

pytestmark = [pytest.mark.e2e, pytest.mark.integration]


async def test_a_burst_survives_postgres_down_killed_consumers_a_graceful_stop_and_a_kafka_restart(stack, admin_engine):
    plan = DrillPlan(encounters=300, postgres_down_s=12.0, settle_timeout_s=420.0)
    try:
        report = await run_drill(plan, admin_engine, TENANT_A[1], log=lambda m: print(m, flush=True))
    finally:
        await faults.restore_all()
    summary = "\n".join(report.lines())
    print(summary)
    assert report.terminated_exit_s is not None and report.terminated_exit_s < plan.grace_s, summary
    assert report.claims == plan.encounters and report.duplicate_encounters == 0, summary
    for stage in report.stages:
        assert (stage.name, stage.reached, stage.duplicated, stage.stuck) == (stage.name, plan.encounters, 0, 0), summary
    assert report.posted_once == plan.encounters, summary
    assert not any(report.dead_letters.values()), summary
    assert report.ok, summary
