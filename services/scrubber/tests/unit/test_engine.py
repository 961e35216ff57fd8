"""The scrubber's rule engine (rcm_scrubber.domain.engine): every catalog edit firing and not firing,
upstream pass-through, decision, duplicate fingerprints, timely filing, coverage dates, PHI-free messages."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Callable

import pytest

from rcm_contracts.claim import Address, Claim, Coverage, Insured, OtherPayer, Person, Provider, ServiceLine
from rcm_contracts.events import Edit
from rcm_scrubber.domain.catalog import CATALOG_BY_ID
from rcm_scrubber.domain.engine import (
    CoverageDates,
    ScrubContext,
    claim_fingerprint,
    decision,
    npi_is_valid,
    scrub,
    taxonomy_is_valid,
)
from rcm_scrubber.domain.rule_sets import DEFAULT_RULE_SET, compile_rule_set, parse_rule_set
from tests.support import claims

TODAY = date(2026, 3, 20)
DOS = date(2026, 3, 14)
TENANT = "tenant-a"
BILLING_NPI, RENDERING_NPI, OTHER_NPI = "1234567893", "1245319599", "1679576722"
BAD_NPI = "1234567890"
# Distinctive values so a message quoting any of them would be caught.
FIRST, LAST, MEMBER_ID, TIN = "Zelphine", "Quarrington", "MBR7734521", "987654321"
BIRTH = date(1971, 8, 23)
PRACTICE = Address(line1="100 Harbor Way", city="Boston", state="MA", postal_code="021101234")
HOME = Address(line1="42 Wren Lane", city="Quincy", state="MA", postal_code="02169")


def make_claim(*, lines: list[ServiceLine] | None = None, **updates: Any) -> Claim:
    """A claim with everything the 837P needs: the default rule set finds nothing on it."""
    lines = lines or [claims.make_line(1, "99214", "210.00"), claims.make_line(2, "36415", "20.00", pointers=[2])]
    fields: dict[str, Any] = dict(
        service_date=DOS,
        patient=claims.make_patient(first_name=FIRST, last_name=LAST, birth_date=BIRTH, sex="F", address=HOME),
        coverage=claims.make_coverage(payer_id="SBX01", payer_name="Sandbox Health Plan", member_id=MEMBER_ID),
        billing_provider=claims.make_provider(BILLING_NPI, name="Harbor Family Medicine", tax_id=TIN,
                                              address=PRACTICE, taxonomy="207Q00000X"),
        rendering_provider=claims.make_provider(RENDERING_NPI, name="Dana Demo", taxonomy="207Q00000X"),
        diagnoses=["E119", "I10"],
        lines=lines,
        total_charge=sum((line.charge for line in lines), Decimal(0)),
    )
    fields.update(updates)
    return claims.make_claim(**fields)


def changed(model: Any, path: str, value: Any) -> Any:
    """A copy with one nested attribute replaced, without validation (states the contract would refuse)."""
    head, _, rest = path.partition(".")
    return model.model_copy(update={head: changed(getattr(model, head), rest, value) if rest else value})


def changed_line(claim: Claim, index: int, **updates: Any) -> Claim:
    lines = list(claim.lines)
    lines[index] = lines[index].model_copy(update=updates)
    return claim.model_copy(update={"lines": lines})


def context(**kwargs: Any) -> ScrubContext:
    return ScrubContext(**{"today": TODAY, "tenant_id": TENANT, **kwargs})


def run(claim: Claim, **kwargs: Any) -> list[Edit]:
    return scrub(claim, context=context(**kwargs))


def codes(edits: list[Edit]) -> list[str]:
    return [e.code for e in edits]


def rules(edits: dict[str, Any]) -> Any:
    return compile_rule_set(parse_rule_set({"tenant_id": TENANT, "version": 1, "effective_from": "2000-01-01",
                                            "edits": edits}))


# ---------------------------------------------------------------- the clean claim


def test_complete_claim_has_no_edits():
    assert run(make_claim()) == []


def test_complete_claim_is_clean():
    assert decision(run(make_claim())) == "clean"


# ---------------------------------------------------------------- each edit fires


@dataclass
class Case:
    code: str
    build: Callable[[], Claim]
    ctx: dict[str, Any] = field(default_factory=dict)
    line_number: int | None = None
    field: str | None = "catalog"  # "catalog": the definition's field

    def __str__(self) -> str:
        return self.code


def _secondary_without_prior_payer() -> Claim:
    return make_claim(payer_responsibility="S")


FIRES = [
    Case("SCR001", lambda: changed(make_claim(), "billing_provider.npi", BAD_NPI)),
    Case("SCR002", lambda: changed(make_claim(), "rendering_provider.npi", BAD_NPI)),
    Case("SCR003", lambda: make_claim(coverage=None)),
    Case("SCR004", lambda: make_claim(service_date=TODAY + timedelta(days=1))),
    Case("SCR005", lambda: make_claim(total_charge=Decimal("230.01"))),
    Case("SCR006", lambda: changed_line(make_claim(total_charge=Decimal("210.00")), 1, charge=Decimal("0.00")),
         line_number=2),
    Case("SCR007", lambda: make_claim(referring_provider=Provider(npi=BAD_NPI, name="Ray Referrer"))),
    Case("SCR008", lambda: make_claim(supervising_provider=Provider(npi=BAD_NPI, name="Sue Supervisor"))),
    Case("SCR009", lambda: changed(make_claim(), "billing_provider.tax_id", None)),
    Case("SCR010", lambda: changed(make_claim(), "billing_provider.name", None)),
    Case("SCR011", lambda: changed(make_claim(), "billing_provider.address", None)),
    Case("SCR012", lambda: changed(make_claim(), "billing_provider.address.postal_code", "02110")),
    Case("SCR013", lambda: changed(make_claim(), "billing_provider.address.line1", "PO Box 1200")),
    Case("SCR014", lambda: changed(make_claim(), "billing_provider.taxonomy", "207Q00000")),
    Case("SCR015", lambda: changed(make_claim(), "rendering_provider.taxonomy", "207q00000x")),
    Case("SCR016", lambda: changed(make_claim(), "rendering_provider.name", None), field="rendering_provider.name"),
    Case("SCR017", lambda: changed(make_claim(), "patient.first_name", "   "), field="patient.first_name"),
    Case("SCR018", lambda: changed(make_claim(), "patient.birth_date", DOS + timedelta(days=1))),
    Case("SCR019", lambda: changed(make_claim(), "patient.sex", "U")),
    Case("SCR020", lambda: changed(make_claim(), "patient.address", None)),
    Case("SCR021", lambda: changed(make_claim(), "coverage.relationship", "child")),
    Case("SCR022", lambda: changed(make_claim(), "coverage.subscriber",
                                   Person(first_name="Otto", last_name="Holder", birth_date=date(1960, 1, 1)))),
    Case("SCR023", lambda: changed(make_claim(), "coverage.payer_id", "X")),
    Case("SCR024", lambda: changed(make_claim(), "coverage.member_id", " 7 ")),
    Case("SCR025", lambda: make_claim().model_copy(update={"frequency_code": "2"})),
    Case("SCR026", lambda: make_claim().model_copy(update={"frequency_code": "7"})),
    Case("SCR027", lambda: make_claim().model_copy(update={"place_of_service": "77"})),
    Case("SCR028", lambda: changed_line(make_claim(), 1, service_date=DOS - timedelta(days=1)), line_number=2),
    Case("SCR029", lambda: make_claim(), ctx={"coverage_dates": CoverageDates(end=DOS - timedelta(days=1))}),
    Case("SCR030", lambda: make_claim(diagnoses=[], lines=[
        ServiceLine(line_number=1, procedure_code="99214", units=Decimal(1), charge=Decimal("210.00"))])),
    Case("SCR031", lambda: changed_line(make_claim(), 1, diagnosis_pointers=[3]), line_number=2),
    Case("SCR032", lambda: make_claim(service_date=TODAY - timedelta(days=366))),
    Case("SCR033", lambda: make_claim(service_date=TODAY - timedelta(days=350))),
    Case("SCR034", lambda: DUPLICATE, ctx={"known_fingerprints": frozenset()}),  # fingerprints set in the test
    Case("SCR035", lambda: make_claim(lines=[
        ServiceLine(line_number=1, procedure_code="72148", units=Decimal(1), charge=Decimal("950.00"))]),
        ctx={"rule_set": rules({"SCR035": {"parameters": {"auth_required_codes": ["72148"]}}})}, line_number=1),
    Case("SCR036", _secondary_without_prior_payer),
    Case("SCR037", lambda: changed_line(make_claim(), 0, code_system="snomed-ct"), line_number=1),
]
DUPLICATE = make_claim()


def test_every_catalog_edit_has_a_firing_case():
    assert [c.code for c in FIRES] == sorted(CATALOG_BY_ID)


@pytest.mark.parametrize("case", FIRES, ids=str)
def test_each_edit_fires_alone_with_its_catalog_definition(case: Case):
    claim = case.build()
    ctx = dict(case.ctx)
    if case.code == "SCR034":
        ctx["known_fingerprints"] = {claim_fingerprint(claim, TENANT)}
    edits = run(claim, **ctx)
    definition = CATALOG_BY_ID[case.code]
    assert codes(edits) == [case.code]
    edit = edits[0]
    assert edit.severity == definition.severity
    assert edit.line_number == case.line_number
    assert edit.field == (definition.field if case.field == "catalog" else case.field)
    expected_prefix = f"line {case.line_number}: " if case.line_number else ""
    assert edit.message.startswith(expected_prefix)


@pytest.mark.parametrize("case", FIRES, ids=str)
def test_each_edit_can_be_disabled(case: Case):
    claim = case.build()
    ctx = dict(case.ctx)
    if case.code == "SCR034":
        ctx["known_fingerprints"] = {claim_fingerprint(claim, TENANT)}
    settings = {case.code: {"enabled": False}}
    if case.code == "SCR035":
        settings[case.code]["parameters"] = {"auth_required_codes": ["72148"]}
    ctx["rule_set"] = rules(settings)
    assert run(claim, **ctx) == []


# ---------------------------------------------------------------- edits that must not fire


def test_no_rendering_referring_or_supervising_provider_is_not_an_error():
    assert run(make_claim(rendering_provider=None)) == []


def test_valid_referring_and_supervising_providers_pass():
    claim = make_claim(referring_provider=Provider(npi=OTHER_NPI, name="Ray Referrer"),
                       supervising_provider=Provider(npi=OTHER_NPI, name="Sue Supervisor"))
    assert run(claim) == []


def test_service_today_is_not_in_the_future():
    assert run(make_claim(service_date=TODAY)) == []


def test_a_future_line_date_is_reported_on_its_line():
    claim = changed_line(make_claim(service_date=TODAY - timedelta(days=1)), 1, service_date=TODAY + timedelta(days=2))
    edits = run(claim)
    assert [(e.code, e.line_number, e.field) for e in edits] == [("SCR004", 2, "service_date")]


def test_total_compares_amounts_not_their_scale():
    assert run(make_claim(total_charge=Decimal("230.0"))) == []


@pytest.mark.parametrize("tin", [None, "000000000", "12345678"])
def test_tax_id_missing_zero_or_short_fires(tin):
    assert codes(run(changed(make_claim(), "billing_provider.tax_id", tin))) == ["SCR009"]


@pytest.mark.parametrize("name", [None, "", "   "])
def test_blank_billing_name_fires(name):
    assert codes(run(changed(make_claim(), "billing_provider.name", name))) == ["SCR010"]


def test_missing_billing_address_is_one_edit_not_three():
    assert codes(run(changed(make_claim(), "billing_provider.address", None))) == ["SCR011"]


@pytest.mark.parametrize("line1", ["P.O. Box 77", "p o box 77", "Post Office Box 9", "LOCKBOX 5512", "Lock Box 12"])
def test_po_and_lock_boxes_fire(line1):
    assert codes(run(changed(make_claim(), "billing_provider.address.line1", line1))) == ["SCR013"]


def test_a_box_on_the_second_address_line_fires():
    assert codes(run(changed(make_claim(), "billing_provider.address.line2", "PO Box 4"))) == ["SCR013"]


@pytest.mark.parametrize("line1", ["12 Boxwood Rd", "7 Polo Box Lane", "1 Depot St", "500 Boston Post Rd"])
def test_street_addresses_resembling_boxes_pass(line1):
    assert run(changed(make_claim(), "billing_provider.address.line1", line1)) == []


def test_missing_taxonomy_passes_unless_the_payer_requires_it():
    claim = changed(changed(make_claim(), "billing_provider.taxonomy", None), "rendering_provider.taxonomy", None)
    assert run(claim) == []
    required = rules({"SCR014": {"parameters": {"required": True}}, "SCR015": {"parameters": {"required": True}}})
    assert codes(run(claim, rule_set=required)) == ["SCR014", "SCR015"]


@pytest.mark.parametrize("code,valid", [("207Q00000X", True), ("363LF0000X", True), ("207Q00000", False),
                                        ("207Q000000", False), ("207q00000x", False), ("207Q0000 X", False)])
def test_taxonomy_format(code, valid):
    assert taxonomy_is_valid(code) is valid


def test_every_individual_provider_without_a_name_is_named_in_field():
    claim = make_claim(rendering_provider=Provider(npi=RENDERING_NPI),
                       referring_provider=Provider(npi=OTHER_NPI), supervising_provider=Provider(npi=OTHER_NPI, name=" "))
    edits = run(claim)
    assert [(e.code, e.field) for e in edits] == [("SCR016", "rendering_provider.name"),
                                                 ("SCR016", "referring_provider.name"),
                                                 ("SCR016", "supervising_provider.name")]


def test_blank_subscriber_name_fires_for_a_dependent():
    subscriber = Person.model_construct(first_name="Otto", last_name=" ", birth_date=date(1960, 1, 1), sex="M")
    claim = changed(changed(make_claim(), "coverage.relationship", "child"), "coverage.subscriber", subscriber)
    assert [(e.code, e.field) for e in run(claim)] == [("SCR017", "coverage.subscriber.last_name")]


def test_birth_date_on_the_date_of_service_is_a_newborn_not_an_error():
    assert run(changed(make_claim(), "patient.birth_date", DOS)) == []


def test_birth_date_in_the_future_fires_even_for_a_future_claim():
    claim = changed(make_claim(service_date=TODAY + timedelta(days=30)), "patient.birth_date", TODAY + timedelta(days=1))
    assert codes(run(claim)) == ["SCR004", "SCR018"]


def test_dependent_with_subscriber_passes():
    claim = changed(changed(make_claim(), "coverage.relationship", "spouse"), "coverage.subscriber",
                    Person(first_name="Otto", last_name="Holder", birth_date=date(1960, 1, 1)))
    assert run(claim) == []


def test_dependent_with_the_insured_known_by_name_only_passes():
    # An 837P names a dependent's subscriber without a birth date: coverage.insured stands in for SCR021.
    claim = changed(changed(make_claim(), "coverage.relationship", "child"), "coverage.insured",
                    Insured(first_name="Otto", last_name="Holder"))
    assert run(claim) == []


def test_blank_insured_name_fires_for_a_dependent():
    insured = Insured.model_construct(first_name="  ", last_name="Holder", birth_date=None, sex="U", address=None)
    claim = changed(changed(make_claim(), "coverage.relationship", "child"), "coverage.insured", insured)
    assert [(e.code, e.field) for e in run(claim)] == [("SCR017", "coverage.insured.first_name")]


def test_a_full_subscriber_is_checked_before_the_insured():
    subscriber = Person.model_construct(first_name="Otto", last_name=" ", birth_date=date(1960, 1, 1), sex="M")
    claim = changed(changed(make_claim(), "coverage.relationship", "child"), "coverage.subscriber", subscriber)
    claim = changed(claim, "coverage.insured", Insured(first_name="Otto", last_name="Holder"))
    assert [(e.code, e.field) for e in run(claim)] == [("SCR017", "coverage.subscriber.last_name")]


def test_subscriber_copied_from_the_patient_with_relationship_self_passes():
    patient = make_claim().patient
    copy = Person(first_name=patient.first_name.upper(), last_name=patient.last_name, birth_date=patient.birth_date)
    assert run(changed(make_claim(), "coverage.subscriber", copy)) == []


def test_replacement_with_original_claim_number_passes():
    assert run(make_claim(frequency_code="7", original_claim_number="PCN99887766")) == []


def test_void_without_original_claim_number_fires():
    claim = make_claim().model_copy(update={"frequency_code": "8", "original_claim_number": "  "})
    assert codes(run(claim)) == ["SCR026"]


@pytest.mark.parametrize("pos,dos,valid", [
    ("10", date(2021, 12, 31), False), ("10", date(2022, 1, 1), True),
    ("27", date(2023, 9, 30), False), ("27", date(2023, 10, 1), True),
    ("00", date(2026, 1, 1), False), ("28", date(2026, 1, 1), False), ("99", date(2026, 1, 1), True),
])
def test_place_of_service_is_judged_on_the_date_of_service(pos, dos, valid):
    claim = make_claim(service_date=dos).model_copy(update={"place_of_service": pos})
    edits = run(claim, today=dos + timedelta(days=5))
    assert ("SCR027" not in codes(edits)) is valid


def test_line_on_the_claim_date_or_later_passes():
    claim = changed_line(make_claim(service_date=DOS - timedelta(days=3)), 1, service_date=DOS)
    assert run(claim) == []


def test_diagnosis_pointer_zero_fires():
    assert codes(run(changed_line(make_claim(), 0, diagnosis_pointers=[0]))) == ["SCR031"]


def test_no_coverage_skips_payer_and_member_checks():
    assert codes(run(make_claim(coverage=None))) == ["SCR003"]


def test_secondary_claim_with_prior_payer_passes():
    primary = OtherPayer(coverage=Coverage(payer_id="PRIM1", payer_name="Primary", member_id="P1234"),
                         paid_amount=Decimal("100.00"), adjudication_date=DOS + timedelta(days=2))
    assert run(make_claim(payer_responsibility="S", other_payers=[primary])) == []


def test_cpt_lines_pass_and_each_non_cpt_line_is_reported():
    claim = changed_line(changed_line(make_claim(), 0, code_system="cvx"), 1, code_system="snomed-ct")
    assert [(e.code, e.line_number) for e in run(claim)] == [("SCR037", 1), ("SCR037", 2)]


# ---------------------------------------------------------------- coverage dates


@pytest.mark.parametrize("period", [CoverageDates(start=DOS, end=DOS), CoverageDates(start=date(2026, 1, 1)),
                                    CoverageDates(end=date(2026, 12, 31)), CoverageDates()])
def test_service_inside_coverage_passes(period):
    assert run(make_claim(), coverage_dates=period) == []


def test_service_before_coverage_starts_fires():
    edits = run(make_claim(), coverage_dates=CoverageDates(start=DOS + timedelta(days=1)))
    assert [(e.code, e.line_number) for e in edits] == [("SCR029", None)]


def test_a_line_after_coverage_ends_is_reported_on_its_line():
    claim = changed_line(make_claim(), 1, service_date=date(2026, 3, 18))
    edits = run(claim, coverage_dates=CoverageDates(end=date(2026, 3, 16)))
    assert [(e.code, e.line_number) for e in edits] == [("SCR029", 2)]


def test_without_coverage_dates_nothing_is_judged():
    assert run(make_claim(service_date=date(2026, 1, 2))) == []


# ---------------------------------------------------------------- timely filing


@pytest.mark.parametrize("age,expected", [
    (335, []),  # 30 days left: not yet fewer than the 30 warning days
    (336, ["SCR033"]),  # 29 days left
    (365, ["SCR033"]),  # the last day of the window
    (366, ["SCR032"]),
    (1000, ["SCR032"]),
])
def test_timely_filing_window_default_365_days_warning_30(age, expected):
    edits = run(make_claim(service_date=TODAY - timedelta(days=age)))
    assert codes(edits) == expected
    assert decision(edits) == ("review" if expected == ["SCR032"] else "clean")


def test_timely_filing_per_payer_limit_and_warning_window():
    tight = rules({"SCR032": {"parameters": {"timely_filing_days": 90, "warning_days": 14}}})
    assert codes(run(make_claim(service_date=TODAY - timedelta(days=75)), rule_set=tight)) == []
    assert codes(run(make_claim(service_date=TODAY - timedelta(days=80)), rule_set=tight)) == ["SCR033"]
    assert codes(run(make_claim(service_date=TODAY - timedelta(days=91)), rule_set=tight)) == ["SCR032"]


def test_timely_filing_messages_state_the_configured_window():
    tight = rules({"SCR032": {"parameters": {"timely_filing_days": 90, "warning_days": 14}}})
    passed = run(make_claim(service_date=TODAY - timedelta(days=91)), rule_set=tight)[0]
    near = run(make_claim(service_date=TODAY - timedelta(days=80)), rule_set=tight)[0]
    assert "90 days" in passed.message
    assert "90 days" in near.message and "14 days" in near.message


def test_no_warning_when_warning_days_is_zero():
    none = rules({"SCR032": {"parameters": {"warning_days": 0}}})
    assert run(make_claim(service_date=TODAY - timedelta(days=365)), rule_set=none) == []


def test_timely_filing_counts_from_the_oldest_line():
    claim = changed_line(make_claim(service_date=TODAY - timedelta(days=300)), 1,
                         service_date=TODAY - timedelta(days=200))
    assert codes(run(claim)) == []
    old_line = changed_line(make_claim(service_date=TODAY - timedelta(days=300)), 0,
                            service_date=TODAY - timedelta(days=370))
    assert "SCR032" in codes(run(old_line))


# ---------------------------------------------------------------- duplicates


def test_fingerprint_is_stable_and_order_blind():
    claim = make_claim()
    reordered = claim.model_copy(update={"lines": list(reversed(claim.lines)), "claim_id": uuid.uuid4()})
    assert claim_fingerprint(claim, TENANT) == claim_fingerprint(reordered, TENANT)
    assert claim_fingerprint(claim, TENANT).startswith("v1:")


def test_fingerprint_ignores_name_case_and_padding():
    claim = make_claim()
    shouted = changed(claim, "patient.last_name", f" {LAST.upper()} ")
    assert claim_fingerprint(claim, TENANT) == claim_fingerprint(shouted, TENANT)


@pytest.mark.parametrize("variant", [
    lambda c: changed(c, "patient.birth_date", date(1971, 8, 24)),
    lambda c: changed(c, "coverage.payer_id", "SBX02"),
    lambda c: c.model_copy(update={"service_date": DOS - timedelta(days=1)}),
    lambda c: changed_line(c, 1, procedure_code="85025"),
    lambda c: changed_line(c, 1, service_date=DOS + timedelta(days=1)),
    lambda c: changed(c, "patient.first_name", "Zelda"),
])
def test_fingerprint_differs_for_other_services_or_patients(variant):
    claim = make_claim()
    assert claim_fingerprint(variant(claim), TENANT) != claim_fingerprint(claim, TENANT)


def test_fingerprint_differs_per_tenant():
    claim = make_claim()
    assert claim_fingerprint(claim, "tenant-a") != claim_fingerprint(claim, "tenant-b")


def test_fingerprint_holds_no_readable_claim_values():
    fp = claim_fingerprint(make_claim(), TENANT)
    assert all(v.lower() not in fp.lower() for v in (FIRST, LAST, MEMBER_ID, "99214", "SBX01", "2026-03-14"))


def test_a_claim_already_submitted_is_a_duplicate():
    claim = make_claim()
    resubmitted = claim.model_copy(update={"claim_id": uuid.uuid4()})
    edits = run(resubmitted, known_fingerprints={claim_fingerprint(claim, TENANT)})
    assert codes(edits) == ["SCR034"]
    assert decision(edits) == "review"


def test_replacement_and_void_are_not_duplicates():
    claim = make_claim()
    known = {claim_fingerprint(claim, TENANT)}
    replacement = make_claim(frequency_code="7", original_claim_number="PCN99887766")
    assert claim_fingerprint(replacement, TENANT) in known
    assert run(replacement, known_fingerprints=known) == []


def test_other_claims_are_not_duplicates():
    known = {claim_fingerprint(make_claim(), TENANT)}
    assert run(changed_line(make_claim(), 1, procedure_code="85025"), known_fingerprints=known) == []
    assert run(make_claim(), known_fingerprints=known, tenant_id="tenant-b") == []


# ---------------------------------------------------------------- prior authorization


AUTH = rules({"SCR035": {"parameters": {"auth_required_codes": ["7014*", "72148"]}}})


def _lines(*procedure_codes: str) -> list[ServiceLine]:
    return claims.make_lines(*procedure_codes, charge="100.00")


def test_each_line_needing_authorization_is_reported():
    edits = run(make_claim(lines=_lines("99214", "70140", "72148")), rule_set=AUTH)
    assert [(e.code, e.line_number, e.field) for e in edits] == [("SCR035", 2, "prior_authorization"),
                                                                ("SCR035", 3, "prior_authorization")]


def test_authorization_number_satisfies_the_requirement():
    assert run(make_claim(lines=_lines("72148"), prior_authorization="AUTH55443"), rule_set=AUTH) == []


def test_codes_without_requirement_pass():
    assert run(make_claim(lines=_lines("99214", "72146")), rule_set=AUTH) == []


def test_default_rule_set_requires_no_authorization():
    assert run(make_claim(lines=_lines("72148"))) == []


# ---------------------------------------------------------------- upstream and decision


def test_upstream_edits_come_first_and_unchanged():
    upstream = [Edit(code="COD900", severity="warning", message="coder note", field="modifiers", line_number=1)]
    edits = run(make_claim(coverage=None), upstream=upstream)
    assert edits[0] is upstream[0]
    assert codes(edits) == ["COD900", "SCR003"]


def test_upstream_sequence_is_not_mutated():
    upstream = [Edit(code="COD900", severity="warning", message="coder note")]
    run(make_claim(coverage=None), upstream=upstream)
    assert codes(upstream) == ["COD900"]


def test_an_upstream_error_alone_keeps_blocking():
    upstream = (Edit(code="COD001", severity="error", message="no diagnosis"),)
    edits = run(make_claim(), upstream=upstream)
    assert edits == list(upstream)
    assert decision(edits) == "review"


def test_upstream_edits_ignore_rule_set_overrides():
    upstream = [Edit(code="COD001", severity="error", message="no diagnosis")]
    ruleset = compile_rule_set(parse_rule_set({"tenant_id": TENANT, "version": 1, "effective_from": "2000-01-01",
                                               "edits": {f"SCR{n:03d}": {"enabled": False} for n in range(1, 38)}}))
    assert run(make_claim(coverage=None), upstream=upstream, rule_set=ruleset) == upstream


def test_warnings_alone_are_clean():
    edits = run(changed(make_claim(), "patient.sex", "U"))
    assert codes(edits) == ["SCR019"]
    assert decision(edits) == "clean"


def test_decision_of_nothing_is_clean():
    assert decision([]) == "clean"


def test_every_failing_edit_is_reported_together_in_catalog_order():
    claim = make_claim(service_date=date(2027, 1, 1), coverage=None, total_charge=Decimal("5.00"))
    claim = changed(changed(claim, "billing_provider.npi", BAD_NPI), "rendering_provider.npi", BAD_NPI)
    claim = changed_line(claim, 0, charge=Decimal("0.00"))
    assert codes(run(claim)) == ["SCR001", "SCR002", "SCR003", "SCR004", "SCR005", "SCR006"]


# ---------------------------------------------------------------- messages carry no claim values


def _worst_claim() -> Claim:
    """One claim failing as many edits as possible, full of recognisable values."""
    claim = make_claim(
        service_date=TODAY - timedelta(days=400), frequency_code="7", original_claim_number="PCN99887766",
        referring_provider=Provider(npi=BAD_NPI, name="Ray Referrer"), payer_responsibility="S",
        lines=_lines("72148", "70140"), total_charge=Decimal("1.00"),
    )
    claim = changed(claim, "billing_provider.npi", "1234567891")
    claim = changed(claim, "billing_provider.address.postal_code", "02110")
    claim = changed(claim, "billing_provider.address.line1", "PO Box 4471")
    claim = changed(claim, "billing_provider.taxonomy", "207Q0000")
    claim = changed(claim, "rendering_provider.npi", "1245319598")
    claim = changed(claim, "patient.sex", "U")
    claim = changed(claim, "coverage.member_id", "Q")
    claim = changed(claim, "coverage.subscriber", Person(first_name="Otto", last_name="Holderness",
                                                         birth_date=date(1958, 2, 3)))
    claim = changed_line(claim, 1, diagnosis_pointers=[9], service_date=TODAY + timedelta(days=3))
    return claim.model_copy(update={"place_of_service": "77", "frequency_code": "1"})


def test_messages_never_quote_claim_values():
    claim = _worst_claim()
    edits = run(claim, rule_set=AUTH, coverage_dates=CoverageDates(start=TODAY - timedelta(days=100)))
    assert len(set(codes(edits))) >= 15
    values = [FIRST, LAST, MEMBER_ID, "Q", TIN, "1234567891", "1245319598", BAD_NPI, "PO Box 4471", "Otto",
              "Holderness", "Harbor", "72148", "70140", "PCN99887766", "SBX01", "Sandbox", BIRTH.isoformat(),
              claim.service_date.isoformat(), "02110", "207Q0000", str(claim.claim_id)]
    for edit in edits:
        for value in values:
            if value == "Q":  # one letter: only as a whole word would it be a quote
                assert " Q " not in f" {edit.message} ", edit.message
            else:
                assert value.lower() not in edit.message.lower(), (edit.code, value)


def test_messages_name_a_loop_or_segment():
    for edit in run(_worst_claim(), rule_set=AUTH):
        assert edit.message.endswith(")"), edit.message


# ---------------------------------------------------------------- npi


@pytest.mark.parametrize("npi", [BILLING_NPI, RENDERING_NPI, OTHER_NPI, "1982749354"])
def test_npi_with_correct_check_digit_is_valid(npi):
    assert npi_is_valid(npi) is True


@pytest.mark.parametrize("npi", ["1234567890", "1245319598", "1679576723", "123456789", "12345678930", "",
                                 "12345678A3", "\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668\u0669\u0663"])
def test_npi_wrong_check_digit_length_or_characters_is_invalid(npi):
    assert npi_is_valid(npi) is False


# ---------------------------------------------------------------- context and performance


def test_context_defaults_to_the_builtin_rule_set():
    ctx = ScrubContext(today=TODAY, tenant_id=TENANT)
    assert ctx.rule_set is DEFAULT_RULE_SET
    assert ctx.upstream == () and not ctx.known_fingerprints and ctx.coverage_dates is None


def test_coverage_period_on_the_claim_from_the_271_is_checked_without_context():
    claim = make_claim()
    cov = claim.coverage.model_copy(update={"effective_from": claim.service_date + timedelta(days=1)})
    outside = claim.model_copy(update={"coverage": cov})
    inside = claim.model_copy(update={"coverage": claim.coverage.model_copy(update={
        "effective_from": claim.service_date - timedelta(days=30), "effective_to": claim.service_date})})

    assert "SCR029" in codes(scrub(outside, context=ScrubContext(today=TODAY, tenant_id=TENANT)))
    assert "SCR029" not in codes(scrub(inside, context=ScrubContext(today=TODAY, tenant_id=TENANT)))
