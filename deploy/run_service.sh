#!/usr/bin/env bash
# One service process: migrate its schema, then serve, in one interpreter (exec keeps the pid).
# Run from services/<name> with the RCM_* environment of deploy/stack.sh.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
exec "$ROOT/.venv/bin/python" -m rcm_runtime.serve --migrate "$1.app:create_app"
