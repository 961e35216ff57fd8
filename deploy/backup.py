"""Backup and point-in-time restore of the local stack's PostgreSQL (called by deploy/stack.sh: `backup`,
`backups`, `restore`), and the Kafka consumer-group rewind a restore needs.

Layout of the backup directory (RCM_BACKUP_DIR, default $RCM_STACK_DIR/backups; a mounted volume in production):
  wal/<segment>.zst      every WAL segment, archived by the server itself (archive_command: bin/archive-wal.sh)
  base/<UTC time>/       one base backup: base.tar.zst, pg_wal.tar.zst (pg_basebackup -Ft, client-side zstd),
                         backup_manifest (a CRC32C checksum per file, checked by pg_verifybackup) and info.json
A restore extracts the newest base backup that finished before the target, checks it against its manifest,
replays archived WAL up to the target (latest, or recovery_target_time), promotes and checks the server, then
rewinds the services' consumer groups to the recovery point (`rewind_consumer_groups`, explained there)."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PG_BIN = Path(os.environ.get("RCM_PG_BIN") or "/usr/lib/postgresql/15/bin")
WAL_SEGMENT_BYTES = 16 * 1024 * 1024  # initdb's default; the stack never changes it


class BackupError(RuntimeError):
    pass


def as_pg(cmd: list[str]) -> list[str]:
    """The server's files belong to the 'postgres' user when we run as root (deploy/stack.sh: as_pg)."""
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


def run(cmd: list[str], *, shell_pipe: bool = False, timeout: float | None = None) -> str:
    proc = subprocess.run(cmd if not shell_pipe else ["/bin/sh", "-c", cmd[0]], capture_output=True, text=True,
                          timeout=timeout)
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-10:])
        raise BackupError(f"{' '.join(cmd)[:200]} exited {proc.returncode}: {tail}")
    return proc.stdout


def give_to_postgres(path: Path) -> None:
    if os.geteuid() == 0:
        run(["chown", "-R", "postgres:postgres", str(path)])


def psql(port: int, *statements: str, db: str = "openrcm") -> str:
    """Each statement in a transaction of its own (ALTER SYSTEM refuses to run in a block)."""
    return run(as_pg([str(PG_BIN / "psql"), "-h", "/tmp", "-p", str(port), "-U", "postgres", "-d", db, "-AtX",
                      "-v", "ON_ERROR_STOP=1", *(a for sql in statements for a in ("-c", sql))])).strip()


def wal_file_name(timeline: int, lsn: str) -> str:
    """The WAL segment file holding `lsn` ("0/2000028") on `timeline` (what pg_archivecleanup keeps from)."""
    hi, lo = (int(x, 16) for x in lsn.split("/"))
    segno = ((hi << 32) | lo) // WAL_SEGMENT_BYTES
    per_id = 0x100000000 // WAL_SEGMENT_BYTES
    return f"{timeline:08X}{segno // per_id:08X}{segno % per_id:08X}"


# ---------------------------------------------------------------- the backup directory
@dataclass
class Layout:
    root: Path

    @property
    def wal(self) -> Path:
        return self.root / "wal"

    @property
    def base(self) -> Path:
        return self.root / "base"

    @property
    def tmp(self) -> Path:
        return self.root / "tmp"


    def prepare(self) -> None:
        """The directories, and the archive command where the server can run it (the repository may sit where the
        'postgres' user cannot reach)."""
        for d in (self.wal, self.base, self.root / "bin"):
            d.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ROOT / "deploy" / "postgres" / "archive-wal.sh", self.archive_command_path)
        self.archive_command_path.chmod(0o755)
        give_to_postgres(self.wal)

    @property
    def archive_command_path(self) -> Path:
        return self.root / "bin" / "archive-wal.sh"

    def server_options(self, archive_timeout_s: int) -> str:
        """postgres command-line options (pg_ctl -o) that archive every WAL segment here."""
        return (f"-c archive_mode=on -c archive_command='{self.archive_command_path} %p %f' "
                f"-c archive_timeout={archive_timeout_s}")


@dataclass
class BaseBackup:
    name: str
    started_at: str
    finished_at: str  # the backup is consistent from this time on: a restore target must not be earlier
    seconds: float
    bytes: int
    timeline: int
    start_lsn: str
    start_wal: str
    verified_s: float | None = None
    path: Path | None = field(default=None, compare=False)

    def info(self) -> dict:
        d = asdict(self)
        d.pop("path")
        return d


def list_backups(layout: Layout) -> list[BaseBackup]:
    out = []
    for info in sorted(layout.base.glob("*/info.json")):
        out.append(BaseBackup(**json.loads(info.read_text()), path=info.parent))
    return out


def wal_archived(layout: Layout) -> tuple[int, int]:
    """(segments, bytes) in the WAL archive."""
    files = [p for p in layout.wal.glob("*.zst")]
    return len(files), sum(p.stat().st_size for p in files)


def extract(backup: BaseBackup, dest: Path) -> None:
    """base.tar.zst into `dest`, pg_wal.tar.zst into its pg_wal (the WAL that makes the backup consistent)."""
    assert backup.path is not None
    (dest / "pg_wal").mkdir(parents=True, exist_ok=True)
    for tar, into in (("base.tar.zst", dest), ("pg_wal.tar.zst", dest / "pg_wal")):
        run([f"zstd -qdc '{backup.path / tar}' | tar -x -C '{into}'"], shell_pipe=True)


def verify(layout: Layout, backup: BaseBackup) -> float:
    """pg_verifybackup checks every file against the manifest's checksums and parses the WAL the backup needs.
    PostgreSQL 15's pg_verifybackup reads plain backups only, so the tar backup is extracted aside first."""
    assert backup.path is not None
    t0 = time.monotonic()
    scratch = layout.tmp / f"verify-{backup.name}"
    shutil.rmtree(scratch, ignore_errors=True)
    try:
        extract(backup, scratch)
        run([str(PG_BIN / "pg_verifybackup"), "-q", "-m", str(backup.path / "backup_manifest"), str(scratch)])
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return time.monotonic() - t0


def take_base_backup(layout: Layout, port: int) -> BaseBackup:
    """pg_basebackup as tar, compressed with zstd on the client, WAL streamed alongside (-X stream), a fast
    checkpoint (the backup starts now rather than at the next scheduled checkpoint); then verified."""
    layout.base.mkdir(parents=True, exist_ok=True)
    started = datetime.now(timezone.utc)
    name = started.strftime("%Y%m%dT%H%M%SZ")
    part = layout.base / f"{name}.part"
    shutil.rmtree(part, ignore_errors=True)
    t0 = time.monotonic()
    run([str(PG_BIN / "pg_basebackup"), "-h", "/tmp", "-p", str(port), "-U", "postgres", "-D", str(part), "-Ft",
         "--compress=client-zstd:1", "-X", "stream", "-c", "fast", "--manifest-checksums=CRC32C",
         "-l", f"openrcm {name}"])
    finished = datetime.now(timezone.utc)
    if (part / "pg_wal.tar").exists():  # PostgreSQL 15 leaves the streamed WAL's tar uncompressed
        run(["zstd", "-q", "-1", "--rm", str(part / "pg_wal.tar")])
    seconds = time.monotonic() - t0
    manifest = json.loads((part / "backup_manifest").read_text())
    first = manifest["WAL-Ranges"][0]
    backup = BaseBackup(name=name, started_at=started.isoformat(), finished_at=finished.isoformat(),
                        seconds=round(seconds, 2), bytes=sum(p.stat().st_size for p in part.iterdir()),
                        timeline=int(first["Timeline"]), start_lsn=first["Start-LSN"],
                        start_wal=wal_file_name(int(first["Timeline"]), first["Start-LSN"]), path=part)
    backup.verified_s = round(verify(layout, backup), 2)
    (part / "info.json").write_text(json.dumps(backup.info(), indent=1))
    part.rename(layout.base / name)
    backup.path = layout.base / name
    return backup


def prune(layout: Layout, keep: int) -> tuple[list[str], int]:
    """Retention: the newest `keep` base backups stay, and the archived WAL from the oldest kept one's start on
    (so any time from that backup's end to now can be restored); older backups and segments go."""
    backups = list_backups(layout)
    if keep < 1 or len(backups) == 0:
        return [], 0
    gone = backups[:-keep] if len(backups) > keep else []
    for b in gone:
        assert b.path is not None
        shutil.rmtree(b.path)
    oldest = backups[-keep] if len(backups) >= keep else backups[0]
    before = wal_archived(layout)[0]
    # pg_archivecleanup removes segments (and older timelines' ones) preceding the one named; .zst stripped
    run(as_pg([str(PG_BIN / "pg_archivecleanup"), "-x", ".zst", str(layout.wal), oldest.start_wal]))
    for label in layout.wal.glob("*.backup.zst"):  # older backups' labels (pg_archivecleanup 15 keeps them)
        if label.name[8:24] < oldest.start_wal[8:24]:
            label.unlink()
    return [b.name for b in gone], before - wal_archived(layout)[0]


# ---------------------------------------------------------------- restore
@dataclass
class Restored:
    backup: str
    recovered_to: datetime  # the last transaction replayed (or the backup's end when none was)
    timeline: int
    seconds: float
    replaced: str | None  # where the data directory it replaced was moved (never deleted)
    schemas: dict[str, str]  # service schema -> its Alembic revision, read from the restored server


def choose_backup(layout: Layout, target: datetime | None) -> BaseBackup:
    backups = list_backups(layout)
    if target is not None:
        backups = [b for b in backups if datetime.fromisoformat(b.finished_at) <= target]
    if not backups:
        raise BackupError("no base backup finished before the target" if target else "no base backup yet: "
                          "run `deploy/stack.sh backup` first")
    return backups[-1]


def _server_running(pgdata: Path) -> bool:
    return subprocess.run(as_pg([str(PG_BIN / "pg_ctl"), "-D", str(pgdata), "status"]),
                          capture_output=True).returncode == 0


def _log_tail(log: Path) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-15:]) if log.exists() else ""


def _wait_promoted(pgdata: Path, port: int, log: Path, timeout_s: float = 3600.0) -> None:
    """pg_ctl -w returns once the server runs; with hot_standby off it takes no connection until the replay is
    over and it is promoted. A recovery that fails (its target beyond the archive, a missing segment) stops the
    server: its log says why."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if psql(port, "SELECT pg_is_in_recovery()") == "f":
                return
        except BackupError:
            if not _server_running(pgdata):
                raise BackupError(f"the restored server stopped during recovery:\n{_log_tail(log)}") from None
        time.sleep(0.3)
    raise BackupError(f"the restored server was still recovering after {timeout_s:.0f}s")


def restore(layout: Layout, pgdata: Path, port: int, pg_options: str, target: datetime | None,
            schemas: list[str], backup_name: str | None = None) -> Restored:
    """Build a new data directory at `pgdata` from a base backup plus the archived WAL, up to `target` (None: as
    far as the archive goes), start it and check it. Whatever was at `pgdata` is moved aside, never deleted."""
    t0 = time.monotonic()
    backup = (next((b for b in list_backups(layout) if b.name == backup_name), None) if backup_name
              else choose_backup(layout, target))
    if backup is None:
        raise BackupError(f"no base backup named {backup_name}")
    if pgdata.exists() and _server_running(pgdata):
        run(as_pg([str(PG_BIN / "pg_ctl"), "-D", str(pgdata), "-m", "fast", "-w", "stop"]))
    building = pgdata.with_name(pgdata.name + ".restoring")
    shutil.rmtree(building, ignore_errors=True)
    building.mkdir(parents=True)
    extract(backup, building)
    run([str(PG_BIN / "pg_verifybackup"), "-q", "-m", str(backup.path / "backup_manifest"), str(building)])
    restore_command = f"f={layout.wal}/%f.zst; [ -f $f ] && zstd -qdc $f > %p"
    settings = {"restore_command": restore_command, "recovery_target_action": "promote",
                "recovery_target_timeline": "latest"}
    if target is not None:
        settings["recovery_target_time"] = target.isoformat(sep=" ")
    with open(building / "postgresql.auto.conf", "a") as conf:
        conf.write("# restore (deploy/backup.py); reset once the server is promoted\n")
        for k, v in settings.items():
            conf.write(f"{k} = '{v}'\n")
    (building / "recovery.signal").touch()
    give_to_postgres(building)
    building.chmod(0o700)
    replaced = None
    if pgdata.exists():
        # never over an earlier one: two restores can land in the same second
        stamp = f"{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}"
        replaced = next(p for n in range(1000)
                        if not (p := pgdata.with_name(f"{pgdata.name}.replaced-{stamp}" + (f"-{n}" if n else ""))).exists())
        pgdata.rename(replaced)
    building.rename(pgdata)
    # hot_standby off: pg_ctl -w returns once recovery is over and the server promoted, not at consistency
    log = pgdata / "server.log"
    start = subprocess.run(as_pg([str(PG_BIN / "pg_ctl"), "-D", str(pgdata), "-l", str(log), "-w", "-t", "3600",
                                  "-o", f"{pg_options} -c hot_standby=off", "start"]), capture_output=True, text=True)
    if start.returncode != 0:
        raise BackupError(f"the restored server did not start:\n{_log_tail(log) or start.stderr}")
    _wait_promoted(pgdata, port, log)
    replayed = psql(port, "SELECT pg_last_xact_replay_timestamp()")
    recovered_to = datetime.fromisoformat(replayed) if replayed else datetime.fromisoformat(backup.finished_at)
    psql(port, *(f"ALTER SYSTEM RESET {k}" for k in settings), "SELECT pg_reload_conf()")
    timeline = int(psql(port, "SELECT timeline_id FROM pg_control_checkpoint()"))
    # the check: every service schema is there, and its migration revision readable ("-": not migrated yet)
    rows = psql(port, "SELECT nspname, CASE WHEN to_regclass(quote_ident(nspname) || '.alembic_version') IS NULL "
                      "THEN '-' ELSE (xpath('/row/v/text()', query_to_xml(format("
                      "'SELECT string_agg(version_num, '','') AS v FROM %I.alembic_version', nspname), false, true, "
                      "'')))[1]::text END FROM pg_namespace WHERE nspname = ANY(string_to_array("
                      f"'{','.join(schemas)}', ','))")
    found = dict(line.split("|", 1) for line in rows.splitlines())
    if missing := sorted(set(schemas) - set(found)):
        raise BackupError(f"the restored database lacks the schemas {', '.join(missing)}")
    return Restored(backup=backup.name, recovered_to=recovered_to, timeline=timeline,
                    seconds=time.monotonic() - t0, replaced=str(replaced) if replaced else None, schemas=found)


# ---------------------------------------------------------------- Kafka
async def rewind_consumer_groups(kafka, restored_to: datetime, *, replay_margin_s: float = 900.0,
                                 topic_names: list[str] | None = None, external: set[str] | None = None,
                                 floor: dict[str, int] | None = None) -> dict:
    """Bring the services' consumer groups back to the database's recovery point T, so nothing is lost and nothing
    applied twice. Kafka keeps its offsets when the database goes back in time, so without this every consumer
    would go on after the records whose effects the restore just undid. The services must be stopped (a group
    with members refuses new offsets). `kafka` is a principal's access (rcm_runtime.kafka_access.KafkaAccess:
    a super user, e.g. the stack's admin) that every client connects with.

    - The intake topic (written by EHRs, not by us): every record in it is real input. Each group goes back to the
      first record of T - replay_margin_s (or stays where it was, if that is earlier): records applied before T
      are in the restored inboxes and dropped; the rest are applied again.
    - Our own topics (written by the services' outbox relays): a record published after T is either an orphan (its
      outbox row was committed after T and is gone with the restore: its effects must not be applied downstream,
      the upstream service makes the event again as it replays) or from a row committed before T and deleted
      after it, which the restored outbox holds and the relay publishes again (same event id). So every record
      after T is skipped, and the records before T that a group may not have applied before T (from
      T - replay_margin_s, or its own older offset) are copied to the end of their partition, in order, with
      key, headers and timestamp; each group resumes at the first copy. The inboxes drop those already applied.
    replay_margin_s must exceed how far behind any consumer was at T (seconds here; 15 minutes by default).
    `floor` ("topic:partition" -> offset, returned as "floor") is where the previous rewind left the groups: no copy
    starts before it, since what lies before it is either copied after it already or an earlier restore's orphan.
    Record times (the relay's clock) and commit times (the database's) are compared: hosts in sync (NTP).
    `topic_names` (default: every topic of rcm_contracts.topics and every tenant's intake topic) and `external`
    (default: the intake topics) are for tests; groups with no offsets on these topics are left alone."""
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
    from aiokafka.admin import AIOKafkaAdminClient

    from rcm_contracts import topics

    options = kafka.client_options()
    admin = AIOKafkaAdminClient(**options)
    reader = AIOKafkaConsumer(enable_auto_commit=False, isolation_level="read_committed", **options)
    producer = AIOKafkaProducer(enable_idempotence=True, compression_type="gzip",
                                max_request_size=max(topics.MAX_MESSAGE_BYTES.values(), default=1 << 20) + (1 << 20),
                                **options)
    await admin.start()
    if topic_names is None:  # one intake topic per tenant (rcm_contracts.topics.INTAKE_ENCOUNTERS)
        intake = sorted(t for t in await admin.list_topics() if topics.INTAKE_ENCOUNTERS.fullmatch(t))
        names, external = [*topics.ALL, *intake], set(intake) if external is None else external
    else:
        names, external = topic_names, set() if external is None else external
    await reader.start()
    await producer.start()
    try:
        committed: dict[str, dict[TopicPartition, int]] = {}
        for group, _protocol in await admin.list_consumer_groups():
            offsets = {tp: om.offset for tp, om in (await admin.list_consumer_group_offsets(group)).items()
                       if tp.topic in names and om.offset >= 0}
            if not offsets:
                continue
            for response in await admin.describe_consumer_groups([group]):
                for described in response.groups:
                    if described[1] == group and described[5]:
                        raise BackupError(f"consumer group {group} has {len(described[5])} member(s): stop the "
                                          "services before restoring")
            committed[group] = offsets
        tps = [TopicPartition(d["topic"], p["partition"]) for d in await admin.describe_topics(names)
               if d["error_code"] == 0 for p in sorted(d["partitions"], key=lambda p: p["partition"])]
        begin, end = await reader.beginning_offsets(tps), await reader.end_offsets(tps)
        t_ms = int(restored_to.timestamp() * 1000)

        async def offsets_at(ms: int) -> dict[TopicPartition, int]:
            found = await reader.offsets_for_times({tp: ms for tp in tps})
            return {tp: found[tp].offset if found.get(tp) else end[tp] for tp in tps}

        at_margin, at_t = await offsets_at(t_ms - int(replay_margin_s * 1000)), await offsets_at(t_ms)
        # a partition a group consumes but never committed on would be read from its beginning
        consumed = {g: {tp for tp in tps if tp.topic in {x.topic for x in offs}} for g, offs in committed.items()}
        start = {tp: min([at_margin[tp], *(committed[g].get(tp, begin[tp]) for g in committed if tp in consumed[g])])
                 for tp in tps}
        internal = [tp for tp in tps if tp.topic not in external]
        for tp in internal:
            start[tp] = max(start[tp], (floor or {}).get(f"{tp.topic}:{tp.partition}", 0))
        copying = [tp for tp in internal if start[tp] < at_t[tp]]
        copied = 0
        if copying:
            reader.assign(copying)
            for tp in copying:
                reader.seek(tp, start[tp])
            left = set(copying)
            while left:
                batches = await reader.getmany(*left, timeout_ms=1000, max_records=2000)
                sends = []
                for tp, records in batches.items():
                    for r in records:
                        if r.offset < at_t[tp]:
                            sends.append(await producer.send(tp.topic, value=r.value, key=r.key, partition=tp.partition,
                                                             timestamp_ms=r.timestamp, headers=list(r.headers)))
                await asyncio.gather(*sends)
                copied += len(sends)
                left = {tp for tp in left if await reader.position(tp) < at_t[tp]}
        new = {}
        for group, offs in committed.items():
            new[group] = {tp: (min(offs.get(tp, begin[tp]), at_margin[tp]) if tp.topic in external
                               else end[tp]) for tp in consumed[group]}
            committer = AIOKafkaConsumer(group_id=group, enable_auto_commit=False, **options)
            await committer.start()
            try:
                committer.assign(list(new[group]))
                await committer.commit(new[group])
            finally:
                await committer.stop()
        return {"groups": len(committed), "copied": copied,
                "skipped_after_restore_point": sum(end[tp] - at_t[tp] for tp in internal),
                "floor": {f"{tp.topic}:{tp.partition}": end[tp] for tp in internal},
                "intake_rewound": sum(max(0, committed[g][tp] - new[g][tp]) for g in committed
                                      for tp in committed[g] if tp.topic in external)}
    finally:
        await producer.stop()
        await reader.stop()
        await admin.close()


# ---------------------------------------------------------------- command line
def _human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024:
            return f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


def _schemas() -> list[str]:
    rows = (ROOT / "deploy" / "services.tsv").read_text().splitlines()
    return [r.split("\t")[3] for r in rows if r.strip() and not r.startswith("#")]


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dir", type=Path, required=True, help="the backup directory")
    ap.add_argument("--port", type=int, required=True, help="PostgreSQL's port")
    sub = ap.add_subparsers(dest="command", required=True)
    base = sub.add_parser("base", help="take a base backup, verify it, apply retention")
    base.add_argument("--keep", type=int, default=int(os.environ.get("RCM_BACKUP_KEEP", "3")))
    so = sub.add_parser("server-options", help="prepare the directory; print the server's archiving options")
    so.add_argument("--archive-timeout-s", type=int, default=int(os.environ.get("RCM_WAL_ARCHIVE_TIMEOUT_S", "60")))
    sub.add_parser("list")
    pr = sub.add_parser("prune")
    pr.add_argument("--keep", type=int, default=int(os.environ.get("RCM_BACKUP_KEEP", "3")))
    rs = sub.add_parser("restore")
    rs.add_argument("--pgdata", type=Path, required=True)
    rs.add_argument("--pg-options", required=True)
    rs.add_argument("--to", help="recovery_target_time (ISO 8601; no zone means UTC); default: latest")
    rs.add_argument("--backup", help="a base backup's name (default: the newest that finished before --to)")
    rs.add_argument("--kafka-bootstrap", help="rewind the services' consumer groups on this broker")
    rs.add_argument("--replay-margin-s", type=float, default=float(os.environ.get("RCM_RESTORE_REPLAY_MARGIN_S", "900")))
    args = ap.parse_args(argv)
    layout = Layout(args.dir)
    if args.command == "server-options":
        layout.prepare()
        if subprocess.run(as_pg(["test", "-w", str(layout.wal)])).returncode != 0:
            raise BackupError(f"the server's user cannot write {layout.wal} (RCM_BACKUP_DIR)")
        print(layout.server_options(args.archive_timeout_s))
    elif args.command == "base":
        b = take_base_backup(layout, args.port)
        gone, segments = prune(layout, args.keep)
        print(f"base backup {b.name}: {_human(b.bytes)} in {b.seconds:.1f}s, verified in {b.verified_s:.1f}s; "
              f"retention removed {len(gone)} backup(s) and {segments} WAL segment(s)")
    elif args.command == "list":
        for b in list_backups(layout):
            print(f"{b.name}  {_human(b.bytes):>10s}  {b.seconds:6.1f}s  timeline {b.timeline}  "
                  f"restorable from {b.finished_at}")
        n, size = wal_archived(layout)
        print(f"WAL archive: {n} segment(s), {_human(size)} in {layout.wal}")
    elif args.command == "prune":
        gone, segments = prune(layout, args.keep)
        print(f"removed {len(gone)} base backup(s) ({', '.join(gone) or '-'}) and {segments} WAL segment(s)")
    elif args.command == "restore":
        target = None
        if args.to:
            target = datetime.fromisoformat(args.to)
            target = target if target.tzinfo else target.replace(tzinfo=timezone.utc)
        r = restore(layout, args.pgdata, args.port, args.pg_options, target, _schemas(), args.backup)
        print(f"restored base backup {r.backup} + archived WAL to {r.recovered_to.isoformat()} (timeline "
              f"{r.timeline}) in {r.seconds:.1f}s; {len(r.schemas)} service schemas checked"
              + (f"; the replaced data directory is in {r.replaced}" if r.replaced else ""))
        if args.kafka_bootstrap:
            floor_file = layout.root / "kafka-rewind-floor.json"
            floor = json.loads(floor_file.read_text()) if floor_file.exists() else {}
            from rcm_runtime.kafka_access import ADMIN, stack_access

            kafka = stack_access(ADMIN, bootstrap=args.kafka_bootstrap)  # the stack's super user (RCM_STACK_DIR)
            rewind = asyncio.run(rewind_consumer_groups(kafka, r.recovered_to, floor=floor,
                                                        replay_margin_s=args.replay_margin_s))
            floor_file.write_text(json.dumps({**floor, **rewind["floor"]}, indent=1))
            print(f"kafka: {rewind['groups']} consumer group(s) rewound to {r.recovered_to.isoformat()}: "
                  f"{rewind['copied']} record(s) before it copied for replay, "
                  f"{rewind['skipped_after_restore_point']} after it skipped, "
                  f"{rewind['intake_rewound']} intake record(s) to read again")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except BackupError as exc:
        print(f"backup: {exc}", file=sys.stderr)
        sys.exit(1)
