"""Poll a URL until it answers 200: `wait_http.py URL TIMEOUT_SECONDS [PIDFILE]`.
Gives up early when the process in PIDFILE has exited (a failed migration, say). An https:// URL is verified with
the CA bundle in RCM_TLS_CA_FILE (the system's CAs when unset)."""

import os
import sys
import time

import httpx

from rcm_runtime.tls import client_context

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


ca_file = os.environ.get("RCM_TLS_CA_FILE")
verify = client_context(ca_file) if ca_file and os.path.exists(ca_file) else True
deadline = time.monotonic() + timeout
while time.monotonic() < deadline:
    try:
        if httpx.get(url, timeout=2, verify=verify).status_code == 200:
            sys.exit(0)
    except httpx.HTTPError:
        pass
    if not alive():
        sys.exit(2)
    time.sleep(0.2)
sys.exit(1)
