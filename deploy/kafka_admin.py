"""Kafka set-up for the local stack (used by stack.sh and tests): principals' passwords, readiness, topics, SCRAM
principals and their ACLs (rcm_runtime.kafka_acls), and an integrator for a new tenant.

    kafka_admin.py credentials --stack-dir D [--tenants "a b"]   passwords of every principal (0600), made once
    kafka_admin.py wait-and-setup --stack-dir D --bootstrap H:P [--tenants "a b"]
                                  as rcm-admin: topics, service and integrator principals, ACLs (idempotent)
    kafka_admin.py add-integrator --stack-dir D --bootstrap H:P --tenant T
                                  a new tenant's intake topic and its integrator (prints the password file)
    kafka_admin.py wait --stack-dir D --bootstrap H:P
"""

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
from rcm_runtime import kafka_acls
from rcm_runtime.kafka_access import KafkaAccess, ensure_password, password_file, stack_access

logging.getLogger("aiokafka").setLevel(logging.CRITICAL)  # the readiness poll expects refusals
TOPIC_ALREADY_EXISTS = 36  # Kafka protocol error code
DEV_TENANTS = "tenant-a tenant-b demo"  # deploy/stack.sh's DEV_TENANTS


async def wait_ready(kafka: KafkaAccess, timeout: float) -> AIOKafkaAdminClient:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        admin = AIOKafkaAdminClient(**kafka.client_options(), request_timeout_ms=5000)
        try:
            await admin.start()
            await admin.list_topics()
            return admin
        except (KafkaError, OSError) as exc:
            last = exc
            await admin.close()
            await asyncio.sleep(0.3)
    raise TimeoutError(f"kafka at {kafka.bootstrap} not ready after {timeout}s: {last!r}")


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


def credentials(stack_dir: str, tenants: list[str]) -> dict[str, str]:
    """principal -> password for the super users, every service and the tenants' integrators."""
    principals = [*kafka_acls.SUPER_USERS, *map(kafka_acls.service_principal, topics.CONSUMES),
                  *map(kafka_acls.integrator_principal, tenants)]
    return {p: ensure_password(stack_dir, p) for p in principals}


async def add_integrators(admin: AIOKafkaAdminClient, stack_dir: str, tenants: list[str]) -> None:
    """Each tenant's intake topic, its integrator principal and the one ACL that lets it write there."""
    await ensure_topics(admin, [topics.intake_topic(t) for t in tenants], topics.PARTITIONS)
    await kafka_acls.upsert_scram_users(admin, {kafka_acls.integrator_principal(t): ensure_password(
        stack_dir, kafka_acls.integrator_principal(t)) for t in tenants})
    await kafka_acls.create_acls(admin, [acl for t in tenants for acl in kafka_acls.integrator_acls(t)])


async def setup(admin: AIOKafkaAdminClient, stack_dir: str, tenants: list[str]) -> None:
    await ensure_topics(admin, topics.ALL, topics.PARTITIONS)
    services = {kafka_acls.service_principal(s): ensure_password(stack_dir, kafka_acls.service_principal(s))
                for s in topics.CONSUMES}
    await kafka_acls.upsert_scram_users(admin, services)
    await kafka_acls.create_acls(admin, [acl for s in topics.CONSUMES for acl in kafka_acls.service_acls(s)])
    await add_integrators(admin, stack_dir, tenants)


async def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("command", choices=["credentials", "wait", "wait-and-setup", "add-integrator"])
    ap.add_argument("--stack-dir", required=True)
    ap.add_argument("--bootstrap", default="127.0.0.1:19092")
    ap.add_argument("--timeout", type=float, default=120)
    ap.add_argument("--tenants", default=DEV_TENANTS, help="the development tenants, space-separated")
    ap.add_argument("--tenant", help="add-integrator: the new tenant")
    args = ap.parse_args(argv)
    tenants = args.tenants.split()
    if args.command == "credentials":
        credentials(args.stack_dir, tenants)
        return 0
    if args.command == "add-integrator" and not args.tenant:
        ap.error("add-integrator needs --tenant")
    t0 = time.monotonic()
    admin = await wait_ready(stack_access(directory=args.stack_dir, bootstrap=args.bootstrap), args.timeout)
    try:
        if args.command == "wait-and-setup":
            await setup(admin, args.stack_dir, tenants)
        elif args.command == "add-integrator":
            await add_integrators(admin, args.stack_dir, [args.tenant])
            principal = kafka_acls.integrator_principal(args.tenant)
            print(f"{principal} may write {topics.intake_topic(args.tenant)}; "
                  f"password in {password_file(args.stack_dir, principal)}")
    finally:
        await admin.close()
    print(f"kafka ready at {args.bootstrap} after {time.monotonic() - t0:.1f}s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
