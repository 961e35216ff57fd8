"""`python -m rcm_runtime.serve [--migrate] package.app:create_app`: run one service with its settings'
host and port. The target is the service's app factory (its composition root): settings are read when
the process starts, never at import. --migrate first upgrades the service's schema (Alembic, alembic.ini in the working
directory) in the same interpreter, which saves a second heavy start-up per service; started while PostgreSQL is
down, it waits for it (RCM_STARTUP_WAIT_S, default 120 s) rather than crash. Migrations connect as the schema's
owner (RCM_MIGRATION_DATABASE_URL), which is dropped from the environment before the app starts."""

from __future__ import annotations

import gc
import logging
import os
import sys
import time
from typing import Callable

import uvicorn

from rcm_runtime.tls import server_files

# Objects allocated between two young-generation collections (CPython's default: 700). A request that builds
# a few hundred thousand objects (a posted 835: ~50 a claim) triggered thousands of collections and, as its
# objects survived, repeated full collections each walking the whole heap: a third of the CPU of posting a
# 10,000-claim file. 50,000 keeps young collections cheap per object and full ones rare; memory held by
# uncollected cycles stays a few MiB.
GC_YOUNG_THRESHOLD = 50_000
MIGRATION_URL_ENV = "RCM_MIGRATION_DATABASE_URL"
# An idle keep-alive connection is closed by the server after this long. It must outlast the clients' own idle
# limit (httpx: 5 s, uvicorn's default here too): at equal limits a client may send on a connection the server is
# closing that instant, and gets "Server disconnected without sending a response" (seen on the TLS stack under load).
HTTP_KEEP_ALIVE_S = 30


def tune_gc(young: int = GC_YOUNG_THRESHOLD) -> None:
    """The service process's garbage collector settings (the older generations keep their defaults)."""
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(young, older, oldest)


def migrate(config_path: str = "alembic.ini") -> None:
    from alembic import command
    from alembic.config import Config

    command.upgrade(Config(config_path), "head")


def migrate_when_ready(config_path: str = "alembic.ini", *, wait_s: float | None = None,
                       run: Callable[[str], None] | None = None) -> None:
    """migrate(), retried while the database is unavailable (rcm_runtime.failures.is_transient) for up to `wait_s`
    seconds; a permanent failure (a broken migration) is raised at once."""
    from rcm_runtime.failures import is_transient
    from rcm_runtime.outage import Backoff, Outage

    run = run or migrate
    wait_s = float(os.environ.get("RCM_STARTUP_WAIT_S", "120")) if wait_s is None else wait_s
    log = logging.getLogger("rcm.startup")
    backoff, outage = Backoff(), Outage(log, "startup: migrations")
    deadline = time.monotonic() + wait_s
    while True:
        try:
            run(config_path)
        except Exception as exc:
            left = deadline - time.monotonic()
            if not is_transient(exc) or left <= 0:
                raise
            outage.failed(exc)
            time.sleep(min(backoff.next(), left))
            continue
        outage.recovered()
        return


def main() -> None:
    args = sys.argv[1:]
    tune_gc()
    if "--migrate" in args:
        args.remove("--migrate")
        migrate_when_ready()
    # The serving app never holds the schema owner's credentials (it could switch row-level security off):
    # only migrations use them. Deployments that can, run migrations as a job of their own with that secret.
    os.environ.pop(MIGRATION_URL_ENV, None)
    # HTTPS when a certificate is configured (health and readiness too: one listener, one protocol)
    tls = server_files(os.environ.get("RCM_HTTP_TLS_CERT_FILE"), os.environ.get("RCM_HTTP_TLS_KEY_FILE"))
    uvicorn.run(
        args[0],
        host=os.environ.get("RCM_HTTP_HOST", "127.0.0.1"),
        port=int(os.environ.get("RCM_HTTP_PORT", "8000")),
        log_config=None,  # the service installs JSON logging in its lifespan
        access_log=False,  # request paths only in traces; no query strings (could hold PHI) in logs
        timeout_keep_alive=HTTP_KEEP_ALIVE_S,
        timeout_graceful_shutdown=15,  # then the lifespan's 10 s for the batch in hand (rcm_runtime.app)
        factory=True,
        **tls,
    )


if __name__ == "__main__":
    main()
