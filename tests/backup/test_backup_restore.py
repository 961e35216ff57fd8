"""Backup and point-in-time restore for real (deploy/backup.py), fast: a small PostgreSQL cluster of the test's own
(on a free port, WAL archived into its own backup directory) is backed up, written to, and restored to a time
before the last rows and to the latest point; and the consumer-group rewind against the suite's Kafka, on topics
of its own."""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _load_backup_tool():
    spec = importlib.util.spec_from_file_location("rcm_deploy_backup", ROOT / "deploy" / "backup.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


backup = _load_backup_tool()
PG = backup.PG_BIN
pytestmark = pytest.mark.skipif(not (PG / "initdb").exists() or shutil.which("zstd") is None,
                                reason="needs the PostgreSQL 15 server binaries and zstd")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """A throwaway cluster: its data directory and its backup directory under one temporary directory the server's
    user can reach; the server listens on a unix socket in /tmp only."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="openrcm-backup-test-", dir="/var/tmp"))
        self.dir.chmod(0o755)
        self.pgdata = self.dir / "pg"
        self.port = _free_port()
        self.layout = backup.Layout(self.dir / "backups")
        self.layout.prepare()
        # fsync off: nothing here survives a crash anyway, and the test stays fast on a loaded machine
        self.options = (f"-p {self.port} -k /tmp -c listen_addresses= -c fsync=off -c shared_buffers=16MB "
                        f"-c max_connections=20 {self.layout.server_options(archive_timeout_s=60)}")

    def init(self) -> None:
        self.pgdata.mkdir()
        backup.give_to_postgres(self.pgdata)
        backup.run(backup.as_pg([str(PG / "initdb"), "-D", str(self.pgdata), "-U", "postgres", "--auth-local=trust",
                                 "--no-sync", "--encoding=UTF8", "--locale=C"]))
        self.pg_ctl("start", "-w", "-t", "60", "-l", str(self.pgdata / "server.log"), "-o", self.options)
        backup.psql(self.port, "CREATE DATABASE openrcm", db="postgres")

    def pg_ctl(self, *args: str) -> None:
        backup.run(backup.as_pg([str(PG / "pg_ctl"), "-D", str(self.pgdata), *args]))

    def sql(self, *statements: str) -> str:
        return backup.psql(self.port, *statements)

    def archive_now(self) -> None:
        """Close the current WAL segment so it is archived now rather than after archive_timeout, and wait for it."""
        self.sql("SELECT pg_switch_wal()")
        deadline = time.monotonic() + 30
        while self.sql("SELECT last_archived_wal IS NOT DISTINCT FROM pg_walfile_name(pg_current_wal_lsn() - 1) "
                       "FROM pg_stat_archiver") != "t":
            assert time.monotonic() < deadline, "the WAL segment was not archived within 30 s"
            time.sleep(0.1)

    def close(self) -> None:
        subprocess.run(backup.as_pg([str(PG / "pg_ctl"), "-D", str(self.pgdata), "-m", "immediate", "stop"]),
                       capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def cluster():
    c = Cluster()
    try:
        c.init()
        yield c
    finally:
        c.close()


def rows(c: Cluster) -> list[str]:
    return c.sql("SELECT string_agg(note, ',' ORDER BY id) FROM svc.claims").split(",")


def test_restore_to_a_time_and_to_the_latest_point(cluster: Cluster):
    c = cluster
    c.sql("CREATE SCHEMA svc", "CREATE TABLE svc.claims (id serial PRIMARY KEY, note text NOT NULL)",
          "CREATE TABLE svc.alembic_version (version_num text)", "INSERT INTO svc.alembic_version VALUES ('r1')",
          "INSERT INTO svc.claims (note) VALUES ('before-backup')")
    base = backup.take_base_backup(c.layout, c.port)
    assert base.verified_s is not None and base.bytes > 0
    assert [b.name for b in backup.list_backups(c.layout)] == [base.name]

    c.sql("INSERT INTO svc.claims (note) VALUES ('after-backup')")
    time.sleep(0.3)
    target = datetime.fromisoformat(c.sql("SELECT clock_timestamp()"))
    time.sleep(0.3)
    c.sql("INSERT INTO svc.claims (note) VALUES ('last-batch')")
    c.archive_now()

    # a time before the last batch: what was committed until then, nothing after
    r = backup.restore(c.layout, c.pgdata, c.port, c.options, target, ["svc"])
    assert rows(c) == ["before-backup", "after-backup"]
    assert r.backup == base.name and r.schemas == {"svc": "r1"}
    assert r.recovered_to <= target and r.timeline == 2
    assert r.replaced and Path(r.replaced).is_dir()  # the data directory it replaced is kept, not deleted
    # the recovery settings are gone from the configuration once promoted (a restart would apply them again)
    assert "recovery_target" not in (c.pgdata / "postgresql.auto.conf").read_text()

    # the restored server works and archives on its new timeline; the latest point follows that timeline
    c.sql("INSERT INTO svc.claims (note) VALUES ('after-restore')")
    c.archive_now()
    r = backup.restore(c.layout, c.pgdata, c.port, c.options, None, ["svc"])
    assert rows(c) == ["before-backup", "after-backup", "after-restore"]
    assert r.timeline == 3

    # a target before the backup finished cannot be restored from it
    with pytest.raises(backup.BackupError, match="no base backup finished before"):
        backup.choose_backup(c.layout, datetime.fromisoformat(base.started_at) - timedelta(seconds=1))

    # retention: a newer backup, keep one: the older backup and the WAL only it needed go
    newer = backup.take_base_backup(c.layout, c.port)
    segments = backup.wal_archived(c.layout)[0]
    gone, removed = backup.prune(c.layout, keep=1)
    assert gone == [base.name] and [b.name for b in backup.list_backups(c.layout)] == [newer.name]
    assert removed > 0 and backup.wal_archived(c.layout)[0] == segments - removed
    # what is left starts at the kept backup's first segment (pg_archivecleanup compares without the timeline)
    left = sorted(p.name for p in c.layout.wal.glob("*.zst"))
    assert all(n[8:24] >= newer.start_wal[8:24] for n in left
               if not n.endswith(".history.zst")), (newer.start_wal, left)


async def test_rewind_consumer_groups(kafka):
    """The restore point T is 30 s after the first record. The intake topic's group goes back to T - margin; the
    services' topic skips what was published after T and gets copies of what came before it from T - margin (or
    from a lagging group's own offset), which every group resumes at."""
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    run = uuid.uuid4().hex[:10]
    intake, events = f"test.restore.{run}.intake", f"test.restore.{run}.events"
    admin = AIOKafkaAdminClient(**kafka.client_options())
    await admin.start()
    try:
        await admin.create_topics([NewTopic(t, 1, 1) for t in (intake, events)])
    finally:
        await admin.close()
    base_ms = int(time.time() * 1000) - 120_000
    producer = AIOKafkaProducer(**kafka.client_options())
    await producer.start()
    try:
        for topic, seconds in ((events, [0, 10, 20, 40, 50]), (intake, [0, 20, 40])):
            for i, s in enumerate(seconds):
                await producer.send_and_wait(topic, value=f"{topic[-6:]}-{i}".encode(), key=b"claim-1",
                                             timestamp_ms=base_ms + s * 1000, headers=[("ce_id", f"e{i}".encode())])
    finally:
        await producer.stop()
    ev, it = TopicPartition(events, 0), TopicPartition(intake, 0)
    current, lagging = f"test.restore.{run}.current", f"test.restore.{run}.lagging"

    async def commit(group: str, offsets: dict) -> None:
        consumer = AIOKafkaConsumer(group_id=group, enable_auto_commit=False, **kafka.client_options())
        await consumer.start()
        try:
            consumer.assign(list(offsets))
            if all(v is not None for v in offsets.values()):
                await consumer.commit(offsets)
            return {tp: await consumer.committed(tp) for tp in offsets}
        finally:
            await consumer.stop()

    await commit(current, {ev: 5, it: 3})
    await commit(lagging, {ev: 1})
    restored_to = datetime.fromtimestamp((base_ms + 30_000) / 1000, timezone.utc)
    result = await backup.rewind_consumer_groups(kafka, restored_to, replay_margin_s=15,
                                                 topic_names=[intake, events], external={intake})
    # copied: events 1 and 2 (before T, from the lagging group's offset); skipped: events 3 and 4 (after T)
    result_floor = result.pop("floor")
    assert result_floor == {f"{events}:0": 5}  # where the groups resume: the first copy
    assert result == {"groups": 2, "copied": 2, "skipped_after_restore_point": 2, "intake_rewound": 2}
    assert await commit(current, {ev: None, it: None}) == {ev: 5, it: 1}  # intake: first record of T - 15 s
    assert await commit(lagging, {ev: None}) == {ev: 5}

    reader = AIOKafkaConsumer(enable_auto_commit=False, **kafka.client_options())
    await reader.start()
    try:
        reader.assign([ev])
        reader.seek(ev, 5)
        copies = (await reader.getmany(ev, timeout_ms=5000)).get(ev, [])
    finally:
        await reader.stop()
    assert [(r.value, r.key, r.timestamp, dict(r.headers)["ce_id"]) for r in copies] == [
        (b"events-1", b"claim-1", base_ms + 10_000, b"e1"), (b"events-2", b"claim-1", base_ms + 20_000, b"e2")]

    # a second restore to a later point: its window reaches back before the first rewind, where events 3 and 4 (the
    # first restore's orphans) lie; the floor keeps them out: only the copies before the new point are copied again
    again = await backup.rewind_consumer_groups(kafka, restored_to + timedelta(seconds=25),
                                                replay_margin_s=60, topic_names=[intake, events], external={intake},
                                                floor=result_floor)
    assert again["copied"] == 2 and again["floor"] == {f"{events}:0": 7}


def test_backup_directory_outside_the_server_users_reach_is_refused(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("as root only: the server runs as 'postgres' then")
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    out = subprocess.run([sys.executable, str(ROOT / "deploy" / "backup.py"), "--dir", str(private / "b"),
                          "--port", "1", "server-options"], capture_output=True, text=True)
    assert out.returncode == 1 and "cannot write" in out.stderr
