"""999 and 277CA readers: every shared sample (with its known defects), hand-written acknowledgments for each
rule, and garbage that must raise UnparseableAcknowledgment without quoting its content."""

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from rcm_runtime.failures import safe_reason
from rcm_x12.codec import EnvelopeErrorCode, Segment, build_interchange
from rcm_x12.ack_277ca import ClaimAcknowledgments, read_277ca
from rcm_x12.ack_999 import AckStatus, GroupAcknowledgment, UnparseableAcknowledgment, read_999
from tests.support.shared import sample_params

NOW = datetime(2026, 3, 14, 9, 5)


def interchange(functional_id: str, version: str, segments: list[Segment]) -> str:
    return build_interchange("SANDBOXCH", "CLINIC01", 9, functional_id, version, [segments], now=NOW)


# ---------------------------------------------------------------- 999 samples


def check_ims_accepted(groups: list[GroupAcknowledgment], *, envelope_ok: bool) -> None:
    [group] = groups
    assert (group.functional_id, group.group_control_number, group.version) == ("HC", "17456", "005010X223A2")
    assert group.status == AckStatus.ACCEPTED
    assert (group.transaction_sets_included, group.transaction_sets_received, group.transaction_sets_accepted) == (
        1, 1, 1)
    [ts] = group.transaction_sets
    assert (ts.transaction_set_id, ts.control_number, ts.status, ts.findings) == (
        "837", "0001", AckStatus.ACCEPTED, ())
    assert ts.accepted
    # The unrepaired file's IEA02 does not match its ISA13: read anyway, and said so.
    expected = [] if envelope_ok else [EnvelopeErrorCode.IEA_CONTROL_NUMBER]
    assert [e.code for e in group.envelope_errors] == expected
    assert group.warnings == ()


def check_ims_rejected(groups: list[GroupAcknowledgment]) -> None:
    [group] = groups
    assert (group.control_number, group.group_control_number, group.status) == (
        "95832987", "28", AckStatus.REJECTED)
    assert group.transaction_sets_accepted == 0
    ts = group.for_transaction_set("0028")
    assert ts is not None and not ts.accepted and ts.status == AckStatus.REJECTED
    assert [(e.code, e.meaning) for e in ts.syntax_errors] == [("5", "One or more segments in error")]
    [finding] = ts.findings
    assert (finding.segment_tag, finding.segment_position, finding.loop_id, finding.code) == ("NM", 17, None, "1")
    assert finding.description == "NM segment #17: Unrecognized segment ID"
    assert finding.element_error is None and finding.claim_id is None


def check_pyx12_four_sets(groups: list[GroupAcknowledgment]) -> None:
    # Four 999s in two functional groups, each answering the same 834 group.
    assert [g.control_number for g in groups] == ["0001", "0002", "0003", "0004"]
    for group in groups:
        assert (group.functional_id, group.group_control_number, group.status) == (
            "BE", "13360001", AckStatus.ACCEPTED)
        assert [(t.transaction_set_id, t.control_number) for t in group.transaction_sets] == [("834", "0001")]
        # ST03/GS08 say 005010X231 (the 999 before its A1 errata): read anyway, and said so.
        assert group.warnings[0].endswith("is not 005010X231A1; read as 005010X231A1")


def check_pyx12_single(groups: list[GroupAcknowledgment]) -> None:
    [group] = groups  # ISA11 is '!' here: the repetition separator is whatever the ISA says
    assert (group.group_control_number, group.status) == ("146", AckStatus.ACCEPTED)
    assert group.for_transaction_set("146001").accepted


EXPECTED_999 = {
    "ims_999-accepted.999": lambda g: check_ims_accepted(g, envelope_ok=False),
    "ims_999-accepted.fixed.999": lambda g: check_ims_accepted(g, envelope_ok=True),
    "ims_999-rejected.999": check_ims_rejected,
    "pyx12_834-4st-ack.999": check_pyx12_four_sets,
    "pyx12_834-ack.999": check_pyx12_single,
}


@pytest.mark.parametrize("path", sample_params("x12", "999"))
def test_999_sample_parses(path: Path):
    groups = read_999(path.read_text())
    assert groups, f"{path.name}: no group acknowledgment read"
    for group in groups:
        assert group.status in set(AckStatus)
        assert all(t.control_number for t in group.transaction_sets)
    check = EXPECTED_999.get(path.name)
    if check is None:
        return  # parses; no specific expectations written for this new sample yet
    check(groups)


# ---------------------------------------------------------------- 277CA samples


def check_ims_277_accepted(acks: ClaimAcknowledgments, *, fixed: bool) -> None:
    [batch] = acks.batches
    assert (batch.source_name, batch.source_id, batch.receiver_id, batch.batch_reference) == (
        "NYSDOH", "141797357", "ETIN", "000000674")
    assert (batch.accepted_quantity, batch.accepted_amount, batch.rejected_quantity) == (1, Decimal("125.0"), None)
    [claim] = acks.claims
    assert (claim.patient_control_number, claim.accepted, claim.payer_claim_control_number) == (
        "5781", True, "1107000000014420")
    assert (claim.billing_provider_npi, claim.total_charge) == ("1234567890", Decimal("125"))
    [status] = claim.statuses
    assert (status.category, status.code, status.action) == ("A2", "20", "WQ")
    assert status.meaning == "Accepted for processing"
    assert status.category_meaning.startswith("Acknowledgement/Acceptance")
    if fixed:
        assert claim.service_from == claim.service_to == date(2001, 1, 1)
        assert acks.warnings == ()
    else:
        # The published file has a year-1001 service date: kept, and flagged.
        assert claim.service_from == date(1001, 1, 1)
        assert acks.warnings == ("DTP*472 service date is before 1900 (a placeholder?)",)


def check_ims_277_rejected(acks: ClaimAcknowledgments) -> None:
    [claim] = acks.claims
    assert (claim.patient_control_number, claim.accepted) == ("3920394930203", False)
    [status] = claim.statuses  # written with '|' as component separator
    assert (status.category, status.code, status.entity) == ("A7", "562", "85")
    assert status.rejects and status.meaning == "Entity's National Provider Identifier (NPI)"
    assert status.entity_meaning == "Billing provider"
    # The rejection is about this 9-digit "NPI": the reader hands it over as sent.
    assert claim.billing_provider_npi == "123456789"
    assert claim.service_from == date(2009, 3, 11) and claim.total_charge == Decimal("199.14")
    # The sample's own batch totals count the rejected claim as accepted: reported, not trusted.
    assert acks.warnings == (
        "277 '000001120': batch totals say 1 accepted and 0 rejected claims, the claim loops hold 0 accepted "
        "and 1 rejected",)


EXPECTED_277CA = {
    "ims_277ca-accepted.277": lambda a: check_ims_277_accepted(a, fixed=False),
    "ims_277ca-accepted.fixed.277": lambda a: check_ims_277_accepted(a, fixed=True),
    "ims_277ca-rejected.277": check_ims_277_rejected,
    "ims_277ca-rejected.fixed.277": check_ims_277_rejected,
}


@pytest.mark.parametrize("path", sample_params("x12", "277ca"))
def test_277ca_sample_parses(path: Path):
    acks = read_277ca(path.read_text())
    assert acks.batches or acks.claims, f"{path.name}: nothing read"
    assert all(c.patient_control_number for c in acks.claims)
    check = EXPECTED_277CA.get(path.name)
    if check is None:
        return  # parses; no specific expectations written for this new sample yet
    check(acks)


# ---------------------------------------------------------------- 999 rules


def ack999(*body: Segment, ack_code: str = "E") -> str:
    return interchange("FA", "005010X231A1", [
        Segment("ST", ["999", "0001", "005010X231A1"]),
        Segment("AK1", ["HC", "17456", "005010X222A1"]),
        *body,
        Segment("AK9", [ack_code, "1", "1", "1" if ack_code in ("A", "E") else "0"]),
    ])


def test_999_findings_are_decoded_with_their_claim_and_trigger():
    text = ack999(
        Segment("AK2", ["837", "0002", "005010X222A1"]),
        Segment("IK3", ["NM1", "17", "2010", "8"]),
        Segment("CTX", ["CLM01:PCN0001"]),
        Segment("IK4", ["9", "67", "7", "SECRET-MEMBER-ID"]),
        Segment("IK4", ["1:2", "", "I12"]),
        Segment("IK3", ["REF", "30", "2300", "I6"]),
        Segment("CTX", ["SITUATIONAL TRIGGER", "CLM", "25", "2300", "1"]),
        Segment("IK5", ["E", "5", "I5"]),
    )
    [group] = read_999(text)
    assert group.status == AckStatus.ACCEPTED_WITH_ERRORS
    [ts] = group.transaction_sets
    assert ts.accepted and ts.status == AckStatus.ACCEPTED_WITH_ERRORS
    assert [e.code for e in ts.syntax_errors] == ["5", "I5"]
    name, component, situational = ts.findings
    assert (name.claim_id, name.element_position, name.element_reference, name.code) == ("PCN0001", 9, "67", "7")
    assert name.description == "NM1 segment #17 (loop 2010), element NM109: Invalid code value"
    assert (component.element_position, component.component_position, component.code) == (1, 2, "I12")
    assert component.description.startswith("NM1 segment #17 (loop 2010), element NM101-2: Value does not match")
    assert (situational.trigger_segment, situational.claim_id, situational.code) == ("CLM", None, "I6")
    assert situational.description == ("REF segment #30 (loop 2300): Segment the implementation guide requires in "
                                       "this situation is missing")
    # IK404 (the copy of the bad value) is PHI and never kept.
    assert "SECRET-MEMBER-ID" not in repr(group)


def test_999_unknown_codes_are_read_as_rejections_with_a_warning():
    text = ack999(Segment("AK2", ["837", "0001"]), Segment("IK3", ["XYZ", "4", "", "Q7"]),
                  Segment("IK5", ["Q"]), ack_code="Z")
    [group] = read_999(text)
    assert group.status == AckStatus.REJECTED
    [ts] = group.transaction_sets
    assert ts.status == AckStatus.REJECTED and ts.ack_code == "Q"
    assert ts.findings[0].segment_error.meaning == "Unrecognised segment syntax error code 'Q7'"
    assert group.warnings == ("IK501 'Q' is not a transaction set acknowledgment code; read as rejected",
                              "AK901 'Z' is not a group acknowledgment code; read as rejected")


def test_999_group_errors_without_transaction_sets():
    text = interchange("FA", "005010X231A1", [
        Segment("ST", ["999", "0001", "005010X231A1"]), Segment("AK1", ["HC", "5", "005010X222A1"]),
        Segment("AK9", ["R", "2", "0", "0", "5", "4"])])
    [group] = read_999(text)
    assert group.status == AckStatus.REJECTED and group.transaction_sets == ()
    assert [(e.code, e.meaning) for e in group.group_errors] == [
        ("5", "Number of included transaction sets does not match the actual count"),
        ("4", "Group control numbers in the functional group header and trailer do not agree")]


def test_999_partially_accepted_group():
    text = ack999(Segment("AK2", ["837", "0001"]), Segment("IK5", ["A"]),
                  Segment("AK2", ["837", "0002"]), Segment("IK5", ["R", "5"]), ack_code="P")
    [group] = read_999(text)
    assert group.status == AckStatus.PARTIALLY_ACCEPTED
    assert [t.accepted for t in group.transaction_sets] == [True, False]


# ---------------------------------------------------------------- 277CA rules


def ack277(*claims: Segment) -> str:
    return interchange("HN", "005010X214", [
        Segment("ST", ["277", "0001", "005010X214"]),
        Segment("BHT", ["0085", "08", "1", "20260314", "0905", "TH"]),
        Segment("HL", ["1", "", "20", "1"]), Segment("NM1", ["PR", "2", "SANDBOX", "", "", "", "", "PI", "SBX01"]),
        Segment("HL", ["2", "1", "21", "1"]), Segment("NM1", ["41", "2", "CLINIC", "", "", "", "", "46", "C01"]),
        Segment("TRN", ["2", "BATCH1"]), Segment("STC", ["A1:19:PR", "20260314", "WQ", "300"]),
        Segment("HL", ["3", "2", "19", "1"]), Segment("NM1", ["85", "2", "CLINIC", "", "", "", "", "XX", "1234567893"]),
        Segment("HL", ["4", "3", "PT"]), Segment("NM1", ["QC", "1", "DOE", "JANE", "", "", "", "MI", "M1"]),
        *claims,
    ])


def test_277ca_several_claims_of_one_patient_with_extra_statuses_and_a_rejected_line():
    text = ack277(
        Segment("TRN", ["2", "PCN-A"]),
        Segment("STC", ["A7:21", "20260314", "U", "200", "", "", "", "", "", "A7:453", "A6:999:ZZ"]),
        Segment("REF", ["D9", "CH-TRACE-1"]),
        Segment("DTP", ["472", "RD8", "20260301-20260303"]),
        Segment("SVC", ["HC:99213:25:59", "150", "", "", "", "", "1"]),
        Segment("STC", ["A7:453", "20260314", "U"]),
        Segment("REF", ["FJ", "LINE-1"]),
        Segment("DTP", ["472", "D8", "20260302"]),
        Segment("TRN", ["2", "PCN-B"]),
        Segment("STC", ["A1:19:41", "20260314", "WQ", "100"]),
        Segment("DTP", ["472", "D8", "20260305"]),
    )
    acks = read_277ca(text)
    rejected, received = acks.claims
    assert (rejected.patient_control_number, rejected.accepted) == ("PCN-A", False)
    assert [(s.category, s.code, s.entity) for s in rejected.statuses] == [
        ("A7", "21", None), ("A7", "453", None), ("A6", "999", "ZZ")]
    assert rejected.statuses[2].meaning == "Status code '999' (not in the local table)"
    assert rejected.statuses[2].entity_meaning == "Entity code 'ZZ'"
    assert (rejected.clearinghouse_trace_number, rejected.service_from, rejected.service_to) == (
        "CH-TRACE-1", date(2026, 3, 1), date(2026, 3, 3))
    [line] = rejected.lines
    assert (line.procedure_code, line.modifiers, line.charge, line.line_item_control_number) == (
        "99213", ("25", "59"), Decimal("150"), "LINE-1")
    assert [s.code for s in line.statuses] == ["453"] and line.service_from == date(2026, 3, 2)
    # A1 (received) counts as accepted by the clearinghouse; the payer's own verdict comes later.
    assert (received.patient_control_number, received.accepted, received.payer_claim_control_number) == (
        "PCN-B", True, None)
    assert all(c.billing_provider_npi == "1234567893" for c in acks.claims)
    assert acks.for_claim("PCN-B") is received and acks.for_claim("nope") is None
    assert acks.batches[0].statuses[0].entity_meaning == "Payer"


def test_277ca_claim_with_no_acknowledgment_category_is_undecided():
    acks = read_277ca(ack277(Segment("TRN", ["2", "PCN-C"]), Segment("STC", ["E0:0", "20260314", "", "10"])))
    [claim] = acks.claims
    assert claim.accepted is None
    assert "acceptance unknown" in acks.warnings[-1]


def test_277ca_u_action_rejects_even_with_an_acceptance_category():
    acks = read_277ca(ack277(Segment("TRN", ["2", "PCN-D"]), Segment("STC", ["A1:19:PR", "20260314", "U", "10"])))
    assert acks.claims[0].accepted is False


def test_277ca_status_before_its_trn_is_kept_without_a_control_number():
    acks = read_277ca(ack277(Segment("STC", ["A2:20", "20260314", "WQ", "10"])))
    [claim] = acks.claims
    assert claim.patient_control_number is None and claim.accepted is True
    assert "comes before its TRN" in acks.warnings[0]


def test_277ca_unreadable_amount_and_date_are_warnings():
    acks = read_277ca(ack277(Segment("TRN", ["2", "PCN-E"]), Segment("STC", ["A2:20", "2026XX14", "WQ", "1O0"]),
                             Segment("DTP", ["472", "D8", "20261399"])))
    [claim] = acks.claims
    assert claim.total_charge is None and claim.service_from is None
    assert set(acks.warnings) == {"STC02 has an unreadable date", "STC04 is not a number; ignored",
                                  "DTP*472 has an unreadable service date"}


# ---------------------------------------------------------------- garbage

PHI = "DOE^JOHN 1980-01-02 SSN 123-45-6789"


@pytest.mark.parametrize("text, reason", [
    ("", "not an X12 interchange"),
    (f"hello {PHI}", "not an X12 interchange"),
    (f"ISA*00*{PHI}~", "not an X12 interchange"),
    ("ISA*00*          *00*          *ZZ*A              *ZZ*B              *260314*0905*^*00501*000000001*0*P*:~"
     f"GS*FA*A*B*20260314*0905*1*X*005010X231A1~ST*999*0001~AK1*HC*1*{PHI}~AK2*837*0001~"
     "SE*4*0001~GE*1*1~IEA*1*000000001~", "AK2 has no IK5"),
])
def test_garbage_999_raises_without_quoting_it(text, reason):
    with pytest.raises(UnparseableAcknowledgment, match=reason) as caught:
        read_999(text)
    assert "DOE" not in str(caught.value) and "123-45" not in safe_reason(caught.value)


def test_999_structure_errors_are_named():
    cases = [
        ([Segment("AK1", ["HC", "1", "X"])], "has no AK9"),
        ([Segment("AK9", ["A", "0", "0", "0"])], "has no AK1"),
        ([Segment("AK1", ["HC", "1"]), Segment("IK3", ["NM1", "3"])], "IK3 segment #3 is outside an AK2"),
        ([Segment("AK1", ["HC", "1"]), Segment("AK2", ["837", "1"]), Segment("IK4", ["3", "", "7"])],
         "IK4 segment #4 comes before any IK3"),
        ([Segment("AK1", ["HC", "1"]), Segment("AK2", ["837", "1"]), Segment("AK2", ["837", "2"])],
         "AK2 segment #4 starts before"),
    ]
    for body, reason in cases:
        text = interchange("FA", "005010X231A1", [Segment("ST", ["999", "0001", "005010X231A1"]), *body])
        with pytest.raises(UnparseableAcknowledgment, match=reason):
            read_999(text)


def test_the_wrong_transaction_set_is_named_by_its_id():
    text = interchange("HP", "005010X221A1", [Segment("ST", ["835", "0001"]), Segment("BPR", ["H", "0"])])
    with pytest.raises(UnparseableAcknowledgment, match=r"no 999 transaction set in the file \(found: '835'\)"):
        read_999(text)
    with pytest.raises(UnparseableAcknowledgment, match=r"no 277 transaction set .*'835'"):
        read_277ca(text)


def test_277_without_an_information_source_raises():
    text = interchange("HN", "005010X214", [Segment("ST", ["277", "0001", "005010X214"]),
                                            Segment("HL", ["1", "", "21", "1"]),
                                            Segment("NM1", ["41", "2", PHI])])
    with pytest.raises(UnparseableAcknowledgment, match="no information source") as caught:
        read_277ca(text)
    assert "DOE" not in str(caught.value)


def test_garbage_277_raises():
    with pytest.raises(UnparseableAcknowledgment, match="not an X12 interchange"):
        read_277ca(PHI)
