"""rcm_x12.codec: delimiter detection, envelopes, control-number checks, writer, garbage rejection."""

from datetime import datetime

import pytest

from rcm_x12.codec import (
    Delimiters,
    EnvelopeErrorCode,
    Segment,
    X12Error,
    build_interchange,
    detect_delimiters,
    parse_interchange,
)
from tests.support.shared import sample_file, sample_params

NOW = datetime(2026, 3, 14, 9, 5)
E = EnvelopeErrorCode


def transaction(control: str = "0001") -> list[Segment]:
    return [
        Segment("ST", ["270", control, "005010X279A1"]),
        Segment("BHT", ["0022", "13", "REF1", "20260314", "0905"]),
        Segment("HL", ["1", "", "20", "1"]),
        Segment("NM1", ["PR", "2", "ACME HEALTH", "", "", "", "", "PI", "12345"]),
        Segment("EB", ["B", "", "1^33^98", "HM", "GOLD", "27", "10", "", "", "", "", "Y"]),
        Segment("SV1", ["HC:99213:25", "150"]),
    ]


def build(transactions=None, **kwargs) -> str:
    return build_interchange("SENDER1", "RECEIVER1", 42, "HS", "005010X279A1",
                             transactions or [transaction()], now=NOW, **kwargs)


def codes(text: str) -> list[EnvelopeErrorCode]:
    return [e.code for e in parse_interchange(text).errors]


# ---------------------------------------------------------------- writer + round trip


def test_round_trip_preserves_segments_and_envelopes():
    tx = transaction()
    text = build([tx, transaction("0002")])
    ic = parse_interchange(text)
    assert ic.errors == []
    assert (ic.sender_id, ic.receiver_id, ic.control_number, ic.usage) == ("SENDER1", "RECEIVER1", "000000042", "P")
    [group] = ic.groups
    assert (group.functional_id, group.control_number, group.version) == ("HS", "42", "005010X279A1")
    assert [t.control_number for t in ic.transactions] == ["0001", "0002"]
    first = ic.transactions[0]
    assert first.segments[:-1] == tx
    assert first.trailer == Segment("SE", ["7", "0001"])
    assert [s.tag for s in first.body] == ["BHT", "HL", "NM1", "EB", "SV1"]


def test_isa_is_fixed_width_with_padded_ids_and_short_dates():
    text = build()
    isa = text.split("~")[0]
    assert len(isa) + 1 == 106  # the ISA is always 106 characters with its terminator
    assert isa == ("ISA*00*          *00*          *ZZ*SENDER1        *ZZ*RECEIVER1      "
                   "*260314*0905*^*00501*000000042*0*P*:")
    assert text.split("~")[1] == "GS*HS*SENDER1*RECEIVER1*20260314*0905*42*X*005010X279A1"
    assert text.endswith("GE*1*42~IEA*1*000000042~")


def test_composite_and_repetition_helpers():
    eb = parse_interchange(build()).transactions[0].body[3]
    assert eb.tag == "EB" and eb.element(1) == "B" and eb.element(99) == ""
    assert eb.repetitions(3) == ["1", "33", "98"]
    assert eb.repetitions(2) == []
    sv1 = parse_interchange(build()).transactions[0].body[4]
    assert sv1.components(1) == ["HC", "99213", "25"]
    assert sv1.component(1, 2) == "99213" and sv1.component(1, 4) == "" and sv1.component(2, 1) == "150"


def test_writer_drops_trailing_empty_elements_and_recomputes_a_given_se():
    tx = [Segment("ST", ["270", "0009", "005010X279A1"]), Segment("EQ", ["30", "", ""]),
          Segment("SE", ["99", "bogus"])]
    text = build([tx])
    assert "~EQ*30~SE*3*0009~" in text
    assert parse_interchange(text).errors == []


def test_writer_reencodes_segments_read_with_other_delimiters():
    foreign = Delimiters(element="|", repetition="!", component=">", segment="\n")
    tx = [Segment("ST", ["837", "0001"]), Segment("SV1", ["HC>99213>25", "10"], foreign),
          Segment("EB", ["1", "", "30!98"], foreign)]
    text = build_interchange("S", "R", 1, "HC", "005010X222A1", [tx], now=NOW)
    assert "~SV1*HC:99213:25*10~EB*1**30^98~" in text


@pytest.mark.parametrize("bad", ["A*B", "A~B"])
def test_writer_refuses_data_containing_a_delimiter(bad):
    tx = [Segment("ST", ["270", "0001"]), Segment("NM1", ["IL", "1", bad])]
    with pytest.raises(ValueError, match="delimiter"):
        build([tx])


@pytest.mark.parametrize("bad", ["A:B", "A^B"])
def test_writer_refuses_foreign_data_that_would_turn_into_composites(bad):
    foreign = Delimiters(element="|", repetition="!", component=">", segment="\n")
    tx = [Segment("ST", ["270", "0001"]), Segment("NM1", ["IL", "1", bad], foreign)]
    with pytest.raises(ValueError, match="NM103 contains a delimiter"):
        build([tx])


@pytest.mark.parametrize("kwargs, message", [
    ({"control_number": 0}, "control number"),
    ({"control_number": 1_000_000_000}, "control number"),
    ({"sender": "X" * 16}, "sender id"),
    ({"usage": "Q"}, "usage"),
    ({"transactions": []}, "at least one"),
    ({"transactions": [[Segment("BHT", ["0022"])]]}, "ST"),
])
def test_writer_validates_envelope_inputs(kwargs, message):
    args = {"sender": "S", "receiver": "R", "control_number": 1, "functional_id": "HS",
            "version": "005010X279A1", "transactions": [transaction()], "now": NOW} | kwargs
    with pytest.raises(ValueError, match=message):
        build_interchange(**args)


def test_line_breaks_option_still_parses():
    text = build(line_breaks=True)
    assert "~\nGS*" in text
    assert parse_interchange(text).errors == []


# ---------------------------------------------------------------- delimiters


def swap_delimiters(text: str, element: str, repetition: str, component: str, segment: str) -> str:
    table = str.maketrans({"*": element, "^": repetition, ":": component, "~": segment})
    return text.translate(table)


@pytest.mark.parametrize("element, repetition, component, segment", [
    ("|", "!", ">", "\n"),
    ("^", "{", "\\", "'"),
    ("\x1d", "\x1f", "\x1e", "\x1c"),  # control characters some clearinghouses use
])
def test_other_delimiters_are_detected_from_the_isa(element, repetition, component, segment):
    text = swap_delimiters(build(), element, repetition, component, segment)
    assert detect_delimiters(text) == Delimiters(element, repetition, component, segment)
    ic = parse_interchange(text)
    assert ic.errors == []
    eb = ic.transactions[0].body[3]
    assert eb.repetitions(3) == ["1", "33", "98"]
    assert ic.transactions[0].body[4].component(1, 2) == "99213"


def test_bom_leading_whitespace_and_crlf_after_terminators_are_tolerated():
    text = "\ufeff \r\n" + build().replace("~", "~\r\n")
    ic = parse_interchange(text)
    assert ic.errors == [] and len(ic.transactions[0].segments) == 7


def test_pre_5010_isa11_is_not_a_repetition_separator():
    text = build().replace("*^*00501*", "*U*00401*", 1)
    assert detect_delimiters(text).repetition is None
    eb = parse_interchange(text).transactions[0].body[3]
    assert eb.repetitions(3) == ["1^33^98"]


def test_badly_padded_isa_is_still_understood():
    text = build().replace("SENDER1        *", "SENDER1*", 1)
    assert parse_interchange(text).sender_id == "SENDER1"


# ---------------------------------------------------------------- control numbers


def test_se_count_and_control_number_mismatches_are_reported_not_raised():
    text = build().replace("SE*7*0001~", "SE*8*0002~")
    errors = parse_interchange(text).errors
    assert [e.code for e in errors] == [E.SE_SEGMENT_COUNT, E.SE_CONTROL_NUMBER]
    assert errors[0].segment_position == 9
    assert "SE01 says '8' segments, the set has 7" in errors[0].message


def test_ge_and_iea_mismatches_are_reported():
    text = build().replace("GE*1*42~IEA*1*000000042~", "GE*2*43~IEA*3*000000041~")
    assert codes(text) == [E.GE_TRANSACTION_COUNT, E.GE_CONTROL_NUMBER, E.IEA_GROUP_COUNT, E.IEA_CONTROL_NUMBER]


def test_control_numbers_equal_as_numbers_are_accepted():
    assert codes(build().replace("IEA*1*000000042~", "IEA*1*42~")) == []


def test_missing_trailers_are_reported_and_content_kept():
    text = build().split("SE*")[0]
    ic = parse_interchange(text)
    assert [e.code for e in ic.errors] == [E.MISSING_SE, E.MISSING_GE, E.MISSING_IEA]
    assert len(ic.transactions[0].segments) == 6 and ic.transactions[0].trailer is None


def test_functional_id_must_suit_the_transaction_set():
    text = build().replace("GS*HS*", "GS*HC*")
    assert codes(text) == [E.FUNCTIONAL_ID_MISMATCH]


def test_segments_outside_envelopes_and_after_iea_are_reported():
    text = build().replace("GE*1*42~", "REF*XX*1~GE*1*42~") + "ST*270*9~"
    assert codes(text) == [E.OUTSIDE_ENVELOPE, E.DATA_AFTER_IEA]


def test_error_messages_do_not_echo_element_data():
    text = build().replace("SE*7*0001~", "SE*7*SMITH JOHN 1970-01-01 ~")
    [error] = parse_interchange(text).errors
    assert "SMITH" not in str(error) and "<invalid>" in error.message


# ---------------------------------------------------------------- not X12


@pytest.mark.parametrize("text", [
    "",
    "   \n",
    "hello world",
    '{"resourceType": "Bundle"}',
    "ISA*00*",
    "ISA100*          *00*          *ZZ*S              *ZZ*R              *260314*0905*^*00501*000000001*0*P*:~",
    "ISA*00*          *00*          *ZZ*S              *ZZ*R              *260314*0905*^*00501*000000001*0*P*:A",
    "ISA*00*          *00*          *ZZ*S              *ZZ*R              *260314*0905*^*00501*000000001*0*P*~~",
])
def test_garbage_is_rejected_with_x12_error(text):
    with pytest.raises(X12Error):
        parse_interchange(text)


@pytest.mark.parametrize("junk", ["$$*1", "st*270*1", "*30", "TOOLONG*1"])
def test_segments_without_a_valid_tag_are_rejected(junk):
    with pytest.raises(X12Error, match="segment #4 does not start with a valid segment tag"):
        parse_interchange(build().replace("~BHT*", f"~{junk}~BHT*", 1))


# ---------------------------------------------------------------- shared samples


@pytest.mark.parametrize("path", sample_params("x12", pattern="*/*"))
def test_every_shared_sample_tokenizes(path):
    ic = parse_interchange(path.read_text())
    assert ic.transactions and all(t.header.tag == "ST" for t in ic.transactions)


@pytest.mark.parametrize("name, expected", [
    ("999/ims_999-accepted.999", [E.IEA_CONTROL_NUMBER]),
    ("837p/ims_complex_2st.837", [E.SE_SEGMENT_COUNT, E.SE_SEGMENT_COUNT, E.GE_TRANSACTION_COUNT]),
    ("271/lfh_subscriber-error.271", [E.SE_CONTROL_NUMBER]),
    ("271/edifabric_response.271", [E.FUNCTIONAL_ID_MISMATCH]),
    ("271/nodex12_271.edi", [E.FUNCTIONAL_ID_MISMATCH, E.MISSING_GE, E.MISSING_IEA]),
    ("277/ims_x212.277", [E.IEA_CONTROL_NUMBER]),  # MANIFEST marks it OK, but IEA02 != ISA13
    ("999/ims_999-accepted.fixed.999", []),
])
def test_known_defects_in_shared_samples_are_found(name, expected):
    assert codes(sample_file("x12", *name.split("/")).read_text()) == expected
