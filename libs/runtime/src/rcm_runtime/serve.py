"""`python -m rcm_runtime.serve [--migrate] package.app:create_app`: run one service with its settings'
host and port. The target is the service's app factory (its composition root): settings are read when
the process starts, never at import. --migrate first upgrades the service's schema (Alembic, alembic.ini in the working
directory) in the same interpreter, which saves a second heavy start-up per service."""

from __future__ import annotations

import os
import sys

import uvicorn


def migrate(config_path: str = "alembic.ini") -> None:
    from alembic import command
    from alembic.config import Config

    command.upgrade(Config(config_path), "head")


def main() -> None:
    args = sys.argv[1:]
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
