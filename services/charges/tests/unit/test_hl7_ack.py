"""HL7 ACKs (pure): the sender's version and delimiters, sender and receiver swapped, MSA-2 the message's
control id, ERR in the version's own shape, no message values in the text."""

from datetime import datetime, timezone

import pytest

from rcm_charges.domain import hl7_ack
from rcm_charges.domain.hl7_ack import Ack, AckError, Header, build, location, read_header

NOW = datetime(2026, 12, 7, 9, 30, 0, tzinfo=timezone.utc)
DFT_25 = "MSH|^~\\&|ACMEEHR|SPRINGFIELD^1234567893^NPI|OPENRCM|RCMFAC|20240305101500||DFT^P03^DFT_P03|MSG-0001|P|2.5.1\rEVN|P03"


def segs(ack: str) -> list[list[str]]:
    assert ack.endswith("\r")
    return [s.split("|") for s in ack.rstrip("\r").split("\r")]


def test_read_header():
    h = read_header(DFT_25)
    assert (h.sending_application, h.sending_facility, h.receiving_application, h.receiving_facility) == (
        "ACMEEHR", "SPRINGFIELD^1234567893^NPI", "OPENRCM", "RCMFAC")
    assert (h.message_type, h.trigger, h.control_id, h.processing_id, h.version) == ("DFT", "P03", "MSG-0001", "P",
                                                                                    "2.5.1")
    assert h.sender_key == ("ACMEEHR", "SPRINGFIELD")


@pytest.mark.parametrize("text", ["", "PID|1", "MSH", "MSHx^~\\&|", "hello\rMSH|^~\\&|A"])
def test_no_header(text):
    assert read_header(text) is None


def test_aa_in_v2_5_1_swaps_sender_and_receiver():
    ack = build(read_header(DFT_25), Ack("AA"), control_id="A1", now=NOW)
    msh, msa = segs(ack)
    assert msh[:12] == ["MSH", "^~\\&", "OPENRCM", "RCMFAC", "ACMEEHR", "SPRINGFIELD^1234567893^NPI",
                        "20261207093000", "", "ACK^P03^ACK", "A1", "P", "2.5.1"]
    assert msa == ["MSA", "AA", "MSG-0001"]


def test_ae_in_v2_5_names_the_field_in_err_2_3_4_8():
    ack = build(read_header(DFT_25), Ack("AE", "see ERR", [
        AckError("FT1[1].7", "must be a 5-character CPT/HCPCS code"),
        AckError("PID-7", "is required: the patient's birth date", hl7_ack.REQUIRED_FIELD_MISSING),
        AckError("PID-5.1", "is required: the patient's last name", hl7_ack.REQUIRED_FIELD_MISSING),
        AckError("message", "could not be read")]), control_id="A2", now=NOW)
    msh, msa, *errs = segs(ack)
    assert msa == ["MSA", "AE", "MSG-0001"]  # v2.5: the text lives in ERR-8, not MSA-3
    assert [e[2] for e in errs] == ["FT1^1^7", "PID^1^7", "PID^1^5^1^1", ""]
    assert errs[0][3] == "207^Application internal error^HL70357" and errs[0][4] == "E"
    assert errs[1][3] == "101^Required field missing^HL70357"
    assert errs[0][8] == "must be a 5-character CPT/HCPCS code"


def test_v2_3_uses_err_1_and_msa_3_and_the_senders_delimiters():
    msg = "MSH#$*\\&#IRIS#IRIS#Cerner#Cerner#20200130165606##DFT$P03#200130165606#T#2.3\rEVN#P03"
    ack = build(read_header(msg), Ack("AE", "", [AckError("FT1[1].20", "must be an NPI"),
                                                  AckError("PID-7", "is required", hl7_ack.REQUIRED_FIELD_MISSING)]),
                control_id="A3", now=NOW)
    msh, msa, err = [s.split("#") for s in ack.rstrip("\r").split("\r")]
    assert msh[1] == "$*\\&" and msh[8] == "ACK$P03" and msh[10:] == ["T", "2.3"]  # no structure before 2.3.1
    assert msa == ["MSA", "AE", "200130165606", "must be an NPI"]
    assert err[1] == "FT1$1$20$207&Application internal error&HL70357*PID$1$7$101&Required field missing&HL70357"


def test_v2_4_ack_has_the_structure_component():
    h = Header(version="2.4", trigger="A04", message_type="ADT", control_id="X")
    assert segs(build(h, Ack("AA"), control_id="A", now=NOW))[0][8] == "ACK^A04^ACK"


def test_text_with_delimiters_is_escaped():
    ack = build(read_header(DFT_25), Ack("AR", "a|b^c~d\\e&f", [AckError("MSH-9", "a|b^c~d\\e&f")]),
                control_id="A", now=NOW)
    err = ack.rstrip("\r").split("\r")[2]
    assert err.endswith("a\\F\\b\\S\\c\\R\\d\\E\\e\\T\\f")


def test_ar_without_a_header_uses_defaults():
    msh, msa, err = segs(build(Header(), Ack("AR", "not HL7", [AckError("message", "not HL7")]), control_id="A",
                               now=NOW))
    assert msh[8] == "ACK" and msh[11] == hl7_ack.DEFAULT_VERSION and msa == ["MSA", "AR", ""]


@pytest.mark.parametrize("path, want", [("FT1[2].11", ("FT1", "2", "11", "")), ("PID-7", ("PID", "1", "7", "")),
                                        ("PID-5.2", ("PID", "1", "5", "2")), ("IN1", ("IN1", "1", "", "")),
                                        ("message", None), ("source_system", None)])
def test_location(path, want):
    assert location(path) == want
