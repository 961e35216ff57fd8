"""Poll a URL until it answers 200: `wait_http.py URL TIMEOUT_SECONDS [PIDFILE]`.
Gives up early when the process in PIDFILE has exited (a failed migration, say)."""

import os
import sys
import time

import httpx

url, timeout = sys.argv[1], float(sys.argv[2])
pidfile = sys.argv[3] if len(sys.argv) > 3 else None


def alive() -> bool:
    if not pidfile:
        return True
    try:
        os.kill(int(open(pidfile).read()), 0)
        return True
    except (OSError, ValueError):
        return False


deadline = time.monotonic() + timeout
while time.monotonic() < deadline:
    try:
        if httpx.get(url, timeout=2).status_code == 200:
            sys.exit(0)
    except httpx.HTTPError:
        pass
    if not alive():
        sys.exit(2)
    time.sleep(0.2)
sys.exit(1)
