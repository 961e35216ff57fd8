"""Faults on the local stack (deploy/stack.sh): stop and start PostgreSQL or Kafka, kill a service with SIGKILL
or stop it with SIGTERM, start services again. Used by the fault drill (tests/support/fault_drill.py).

Every call goes through deploy/stack.sh, so a fault here is exactly what an operator's restart does."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STACK_SH = ROOT / "deploy" / "stack.sh"
RUN_DIR = Path(os.environ.get("RCM_STACK_DIR", ROOT / ".stack")) / "run"


class StackCommandFailed(RuntimeError):
    pass


async def stack(*args: str, timeout_s: float = 300.0) -> None:
    """Run `deploy/stack.sh <args>`; raise with the tail of its output if it fails."""
    proc = await asyncio.create_subprocess_exec(str(STACK_SH), *args, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.STDOUT)
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout_s)
    except asyncio.TimeoutError:
        proc.kill()
        raise StackCommandFailed(f"stack.sh {' '.join(args)}: no answer within {timeout_s:.0f}s") from None
    if proc.returncode != 0:
        tail = out.decode(errors="replace").strip().splitlines()[-15:]
        raise StackCommandFailed(f"stack.sh {' '.join(args)} exited {proc.returncode}:\n" + "\n".join(tail))


def service_pid(name: str) -> int | None:
    pidf = RUN_DIR / f"{name}.pid"
    try:
        pid = int(pidf.read_text())
    except (FileNotFoundError, ValueError):
        return None
    return pid if _alive(pid) else None


async def kill(name: str) -> None:
    """SIGKILL: the process dies mid-batch, with no chance to commit or clean up."""
    pid = service_pid(name)
    if pid is None:
        raise StackCommandFailed(f"{name} is not running")
    os.kill(pid, signal.SIGKILL)
    await _gone(pid, 10.0)


async def terminate(name: str, grace_s: float) -> float:
    """SIGTERM, as an orchestrator stops a container; returns the seconds the service took to exit. Raises if
    it is still running after `grace_s` (it is then killed, as the orchestrator would)."""
    pid = service_pid(name)
    if pid is None:
        raise StackCommandFailed(f"{name} is not running")
    t0 = time.monotonic()
    os.kill(pid, signal.SIGTERM)
    if not await _gone(pid, grace_s):
        os.kill(pid, signal.SIGKILL)
        raise StackCommandFailed(f"{name} did not exit within {grace_s:.0f}s of SIGTERM")
    return time.monotonic() - t0


async def _gone(pid: int, within_s: float) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            # a child of the shell that started it: reap it if it is ours, else just probe
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return True
        except ChildProcessError:
            pass
        if not _alive(pid):
            return True
        await asyncio.sleep(0.1)
    return False


def _alive(pid: int) -> bool:
    """Running, and not a zombie waiting for a parent that does not reap it (PID 1 of some containers)."""
    try:
        os.kill(pid, 0)
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (ProcessLookupError, FileNotFoundError):
        return False
    return state not in ("Z", "X")


async def start_services(*names: str) -> None:
    await stack("services-up", *names)


async def postgres_down() -> None:
    """Every PostgreSQL process stops at once, as in a crash: no shutdown checkpoint (which, with thousands of
    test relations to sync, can outlast pg_ctl's wait), recovery from the WAL on start."""
    await stack("pg-crash")


async def postgres_up() -> None:
    await stack("pg-up")


async def kafka_restart() -> float:
    """Stop Kafka (controlled shutdown) and start it again; returns the seconds it was away."""
    t0 = time.monotonic()
    await stack("kafka-down")
    await stack("kafka-up")
    return time.monotonic() - t0


async def restore_all(attempts: int = 6) -> None:
    """Whatever a failed drill left stopped is started again (each step is a no-op when already up); a step
    that fails (PostgreSQL still shutting down, say) is tried again a few times."""
    for step in ("pg-up", "kafka-up", "services-up"):
        for attempt in range(attempts):
            try:
                await stack(step)
                break
            except StackCommandFailed:
                if attempt == attempts - 1:
                    raise
                await asyncio.sleep(5.0)
