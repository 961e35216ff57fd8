"""The answer to a FHIR batch or transaction Bundle as a FHIR `batch-response` Bundle (pure).

FHIR wants one response entry per request entry, in order. An Encounter's entry carries that encounter's
outcome (201 captured or held, 200 a resend, 409 a conflicting resend of a released claim, 422 rejected),
with an OperationOutcome listing what is missing or wrong (`expression`: the field). Every other entry is
read as part of the encounters that use it and answers 200; when it made an encounter fail, that encounter's
OperationOutcome names it. A transaction is answered as a batch too: encounters are captured one by one,
not all or nothing, so `transaction-response` would promise what intake does not do.
"""

from __future__ import annotations

from typing import Any

HTTP_STATUS = {200: "200 OK", 201: "201 Created", 409: "409 Conflict", 422: "422 Unprocessable Entity"}


def item_status(item: dict) -> int:
    """The HTTP status of one encounter's outcome item (see charges' FHIR route)."""
    if item["status"] == "rejected":
        return 422
    if item["status"] == "conflict":
        return 409
    return 201 if item.get("created") else 200


def batch_response(items: list[dict], entry_count: int) -> dict:
    """`items`: one per Encounter, with `entry_index`, `status`, and `claim_id`, `missing`, `errors` or `reason`."""
    by_entry = {item["entry_index"]: item for item in items}
    entries = []
    for i in range(entry_count):
        item = by_entry.get(i)
        entries.append({"response": _response(item)} if item is not None else {"response": {"status": "200 OK"}})
    return {"resourceType": "Bundle", "type": "batch-response", "entry": entries}


def _response(item: dict) -> dict[str, Any]:
    response: dict[str, Any] = {"status": HTTP_STATUS[item_status(item)]}
    if item.get("claim_id"):
        response["location"] = f"encounters/{item['claim_id']}"
    issues = [_issue("error", "invalid", e["reason"], e["field"]) for e in item.get("errors") or []]
    issues += [_issue("warning", "incomplete", m["reason"], m["field"]) for m in item.get("missing") or []]
    if item["status"] == "conflict":
        issues.append(_issue("error", "conflict", item.get("reason") or "conflicting resend", None))
    if item["status"] in ("held", "self_pay", "duplicate", "open"):
        issues.append(_issue("information", "informational", f"encounter {item['status']}", None))
    if issues:
        response["outcome"] = {"resourceType": "OperationOutcome", "issue": issues}
    return response


def _issue(severity: str, code: str, diagnostics: str, expression: str | None) -> dict:
    issue = {"severity": severity, "code": code, "diagnostics": diagnostics}
    if expression:
        issue["expression"] = [expression]
    return issue
