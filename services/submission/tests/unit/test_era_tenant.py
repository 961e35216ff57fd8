"""Which tenant an 835 from a clearinghouse is for: the one every claim we know of belongs to, never a guess."""

import pytest

from rcm_submission.domain.era_tenant import claim_numbers, tenant_for
from rcm_x12.codec import X12Error
from tests.support.era835 import check, clp, era, svc

OWNERS = {"PCN-A1": {"tenant-a"}, "PCN-A2": {"tenant-a"}, "PCN-B1": {"tenant-b"},
          "SHARED": {"tenant-a", "tenant-b"}}  # two tenants' claims with the same claim id share a CLM01


def paying(*pcns: str) -> str:
    return era(check([clp(p, "100.00", "80.00", lines=[svc("99213", "100.00", "80.00", cas=[("CO", "45", "20.00")])])
                      for p in pcns]))


def test_claim_numbers_are_every_clp01_of_every_check_and_interchange():
    two_checks = era(check([clp("PCN-A1", "10.00", "10.00")]), check([clp("PCN-A2", "10.00", "10.00")], trace="T2"))
    second = era(check([clp("PCN-B1", "10.00", "10.00")]), isa13="000000902")
    assert claim_numbers(two_checks) == ["PCN-A1", "PCN-A2"]
    assert claim_numbers(two_checks + "\n" + second) == ["PCN-A1", "PCN-A2", "PCN-B1"]


def test_claim_numbers_of_text_that_is_not_x12_raise():
    with pytest.raises(X12Error):
        claim_numbers("PATIENT,AMOUNT\nDOE,10.00\n")


def test_all_known_claims_of_one_tenant_make_the_file_that_tenants():
    assert tenant_for(claim_numbers(paying("PCN-A1", "PCN-A2")), OWNERS).tenant_id == "tenant-a"
    assert tenant_for(["PCN-B1"], OWNERS).tenant_id == "tenant-b"


def test_unknown_claims_beside_known_ones_do_not_change_the_tenant():
    # remittance queues the unknown ones as that tenant's unmatched payments
    assert tenant_for(["NEVER-SENT", "PCN-A1", "NEVER-SENT-2"], OWNERS).tenant_id == "tenant-a"


def test_a_shared_number_is_decided_by_the_other_claims_of_the_check():
    assert tenant_for(["SHARED", "PCN-B1"], OWNERS).tenant_id == "tenant-b"


def test_no_known_claim_is_quarantined_with_a_reason():
    found = tenant_for(["NEVER-SENT", "ALSO-UNKNOWN"], OWNERS)
    assert found.tenant_id is None
    assert found.reason == "the 835 names none of the claims this deployment sent (2 claims)"


def test_claims_of_several_tenants_are_never_guessed():
    found = tenant_for(["PCN-A1", "PCN-B1"], OWNERS)
    assert found.tenant_id is None and found.reason.startswith("the 835 pays claims of 2 tenants")


def test_only_shared_numbers_are_ambiguous():
    found = tenant_for(["SHARED"], OWNERS)
    assert found.tenant_id is None and "2 tenants alike" in found.reason


def test_a_file_paying_no_claim_has_no_tenant():
    assert tenant_for([], OWNERS).reason == "the 835 pays no claim (no CLP segment)"


def test_reasons_carry_no_claim_numbers():
    for numbers in (["NEVER-SENT"], ["PCN-A1", "PCN-B1"], ["SHARED"]):
        reason = tenant_for(numbers, OWNERS).reason
        assert not any(n in reason for n in [*OWNERS, "NEVER-SENT"])
