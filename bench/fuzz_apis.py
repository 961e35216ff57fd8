"""Fuzz every business service's API (a script, not a test): schemathesis against each service's own OpenAPI,
the longer run of what tests/fuzz runs bounded in the suite (tests/support/fuzz.py).

Each service's app runs in-process from its own create_app (tests/support/api.py: a throwaway schema of the local
stack's PostgreSQL, relay and consumer off; needs `make up`, or at least its PostgreSQL). Every operation gets the
schema's examples, schemathesis' coverage cases (each parameter and body field missing, wrong-typed, at and past
its bounds) and --examples generated cases, valid and invalid. Every response is checked: no 5xx, a documented
status code and content type, a body its declared schema accepts.

Prints per service: operations, cases tried, failures by check, then each distinct failure (operation, check,
status, what was wrong, a curl line to reproduce it). Exits 1 if anything failed.

    .venv/bin/python bench/fuzz_apis.py                        # all nine services, 100 generated cases an operation
    .venv/bin/python bench/fuzz_apis.py --examples 500 charges remittance
    .venv/bin/python bench/fuzz_apis.py --no-coverage --examples 20
    .venv/bin/python bench/fuzz_apis.py --negative denials       # also: forbidden input must get a 4xx
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rcm_runtime.outage import when_up  # noqa: E402
from tests.support.fuzz import CHECKS, NEGATIVE_CHECKS, TARGETS, ServiceReport, Target, fuzz, target_api  # noqa: E402

log = logging.getLogger("fuzz_apis")


def _print(report: ServiceReport, seconds: float) -> None:
    by_check = ", ".join(f"{check} {n}" for check, n in sorted(report.failures_by_check().items())) or "none"
    print(f"{report.service:16} operations {report.operations:3}  cases {report.cases:6}  "
          f"failures {len(report.found):3} ({by_check})  {seconds:6.1f}s", flush=True)
    for found in report.found.values():
        print(f"  {found}")
    for error in report.errors:
        print(f"  not tested: {error}")


async def fuzz_service(target: Target, examples: int, coverage: bool, checks: tuple) -> ServiceReport:
    async with target_api(target) as api:
        return await fuzz(api, target.name, max_examples=examples, coverage=coverage, checks=checks)


async def run(names: list[str], examples: int, coverage: bool, checks: tuple) -> int:
    targets = [t for t in TARGETS if not names or t.name in names]
    unknown = set(names) - {t.name for t in targets}
    if unknown:
        print(f"unknown service(s): {', '.join(sorted(unknown))}; known: {', '.join(t.name for t in TARGETS)}")
        return 2
    reports = []
    for target in targets:
        started = time.perf_counter()
        # PostgreSQL down while a service's throwaway schema is made or dropped (a restart, a fault drill): that
        # service is fuzzed again once it is back. While requests run, the fuzzer itself waits an outage out.
        report = await when_up(lambda: fuzz_service(target, examples, coverage, checks), what=f"fuzz {target.name}",
                               wait_s=600, log=log)
        _print(report, time.perf_counter() - started)
        reports.append(report)
    total_failures = sum(len(r.found) + len(r.errors) for r in reports)
    print(f"{'all':16} operations {sum(r.operations for r in reports):3}  cases {sum(r.cases for r in reports):6}  "
          f"failures {total_failures:3}")
    return 1 if total_failures else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("services", nargs="*", help="services to fuzz (default: all nine)")
    parser.add_argument("--examples", type=int, default=100, help="generated cases per operation (default 100)")
    parser.add_argument("--no-coverage", action="store_true", help="skip schemathesis' coverage cases")
    parser.add_argument("--negative", action="store_true",
                        help="also require a 4xx for every input the schema forbids (negative_data_rejection)")
    args = parser.parse_args()
    # The apps log every rejected request; the report is what matters here.
    logging.disable(logging.WARNING)
    checks = CHECKS + NEGATIVE_CHECKS if args.negative else CHECKS
    sys.exit(asyncio.run(run(args.services, args.examples, not args.no_coverage, checks)))


if __name__ == "__main__":
    main()
