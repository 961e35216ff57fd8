"""999 and 277CA writers: segment layout per the guides, refusal of contradictory input, and every
generated acknowledgment accepted by the independent pyx12 validator."""

from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal as D

import pytest

from tests.support.pyx12_oracle import assert_pyx12_valid
from rcm_x12.codec import parse_interchange
from rcm_x12.ack_277ca import ClaimDecision, Party, StatusCode, build_277ca
from rcm_x12.ack_999 import Finding, ReceivedGroup, SituationalTrigger, TransactionSetResult, build_999

NOW = datetime(2026, 3, 14, 9, 5)
GROUP = ReceivedGroup(functional_id="HC", control_number="17456", version="005010X222A1")
PCN_1, PCN_2, PCN_3 = "0A1B2C3D4E5F60718293", "1A1B2C3D4E5F60718293", "2A1B2C3D4E5F60718293"


# ---------------------------------------------------------------- helpers


def body(text: str) -> list[str]:
    """Segments between GS and GE, as text."""
    segments = [s for s in text.split("~") if s]
    return segments[2:-2]


# ---------------------------------------------------------------- 999


def ack999(results, **kwargs) -> str:
    args = {"control_number": 42, "sender_id": "SANDBOXCH", "receiver_id": "CLINIC01", "now": NOW} | kwargs
    return build_999(GROUP, results, **args)


ACCEPTED = TransactionSetResult("0001", implementation_reference="005010X222A1")
WITH_ERRORS = TransactionSetResult("0002", implementation_reference="005010X222A1", findings=(
    Finding("NM1", 17, "2010BA", 9, "I12", element_reference="67", claim_id=PCN_1),
    Finding("NM1", 17, "2010BA", 4, "6", element_reference="1036", claim_id=PCN_1),
    Finding("DTP", 31, "2300", 3, "8", element_reference="1251", claim_id=PCN_2),
))
REJECTED = TransactionSetResult("0003", rejected=True, findings=(
    Finding("REF", 30, "2300", None, "I6", trigger=SituationalTrigger("CLM", 25, "2300", 1), claim_id=PCN_3),
    Finding("SV1", 40, "2400", 1, "7", component_position=2, element_reference="234"),
))


def test_accepted_group():
    text = ack999([ACCEPTED])
    assert text.split("~")[1] == "GS*FA*SANDBOXCH*CLINIC01*20260314*0905*42*X*005010X231A1"
    assert body(text) == [
        "ST*999*0042*005010X231A1",
        "AK1*HC*17456*005010X222A1",
        "AK2*837*0001*005010X222A1",
        "IK5*A",
        "AK9*A*1*1*1",
        "SE*6*0042",
    ]
    assert_pyx12_valid(text)


def test_accepted_with_errors_groups_element_notes_under_one_ik3_per_segment():
    text = ack999([WITH_ERRORS])
    assert body(text)[2:-1] == [
        "AK2*837*0002*005010X222A1",
        "IK3*NM1*17*2010*8",  # IK303 holds 4 characters: 2010BA goes as 2010
        "CTX*CLM01:" + PCN_1,
        "IK4*9*67*I12",
        "IK4*4*1036*6",
        "IK3*DTP*31*2300*8",
        "CTX*CLM01:" + PCN_2,
        "IK4*3*1251*8",
        "IK5*E*5*I5",  # both X12 syntax (6, 8) and implementation (I12) errors were noted
        "AK9*E*1*1*1",
    ]
    assert_pyx12_valid(text)


def test_rejected_set_with_situational_trigger_and_component_position():
    text = ack999([REJECTED])
    assert body(text)[2:-1] == [
        "AK2*837*0003",  # AK203 only when the 837 sent an ST03
        "IK3*REF*30*2300*I6",
        "CTX*CLM01:" + PCN_3,
        "CTX*SITUATIONAL TRIGGER*CLM*25*2300*1",
        "IK3*SV1*40*2400*8",
        "IK4*1:2*234*7",
        "IK5*R*5*I5",
        "AK9*R*1*1*0",
    ]
    assert_pyx12_valid(text)


def test_element_missing_in_a_situation_names_its_trigger_after_the_ik4():
    finding = Finding("CLM", 20, "2300", 11, "I9", trigger=SituationalTrigger("DTP", 24, "2300", 1))
    text = ack999([TransactionSetResult("0001", findings=(finding,))])
    assert body(text)[3:7] == ["IK3*CLM*20*2300*8", "IK4*11**I9", "CTX*SITUATIONAL TRIGGER*DTP*24*2300*1", "IK5*E*I5"]
    assert_pyx12_valid(text)


def test_partially_accepted_group_counts():
    text = ack999([ACCEPTED, WITH_ERRORS, REJECTED])
    assert body(text)[-2] == "AK9*P*3*3*2"
    assert_pyx12_valid(text)


def test_group_level_errors_and_sets_the_sender_counted_differently():
    group = replace(GROUP, transaction_sets_included=2)  # GE01 said 2, one ST arrived
    text = build_999(group, [replace(ACCEPTED, rejected=True, syntax_errors=("2",))], group_errors=("5",),
                     control_number=7, sender_id="SANDBOXCH", receiver_id="CLINIC01", now=NOW)
    assert body(text)[-3:-1] == ["IK5*R*2", "AK9*R*2*1*0*5"]
    assert_pyx12_valid(text)


def test_bad_value_copy_is_cut_to_99_characters_and_stripped_of_delimiters():
    finding = Finding("NM1", 12, "2010", 3, "5", bad_value="A*B~" + "X" * 120)
    text = ack999([TransactionSetResult("0001", findings=(finding,))])
    ik4 = next(s for s in body(text) if s.startswith("IK4"))
    assert ik4 == "IK4*3**5*A B " + "X" * 95
    assert_pyx12_valid(text)


def test_long_business_unit_id_is_truncated_to_35_characters():
    finding = Finding("CLM", 20, "2300", 2, "7", claim_id="C" * 40)
    text = ack999([TransactionSetResult("0001", findings=(finding,))])
    assert "CTX*CLM01:" + "C" * 35 in body(text)


@pytest.mark.parametrize("kwargs, message", [
    ({"segment_tag": "nm1"}, "segment tag"),
    ({"segment_position": 0}, "counts from the ST"),
    ({"element_position": None, "code": "12"}, "IK304 segment"),
    ({"code": "99"}, "IK403 element"),
    ({"element_position": 0}, "element position"),
])
def test_finding_refuses_what_the_999_cannot_say(kwargs, message):
    base = {"segment_tag": "NM1", "segment_position": 5, "loop_id": "2010", "element_position": 3, "code": "7"}
    with pytest.raises(ValueError, match=message):
        Finding(**(base | kwargs))


def test_999_refuses_duplicate_sets_and_unknown_group_errors():
    with pytest.raises(ValueError, match="duplicate ST02"):
        ack999([ACCEPTED, ACCEPTED])
    with pytest.raises(ValueError, match="AK905"):
        ack999([ACCEPTED], group_errors=("99",))
    with pytest.raises(ValueError, match="at most 5 IK502"):
        TransactionSetResult("0001", syntax_errors=("1", "2", "3", "4", "5", "6"))
    with pytest.raises(ValueError, match="at most 5 IK502"):
        TransactionSetResult("0001", syntax_errors=("14",))


def test_999_with_no_transaction_set_rejects_the_group():
    text = ack999([], group_errors=("1",))
    assert body(text)[-2] == "AK9*R*0*0*0*1"
    assert_pyx12_valid(text)


# ---------------------------------------------------------------- 277CA

SOURCE = Party(name="SANDBOX HEALTH PLAN", identifier="SBX01")
RECEIVER = Party(name="NORTHSIDE BILLING", identifier="CLINIC01")


def decision(pcn: str = PCN_1, **kwargs) -> ClaimDecision:
    base = dict(patient_control_number=pcn, billing_provider_npi="1234567893",
                billing_provider_name="NORTHSIDE CLINIC", patient_last_name="LOVELACE", patient_first_name="ADA",
                member_id="M123456789", total_charge=D("210.00"), service_from=date(2026, 3, 2), accepted=True,
                payer_claim_control_number="SBX2603140001")
    return ClaimDecision(**(base | kwargs))


def ack277(decisions, **kwargs) -> str:
    args = {"source": SOURCE, "receiver": RECEIVER, "batch_reference": "BATCH0042", "received": date(2026, 3, 13),
            "control_number": 43, "sender_id": "SANDBOXCH", "receiver_id": "CLINIC01", "now": NOW} | kwargs
    return build_277ca(decisions, **args)


def test_accepted_claim():
    text = ack277([decision()])
    assert text.split("~")[1] == "GS*HN*SANDBOXCH*CLINIC01*20260314*0905*43*X*005010X214"
    assert body(text) == [
        "ST*277*0043*005010X214",
        "BHT*0085*08*43*20260314*0905*TH",
        "HL*1**20*1",
        "NM1*PR*2*SANDBOX HEALTH PLAN*****PI*SBX01",
        "TRN*1*43",
        "DTP*050*D8*20260313",
        "DTP*009*D8*20260314",
        "HL*2*1*21*1",
        "NM1*41*2*NORTHSIDE BILLING*****46*CLINIC01",
        "TRN*2*BATCH0042",
        "STC*A1:19:PR*20260314*WQ*210",
        "QTY*90*1",
        "AMT*YU*210",
        "HL*3*2*19*1",
        "NM1*85*2*NORTHSIDE CLINIC*****XX*1234567893",
        "TRN*1*0",
        "STC*A1:19:PR**WQ*210",
        "QTY*QA*1",
        "AMT*YU*210",
        "HL*4*3*PT",
        "NM1*QC*1*LOVELACE*ADA****MI*M123456789",
        "TRN*2*" + PCN_1,
        "STC*A2:20*20260314*WQ*210",
        "REF*1K*SBX2603140001",
        "DTP*472*D8*20260302",
        "SE*26*0043",
    ]
    assert_pyx12_valid(text)


def test_rejected_claim_says_why_with_u_action_and_date_range():
    rejected = decision(accepted=False, payer_claim_control_number=None, service_to=date(2026, 3, 4),
                        statuses=(StatusCode("A7", "562", "85"),))
    text = ack277([rejected])
    claim = body(text)[body(text).index("TRN*2*" + PCN_1):-1]
    assert claim == ["TRN*2*" + PCN_1, "STC*A7:562:85*20260314*U*210", "DTP*472*RD8*20260302-20260304"]
    assert "QTY*AA*1" in body(text) and "AMT*YY*210" in body(text) and "QTY*QC*1" in body(text)
    assert_pyx12_valid(text)


def test_more_than_three_statuses_repeat_the_stc():
    statuses = (StatusCode("A7", "21"), StatusCode("A7", "562", "85"), StatusCode("A6", "454"),
                StatusCode("A8", "187"))
    text = ack277([decision(accepted=False, statuses=statuses)])
    stcs = [s for s in body(text) if s.startswith("STC*A") and "U" in s.split("*")]
    assert stcs == ["STC*A7:21*20260314*U*210******A7:562:85*A6:454", "STC*A8:187*20260314*U*210"]
    assert_pyx12_valid(text)


def test_claims_are_grouped_by_billing_provider_with_totals_per_level():
    other = dict(billing_provider_npi="1497758544", billing_provider_name="SOUTHSIDE CLINIC")
    decisions = [
        decision(PCN_1),
        decision(PCN_2, accepted=False, payer_claim_control_number=None, total_charge=D("80.50"),
                 statuses=(StatusCode("A3", "33"),)),
        decision(PCN_3, total_charge=D("15.25"), **other),
    ]
    segments = body(ack277(decisions))
    hls = [s for s in segments if s.startswith("HL")]
    assert hls == ["HL*1**20*1", "HL*2*1*21*1", "HL*3*2*19*1", "HL*4*3*PT", "HL*5*3*PT", "HL*6*2*19*1", "HL*7*6*PT"]
    receiver = segments[segments.index("TRN*2*BATCH0042"):segments.index("HL*3*2*19*1")]
    assert receiver == ["TRN*2*BATCH0042", "STC*A1:19:PR*20260314*WQ*305.75", "QTY*90*2", "QTY*AA*1",
                        "AMT*YU*225.25", "AMT*YY*80.5"]
    first_provider = segments[segments.index("HL*3*2*19*1"):segments.index("HL*4*3*PT")]
    assert first_provider[-5:] == ["STC*A1:19:PR**WQ*290.5", "QTY*QA*1", "QTY*QC*1", "AMT*YU*210", "AMT*YY*80.5"]
    assert_pyx12_valid(ack277(decisions))


def test_clearinghouse_as_information_source():
    source = Party(name="SANDBOX CLEARINGHOUSE", identifier="SBXCH", id_qualifier="46", is_clearinghouse=True)
    text = ack277([decision()], source=source)
    assert "NM1*AY*2*SANDBOX CLEARINGHOUSE*****46*SBXCH" in body(text)
    assert "STC*A1:19:AY*20260314*WQ*210" in body(text)
    assert_pyx12_valid(text)


def test_names_with_delimiters_are_blanked_not_refused():
    text = ack277([decision(patient_last_name="O*NEIL~", billing_provider_name="A:B^C CLINIC")])
    assert "NM1*QC*1*O NEIL*ADA****MI*M123456789" in body(text)
    assert "NM1*85*2*A B C CLINIC*****XX*1234567893" in body(text)
    assert_pyx12_valid(text)


@pytest.mark.parametrize("kwargs, message", [
    ({"accepted": False, "statuses": ()}, "at least one status"),
    ({"accepted": False, "statuses": (StatusCode("A2", "20"),)}, "needs a rejection category"),
    ({"statuses": (StatusCode("A7", "562", "85"),)}, "cannot carry a rejection"),
    ({"patient_control_number": "X" * 21}, "1-20 characters"),
    ({"member_id": " "}, "member id is required"),
    ({"total_charge": D("-1")}, "negative"),
    ({"service_to": date(2026, 3, 1)}, "precedes"),
])
def test_contradictory_decisions_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        decision(**kwargs)


def test_status_codes_are_codes():
    with pytest.raises(ValueError, match="short upper-case"):
        StatusCode("a7", "562")
    with pytest.raises(ValueError, match="entity"):
        StatusCode("A7", "562", "billing")


def test_parties_are_checked():
    with pytest.raises(ValueError, match="name and identifier"):
        Party(name=" ", identifier="X")
    with pytest.raises(ValueError, match="qualifier"):
        Party(name="SANDBOX", identifier="X", id_qualifier="ZZ")


def test_277ca_needs_claims_and_a_batch_reference():
    with pytest.raises(ValueError, match="at least one claim"):
        ack277([])
    with pytest.raises(ValueError, match="BHT03"):
        ack277([decision()], batch_reference=" ")


def test_generated_acks_parse_with_clean_envelopes():
    for text in (ack999([ACCEPTED, WITH_ERRORS, REJECTED]), ack277([decision(), decision(PCN_2)])):
        assert parse_interchange(text).errors == []
