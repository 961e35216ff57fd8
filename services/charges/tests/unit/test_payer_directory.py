"""The tenant's payer list applied to an encounter's coverages (pure)."""

from __future__ import annotations

from rcm_charges.domain.payer_directory import PayerDirectory, PayerEntry, apply_payer_directory, normalize
from rcm_contracts.events import EncounterSubmitted, MissingItem
from tests.support.encounters import generate

DIRECTORY = PayerDirectory([PayerEntry("SBX01", "Sandbox Health Plan", ("Medicaid", "BCBS of IL")),
                            PayerEntry("SBX03", "Sandbox Medigap Supplement", ())])


def submission(payer_id: str, payer_name: str, **extra) -> EncounterSubmitted:
    body = generate(1, seed=3, scenarios=["paid"])[0].body
    return EncounterSubmitted.model_validate({**body, "coverage": {**body["coverage"], "payer_id": payer_id,
                                                                   "payer_name": payer_name}, **extra})


def test_a_payer_is_found_by_id_name_or_alias_whatever_the_case_and_spacing():
    for payer_id, name in (("SBX01", "x"), ("x", "sandbox  health plan"), ("medicaid", "medicaid"),
                           ("BCBS of IL.", "BCBS of IL.")):
        mapped = apply_payer_directory(submission(payer_id, name), DIRECTORY)
        assert (mapped.coverage.payer_id, mapped.coverage.payer_name) == ("SBX01", "Sandbox Health Plan")
        assert mapped.intake_issues == []
    assert normalize(" Bcbs  of, IL. ") == "BCBS OF IL"


def test_an_unlisted_payer_is_an_intake_issue_and_the_coverage_is_kept_as_sent():
    mapped = apply_payer_directory(submission("ZZZ99", "Unknown Payer"), DIRECTORY)
    assert mapped.coverage.payer_id == "ZZZ99"
    assert [i.field for i in mapped.intake_issues] == ["coverage.payer_id"]


def test_a_listed_name_resolves_the_mappers_display_only_issue():
    display_only = MissingItem(field="coverage.payer_id", reason="named by display only")
    mapped = apply_payer_directory(submission("Medicaid", "Medicaid", intake_issues=[display_only]), DIRECTORY)
    assert mapped.coverage.payer_id == "SBX01" and mapped.intake_issues == []
    unlisted = apply_payer_directory(submission("Humana", "Humana", intake_issues=[display_only]), DIRECTORY)
    assert unlisted.intake_issues == [display_only]  # one issue for the field, the mapper's reason


def test_the_secondary_payer_is_mapped_or_flagged_too():
    secondary = {"payer_id": "x", "payer_name": "Sandbox Medigap Supplement", "member_id": "S1"}
    assert apply_payer_directory(submission("SBX01", "x", secondary_coverage=secondary),
                                 DIRECTORY).secondary_coverage.payer_id == "SBX03"
    flagged = apply_payer_directory(submission("SBX01", "x", secondary_coverage={**secondary, "payer_name": "Nope"}),
                                    DIRECTORY)
    assert [i.field for i in flagged.intake_issues] == ["secondary_coverage.payer_id"]


def test_without_a_payer_list_payer_ids_pass_as_sent():
    sent = submission("ZZZ99", "Unknown Payer")
    assert apply_payer_directory(sent, PayerDirectory([])) is sent
