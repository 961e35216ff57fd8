"""837P writer and reader: every generated file passes pyx12, claims survive a round trip, every shared
sample is read, and the IG-valid samples regenerate into files pyx12 accepts."""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest

from rcm_contracts.claim import Address, Claim, Coverage, Insured, ServiceLine, patient_control_number
from rcm_x12.claim_837p.check import ClaimNotBillable, check_billable
from rcm_x12.claim_837p.codes import SOURCE_SYSTEM
from rcm_x12.claim_837p.read import ReadClaim, claim_ids, read_837p
from rcm_x12.claim_837p.write import ClaimBatch, Receiver, Submitter, build_837p, transaction_837p
from rcm_x12.codec import Segment, build_interchange, tokenize
from rcm_x12.claim_837p import write as write_module
from rcm_x12.format import free_text, is_x12_text, npi_is_valid
from tests.support.claims import (
    make_address,
    make_adjustment,
    make_claim,
    make_coverage,
    make_insured,
    make_line,
    make_line_adjudication,
    make_other_payer,
    make_patient,
    make_provider,
)
from tests.support.pyx12_oracle import pyx12_errors
from tests.support.shared import MissingSamples, need, sample_files, sample_params, samples_dir

NOW = datetime(2026, 3, 14, 9, 5)
DOS = date(2026, 3, 2)


# ---------------------------------------------------------------- pyx12


def assert_pyx12_accepts(text: str) -> None:
    findings = pyx12_errors(text)
    assert findings == [], "pyx12 findings:\n" + "\n".join(findings) + "\n\nfile:\n" + text.replace("~", "~\n")


# ---------------------------------------------------------------- claims
# Built by the shared factory (tests/support/claims.py) with this file's parties: every value the segments
# below are compared against is named here.


def address(line1: str = "100 Main St", postal_code: str = "62704", **kw: Any) -> Address:
    return make_address(**{"line1": line1, "city": "Springfield", "state": "IL", "postal_code": postal_code} | kw)


BILLING = make_provider("1234567893", name="Springfield Family Medicine", taxonomy="207Q00000X", tax_id="123456789",
                        address=address("100 Main St", "627011234"))
OTHER_BILLING = make_provider("1245319599", name="Shelbyville Clinic", tax_id="987654321",
                              address=address("5 Oak Ave", "621761234", city="Shelbyville"))
RENDERING = make_provider("1679576722", name="Ada Careful", taxonomy="207R00000X")
REFERRING = make_provider("1987654328", name="Ray Referrer")
SUPERVISING = make_provider("1333444556", name="Sue Pervisor")

PATIENT = make_patient(first_name="Jane", last_name="Doe", birth_date=date(1980, 2, 29), sex="F",
                       address=address("12 Elm St", "62704", line2="Apt 3"))
SUBSCRIBER = make_patient(first_name="John", last_name="Doe", birth_date=date(1978, 7, 4), sex="M",
                          address=address("12 Elm St", "62704"))
# The subscriber as an 837P names them (2010BA without DMG, 2330A): no birth date, sex unknown.
INSURED = make_insured(first_name="John", last_name="Doe", address=address("12 Elm St", "62704"))
COVERAGE = make_coverage(payer_id="60054", payer_name="Acme Health", member_id="W123456789", group_number="GRP100")
PRIMARY_COVERAGE = make_coverage(payer_id="87726", payer_name="First Payer", member_id="P9876543")


def line(number: int, code: str = "99213", charge: str = "100", *, pointers: tuple[int, ...] = (1,),
         modifiers: tuple[str, ...] = (), units: str = "1", service_date: date | None = None) -> ServiceLine:
    return make_line(number, code, charge, units=units, modifiers=modifiers, pointers=pointers,
                     service_date=service_date)


def claim(**changes: Any) -> Claim:
    """The shared factory's claim with this file's parties; the total is the sum of the lines unless given."""
    return make_claim(**{
        "service_date": DOS, "place_of_service": "11", "patient": PATIENT,
        "coverage": COVERAGE, "billing_provider": BILLING, "diagnoses": ["J069", "R509"],
        "lines": [line(1, "99213", "100.50", pointers=(1, 2)), line(2, "87880", "25")],
    } | changes)


def batch(claims: list[Claim], **changes: Any) -> ClaimBatch:
    args = {
        "claims": claims, "interchange_control_number": 1234, "now": NOW, "sender_id": "OPENRCM01",
        "receiver_id": "CLEARHOUSE", "usage": "T",
        "submitter": Submitter("OpenRCM Billing", "OPENRCM01", "EDI Desk", phone="2175550100", email="edi@example.org"),
        "receiver": Receiver("Clearing House", "CLEARHOUSE"),
    } | changes
    return ClaimBatch(**args)


def build(claims: list[Claim], **changes: Any) -> str:
    return build_837p(batch(claims, **changes))


def segments(text: str) -> list[Segment]:
    return tokenize(text)[1]


def tags(text: str, tag: str) -> list[Segment]:
    return [s for s in segments(text) if s.tag == tag]


def raw(text: str) -> list[str]:
    return [s.strip() for s in text.split("~") if s.strip()]


# ---------------------------------------------------------------- scenarios


def dependent_coverage(relationship: str = "child", *, insured: bool = False) -> Coverage:
    """A dependent's coverage naming the subscriber as a full Person, or as the insured (name only)."""
    who = {"insured": INSURED} if insured else {"subscriber": SUBSCRIBER}
    return COVERAGE.model_copy(update={"relationship": relationship, **who})


def secondary_claim(other_relationship: str = "self", *, insured: bool = False) -> Claim:
    """Secondary to PRIMARY_COVERAGE, which paid part of line 1 and all of line 2 (balances per TR3 1.4.4).
    The other subscriber, when not the patient, is SUBSCRIBER or (insured=True) INSURED."""
    claim_level = [make_adjustment("CO", code, Decimal("1.00"))
                   for code in ("45", "97", "94", "253", "59", "B7", "A1")]  # 7 reasons: two CAS*CO
    claim_level.append(make_adjustment("PR", "1", Decimal("20")))
    line_level = [make_adjustment("CO", "45", Decimal("30.50")), make_adjustment("PR", "2", Decimal("10"))]
    adjudicated = date(2026, 3, 20)
    primary = make_other_payer(
        coverage=PRIMARY_COVERAGE.model_copy(update={"relationship": other_relationship} | (
            {} if other_relationship == "self" else {"insured": INSURED} if insured else {"subscriber": SUBSCRIBER})),
        responsibility="P", payer_claim_control_number="PCCN0001", paid_amount=Decimal("58"),
        adjudication_date=adjudicated, adjustments=claim_level,
        lines=[make_line_adjudication(1, "99213", Decimal("60"), adjustments=line_level,
                                      adjudication_date=adjudicated),
               make_line_adjudication(2, "87880", Decimal("25"), adjudication_date=adjudicated)],
    )
    return claim(payer_responsibility="S", other_payers=[primary])


def fifty_lines() -> Claim:
    lines = [line(n, "97110", "10", pointers=(1,), service_date=None if n <= 25 else date(2026, 3, 3))
             for n in range(1, 51)]
    return claim(lines=lines)


TWELVE_DIAGNOSES = ["E119", "I10", "E785", "J449", "M1711", "K219", "F329", "G4733", "N183", "E039", "M545", "Z7901"]

SCENARIOS: dict[str, Callable[[], list[Claim]]] = {
    "self subscriber": lambda: [claim()],
    "dependent patient (2000C)": lambda: [claim(coverage=dependent_coverage("child"))],
    "dependent patient, subscriber known by name only": lambda: [claim(coverage=dependent_coverage(insured=True))],
    "spouse patient": lambda: [claim(coverage=dependent_coverage("spouse"))],
    "four modifiers, fractional units": lambda: [claim(lines=[
        line(1, "97110", "12.34", modifiers=("GP", "59", "XS", "KX"), units="2.5"),
        line(2, "J1100", "0.5", modifiers=("JW",), units="0.125")])],
    "twelve diagnoses": lambda: [claim(diagnoses=TWELVE_DIAGNOSES, lines=[
        line(1, pointers=(1, 2, 3, 4)), line(2, "99000", "5", pointers=(9, 10, 11, 12))])],
    "fifty lines": lambda: [fifty_lines()],
    "referring, rendering and supervising": lambda: [claim(
        referring_provider=REFERRING, rendering_provider=RENDERING, supervising_provider=SUPERVISING)],
    "prior authorization": lambda: [claim(prior_authorization="AUTH-0042")],
    "replacement (frequency 7)": lambda: [claim(frequency_code="7", original_claim_number="PAYER-CLM-77")],
    "void (frequency 8)": lambda: [claim(frequency_code="8", original_claim_number="PAYER-CLM-88")],
    "secondary with claim and line adjustments": lambda: [secondary_claim()],
    "secondary, other subscriber is the spouse": lambda: [secondary_claim("spouse")],
    "secondary, other subscriber known by name only": lambda: [secondary_claim("spouse", insured=True)],
    "multiple billing providers": lambda: [
        claim(), claim(billing_provider=OTHER_BILLING, rendering_provider=RENDERING),
        claim(coverage=dependent_coverage("other"), place_of_service="02")],
}


@pytest.fixture(scope="module")
def built() -> dict[str, tuple[list[Claim], str]]:
    """Each scenario built once (pyx12 reloads its maps on every call, so files are not rebuilt per test)."""
    out = {}
    for name, make in SCENARIOS.items():
        claims = make()
        out[name] = (claims, build(claims))
    return out


def test_factory_npis_pass_the_check_digit():
    for provider in (BILLING, OTHER_BILLING, RENDERING, REFERRING, SUPERVISING):
        assert npi_is_valid(provider.npi), provider.npi


@pytest.mark.parametrize("name", SCENARIOS)
def test_every_generated_file_passes_pyx12(built, name):
    _, text = built[name]
    assert_pyx12_accepts(text)


# ---------------------------------------------------------------- structure


def test_self_subscriber_layout(built):
    claims, text = built["self subscriber"]
    pcn = patient_control_number(claims[0].claim_id)
    assert raw(text)[2:] == [
        "ST*837*0001*005010X222A1",
        "BHT*0019*00*1234*20260314*0905*CH",
        "NM1*41*2*OpenRCM Billing*****46*OPENRCM01",
        "PER*IC*EDI Desk*TE*2175550100*EM*edi@example.org",
        "NM1*40*2*Clearing House*****46*CLEARHOUSE",
        "HL*1**20*1",
        "PRV*BI*PXC*207Q00000X",
        "NM1*85*2*Springfield Family Medicine*****XX*1234567893",
        "N3*100 Main St",
        "N4*Springfield*IL*627011234",
        "REF*EI*123456789",
        "HL*2*1*22*0",
        "SBR*P*18*GRP100******CI",
        "NM1*IL*1*Doe*Jane****MI*W123456789",
        "N3*12 Elm St*Apt 3",
        "N4*Springfield*IL*62704",
        "DMG*D8*19800229*F",
        "NM1*PR*2*Acme Health*****PI*60054",
        f"CLM*{pcn}*125.5***11:B:1*Y*A*Y*Y",
        "HI*ABK:J069*ABF:R509",
        "LX*1",
        "SV1*HC:99213*100.5*UN*1***1:2",
        "DTP*472*D8*20260302",
        "LX*2",
        "SV1*HC:87880*25*UN*1***1",
        "DTP*472*D8*20260302",
        "SE*27*0001",
        "GE*1*1234",
        "IEA*1*000001234",
    ]


def test_dependent_gets_a_patient_hl_and_no_subscriber_demographics(built):
    _, text = built["dependent patient (2000C)"]
    lines = raw(text)
    start = lines.index("HL*2*1*22*1")
    assert lines[start:start + 13] == [
        "HL*2*1*22*1",
        "SBR*P**GRP100******CI",  # SBR02 empty: PAT01 says who the patient is
        "NM1*IL*1*Doe*John****MI*W123456789",
        "N3*12 Elm St",
        "N4*Springfield*IL*62704",
        "NM1*PR*2*Acme Health*****PI*60054",  # no DMG: TR3 sends it only when the subscriber is the patient
        "HL*3*2*23*0",
        "PAT*19",
        "NM1*QC*1*Doe*Jane",
        "N3*12 Elm St*Apt 3",
        "N4*Springfield*IL*62704",
        "DMG*D8*19800229*F",
        lines[start + 12],
    ]
    assert lines[start + 12].startswith("CLM*")
    assert [s.element(1) for s in tags(built["spouse patient"][1], "PAT")] == ["01"]
    assert [s.element(1) for s in tags(built["multiple billing providers"][1], "PAT")] == ["G8"]


def test_dependent_subscriber_known_by_name_only_is_the_2010ba_subscriber(built):
    _, text = built["dependent patient, subscriber known by name only"]
    lines = raw(text)
    start = lines.index("HL*2*1*22*1")
    assert lines[start + 2:start + 6] == [
        "NM1*IL*1*Doe*John****MI*W123456789",
        "N3*12 Elm St",
        "N4*Springfield*IL*62704",
        "NM1*PR*2*Acme Health*****PI*60054",  # no DMG, as for any dependent's subscriber
    ]


def test_a_full_subscriber_wins_over_the_insured():
    coverage = dependent_coverage().model_copy(update={"insured": INSURED.model_copy(update={"first_name": "Jack"})})
    lines = raw(build([claim(coverage=coverage)]))
    assert "NM1*IL*1*Doe*John****MI*W123456789" in lines
    assert not [s for s in lines if "Jack" in s]


def test_modifiers_units_and_amounts(built):
    _, text = built["four modifiers, fractional units"]
    assert [s.elements for s in tags(text, "SV1")] == [
        ["HC:97110:GP:59:XS:KX", "12.34", "UN", "2.5", "", "", "1"],
        ["HC:J1100:JW", "0.5", "UN", "0.125", "", "", "1"],
    ]
    assert tags(text, "CLM")[0].element(2) == "12.84"


def test_twelve_diagnoses_in_one_hi(built):
    _, text = built["twelve diagnoses"]
    (hi,) = tags(text, "HI")
    assert hi.elements == ["ABK:E119", *(f"ABF:{code}" for code in TWELVE_DIAGNOSES[1:])]
    assert tags(text, "SV1")[1].element(7) == "9:10:11:12"


def test_diagnosis_dots_are_dropped():
    text = build([claim(diagnoses=["J06.9", "R50.9"])])
    assert tags(text, "HI")[0].elements == ["ABK:J069", "ABF:R509"]


def test_fifty_lines_numbered_and_dated(built):
    _, text = built["fifty lines"]
    assert [s.element(1) for s in tags(text, "LX")] == [str(n) for n in range(1, 51)]
    dates = [s.element(3) for s in tags(text, "DTP") if s.element(1) == "472"]
    assert dates == ["20260302"] * 25 + ["20260303"] * 25  # the line's own date, else the claim's


def test_claim_level_providers_in_tr3_order(built):
    _, text = built["referring, rendering and supervising"]
    lines = raw(text)
    start = next(i for i, s in enumerate(lines) if s.startswith("HI*"))
    assert lines[start + 1:start + 5] == [
        "NM1*DN*1*Referrer*Ray****XX*1987654328",
        "NM1*82*1*Careful*Ada****XX*1679576722",
        "PRV*PE*PXC*207R00000X",
        "NM1*DQ*1*Pervisor*Sue****XX*1333444556",
    ]


def test_rendering_provider_same_as_billing_is_not_sent():
    text = build([claim(rendering_provider=BILLING)])
    assert not [s for s in tags(text, "NM1") if s.element(1) == "82"]  # TR3 2310B: only when different


def test_prior_authorization_and_frequency(built):
    assert [s.elements for s in tags(built["prior authorization"][1], "REF") if s.element(1) != "EI"] == [
        ["G1", "AUTH-0042"]]
    for name, frequency, number in (("replacement (frequency 7)", "7", "PAYER-CLM-77"),
                                    ("void (frequency 8)", "8", "PAYER-CLM-88")):
        text = built[name][1]
        assert tags(text, "CLM")[0].element(5) == f"11:B:{frequency}"
        assert ["F8", number] in [s.elements for s in tags(text, "REF")]


def test_secondary_claim_cob_loops(built):
    _, text = built["secondary with claim and line adjustments"]
    lines = raw(text)
    assert "SBR*S*18*GRP100******CI" in lines
    start = lines.index("SBR*P*18*******ZZ")  # 2320: type of the other payer's plan is not known
    assert lines[start:start + 10] == [
        "SBR*P*18*******ZZ",
        "CAS*CO*45*1**97*1**94*1**253*1**59*1**B7*1",  # 6 reasons per CAS ...
        "CAS*CO*A1*1",  # ... the 7th opens a second one
        "CAS*PR*1*20",
        "AMT*D*58",
        "OI***Y***Y",
        "NM1*IL*1*Doe*Jane****MI*P9876543",  # relationship self: the patient is the other subscriber
        "N3*12 Elm St*Apt 3",
        "N4*Springfield*IL*62704",
        "NM1*PR*2*First Payer*****PI*87726",
    ]
    assert lines[start + 10] == "REF*F8*PCCN0001"  # no 2330B DTP*573: the 2430s carry the date
    line_one = lines.index("SV1*HC:99213*100.5*UN*1***1:2")
    assert lines[line_one + 2:line_one + 6] == [
        "SVD*87726*60*HC:99213**1", "CAS*CO*45*30.5", "CAS*PR*2*10", "DTP*573*D8*20260320"]


def test_other_subscriber_who_is_not_the_patient(built):
    _, text = built["secondary, other subscriber is the spouse"]
    lines = raw(text)
    start = lines.index("SBR*P*01*******ZZ")
    assert "NM1*IL*1*Doe*John****MI*P9876543" in lines[start:]


def test_other_subscriber_known_by_name_only(built):
    _, text = built["secondary, other subscriber known by name only"]
    lines = raw(text)
    start = lines.index("NM1*IL*1*Doe*John****MI*P9876543", lines.index("SBR*P*01*******ZZ"))  # 2330A
    assert lines[start + 1:start + 4] == [
        "N3*12 Elm St", "N4*Springfield*IL*62704", "NM1*PR*2*First Payer*****PI*87726"]


def test_other_payer_without_line_adjudication_dates_its_2330b():
    other = make_other_payer(coverage=PRIMARY_COVERAGE, paid_amount=Decimal("100.5"),
                             adjudication_date=date(2026, 3, 9), adjustments=[make_adjustment("CO", "45", Decimal(25))])
    text = build([claim(payer_responsibility="S", other_payers=[other])])
    lines = raw(text)
    assert lines[lines.index("NM1*PR*2*First Payer*****PI*87726") + 1] == "DTP*573*D8*20260309"
    assert_pyx12_accepts(text)


def test_one_billing_provider_loop_per_distinct_provider(built):
    claims, text = built["multiple billing providers"]
    hls = [s.elements for s in tags(text, "HL")]
    assert hls == [["1", "", "20", "1"], ["2", "1", "22", "0"], ["3", "1", "22", "1"], ["4", "3", "23", "0"],
                   ["5", "", "20", "1"], ["6", "5", "22", "0"]]
    assert [s.element(9) for s in tags(text, "NM1") if s.element(1) == "85"] == ["1234567893", "1245319599"]
    # claims of the first provider come first, in batch order
    assert [s.element(1) for s in tags(text, "CLM")] == [patient_control_number(c.claim_id)
                                                          for c in (claims[0], claims[2], claims[1])]


def test_free_text_loses_delimiters_and_accents():
    person = PATIENT.model_copy(update={"first_name": "Zoë", "last_name": "O'Néil*Smith~Jr"})
    text = build([claim(patient=person)])
    assert "NM1*IL*1*O'Neil Smith Jr*Zoe****MI*W123456789" in raw(text)
    assert_pyx12_accepts(text)


# ---------------------------------------------------------------- not billable


def test_not_billable_claim_names_fields_and_no_values():
    unbillable = claim(billing_provider=make_provider(BILLING.npi, name=BILLING.name),
                       patient=PATIENT.model_copy(update={"address": None}), coverage=None)
    good = claim()
    with pytest.raises(ClaimNotBillable) as caught:
        build([good, unbillable])
    error = caught.value
    assert error.claim_id == unbillable.claim_id
    assert error.problems == check_billable(unbillable)
    assert [p.split(":")[0] for p in error.problems] == [
        "billing_provider.tax_id", "billing_provider.address", "patient.address", "coverage"]
    message = str(error).replace(str(unbillable.claim_id), "")
    for value in ("Jane", "Doe", "1980", "0229", "Springfield", BILLING.npi, "J069", "99213", "125.5", "100.5",
                  patient_control_number(unbillable.claim_id)):
        assert value.lower() not in message.lower(), value


def test_check_billable_flags_what_the_tr3_needs():
    five_digit_zip = BILLING.model_copy(update={"address": address("100 Main St", "62701")})
    assert check_billable(claim(billing_provider=five_digit_zip)) == [
        "billing_provider.address.postal_code: 2010AA needs the 9-digit ZIP+4"]
    bad_id = COVERAGE.model_copy(update={"member_id": "W12*34"})
    assert [p.split(":")[0] for p in check_billable(claim(coverage=bad_id))] == ["coverage.member_id"]
    assert [p.split(":")[0] for p in check_billable(claim(coverage=COVERAGE.model_copy(
        update={"relationship": "child"})))] == ["coverage.subscriber"]
    assert check_billable(claim(coverage=dependent_coverage(insured=True))) == []  # no birth date needed
    unsendable = dependent_coverage(insured=True).model_copy(
        update={"insured": INSURED.model_copy(update={"last_name": "*~"})})
    assert [p.split(":")[0] for p in check_billable(claim(coverage=unsendable))] == ["coverage.insured.last_name"]
    assert [p.split(":")[0] for p in check_billable(claim(diagnoses=[], lines=[line(1)]))] == ["diagnoses"]
    assert [p.split(":")[0] for p in check_billable(claim(total_charge=Decimal("1")))] == ["total_charge"]
    assert [p.split(":")[0] for p in check_billable(claim(payer_responsibility="S"))] == ["other_payers"]
    snomed_line = line(1, "183452005").model_copy(update={"code_system": "snomed-ct"})
    assert [p.split(":")[0] for p in check_billable(claim(lines=[snomed_line]))] == ["lines[0].code_system"]


def test_check_billable_wants_someone_in_2330a_for_another_subscriber():
    assert check_billable(secondary_claim("spouse", insured=True)) == []
    nobody = secondary_claim("spouse")
    other = nobody.other_payers[0]
    other = other.model_copy(update={"coverage": other.coverage.model_copy(update={"subscriber": None})})
    problems = check_billable(nobody.model_copy(update={"other_payers": [other]}))
    assert [p.split(":")[0] for p in problems] == ["other_payers[0].coverage.subscriber"]


def test_check_billable_wants_cob_amounts_to_balance():
    good = secondary_claim()
    assert check_billable(good) == []
    other = good.other_payers[0]
    off = other.model_copy(update={"paid_amount": Decimal("57.99")})
    assert [p.split(":")[0] for p in check_billable(good.model_copy(update={"other_payers": [off]}))] == [
        "other_payers[0].paid_amount"]
    # SVD02 is not in the claim-level equation (CLM02 - all CAS = AMT*D), so only the line is off.
    bad_line = other.lines[0].model_copy(update={"paid_amount": Decimal("61")})
    unbalanced = other.model_copy(update={"lines": [bad_line, other.lines[1]]})
    problems = check_billable(good.model_copy(update={"other_payers": [unbalanced]}))
    assert problems == ["other_payers[0].lines (line_number 1): the line charge minus its adjustments does not "
                        "equal the paid amount (SVD02)"]


def test_batch_is_for_one_payer_with_distinct_claims():
    with pytest.raises(ValueError, match="one payer"):
        batch([claim(), claim(coverage=PRIMARY_COVERAGE)])
    same = claim()
    with pytest.raises(ValueError, match="CLM01"):
        batch([same, same])
    with pytest.raises(ValueError, match="phone number or an email"):
        Submitter("OpenRCM Billing", "OPENRCM01", "EDI Desk")


# ---------------------------------------------------------------- round trip


def comparable(claim_: Claim) -> dict[str, Any]:
    """Claim data as the 837P carries it: ids are derived by the reader, line dates are compared as the
    dates of service they stand for, and runs of blanks in free text count as one (the writer squeezes them)."""
    data = _squeezed(claim_.model_dump(exclude={"claim_id", "encounter_id", "source_system", "source_encounter_id"}))
    for line_ in data["lines"]:
        line_["service_date"] = line_["service_date"] or data["service_date"]
    return data


def _squeezed(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _squeezed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_squeezed(v) for v in value]
    return " ".join(value.split()) if isinstance(value, str) else value


def expected_after_reading(claim_: Claim) -> Claim:
    """What an 837P can give back. The TR3 sends no birth date or sex for a subscriber who is not the patient
    (2010BA DMG, 2330A): the subscriber or insured written comes back as the insured, name and address only.
    A rendering provider who is the billing provider is not sent (TR3 2310B), so it comes back as None."""
    coverage = as_read_back(claim_.coverage)
    others = [o.model_copy(update={"coverage": as_read_back(o.coverage)}) for o in claim_.other_payers]
    rendering = claim_.rendering_provider
    if rendering is not None and rendering.npi == claim_.billing_provider.npi:
        rendering = None
    return claim_.model_copy(update={"coverage": coverage, "other_payers": others, "rendering_provider": rendering})


def as_read_back(coverage: Coverage) -> Coverage:
    named = None if coverage.relationship == "self" else coverage.subscriber or coverage.insured
    insured = None if named is None else Insured(first_name=named.first_name, last_name=named.last_name,
                                                 address=named.address)
    return coverage.model_copy(update={"subscriber": None, "insured": insured})


def read_by_pcn(text: str) -> dict[str, ReadClaim]:
    result = read_837p(text)
    assert result.problems == [] and result.envelope_errors == []
    return {r.patient_control_number: r for r in result.claims}


@pytest.mark.parametrize("name", SCENARIOS)
def test_round_trip(built, name):
    claims, text = built[name]
    read = read_by_pcn(text)
    assert set(read) == {patient_control_number(c.claim_id) for c in claims}
    for original in claims:
        back = read[patient_control_number(original.claim_id)]
        assert comparable(back.claim) == comparable(expected_after_reading(original))
        assert back.claim.source_system == SOURCE_SYSTEM
        ids = claim_ids("000001234", "0001", back.patient_control_number)
        assert (back.claim.claim_id, back.claim.encounter_id) == ids
        # A subscriber who is not the patient comes back as the insured: nothing about them is left out.
        assert not [n for n in back.notes if ".subscriber" in n or ".insured" in n]


def test_dependent_subscriber_known_by_name_only_round_trips(built):
    (original,), text = built["dependent patient, subscriber known by name only"]
    (back,) = read_837p(text).claims
    assert back.claim.coverage == original.coverage  # INSURED has no birth date and sex U: all of it travels
    assert back.notes == ()


def test_other_subscriber_known_by_name_only_round_trips(built):
    (original,), text = built["secondary, other subscriber known by name only"]
    (back,) = read_837p(text).claims
    assert back.claim.other_payers == original.other_payers
    assert back.claim.other_payers[0].coverage.insured == INSURED


def test_reader_keeps_a_full_subscriber_when_2010ba_has_a_birth_date(built):
    # The TR3 says not to send 2010BA DMG for a dependent's subscriber, but some files do: keep the Person.
    _, text = built["dependent patient (2000C)"]
    lines = raw(text)
    at = lines.index("NM1*PR*2*Acme Health*****PI*60054")
    with_dmg = "~".join([*lines[:at], "DMG*D8*19780704*M", *lines[at:]]) + "~"
    (back,) = read_837p(with_dmg).claims
    assert back.claim.coverage.subscriber == SUBSCRIBER and back.claim.coverage.insured is None


def test_reader_ids_are_deterministic_per_interchange_and_transaction():
    original = claim()
    first = read_837p(build([original])).claims[0].claim
    again = read_837p(build([original])).claims[0].claim
    other_interchange = read_837p(build([original], interchange_control_number=99)).claims[0].claim
    assert first.claim_id == again.claim_id and first.encounter_id == again.encounter_id
    assert first.claim_id != first.encounter_id
    assert other_interchange.claim_id != first.claim_id


def test_reader_handles_several_transaction_sets_and_reports_foreign_ones():
    claims = [claim(), claim(billing_provider=OTHER_BILLING)]
    first, second = (transaction_837p(batch([c]), control_number=n) for n, c in enumerate(claims, start=1))
    foreign = [Segment("ST", ["270", "0003", "005010X279A1"]), Segment("BHT", ["0022", "13", "1", "20260314"])]
    text = build_interchange("OPENRCM01", "CLEARHOUSE", 77, "HC", "005010X222A1", [first, second, foreign], now=NOW)
    result = read_837p(text)
    assert [(r.transaction_control_number, r.claim.billing_provider.npi) for r in result.claims] == [
        ("0001", BILLING.npi), ("0002", OTHER_BILLING.npi)]
    assert [(p.transaction_control_number, p.claim_number) for p in result.problems] == [("0003", None)]
    assert [e.code for e in result.envelope_errors] == ["gs01_functional_id"]


def test_unreadable_claim_is_a_problem_without_values():
    claims = [claim(), claim()]
    text = build(claims)
    lines = raw(text)
    first_dmg = lines.index("DMG*D8*19800229*F")
    without_dmg = "~".join(lines[:first_dmg] + lines[first_dmg + 1:]) + "~"
    result = read_837p(without_dmg)
    assert [r.patient_control_number for r in result.claims] == [patient_control_number(claims[1].claim_id)]
    (problem,) = result.problems
    assert problem.claim_number == 1 and problem.patient_control_number == patient_control_number(claims[0].claim_id)
    assert problem.reasons == ("patient.birth_date: no date of birth (DMG), which the claim model requires",)
    assert problem.patient_control_number not in repr(problem) and problem.patient_control_number not in str(problem)


def test_clm05_that_does_not_split_names_the_separator():
    text = build([claim()]).replace("***11:B:1*", "***11>B>1*")  # body and ISA16 disagree
    (problem,) = read_837p(text).problems
    assert problem.reasons == ("CLM05: not a place-of-service:B:frequency composite (is ISA16 the separator used?)",)


def test_repeated_clm01_is_refused_rather_than_merged():
    claims = [claim(), claim()]
    first, second = (patient_control_number(c.claim_id) for c in claims)
    result = read_837p(build(claims).replace(f"CLM*{second}*", f"CLM*{first}*"))
    assert len(result.claims) == 1
    assert [p.reasons for p in result.problems] == [("CLM01 repeats an earlier claim of this transaction set",)]


# ---------------------------------------------------------------- shared samples


SAMPLES = samples_dir("x12", "837p")
MANIFEST = samples_dir("x12", "MANIFEST.tsv")


def pyx12_accepted_samples() -> set[str]:
    if not MANIFEST.is_file():
        return set()
    with MANIFEST.open(newline="") as fh:
        rows = csv.DictReader(fh, delimiter="\t")
        return {r["file"].removeprefix("837p/") for r in rows
                if r["file"].startswith("837p/") and r["pyx12"].startswith("OK")}


def with_zip_plus_4(claim_: Claim) -> Claim:
    """The TR3's own examples predate the 2010AA ZIP+4 rule: give a 5-digit billing ZIP a +4 so the rest of
    the claim can be regenerated. Nothing else is filled in."""
    provider = claim_.billing_provider
    if provider.address is None or len(provider.address.postal_code) != 5:
        return claim_
    fixed = provider.address.model_copy(update={"postal_code": provider.address.postal_code + "9998"})
    return claim_.model_copy(update={"billing_provider": provider.model_copy(update={"address": fixed})})


def pyx12_accepted_params() -> list:
    """`pytest.param` per 837P sample that MANIFEST.tsv says pyx12 accepts (skips locally / fails under CI
    when the manifest is missing)."""
    accepted = sorted(pyx12_accepted_samples())
    if not accepted:
        return [pytest.param(MissingSamples(MANIFEST), id="samples-missing")]
    return [pytest.param(SAMPLES / name, id=name) for name in accepted]


@pytest.mark.parametrize("path", sample_params("x12", "837p", pattern="*.837"))
def test_every_shared_sample_is_read(path):
    name = path.name
    text = path.read_text()
    result = read_837p(text)
    clm_count = sum(1 for s in tokenize(text)[1] if s.tag == "CLM")
    print(f"{name}: {clm_count} CLM, {len(result.claims)} read, {len(result.problems)} unreadable, "
          f"{len(result.envelope_errors)} envelope errors")
    assert len(result.claims) + len([p for p in result.problems if p.claim_number]) == clm_count
    for reason, count in Counter(r for p in result.problems for r in p.reasons).most_common():
        print(f"   {count} x unreadable: {reason}")
    if name in pyx12_accepted_samples():
        assert result.problems == [], "an IG-valid sample should read completely"


@pytest.mark.parametrize("path", pyx12_accepted_params())
def test_pyx12_accepted_samples_regenerate_into_valid_files(path):
    name = path.name
    read = read_837p(path.read_text())
    claims = [with_zip_plus_4(r.claim) for r in read.claims]
    gaps = sorted({p.split(":")[0] for c in claims for p in check_billable(c)})
    # The TR3 sends no birth date for a subscriber who is not the patient (2010BA, 2330A): the reader brings
    # them back as the insured, which bills, so no IG-valid sample lacks its subscriber.
    assert [g for g in gaps if g.endswith(".subscriber")] == []
    billable = [c for c in claims if not check_billable(c)]
    if not billable:
        pytest.skip(f"{name}: no claim complete enough to bill (missing: {', '.join(gaps)})")
    by_payer: dict[str, list[Claim]] = {}
    for c in billable:
        by_payer.setdefault(c.coverage.payer_id, []).append(c)
    for claims_for_payer in by_payer.values():
        text = build(claims_for_payer)
        assert_pyx12_accepts(text)
        again = read_by_pcn(text)
        for original in claims_for_payer:
            back = again[patient_control_number(original.claim_id)].claim
            assert comparable(back) == comparable(expected_after_reading(original))


def test_shared_sample_report(capsys):
    """Per-file counts (run with -s to see them): what reads, what regenerates, what keeps a claim out."""
    need(SAMPLES)
    accepted = pyx12_accepted_samples()
    rows = []
    for path in sample_files("x12", "837p", pattern="*.837"):
        name = path.name
        result = read_837p(path.read_text())
        claims = [with_zip_plus_4(r.claim) for r in result.claims]
        billable = sum(1 for c in claims if not check_billable(c))
        rows.append((name, "OK" if name in accepted else "FAIL", len(result.claims), len(result.problems), billable))
    with capsys.disabled():
        print("\n837P shared samples: file, pyx12, read, unreadable, billable (ZIP+4 filled)")
        for row in rows:
            print("  {:<95} {:<4} {:>4} {:>4} {:>4}".format(*row))
    assert sum(r[2] for r in rows) > 0


# ---------------------------------------------------------------- free text, transliterated once


def test_writer_transliterates_free_text_with_the_shared_rule():
    """Names and addresses go through rcm_x12.format.free_text: "Łukasz" no longer loses its Ł, "Straße"
    no longer loses its ß, and the file passes pyx12's 5010 character-set check."""
    person = PATIENT.model_copy(update={"first_name": "Łukasz", "last_name": "Müller",
                                        "address": address("Straße 12", "62704", city="Zürich")})
    text = build([claim(patient=person)])
    assert "NM1*IL*1*Muller*Lukasz****MI*W123456789" in raw(text)
    assert "N3*Strasse 12" in raw(text)
    assert "N4*Zurich*IL*62704" in raw(text)
    assert all(is_x12_text(e) for s in segments(text) if s.tag in ("NM1", "N3", "N4") for e in s.elements)
    assert_pyx12_accepts(text)
    assert write_module.free_text is free_text
