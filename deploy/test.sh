#!/usr/bin/env bash
# The whole test suite: starts what the tests need (PostgreSQL, Kafka, the services), runs unit,
# integration and end-to-end tests, and stops what it started. `make test` and .ci/run call this.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STACK="$ROOT/deploy/stack.sh"
cd "$ROOT"

t0=$(date +%s)
before="$("$STACK" status 2>/dev/null || true)"
was_up() { grep -q "^$1: up" <<<"$before"; }

cleanup() {
  local rc=$?
  # Services restart for every run (tests must see this checkout's code); infra stays if it was up.
  "$STACK" services-down || true
  if was_up charges; then "$STACK" services-up >/dev/null 2>&1 || true; fi
  was_up kafka || "$STACK" kafka-down || true
  was_up postgres || "$STACK" pg-down || true
  echo "test command finished in $(( $(date +%s) - t0 ))s (exit $rc)"
  exit $rc
}
trap cleanup EXIT

# The suite's services trace every request and event into .stack/logs/<service>.spans.jsonl: the PHI scan
# (tests/e2e/test_phi_in_telemetry.py) reads them with the logs. A stack setting (stack.sh gives each service it
# started RCM_OTEL_EXPORTER=file and its file), so the services the tests restart trace too, while the apps the
# tests run in-process keep tracing off.
export RCM_STACK_SPANS="${RCM_STACK_SPANS:-file}"

"$STACK" infra-up
"$STACK" services-down
"$STACK" services-up
echo "stack ready after $(( $(date +%s) - t0 ))s"

"$ROOT/.venv/bin/python" -m pytest "$@"
