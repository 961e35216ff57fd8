"""Rule proposals from denial patterns (pure): the custom rule a DenialRuleRecommended suggests, and the payer's
next rule-set version with it added.

The rule stops claims of the payer that carry the procedure code for review (severity error), with a static
message naming the denial pattern. Approving writes a new version of the payer's rule set: the latest one's edits
and custom rules, plus this rule (replacing a rule of the same id), from the same effective_from (versions are never
rewritten; the rule reaches every date of service the latest version covers; a payer without a rule set gets
its first version, in force for every date of service).
"""

from __future__ import annotations

from datetime import date
from typing import Any, Mapping

from rcm_contracts.events import DenialRuleRecommended

from rcm_scrubber.domain.rule_sets import RuleSetDocument, parse_rule_set, payer_key

FIELD = "procedure_code"  # what the reviewer looks at on the stopped line


def proposed_rule(event: DenialRuleRecommended) -> dict[str, Any]:
    """The custom rule (rule_sets.CustomRule's shape) a recommendation suggests."""
    suggested = event.suggested_rule
    rule = {"id": suggested.id, "severity": suggested.severity,
            "when": {"payer_id": [event.payer_id], "procedure_codes": list(suggested.procedure_codes)},
            "message": suggested.message, "field": FIELD}
    parse_rule_set({"tenant_id": "check", "payer_id": event.payer_id, "version": 1, "effective_from": date.min,
                    "custom_rules": [rule]})  # raises RuleSetError: a rule the scrubber could not run is refused
    return rule


def next_version(tenant_id: str, payer_id: str, latest: RuleSetDocument | None,
                 rule: Mapping[str, Any]) -> RuleSetDocument:
    """The payer's next rule-set version: `latest` (None: the payer has none) with `rule` added or replaced."""
    if latest is None:
        return parse_rule_set({"tenant_id": tenant_id, "payer_id": payer_key(payer_id), "version": 1,
                               "effective_from": date.min, "custom_rules": [dict(rule)],
                               "description": f"rule {rule['id']} approved from a denial pattern"})
    document = latest.model_dump(mode="json", exclude_none=True)
    kept = [r for r in document.get("custom_rules", []) if r["id"] != rule["id"]]
    document.update(version=latest.version + 1, custom_rules=[*kept, dict(rule)],
                    description=f"rule {rule['id']} approved from a denial pattern")
    return parse_rule_set(document)
