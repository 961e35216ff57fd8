"""Rule proposals from denial patterns (rcm_scrubber.domain.proposals): the suggested rule compiles and stops
exactly the payer's claims with the procedure code; approval makes the payer's next rule-set version."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

from rcm_contracts.events import DenialRuleRecommended, SuggestedRule
from rcm_scrubber.domain.proposals import next_version, proposed_rule
from rcm_scrubber.domain.rule_sets import RuleSetLibrary, parse_rule_set
from tests.support import claims as factory

MESSAGE = "denial pattern: payer SBX01 denied 97810 with CO-96 on 6 claims from 2026-10-13 to 2026-11-11"


def recommended(payer: str = "SBX01") -> DenialRuleRecommended:
    return DenialRuleRecommended(
        recommendation_id=uuid.uuid4(), payer_id=payer, procedure_code="97810", carc="CO-96", count=6, threshold=5,
        window_start=date(2026, 10, 13), window_end=date(2026, 11, 11), denied_amount=Decimal("510.00"),
        suggested_rule=SuggestedRule(id=f"DNL-{payer}-97810-CO-96", procedure_codes=["97810"], message=MESSAGE))


def claim(payer: str, code: str):
    return factory.make_claim(coverage=factory.make_coverage(payer_id=payer), lines=[factory.make_line(1, code=code)])


def test_the_proposed_rule_stops_the_payers_claims_with_the_code_and_no_others():
    rule = proposed_rule(recommended())
    doc = next_version("t", "SBX01", None, rule)
    assert (doc.version, doc.payer_id, doc.effective_from) == (1, "SBX01", date.min)
    library = RuleSetLibrary([doc])
    [compiled] = library.for_claim(claim("SBX01", "97810"), "t").custom_rules
    assert compiled.id == "DNL-SBX01-97810-CO-96" and compiled.severity == "error" and compiled.message == MESSAGE
    assert compiled.hits(claim("SBX01", "97810")) == [1]
    assert compiled.hits(claim("SBX01", "99213")) == []
    assert library.for_claim(claim("SBX02", "97810"), "t").custom_rules == ()  # another payer's rule set


def test_approval_keeps_the_latest_versions_edits_and_rules_and_replaces_a_rule_of_the_same_id():
    latest = parse_rule_set({"tenant_id": "t", "payer_id": "SBX01", "version": 3, "effective_from": "2026-01-01",
                             "edits": {"SCR032": {"parameters": {"timely_filing_days": 90}}},
                             "custom_rules": [{"id": "KEEP-ME", "when": {"procedure_codes": ["99214"]},
                                               "message": "keep"},
                                              {"id": "DNL-SBX01-97810-CO-96", "when": {"procedure_codes": ["1"]},
                                               "message": "old"}]})
    doc = next_version("t", "SBX01", latest, proposed_rule(recommended()))
    assert doc.version == 4 and doc.effective_from == date(2026, 1, 1)
    assert doc.edits.SCR032.parameters.timely_filing_days == 90
    assert [(r.id, r.message) for r in doc.custom_rules] == [("KEEP-ME", "keep"), ("DNL-SBX01-97810-CO-96", MESSAGE)]
