"""Schemathesis against every business service's own OpenAPI, in-process (tests/support/fuzz.py), bounded for
the suite: every operation (the ops routes too, with a platform operator's token) gets the schema's examples and a few
generated cases, valid and invalid, the same ones every run (derandomized). No response may be a server error,
carry an undocumented status code or content type, or break the schema the service publishes for it.

bench/fuzz_apis.py is the longer run (coverage cases, many more generated cases); what it finds gets a regression
test beside the service it concerns."""

from __future__ import annotations

import pytest

from tests.support.fuzz import TARGETS, fuzz, target_api

pytestmark = pytest.mark.integration

# Generated cases per operation, on top of the examples: enough to send every operation valid and invalid input
# (wrong types, missing fields, bad path ids), few enough for nine services to cost well under a minute.
EXAMPLES = 6


@pytest.mark.parametrize("target", TARGETS, ids=[t.name for t in TARGETS])
async def test_no_operation_answers_a_server_error_or_breaks_its_own_schema(target):
    async with target_api(target) as api:
        published = {(method.upper(), path) for path, ops in api.app.openapi()["paths"].items() for method in ops}
        report = await fuzz(api, target.name, max_examples=EXAMPLES, coverage=False)

    print(f"{target.name}: {report.operations} operations, {report.cases} cases")  # shown with -s or -rP
    tried = {tuple(label.split(" ", 1)) for label in report.cases_by_operation}
    assert tried == published, f"operations never called: {sorted(published - tried)}"
    assert not report.errors, "operations schemathesis could not test:\n" + "\n".join(report.errors)
    assert not report.found, f"{len(report.found)} failure(s) in {target.name}:\n" + "\n".join(
        str(f) for f in report.found.values())
