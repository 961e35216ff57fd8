"""Kafka readiness poll and topic creation for the local stack (used by stack.sh and tests)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaError

from rcm_contracts import topics

logging.getLogger("aiokafka").setLevel(logging.CRITICAL)  # the readiness poll expects refusals
TOPIC_ALREADY_EXISTS = 36  # Kafka protocol error code


async def wait_ready(bootstrap: str, timeout: float) -> AIOKafkaAdminClient:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
        try:
            await admin.start()
            await admin.list_topics()
            return admin
        except (KafkaError, OSError) as exc:
            last = exc
            await admin.close()
            await asyncio.sleep(0.3)
    raise TimeoutError(f"kafka at {bootstrap} not ready after {timeout}s: {last!r}")


async def ensure_topics(admin: AIOKafkaAdminClient, names: list[str], partitions: int) -> None:
    """Create the missing topics with their settings (rcm_contracts.topics.topic_config: the submission topic
    takes whole 835 files), and give topics that already exist (an older stack's, or auto-created on first use)
    the same settings. AlterConfigs replaces a topic's dynamic settings: topic_config lists all of them."""
    existing = set(await admin.list_topics())
    missing = [n for n in names if n not in existing]
    if missing:
        response = await admin.create_topics(
            [NewTopic(name=n, num_partitions=partitions, replication_factor=1, topic_configs=topics.topic_config(n))
             for n in missing]
        )
        # created meanwhile (auto-created on first use, or just now by another process): set like existing ones
        existing |= {error[0] for error in response.topic_errors if error[1] == TOPIC_ALREADY_EXISTS}
    configured = [ConfigResource(ConfigResourceType.TOPIC, n, configs) for n in names
                  if n in existing and (configs := topics.topic_config(n))]
    if configured:
        for response in await admin.alter_configs(configured):
            for error_code, error_message, _, name in response.resources:
                if error_code:
                    raise RuntimeError(f"topic {name}: settings not applied (error {error_code}: {error_message})")


async def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bootstrap", default="127.0.0.1:19092")
    ap.add_argument("--timeout", type=float, default=120)
    ap.add_argument("command", choices=["wait", "wait-and-create-topics"])
    args = ap.parse_args(argv)
    t0 = time.monotonic()
    admin = await wait_ready(args.bootstrap, args.timeout)
    try:
        if args.command == "wait-and-create-topics":
            await ensure_topics(admin, topics.ALL, topics.PARTITIONS)
    finally:
        await admin.close()
    print(f"kafka ready at {args.bootstrap} after {time.monotonic() - t0:.1f}s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
