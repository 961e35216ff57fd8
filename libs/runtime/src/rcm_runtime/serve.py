"""`python -m rcm_runtime.serve [--migrate] package.app:create_app`: run one service with its settings'
host and port. The target is the service's app factory (its composition root): settings are read when
the process starts, never at import. --migrate first upgrades the service's schema (Alembic, alembic.ini in the working
directory) in the same interpreter, which saves a second heavy start-up per service."""

from __future__ import annotations

import gc
import os
import sys

import uvicorn

# Objects allocated between two young-generation collections (CPython's default: 700). A request that builds
# a few hundred thousand objects (a posted 835: ~50 a claim) triggered thousands of collections and, as its
# objects survived, repeated full collections each walking the whole heap: a third of the CPU of posting a
# 10,000-claim file. 50,000 keeps young collections cheap per object and full ones rare; memory held by
# uncollected cycles stays a few MiB.
GC_YOUNG_THRESHOLD = 50_000


def tune_gc(young: int = GC_YOUNG_THRESHOLD) -> None:
    """The service process's garbage collector settings (the older generations keep their defaults)."""
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(young, older, oldest)


def migrate(config_path: str = "alembic.ini") -> None:
    from alembic import command
    from alembic.config import Config

    command.upgrade(Config(config_path), "head")


def main() -> None:
    args = sys.argv[1:]
    tune_gc()
    if "--migrate" in args:
        args.remove("--migrate")
        migrate()
    uvicorn.run(
        args[0],
        host=os.environ.get("RCM_HTTP_HOST", "127.0.0.1"),
        port=int(os.environ.get("RCM_HTTP_PORT", "8000")),
        log_config=None,  # the service installs JSON logging in its lifespan
        access_log=False,  # request paths only in traces; no query strings (could hold PHI) in logs
        timeout_graceful_shutdown=20,
        factory=True,
    )


if __name__ == "__main__":
    main()
