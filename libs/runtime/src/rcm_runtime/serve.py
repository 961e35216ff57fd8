"""`python -m rcm_runtime.serve package.app:app`: run one service with its settings' host and port."""

from __future__ import annotations

import os
import sys

import uvicorn


def main() -> None:
    target = sys.argv[1]
    uvicorn.run(
        target,
        host=os.environ.get("RCM_HTTP_HOST", "127.0.0.1"),
        port=int(os.environ.get("RCM_HTTP_PORT", "8000")),
        log_config=None,  # the service installs JSON logging in its lifespan
        access_log=False,  # request paths only in traces; no query strings (could hold PHI) in logs
        timeout_graceful_shutdown=20,
    )


if __name__ == "__main__":
    main()
