import random
import re
from datetime import date
from decimal import Decimal

import pytest

from rcm_charges.domain.fhir_bundle import IntakeError as FhirIntakeError
from rcm_charges.domain.hl7_dft import IntakeError, dft_to_encounters, split_messages
from rcm_contracts.claim import Address, Coverage, Person, Provider
from rcm_contracts.events import EncounterLine, EncounterSubmitted
from rcm_x12.format import npi_is_valid
from tests.support.shared import corpus_files, sample_file, sample_params

FAMILY_NAME = "Zyxwvutson"
GIVEN_NAME = "Quentella"
ICD9_REASON = "ICD-9 is invalid for dates of service on/after 2015-10-01"
INTERNAL_REASON = "could not be read as an HL7 v2 DFT^P03 message"

# A minimal DFT^P03 written by hand (LF between segments, as files usually carry them):
# an office visit (CPT in FT1-25 and FT1-7, modifier 25, extended amount in FT1-11) and a drug
# (HCPCS in FT1-7 only, 2 units at the FT1-12 unit amount), diagnoses in DG1 and FT1-19, the billing
# organization's NPI in MSH-4, the rendering provider in FT1-20/PV1-7, the referrer in PV1-8, one IN1.
DFT = r"""MSH|^~\&|ACMEEHR|SPRINGFIELD^1234567893^NPI|OPENRCM|OPENRCM|20240305101500||DFT^P03^DFT_P03|MSG-0001|P|2.5.1
EVN|P03|20240305101500
PID|1||MRN-42^^^ACME^MR||Zyxwvutson^Quentella^Maria||19840719|F|||12 Elm St^Apt 3^Springfield^IL^62704-1234^USA
PV1|1|O|SFM^101||||1987654321^Careful^Ada^^^^^^^^^^NPI|1112223330^Referrer^Ray^^^^^^^^^^NPI|||||||||||V-1001|||||||||||||||||||||||||20240301
FT1|1|T-1||20240305093000||CG|99213^Office visit^CPT|||1|125.00||||||||J06.9^Acute URI^I10~R50.9^Fever^I10|1987654321^Careful^Ada^^^^^^^^^^NPI|||||99213^Office visit^CPT|25
FT1|2|T-2||20240305093000||CG|J1100^Dexamethasone 1 mg^HCPCS|||2||4.50|||||||R50.9^Fever^I10|1987654321^Careful^Ada^^^^^^^^^^NPI
DG1|1||J06.9^Acute upper respiratory infection^I10|||F
IN1|1|GOLD|60054|Acme Health Plan||||GRP-42|||||||||SEL|||||||||||||||||||MBR-778899
"""

EXPECTED = EncounterSubmitted(
    source_system="ACMEEHR",
    source_encounter_id="V-1001",
    service_date=date(2024, 3, 5),
    place_of_service="11",
    patient=Person(
        first_name=GIVEN_NAME,
        last_name=FAMILY_NAME,
        birth_date=date(1984, 7, 19),
        sex="F",
        address=Address(line1="12 Elm St", line2="Apt 3", city="Springfield", state="IL", postal_code="627041234"),
    ),
    coverage=Coverage(
        payer_id="60054",
        payer_name="Acme Health Plan",
        member_id="MBR-778899",
        group_number="GRP-42",
        relationship="self",
    ),
    billing_provider=Provider(npi="1234567893", name="SPRINGFIELD"),
    rendering_provider=Provider(npi="1987654321", name="Ada Careful"),
    referring_provider=Provider(npi="1112223330", name="Ray Referrer"),
    diagnoses=["J069", "R509"],
    lines=[
        EncounterLine(
            procedure_code="99213",
            modifiers=["25"],
            units=Decimal(1),
            charge=Decimal("125.00"),
            diagnosis_pointers=[1, 2],
        ),
        EncounterLine(
            procedure_code="J1100",
            modifiers=[],
            units=Decimal(2),
            charge=Decimal("9.00"),
            diagnosis_pointers=[2],
        ),
    ],
)


# ---------------------------------------------------------------- message editing helpers
def _segments(message: str) -> list[str]:
    return [s for s in re.split(r"\r\n|\r|\n", message) if s.strip()]


def set_field(message: str, segment: str, occurrence: int, n: int, value: str) -> str:
    """Set SEG-n of the occurrence-th segment named `segment` (1-based), padding as needed."""
    out, seen = [], 0
    for line in _segments(message):
        fields = line.split("|")
        if fields[0] == segment:
            seen += 1
            if seen == occurrence:
                index = n - 1 if segment == "MSH" else n
                fields += [""] * (index + 1 - len(fields))
                fields[index] = value
                line = "|".join(fields)
        out.append(line)
    assert seen >= occurrence, f"no {segment} #{occurrence}"
    return "\n".join(out) + "\n"


def drop(message: str, segment: str) -> str:
    return "\n".join(s for s in _segments(message) if not s.startswith(segment + "|")) + "\n"


def insert_after(message: str, segment: str, new_line: str, occurrence: int = 1) -> str:
    out, seen = [], 0
    for line in _segments(message):
        out.append(line)
        if line.startswith(segment + "|"):
            seen += 1
            if seen == occurrence:
                out.append(new_line)
    return "\n".join(out) + "\n"


def one(message: str, **kwargs) -> EncounterSubmitted:
    encounters = dft_to_encounters(message, **kwargs)
    assert len(encounters) == 1
    return encounters[0]


def rejected(message: str, **kwargs) -> list[dict]:
    with pytest.raises(IntakeError) as exc:
        dft_to_encounters(message, **kwargs)
    return exc.value.errors


def fields_of(errors: list[dict]) -> list[str]:
    return [e["field"] for e in errors]


# ---------------------------------------------------------------- the hand-written message
def test_hand_written_dft_maps_exactly_to_the_expected_encounter():
    assert dft_to_encounters(DFT) == [EXPECTED]


def test_the_intake_error_is_the_fhir_intake_class():
    assert IntakeError is FhirIntakeError


@pytest.mark.parametrize("separator", ["\r", "\n", "\r\n"])
def test_any_segment_separator_gives_the_same_encounter(separator):
    assert dft_to_encounters(separator.join(_segments(DFT))) == [EXPECTED]


def test_source_system_argument_overrides_msh_3():
    assert one(DFT, source_system="clinic-a").source_system == "clinic-a"


def test_custom_delimiters_and_escapes_are_honoured():
    message = set_field(DFT, "PID", 1, 5, r"O\T\Brien^Quentella")  # \T\ escapes the subcomponent '&'
    custom = message.replace("|", "#").replace("^", "$").replace("~", "*")
    assert custom.startswith("MSH#$*\\&#")
    encounter = one(custom)
    assert encounter.patient.last_name == "O&Brien"
    assert encounter.lines == EXPECTED.lines
    assert encounter.diagnoses == EXPECTED.diagnoses
    assert encounter.billing_provider == EXPECTED.billing_provider


def test_hl7_explicit_null_reads_as_empty():
    encounter = one(set_field(DFT, "FT1", 1, 25, '""'))
    assert encounter.lines[0].procedure_code == "99213"  # falls back to FT1-7


# ---------------------------------------------------------------- message type & structure
@pytest.mark.parametrize("message_type", ["ADT^A01", "DFT^P11", "DFT", ""])
def test_a_message_that_is_not_dft_p03_is_rejected_naming_msh_9(message_type):
    errors = rejected(set_field(DFT, "MSH", 1, 9, message_type))
    assert fields_of(errors) == ["MSH-9"]


def test_a_message_without_ft1_is_rejected():
    errors = rejected(drop(DFT, "FT1"))
    assert fields_of(errors) == ["FT1"]
    assert "no FT1 segment found" in errors[0]["reason"]


def test_collapsed_segment_separators_are_rejected_with_a_precise_reason():
    collapsed = DFT.split("\n", 1)[0] + "\n" + " ".join(_segments(DFT)[1:])
    errors = rejected(collapsed)
    assert fields_of(errors) == ["message"]
    assert "segment separators are missing" in errors[0]["reason"]
    assert "no FT1 segment found" in errors[0]["reason"]


@pytest.mark.parametrize(
    "bad",
    ["", "   \n\n", "PID|1||x", "MSH", "MSHx^~\\&|A", "MSH|^|A|B", "not hl7 at all", None, 42, b"\xff\xfe"],
)
def test_garbage_is_rejected_with_intake_error(bad):
    errors = rejected(bad)
    assert errors and all(INTERNAL_REASON not in e["reason"] for e in errors)


def test_two_messages_in_one_call_are_rejected():
    errors = rejected(DFT + DFT)
    assert fields_of(errors) == ["MSH"]
    assert "split_messages" in errors[0]["reason"]


def test_a_line_that_is_not_a_segment_is_rejected():
    errors = rejected(insert_after(DFT, "PID", "this line was wrapped"))
    assert fields_of(errors) == ["message"]


# ---------------------------------------------------------------- procedure code precedence
def test_ft1_25_wins_over_ft1_7():
    message = set_field(DFT, "FT1", 1, 7, "99214^Office visit^CPT")
    assert one(message).lines[0].procedure_code == "99213"


def test_ft1_7_is_used_when_ft1_25_is_empty_and_it_looks_like_cpt():
    message = set_field(set_field(DFT, "FT1", 1, 25, ""), "FT1", 1, 7, "99214")
    assert one(message).lines[0].procedure_code == "99214"


def test_ft1_7_in_a_local_code_system_is_not_a_cpt_code():
    message = set_field(set_field(DFT, "FT1", 1, 25, ""), "FT1", 1, 7, "12345^Chargemaster item^99CDM")
    errors = rejected(message)
    assert fields_of(errors) == ["FT1[1].25"]


def test_a_chargemaster_number_in_ft1_7_is_not_a_cpt_code_so_pr1_3_is_used():
    message = set_field(set_field(DFT, "FT1", 1, 25, ""), "FT1", 1, 7, "815339")
    message = insert_after(message, "FT1", "PR1|1|CPT|99215^Office visit^C4|", occurrence=1)
    assert one(message).lines[0].procedure_code == "99215"


def test_pr1_3_belongs_to_the_ft1_before_it():
    message = set_field(DFT, "FT1", 2, 7, "815339")  # no code on FT1[2] itself
    message = insert_after(message, "FT1", "PR1|1||96372^Injection^CPT", occurrence=2)
    encounter = one(message)
    assert [line.procedure_code for line in encounter.lines] == ["99213", "96372"]


def test_v23_layout_pairs_trailing_pr1s_with_ft1s_by_position():
    message = set_field(set_field(DFT, "FT1", 1, 25, ""), "FT1", 1, 7, "150.00")
    message = set_field(message, "FT1", 1, 11, "")
    message = set_field(message, "FT1", 2, 7, "4.50")
    message = insert_after(message, "FT1", "PR1|1||99203", occurrence=2)
    message = insert_after(message, "PR1", "PR1|2||J1100")
    encounter = one(message)
    assert [line.procedure_code for line in encounter.lines] == ["99203", "J1100"]
    assert [line.charge for line in encounter.lines] == [Decimal("150.00"), Decimal("9.00")]  # FT1[2]: FT1-12 x 2


def test_a_line_without_any_procedure_code_is_rejected():
    message = set_field(set_field(DFT, "FT1", 1, 25, ""), "FT1", 1, 7, "")
    errors = rejected(message)
    assert fields_of(errors) == ["FT1[1].25"]


def test_a_malformed_ft1_25_is_rejected():
    errors = rejected(set_field(DFT, "FT1", 1, 25, "9921"))
    assert errors == [{"field": "FT1[1].25", "reason": "must be a 5-character CPT/HCPCS code"}]


# ---------------------------------------------------------------- modifiers
def test_ft1_26_repeats_and_wins_over_pr1_16():
    message = set_field(DFT, "FT1", 1, 26, "rt~GA")
    message = insert_after(message, "FT1", "PR1|1||99213|||||||||||||LT", occurrence=1)
    assert one(message).lines[0].modifiers == ["RT", "GA"]


def test_pr1_16_is_used_when_ft1_26_is_empty():
    message = set_field(DFT, "FT1", 1, 26, "")
    message = insert_after(message, "FT1", "PR1|1||99213|||||||||||||LT~59", occurrence=1)
    assert one(message).lines[0].modifiers == ["LT", "59"]


@pytest.mark.parametrize(
    ("value", "reason"),
    [("RTX", "each modifier must be 2 characters"), ("25~59~76~77~91", "more than 4 procedure modifiers")],
)
def test_bad_modifiers_are_rejected(value, reason):
    errors = rejected(set_field(DFT, "FT1", 1, 26, value))
    assert fields_of(errors) == ["FT1[1].26"] and reason in errors[0]["reason"]


# ---------------------------------------------------------------- units & amounts
def test_units_default_to_one():
    message = set_field(DFT, "FT1", 2, 10, "")
    assert one(message).lines[1].units == Decimal(1)
    assert one(message).lines[1].charge == Decimal("4.50")


@pytest.mark.parametrize("units", ["0", "-1", "two", "NaN"])
def test_bad_units_are_rejected(units):
    assert fields_of(rejected(set_field(DFT, "FT1", 2, 10, units))) == ["FT1[2].10"]


def test_ft1_11_extended_amount_wins_over_ft1_12_unit_amount():
    message = set_field(DFT, "FT1", 2, 11, "10.00")
    assert one(message).lines[1].charge == Decimal("10.00")


def test_ft1_12_unit_amount_is_multiplied_by_units_and_rounded_to_cents():
    message = set_field(set_field(DFT, "FT1", 2, 12, "3.335"), "FT1", 2, 10, "3")
    assert one(message).lines[1].charge == Decimal("10.01")


def test_money_type_amount_with_currency_is_read():
    assert one(set_field(DFT, "FT1", 1, 11, "125.00&USD")).lines[0].charge == Decimal("125.00")


def test_a_non_usd_amount_is_rejected():
    errors = rejected(set_field(DFT, "FT1", 1, 11, "125.00&EUR"))
    assert errors == [{"field": "FT1[1].11", "reason": "must be in USD"}]


def test_an_unreadable_amount_is_rejected():
    assert fields_of(rejected(set_field(DFT, "FT1", 1, 11, "a lot"))) == ["FT1[1].11"]


def test_medplum_style_amount_in_ft1_7_when_the_code_came_from_ft1_25():
    message = set_field(set_field(DFT, "FT1", 1, 11, ""), "FT1", 1, 7, "150.00")
    line = one(message).lines[0]
    assert (line.procedure_code, line.charge) == ("99213", Decimal("150.00"))


def test_a_line_without_any_charge_is_left_unpriced_not_zero():
    # charges prices it from the chargemaster or holds the encounter in completeness review
    [encounter] = dft_to_encounters(set_field(DFT, "FT1", 2, 12, ""))
    assert encounter.lines[1].charge is None and encounter.lines[0].charge is not None


def test_an_integer_in_ft1_7_is_never_taken_for_an_amount():
    message = set_field(set_field(DFT, "FT1", 1, 11, ""), "FT1", 1, 7, "150")
    assert one(message).lines[0].charge is None


def test_a_negative_charge_is_rejected():
    assert fields_of(rejected(set_field(DFT, "FT1", 1, 11, "-5.00"))) == ["FT1[1].11"]


# ---------------------------------------------------------------- transaction types
def test_payments_are_skipped():
    message = insert_after(DFT, "FT1", "FT1|3|T-3||20240305||PY|CASH|||1|-20.00", occurrence=2)
    assert len(one(message).lines) == 2


def test_credits_are_rejected():
    assert fields_of(rejected(set_field(DFT, "FT1", 2, 6, "CD"))) == ["FT1[2].6"]


def test_a_message_with_payments_only_is_rejected():
    message = set_field(set_field(DFT, "FT1", 1, 6, "PY"), "FT1", 2, 6, "PY")
    errors = rejected(message)
    assert fields_of(errors) == ["FT1"] and "no charge transaction" in errors[0]["reason"]


# ---------------------------------------------------------------- diagnoses & pointers
def test_diagnoses_lose_dots_are_upper_cased_and_deduplicated():
    message = set_field(DFT, "DG1", 1, 3, "j06.9^Acute URI^ICD-10-CM")
    encounter = one(message)
    assert encounter.diagnoses == ["J069", "R509"]


def test_pointers_default_to_one_when_a_line_has_no_ft1_19():
    encounter = one(set_field(DFT, "FT1", 2, 19, ""))
    assert encounter.lines[1].diagnosis_pointers == [1]


def test_ft1_19_only_diagnoses():
    encounter = one(drop(DFT, "DG1"))
    assert encounter.diagnoses == ["J069", "R509"]
    assert [line.diagnosis_pointers for line in encounter.lines] == [[1, 2], [2]]


def test_pr1_15_is_used_only_when_there_is_no_dg1_or_ft1_19():
    base = set_field(set_field(drop(DFT, "DG1"), "FT1", 1, 19, ""), "FT1", 2, 19, "")
    message = insert_after(base, "FT1", "PR1|1||99213||||||||||||E11.9^Type 2 diabetes^ICD-10", occurrence=1)
    encounter = one(message)
    assert encounter.diagnoses == ["E119"]
    assert encounter.lines[0].diagnosis_pointers == [1]
    with_dg1 = insert_after(message, "FT1", "DG1|1||R50.9^^I10", occurrence=2)
    assert one(with_dg1).diagnoses == ["R509"]


def test_at_most_twelve_diagnoses():
    codes = "~".join(f"R{n:02d}^^I10" for n in range(10, 25))
    encounter = one(set_field(DFT, "FT1", 2, 19, codes))
    assert len(encounter.diagnoses) == 12
    assert encounter.lines[1].diagnosis_pointers == [3, 4, 5, 6]  # after J069, R509; at most 4


def test_non_icd_diagnoses_are_skipped():
    encounter = one(set_field(DFT, "DG1", 1, 3, "54150009^URI^SCT"))
    assert encounter.diagnoses == ["J069", "R509"]  # still from FT1-19


@pytest.mark.parametrize("coded", ["401.9^Hypertension^I9", "401.9^Hypertension^I9C", "V76.12^^ICD9"])
def test_icd9_coded_diagnoses_are_rejected(coded):
    errors = rejected(set_field(DFT, "DG1", 1, 3, coded))
    assert fields_of(errors) == ["DG1[1].3"] and ICD9_REASON in errors[0]["reason"]


def test_icd9_in_the_deprecated_dg1_2_coding_method_is_rejected():
    message = set_field(set_field(DFT, "DG1", 1, 2, "ICD9"), "DG1", 1, 3, "959.7")
    assert ICD9_REASON in rejected(message)[0]["reason"]


def test_unlabelled_icd9_looking_code_after_october_2015_is_rejected():
    errors = rejected(set_field(DFT, "FT1", 2, 19, "440.0"))
    assert errors == [{"field": "FT1[2].19", "reason": errors[0]["reason"]}] and ICD9_REASON in errors[0]["reason"]


def test_unlabelled_numeric_code_before_october_2015_is_passed_to_coding():
    message = set_field(set_field(DFT, "FT1", 2, 19, "440.0"), "FT1", 2, 4, "20140505")
    encounters = dft_to_encounters(message)
    assert encounters[1].diagnoses == ["J069", "4400"]


def test_malformed_icd10_code_is_rejected():
    assert fields_of(rejected(set_field(DFT, "DG1", 1, 3, "J0^^I10"))) == ["DG1[1].3"]


# ---------------------------------------------------------------- providers
def issues_of(encounter: EncounterSubmitted) -> list[tuple[str, str]]:
    return [(i.field, i.reason) for i in encounter.intake_issues]


def test_without_msh_4_npi_the_message_names_no_billing_provider_and_the_performer_renders():
    # FT1-20 performs; it is never taken as the billing provider: charges applies the tenant's default
    encounter = one(set_field(DFT, "MSH", 1, 4, "SPRINGFIELD"))
    assert encounter.billing_provider is None
    assert encounter.rendering_provider == Provider(npi="1987654321", name="Ada Careful")
    assert encounter.intake_issues == []


def test_ft1_20_wins_over_pv1_7_for_the_rendering_provider():
    message = set_field(DFT, "FT1", 1, 20, "1555555555^Perf^Pat^^^^^^^^^^NPI")
    encounter = one(message)
    assert encounter.rendering_provider == Provider(npi="1555555555", name="Pat Perf")
    assert encounter.billing_provider == EXPECTED.billing_provider  # MSH-4 still bills


def test_pv1_7_then_pv1_9_when_no_ft1_names_a_performer():
    message = set_field(set_field(DFT, "FT1", 1, 20, ""), "FT1", 2, 20, "")
    assert one(message).rendering_provider.npi == "1987654321"  # PV1-7
    message = set_field(message, "PV1", 1, 7, "")
    message = set_field(message, "PV1", 1, 9, "1666666666^Consult^Con^^^^^^^^^^NPI")
    assert one(message).rendering_provider.npi == "1666666666"


def test_a_ten_digit_id_of_another_type_is_skipped_for_the_next_field():
    message = set_field(DFT, "FT1", 1, 20, "1555555555^Perf^Pat^^^^^^^^^^DEA")
    encounter = one(message)
    assert encounter.rendering_provider.npi == "1987654321"  # FT1[2].20 (same person as PV1-7)
    assert encounter.intake_issues == []


@pytest.mark.parametrize("performer", ["a.diaz@example.org^Diaz^Adam^^^^^^^^^^NPI", "123456789^Diaz^Adam^^^^^^^^^^NPI",
                                       "^Diaz^Adam"])
def test_an_invalid_performer_id_holds_the_encounter_naming_the_field(performer):
    message = set_field(DFT, "FT1", 1, 20, performer)
    encounter = one(message)  # accepted: held in completeness review, not a 422
    assert encounter.rendering_provider is None
    [(path, reason)] = issues_of(encounter)
    assert path == "rendering_provider.npi" and reason.startswith("FT1[1].20: ") and "10-digit NPI" in reason
    assert "diaz" not in reason.lower() and "123456789" not in reason


def test_an_invalid_msh_4_npi_is_an_issue_and_no_billing_provider():
    encounter = one(set_field(DFT, "MSH", 1, 4, "SPRINGFIELD^12345^NPI"))
    assert encounter.billing_provider is None
    [(field, reason)] = issues_of(encounter)
    assert field == "billing_provider.npi" and reason.startswith("MSH-4: ")


def test_no_provider_anywhere_is_accepted_without_one_for_completeness_review():
    message = set_field(DFT, "MSH", 1, 4, "")
    for n in (1, 2):
        message = set_field(message, "FT1", n, 20, "")
    encounter = one(set_field(message, "PV1", 1, 7, ""))
    assert encounter.billing_provider is None and encounter.rendering_provider is None
    assert encounter.intake_issues == []


def test_luhn_invalid_npi_is_accepted_here():
    message = set_field(DFT, "MSH", 1, 4, "SFM^9988776655^NPI")
    assert not npi_is_valid("9988776655")
    assert one(message).billing_provider.npi == "9988776655"


def test_rendering_equal_to_billing_is_left_out():
    message = set_field(DFT, "MSH", 1, 4, "SFM^1987654321^NPI")
    encounter = one(message)
    assert encounter.billing_provider.npi == "1987654321" and encounter.rendering_provider is None


def test_ft1_21_ordering_provider_is_the_referring_provider_before_pv1_8():
    message = set_field(DFT, "FT1", 1, 21, "1777777777^Order^Olga^^^^^^^^^^NPI")
    assert one(message).referring_provider == Provider(npi="1777777777", name="Olga Order")
    assert one(DFT).referring_provider == EXPECTED.referring_provider  # no FT1-21: PV1-8


def test_an_invalid_referrer_id_holds_the_encounter():
    message = set_field(DFT, "PV1", 1, 8, "11223344^Doe^Janie^^^^^^^^^^NPI")  # 8 digits where an NPI belongs
    encounter = one(message)
    assert encounter.referring_provider is None
    assert [(f, r[:6]) for f, r in issues_of(encounter)] == [("referring_provider.npi", "PV1-8:")]


# ---------------------------------------------------------------- encounter id, date, place of service
def test_source_encounter_id_precedence():
    assert one(set_field(DFT, "PV1", 1, 19, "")).source_encounter_id == "T-1"
    no_ids = set_field(set_field(set_field(DFT, "PV1", 1, 19, ""), "FT1", 1, 2, ""), "FT1", 2, 2, "")
    assert one(no_ids).source_encounter_id == "MSG-0001"


def test_service_date_falls_back_to_pv1_44():
    message = set_field(set_field(DFT, "FT1", 1, 4, ""), "FT1", 2, 4, "")
    assert one(message).service_date == date(2024, 3, 1)


def test_missing_or_bad_service_date_is_rejected():
    message = set_field(set_field(DFT, "FT1", 1, 4, ""), "FT1", 2, 4, "")
    assert fields_of(rejected(set_field(message, "PV1", 1, 44, ""))) == ["FT1[1].4", "FT1[2].4"]
    assert fields_of(rejected(set_field(DFT, "FT1", 1, 4, "20241399"))) == ["FT1[1].4"]


def test_lines_on_different_dates_become_separate_encounters():
    encounters = dft_to_encounters(set_field(DFT, "FT1", 2, 4, "20240306"))
    assert [(e.service_date, e.source_encounter_id) for e in encounters] == [
        (date(2024, 3, 5), "V-1001-20240305"),
        (date(2024, 3, 6), "V-1001-20240306"),
    ]
    assert [[line.procedure_code for line in e.lines] for e in encounters] == [["99213"], ["J1100"]]
    assert encounters[1].diagnoses == ["J069", "R509"] and encounters[1].lines[0].diagnosis_pointers == [2]


def test_place_of_service_precedence():
    assert one(set_field(DFT, "PV1", 1, 3, "22^^^HOSP")).place_of_service == "22"
    message = set_field(set_field(DFT, "PV1", 1, 3, "22"), "FT1", 1, 16, "02^^^TELE")
    assert one(message).place_of_service == "02"
    assert one(set_field(DFT, "PV1", 1, 3, "CORE")).place_of_service == "11"


# ---------------------------------------------------------------- patient & coverage
def test_patient_fields_are_required():
    message = set_field(set_field(DFT, "PID", 1, 5, ""), "PID", 1, 7, "1984")
    assert fields_of(rejected(message)) == ["PID-5.1", "PID-5.2", "PID-7"]
    assert fields_of(rejected(drop(DFT, "PID"))) == ["PID"]


@pytest.mark.parametrize("sex", ["", "U", "O", "X"])
def test_other_sexes_map_to_u(sex):
    assert one(set_field(DFT, "PID", 1, 8, sex)).patient.sex == "U"


@pytest.mark.parametrize(
    "address",
    [
        "123 MAIN ST^^CITY^ST^12345^USA",  # not a US state
        "12 Elm St^^Springfield^IL^6270",  # short ZIP
        "^^Springfield^IL^62704",  # no street
        "12 Elm St^^Springfield^IL^62704^CAN",  # not US
    ],
)
def test_incomplete_or_invalid_address_becomes_none(address):
    assert one(set_field(DFT, "PID", 1, 11, address)).patient.address is None


def test_no_in1_means_no_coverage():
    assert one(drop(DFT, "IN1")).coverage is None


def test_member_id_falls_back_to_in1_49():
    message = set_field(set_field(DFT, "IN1", 1, 36, ""), "IN1", 1, 49, "INSURED-7")
    assert one(message).coverage.member_id == "INSURED-7"


def test_missing_member_id_is_rejected():
    assert fields_of(rejected(set_field(DFT, "IN1", 1, 36, ""))) == ["IN1[1].36"]


@pytest.mark.parametrize(
    ("code", "relationship"),
    [("01", "self"), ("SEL", "self"), ("self", "self"), ("", "self"), ("02", "spouse"), ("SPO", "spouse"),
     ("03", "child"), ("CHD", "child"), ("EMP", "other"), ("19", "other")],
)
def test_relationship_mapping(code, relationship):
    assert one(set_field(DFT, "IN1", 1, 17, code)).coverage.relationship == relationship


def test_a_dependent_gets_the_subscriber_from_in1():
    message = set_field(DFT, "IN1", 1, 17, "SPO")
    message = set_field(set_field(message, "IN1", 1, 16, "Zyxwvutson^Bertram"), "IN1", 1, 18, "19800102")
    subscriber = one(message).coverage.subscriber
    assert (subscriber.first_name, subscriber.birth_date) == ("Bertram", date(1980, 1, 2))


# ---------------------------------------------------------------- PHI never in errors
def test_error_reasons_never_carry_patient_values():
    message = set_field(DFT, "PID", 1, 7, "1984XXXX")
    message = set_field(message, "FT1", 1, 11, "Zyxwvutson")
    message = set_field(message, "IN1", 1, 36, "")
    errors = rejected(set_field(message, "DG1", 1, 3, "Zyxwvutson^^I10"))
    assert len(errors) >= 3
    for error in errors:
        for value in (FAMILY_NAME, GIVEN_NAME, "1984", "MRN-42"):
            assert value not in error["reason"] and value not in error["field"]


# ---------------------------------------------------------------- split_messages
def test_split_messages_on_blank_lines_new_msh_and_any_line_ending():
    text = DFT + "\n\n" + DFT.replace("MSG-0001", "MSG-0002")
    for variant in (text, text.replace("\n", "\r"), text.replace("\n", "\r\n")):
        messages = split_messages(variant)
        assert len(messages) == 2
        assert all(m.startswith("MSH|") and "\n" not in m for m in messages)
        assert [one(m).source_encounter_id for m in messages] == ["V-1001", "V-1001"]
    assert len(split_messages(DFT.rstrip("\n") + "\r" + DFT)) == 2  # back to back, no blank line


def test_split_messages_drops_batch_envelopes_and_framing():
    text = "\ufeffFHS|^~\\&\nBHS|^~\\&\n\x0b" + DFT + "\x1c\r\nBTS|1\nFTS|1\n"
    messages = split_messages(text)
    assert len(messages) == 1 and one(messages[0]) == EXPECTED


def test_split_messages_keeps_leading_garbage_to_be_rejected():
    messages = split_messages("garbage line\n" + DFT)
    assert len(messages) == 2
    with pytest.raises(IntakeError):
        dft_to_encounters(messages[0])


def test_split_messages_of_nothing():
    assert split_messages("") == [] and split_messages("\n\r\n") == []


# ---------------------------------------------------------------- robustness
def _corpus() -> list[str]:
    texts = [DFT]
    for path in corpus_files("hl7v2", pattern="*.hl7"):  # under CI=true, absent samples fail the test
        texts.extend(split_messages(path.read_text(encoding="utf-8")))
    return texts


def test_mutated_messages_raise_only_intake_errors():
    rng = random.Random(20240305)
    cases = []
    for text in _corpus():
        cases += [text[:cut] for cut in range(0, len(text), 7)]
        for _ in range(150):
            chars = list(text)
            for _ in range(rng.randint(1, 6)):
                i = rng.randrange(len(chars))
                chars[i] = rng.choice("|^~\\&\r\n 0123456789.AZ\"-")
            cases.append("".join(chars))
        fields = text.split("|")
        for _ in range(60):
            shuffled = fields[:]
            i, j = rng.randrange(len(shuffled)), rng.randrange(len(shuffled))
            shuffled[i], shuffled[j] = shuffled[j], shuffled[i]
            cases.append("|".join(shuffled))
    for case in cases:
        try:
            result = dft_to_encounters(case)
        except IntakeError as exc:
            assert exc.errors
            assert all(INTERNAL_REASON not in e["reason"] for e in exc.errors), (case, exc.errors)
        else:
            assert all(isinstance(e, EncounterSubmitted) for e in result)


# ---------------------------------------------------------------- the public samples
def _family_and_given(text: str) -> tuple[str, str]:
    match = re.search(r"PID\|(?:[^|]*\|){4}([^|^]*)\^([^|^]*)", text)
    assert match, "every sample names its patient in PID-5"
    return match.group(1), match.group(2)


ICD9_ERRORS = [
    {"field": "DG1[1].3", "reason": "ICD-9"},
    {"field": "DG1[2].3", "reason": "ICD-9"},
]
# What each sample must produce, message by message: ("accepted", codes per line, diagnoses) or
# ("rejected", [{field, reason fragment}, ...] that must all be among the errors, exact: bool).
SAMPLE_OUTCOMES = {
    # The README's points hold (CPT 92250 from FT1-7/25, modifier 26, no diagnosis, a check-digit-failing
    # NPI all pass). The sample carries no amount at all (FT1-11/12 empty, FT1-7 is the code): a charge is
    # never assumed, the line stays unpriced for the chargemaster / completeness review.
    "iris_dft_p03_example_a.hl7": [("accepted", ([["92250"]], [[]]), True)],
    "iris_dft_p03_example_c_collapsed_segments.hl7": [
        ("rejected", [{"field": "message", "reason": "segment separators are missing"},
                      {"field": "message", "reason": "no FT1 segment found"}], True),
    ],
    # Its CPT really sits in FT1-22 (three fields short of FT1-25), so the code comes from PR1-3 and the
    # amount from FT1-7. No PV1 and no provider anywhere: accepted without a billing provider, which
    # completeness review then asks for.
    "medplum_dft_p03_insurance.hl7": [("accepted", ([["99213"]], [["E119"]]), True)],
    # ICD-9 coded in DG1-2 (coding method "ICD9"); also no amount and no 10-digit NPI.
    "mieweb_dft_example.hl7": [("rejected", ICD9_ERRORS, False), ("rejected", ICD9_ERRORS, False)],
}


@pytest.mark.parametrize("path", sample_params("hl7v2", pattern="*.hl7"))
def test_public_sample(path):
    assert path.name in SAMPLE_OUTCOMES, f"new sample {path.name}: add its expected outcome to SAMPLE_OUTCOMES"
    text = path.read_text(encoding="utf-8")
    family, given = _family_and_given(text)
    messages = split_messages(text)
    expected = SAMPLE_OUTCOMES[path.name]
    assert len(messages) == len(expected)
    for message, (outcome, detail, exact) in zip(messages, expected):
        if outcome == "accepted":
            codes, diagnoses = detail
            encounters = dft_to_encounters(message)
            assert [[line.procedure_code for line in e.lines] for e in encounters] == codes
            assert [e.diagnoses for e in encounters] == diagnoses
            continue
        errors = rejected(message)
        for want in detail:
            assert any(e["field"] == want["field"] and want["reason"] in e["reason"] for e in errors), errors
        if exact:
            assert sorted(set(fields_of(errors))) == sorted({w["field"] for w in detail}), errors
        for error in errors:
            assert family not in error["reason"] and given not in error["reason"], error
            assert family not in error["field"], error


def _sample(name: str) -> str:
    return sample_file("hl7v2", name).read_text(encoding="utf-8")


def test_iris_example_a_is_accepted_once_it_carries_an_amount():
    message = set_field(_sample("iris_dft_p03_example_a.hl7"), "FT1", 1, 11, "125.00")
    encounter = one(message)
    assert encounter.source_system == "IRIS"
    assert encounter.source_encounter_id == "201026045"  # PV1-19
    assert encounter.service_date == date(2020, 1, 30)
    assert encounter.diagnoses == []  # no diagnosis: accepted, coding holds the claim
    assert [(line.procedure_code, line.modifiers, line.charge, line.diagnosis_pointers) for line in encounter.lines] == [
        ("92250", ["26"], Decimal("125.00"), [1])
    ]
    # MSH-4 is no NPI: the message names no billing provider (the tenant's default applies); FT1-20 performs
    assert encounter.billing_provider is None
    assert encounter.rendering_provider.npi == "9988776655" and not npi_is_valid("9988776655")
    # FT1-21 carries an 8-digit id labelled NPI: held for a person to supply the ordering provider's NPI
    assert encounter.referring_provider is None
    assert [(i.field, i.reason[:10]) for i in encounter.intake_issues] == [("referring_provider.npi", "FT1[1].21:")]
    assert encounter.coverage is None


def test_iris_example_a_with_ft1_7_only_still_yields_the_cpt():
    message = set_field(set_field(_sample("iris_dft_p03_example_a.hl7"), "FT1", 1, 25, ""), "FT1", 1, 12, "80.00")
    line = one(message).lines[0]
    assert (line.procedure_code, line.modifiers, line.charge) == ("92250", ["26"], Decimal("80.00"))


def test_medplum_sample_with_an_attending_npi_renders():
    text = _sample("medplum_dft_p03_insurance.hl7")
    message = insert_after(text, "PID", "PV1|1|O|||||1234567893^Smith^Ann^^^^^^^^^^NPI")
    encounter = one(message)
    assert encounter.source_system == "SENDING_APP"
    assert encounter.source_encounter_id == "ABC123"  # no PV1-19: FT1-2
    assert encounter.service_date == date(2024, 2, 18)
    assert [(line.procedure_code, line.charge, line.units) for line in encounter.lines] == [
        ("99213", Decimal("150.00"), Decimal(1))
    ]
    assert encounter.diagnoses == ["E119"]  # PR1-15, there being no DG1 or FT1-19
    assert encounter.coverage == Coverage(
        payer_id="INS123", payer_name="MEDICARE", member_id="123456789A", relationship="self"
    )
    assert encounter.patient.address is None  # "ST" is no US state
    assert encounter.billing_provider is None  # PV1-7 attends (renders); billing comes from the tenant
    assert encounter.rendering_provider.npi == "1234567893"


def test_mieweb_messages_fail_on_icd9_even_when_everything_else_is_fixed():
    for message in split_messages(_sample("mieweb_dft_example.hl7")):
        message = set_field(set_field(message, "FT1", 1, 11, "90.00"), "FT1", 1, 20, "1234567893^Mie^Doc^^^^^^^^^^NPI")
        errors = rejected(message)
        assert fields_of(errors) == ["DG1[1].3", "DG1[2].3"]
        assert all(ICD9_REASON in e["reason"] for e in errors)


def test_in1_with_set_id_2_is_the_secondary_coverage():
    message = insert_after(DFT, "IN1", "IN1|2|SUPP|SBX02|Supplemental Plan|||||||||||||SEL|||||||||||||||||||SUP-5521")
    [encounter] = dft_to_encounters(message)
    assert encounter.coverage == EXPECTED.coverage
    assert encounter.secondary_coverage == Coverage(payer_id="SBX02", payer_name="Supplemental Plan",
                                                    member_id="SUP-5521", relationship="self")
    [only] = dft_to_encounters(DFT)
    assert only.secondary_coverage is None
