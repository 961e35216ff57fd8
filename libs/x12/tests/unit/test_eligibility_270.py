"""270 inquiry builder: envelope, loop structure (same as the TR3/shared samples), validation."""

from dataclasses import replace
from datetime import date, datetime
from pathlib import Path

import pytest

from rcm_x12.codec import Segment, parse_interchange
from rcm_x12.eligibility_270 import Dependent, EligibilityInquiry, Subscriber, build_270
from rcm_x12 import eligibility_270
from rcm_x12.format import free_text, is_x12_text, npi_is_valid
from tests.support.claims import make_claim, make_coverage, make_insured, make_patient
from tests.support.shared import sample_file

NOW = datetime(2026, 3, 14, 9, 5)
NPI = "1234567893"

SUBSCRIBER = Subscriber(member_id="11122333301", first_name="ROBERT", last_name="SMITH",
                        birth_date=date(1943, 5, 19), sex="M")
INQUIRY = EligibilityInquiry(
    payer_id="842610001", payer_name="ABC COMPANY", provider_npi=NPI, provider_name="BONE AND JOINT CLINIC",
    subscriber=SUBSCRIBER, date_of_service=date(2006, 5, 1),
)
DEPENDENT_INQUIRY = replace(
    INQUIRY, relationship="child", provider_name="JONES", provider_first_name="MARCUS",
    dependent=Dependent(first_name="MARY", last_name="SMITH", birth_date=date(1978, 10, 14), sex="F"),
)


def build(inquiry: EligibilityInquiry = INQUIRY, **kwargs) -> str:
    args = {"control_number": 1234, "sender_id": "CLINIC01", "receiver_id": "ABCPAYER", "now": NOW} | kwargs
    return build_270(inquiry, **args)


def segment_texts(text: str) -> list[str]:
    return [s for s in text.split("~") if s]


QUALIFIER_ELEMENT = {"ST": 1, "BHT": 2, "HL": 3, "NM1": 1, "TRN": 1, "DMG": 1, "DTP": 1}


def shape(segments: list[Segment]) -> list[str]:
    """Segment order with the qualifier that says which loop/role each one plays."""
    return [f"{s.tag}*{s.element(QUALIFIER_ELEMENT[s.tag])}" if s.tag in QUALIFIER_ELEMENT else s.tag
            for s in segments]


def sample(name: str) -> Path:
    return sample_file("x12", "270", name)


def test_subscriber_inquiry_segments():
    texts = segment_texts(build())
    assert texts[0] == ("ISA*00*          *00*          *ZZ*CLINIC01       *ZZ*ABCPAYER       "
                        "*260314*0905*^*00501*000001234*0*P*:")
    assert texts[1:] == [
        "GS*HS*CLINIC01*ABCPAYER*20260314*0905*1234*X*005010X279A1",
        "ST*270*1234*005010X279A1",
        "BHT*0022*13*1234*20260314*0905",
        "HL*1**20*1",
        "NM1*PR*2*ABC COMPANY*****PI*842610001",
        "HL*2*1*21*1",
        "NM1*1P*2*BONE AND JOINT CLINIC*****XX*1234567893",
        "HL*3*2*22*0",
        "TRN*1*1234*90CLINIC01",  # TRN03 = 9 + our submitter id, zero-filled to 9
        "NM1*IL*1*SMITH*ROBERT****MI*11122333301",
        "DMG*D8*19430519*M",
        "DTP*291*D8*20060501",
        "EQ*30",
        "SE*13*1234",
        "GE*1*1234",
        "IEA*1*000001234",
    ]


def test_dependent_inquiry_puts_patient_segments_in_2000d():
    texts = segment_texts(build(DEPENDENT_INQUIRY))
    start = texts.index("ST*270*1234*005010X279A1")
    assert texts[start + 5:start + 16] == [
        "NM1*1P*1*JONES*MARCUS****XX*1234567893",
        "HL*3*2*22*1",
        "NM1*IL*1*SMITH*ROBERT****MI*11122333301",
        "HL*4*3*23*0",
        "TRN*1*1234*90CLINIC01",
        "NM1*03*1*SMITH*MARY",
        "DMG*D8*19781014*F",
        "DTP*291*D8*20060501",
        "EQ*30",
        "SE*15*1234",
        "GE*1*1234",
    ]


@pytest.mark.parametrize("inquiry", [INQUIRY, DEPENDENT_INQUIRY], ids=["subscriber", "dependent"])
def test_round_trips_through_the_shared_tokenizer(inquiry):
    ic = parse_interchange(build(inquiry))
    assert ic.errors == []
    [group] = ic.groups
    assert (group.functional_id, group.version) == ("HS", "005010X279A1")
    [tx] = ic.transactions
    assert (tx.id_code, tx.control_number, tx.implementation_reference) == ("270", "1234", "005010X279A1")
    nm1_il = next(s for s in tx.body if s.tag == "NM1" and s.element(1) == "IL")
    assert (nm1_il.element(8), nm1_il.element(9)) == ("MI", "11122333301")


@pytest.mark.parametrize("inquiry, samples", [
    (INQUIRY, ["lfh_subscriber.270", "edifabric_request.270",
               "badx12_X279-generic-request-by-clinic-for-patient-subscriber-eligibility.270"]),
    (DEPENDENT_INQUIRY, ["lfh_dependent.270",
                         "badx12_X279-generic-request-by-physician-for-patient-dependent-eligibility.270"]),
], ids=["subscriber", "dependent"])
def test_structure_matches_the_shared_samples(inquiry, samples):
    ours = shape(parse_interchange(build(inquiry)).transactions[0].segments)
    for name in samples:
        theirs = shape(parse_interchange(sample(name).read_text()).transactions[0].segments)
        assert ours == theirs, name


def test_each_service_type_gets_an_eq():
    texts = segment_texts(build(replace(INQUIRY, service_type_codes=["30", "98", "MH"])))
    assert [t for t in texts if t.startswith("EQ")] == ["EQ*30", "EQ*98", "EQ*MH"]
    assert "SE*15*1234" in texts


def test_optional_demographics_and_trace_overrides():
    inquiry = replace(INQUIRY, subscriber=replace(SUBSCRIBER, birth_date=None, sex=None),
                      trace_number="TRACE-77", trace_originator="1123456789")
    texts = segment_texts(build(inquiry, usage="T"))
    assert not any(t.startswith("DMG") for t in texts)
    assert "TRN*1*TRACE-77*1123456789" in texts and "BHT*0022*13*TRACE-77*20260314*0905" in texts
    assert parse_interchange(build(inquiry, usage="T")).usage == "T"


def test_sex_is_optional_in_dmg():
    texts = segment_texts(build(replace(INQUIRY, subscriber=replace(SUBSCRIBER, sex=None))))
    assert "DMG*D8*19430519" in texts


def test_delimiters_in_names_are_blanked_but_ids_are_never_altered():
    named = replace(INQUIRY, subscriber=replace(SUBSCRIBER, last_name="O*BRIEN~", first_name="ANNE:MARIE"))
    assert "NM1*IL*1*O BRIEN*ANNE MARIE****MI*11122333301" in segment_texts(build(named))
    with pytest.raises(ValueError, match="delimiter"):
        build(replace(INQUIRY, subscriber=replace(SUBSCRIBER, member_id="111*222")))


@pytest.mark.parametrize("changes, message", [
    ({"provider_npi": "1234567890"}, "check digit"),
    ({"provider_npi": "12345"}, "NPI"),
    ({"provider_npi": "１２３４５６７８９３"}, "NPI"),  # full-width digits are not ASCII digits
    ({"relationship": "child"}, "dependent"),
    ({"dependent": Dependent("MARY", "SMITH", date(1978, 10, 14))}, "dependent"),
    ({"service_type_codes": ()}, "service type"),
    ({"service_type_codes": ("30", "abc")}, "service type"),
    ({"subscriber": replace(SUBSCRIBER, member_id=" ")}, "member id"),
    ({"payer_id": ""}, "payer"),
    ({"trace_originator": "123"}, "TRN03"),
])
def test_invalid_inquiries_are_refused_without_echoing_values(changes, message):
    with pytest.raises(ValueError, match=message) as caught:
        replace(INQUIRY, **changes)
    assert "SMITH" not in str(caught.value) and "11122333301" not in str(caught.value)


@pytest.mark.parametrize("npi, ok", [("1234567893", True), ("1234567890", False), ("1245319599", True)])
def test_npi_check_digit(npi, ok):
    assert npi_is_valid(npi) is ok


def test_inquiry_names_the_insured_when_only_name_and_id_are_known():
    from rcm_eligibility.service import _inquiry

    claim = make_claim(source_system="x12-837p",  # an insured without birth date is what an 837P gives
                       patient=make_patient(first_name="Ada", birth_date=date(2015, 1, 1)),
                       coverage=make_coverage(relationship="child", insured=make_insured(first_name="Grace")))
    inquiry = _inquiry(claim)
    assert (inquiry.subscriber.first_name, inquiry.subscriber.birth_date) == ("Grace", None)
    assert inquiry.dependent.first_name == "Ada"


def test_names_are_transliterated_with_the_shared_rule():
    """The 270 writer used to send "José Müller" unchanged, which fails the character-set check."""
    named = replace(INQUIRY, subscriber=replace(SUBSCRIBER, first_name="José", last_name="Müller"),
                    payer_name="Straße Health", provider_name="Łukasz Clinic")
    texts = segment_texts(build(named))
    assert "NM1*IL*1*Muller*Jose****MI*11122333301" in texts
    assert "NM1*PR*2*Strasse Health*****PI*842610001" in texts
    assert any(t.startswith("NM1*1P*2*Lukasz Clinic*") for t in texts)
    assert all(is_x12_text(t.replace("*", "")) for t in texts if t.startswith("NM1"))
    assert eligibility_270.free_text is free_text
