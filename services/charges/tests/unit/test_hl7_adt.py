"""ADT^A04/A08 -> PatientRegistrationReceived (pure): what eligibility registers, field paths for what is missing,
no patient values in reasons."""

from datetime import date

import pytest

from rcm_charges.domain.hl7_adt import adt_to_registration
from rcm_charges.domain.hl7_dft import IntakeError
from rcm_contracts.claim import Address

def in1(**fields: str) -> str:
    """An IN1 segment with IN1-n set from n<number>=value."""
    values = [""] * 50
    for name, value in fields.items():
        values[int(name[1:])] = value
    values[0] = "IN1"
    return "|".join(values).rstrip("|")


ADT = "\r".join([
    "MSH|^~\\&|ACMEEHR|SPRINGFIELD|OPENRCM|OPENRCM|20261201083000||ADT^A04^ADT_A01|ADT-0001|P|2.5.1",
    "EVN|A04|20261201083000",
    "PID|1||99887^^^ACME^PI~MRN-42^^^ACME^MR||Zyxwvutson^Quentella^M||19840719|F|||12 Elm St^Apt 3^Springfield^IL^62704|"
    "|(217) 555-0134",
    "PV1|1|O",
    in1(n1="1", n2="GOLD", n3="60054", n4="Acme Health Plan", n8="GRP-42", n12="20260101", n13="20261231",
        n17="SEL", n36="MBR-778899"),
    in1(n1="2", n2="SUPP", n3="SBX02", n4="Supplemental", n12="20260101", n17="02", n36="SUP-1"),
])


def test_a04_maps_to_the_registration():
    reg = adt_to_registration(ADT)
    assert (reg.trigger, reg.source_system, reg.message_control_id, reg.patient_id) == ("A04", "ACMEEHR", "ADT-0001",
                                                                                       "MRN-42")
    assert (reg.patient.last_name, reg.patient.first_name, reg.patient.birth_date, reg.patient.sex) == (
        "Zyxwvutson", "Quentella", date(1984, 7, 19), "F")
    assert reg.patient.address == Address(line1="12 Elm St", line2="Apt 3", city="Springfield", state="IL",
                                          postal_code="62704")
    assert reg.phone == "2175550134"
    primary, secondary = reg.coverages
    assert (primary.payer_id, primary.payer_name, primary.member_id, primary.group_number, primary.relationship,
            primary.order_of_benefits, primary.effective_from, primary.effective_to) == (
        "60054", "Acme Health Plan", "MBR-778899", "GRP-42", "self", 1, date(2026, 1, 1), date(2026, 12, 31))
    assert (secondary.order_of_benefits, secondary.relationship) == (2, "spouse")


def test_a08_without_in1_carries_no_coverages():
    msg = ADT.replace("ADT^A04^ADT_A01", "ADT^A08^ADT_A01")
    msg = "\r".join(s for s in msg.split("\r") if not s.startswith("IN1"))
    reg = adt_to_registration(msg)
    assert reg.trigger == "A08" and reg.coverages == []


def test_pid_3_without_an_mr_type_takes_the_first_identifier():
    reg = adt_to_registration(ADT.replace("99887^^^ACME^PI~MRN-42^^^ACME^MR", "P-7^^^ACME"))
    assert reg.patient_id == "P-7"


def errors_of(msg: str) -> list[dict]:
    with pytest.raises(IntakeError) as exc:
        adt_to_registration(msg)
    return exc.value.errors


def test_missing_fields_are_named_without_values():
    msg = ADT.replace("99887^^^ACME^PI~MRN-42^^^ACME^MR", "").replace("19840719", "").replace(
        "12 Elm St^Apt 3^Springfield^IL^62704", "").replace("GRP-42||||20260101", "GRP-42||||")
    errors = errors_of(msg)
    assert [e["field"] for e in errors] == ["PID-3", "PID-7", "PID-11", "IN1[1].12"]
    assert all("Zyxwvutson" not in e["reason"] and "Quentella" not in e["reason"] for e in errors)


def test_other_types_are_refused_naming_msh_9():
    assert errors_of(ADT.replace("ADT^A04", "ADT^A01")) == [{"field": "MSH-9",
                                                             "reason": "message type must be ADT^A04 or ADT^A08"}]


@pytest.mark.parametrize("garbage", ["", "PID|1", "MSH|^~\\&|A\rPID|1|||", "\x00\x01MSH"])
def test_garbage_is_an_intake_error(garbage):
    with pytest.raises(IntakeError):
        adt_to_registration(garbage)


@pytest.mark.parametrize("phone", ["1234567890", "(217) 155-0134", "555-0134", "+44 20 7946 0018"])
def test_a_phone_that_is_no_us_number_is_left_out_and_the_registration_stands(phone):
    """Eligibility registers 10-digit NANP numbers only: anything else would be refused there after the AA
    (tests/cross_service/test_adt_registration.py follows one into eligibility)."""
    reg = adt_to_registration(ADT.replace("(217) 555-0134", phone))
    assert reg.phone is None and reg.patient.last_name == "Zyxwvutson" and len(reg.coverages) == 2
