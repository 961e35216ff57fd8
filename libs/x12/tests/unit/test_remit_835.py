"""835 reader: every shared sample (with its known defects, cross-checked against what MANIFEST.tsv says of
it), hand-written ERAs for each balancing rule, and garbage that must raise Unparseable835 without quoting
its content."""

import csv
import re
from datetime import date, datetime
from decimal import Decimal as D
from pathlib import Path

import pytest

from rcm_x12.remit_835 import RemittancePayment, Unparseable835, read_835
from rcm_runtime.failures import safe_reason
from rcm_x12.codec import EnvelopeErrorCode, Segment, build_interchange
from tests.support.shared import missing, sample_files, sample_params, samples_dir

NOW = datetime(2026, 3, 20, 6, 30)
BALANCE_WORDS = ("does not balance", "is not the lines' SVC03", "is not the sum of its PR", "payment does not balance")


def manifest_notes() -> dict[str, str]:
    """file name -> the MANIFEST's note on what the file exercises (empty when there is no manifest)."""
    manifest = samples_dir("x12", "MANIFEST.tsv")
    if not manifest.is_file():
        return {}
    with manifest.open(newline="") as fh:
        rows = csv.DictReader(fh, delimiter="\t")
        return {row["file"].split("/", 1)[1]: row["notes"] for row in rows if row["file"].startswith("835/")}


def only(payments: list[RemittancePayment]) -> RemittancePayment:
    assert len(payments) == 1
    return payments[0]


def balance_warnings(payment: RemittancePayment) -> list[str]:
    return [w for w in payment.warnings if any(word in w for word in BALANCE_WORDS)]


def adjustments(items) -> list[tuple[str, str, D]]:
    return [(a.group, a.reason, a.amount) for a in items]


# ---------------------------------------------------------------- shared samples


def check_managed_care_claims(p: RemittancePayment) -> None:
    """TR3 managed-care example: two claims, claim-level CO-A2, line-level PR-1 (and CO-45)."""
    assert (p.payment_method, p.handling_code, p.amount) == ("ACH", "I", D("945"))
    assert (p.payer_name, p.payer_id, p.payee_npi, p.payee_tax_id) == (
        "RUSHMORE LIFE", "1935665544", "5544667733", "777667755")  # payer id: TRN03, no REF*2U in the file
    first, second = p.claims
    assert (first.patient_control_number, first.status_code, first.charge, first.paid, first.patient_responsibility) \
        == ("5554555444", "1", D("800"), D("450"), D("300"))
    assert adjustments(first.adjustments) == [("CO", "A2", D("50"))]
    [line] = first.lines
    assert (line.qualifier, line.procedure_code, line.charge, line.paid, line.units) == (
        "HC", "99211", D("800"), D("500"), D(1))
    assert (line.service_from, line.service_to) == (date(2002, 3, 1), date(2002, 3, 4))  # DTM*150/151
    assert adjustments(line.adjustments) == [("PR", "1", D("300"))]
    assert adjustments(second.all_adjustments) == [("CO", "A2", D("55")), ("PR", "1", D("600")), ("CO", "45", D("50"))]


def check_managed_care(p: RemittancePayment, *, fixed: bool) -> None:
    check_managed_care_claims(p)
    assert p.trace_number == "7170066655"
    if fixed:
        assert p.payment_date == date(2002, 3, 14) and p.warnings == ()
    else:
        assert p.payment_date is None  # BPR16 is 20002316 in the published file
        assert p.warnings == ("BPR16 is not a valid date; ignored",)


def check_separate(p: RemittancePayment) -> None:
    check_managed_care_claims(p)  # the same TR3 example, as the badX12 project copied it
    assert (p.payment_date, p.production_date, p.trace_number) == (date(2002, 3, 16), date(2002, 3, 14), "71700666555")
    assert [c.payer_claim_control_number for c in p.claims] == ["94060555410000", "9407779923000"]
    assert p.warnings == ()


def check_institutional(p: RemittancePayment) -> None:
    """TS3/TS2 provider summaries, MIA/MOA, and a negative PLB that raises the payment by 1.27."""
    assert (p.payer_id, p.payee_npi, p.handling_code, p.amount) == ("999", "6543210903", "C", D("150000"))
    assert [c.claim_filing_indicator for c in p.claims] == ["MA", "MB"]
    assert p.claims[1].remark_codes == ("MA02",)
    assert (p.claims[0].service_from, p.claims[0].service_to) == (date(2002, 8, 16), date(2002, 8, 24))
    [plb] = p.provider_adjustments
    assert (plb.provider_id, plb.reason, plb.reference, plb.amount) == ("6543210903", "CV", "CP", D("-1.27"))
    assert balance_warnings(p) == []  # 138018.40 + 11980.33 - (-1.27) = 150000


def check_dental(p: RemittancePayment) -> None:
    claim = only_claim(p)
    assert (p.payment_method, p.amount, p.payee_tax_id, p.payee_npi) == ("CHK", D("132"), "999994703", None)
    assert [(ln.qualifier, ln.procedure_code, ln.paid) for ln in claim.lines] == [
        ("AD", "D0120", D("25")), ("AD", "D0220", D("14")), ("AD", "D0230", D("10")), ("AD", "D0274", D("34")),
        ("AD", "D1110", D("49"))]
    assert all(a.group == "CO" and a.reason == "131" for a in claim.all_adjustments)


def only_claim(p: RemittancePayment):
    assert len(p.claims) == 1
    return p.claims[0]


def check_single_check(p: RemittancePayment) -> None:
    assert (p.amount, len(p.claims), sum(len(c.lines) for c in p.claims)) == (D("810.8"), 9, 33)
    assert sum((c.paid for c in p.claims), D(0)) == D("810.8")
    assert [c.patient_responsibility for c in p.claims if c.patient_responsibility] == [D("24"), D("902"), D("44.2")]


def check_secondary_with_negative_cas(p: RemittancePayment) -> None:
    claim = only_claim(p)
    assert (claim.status_code, claim.status) == ("2", "Processed as secondary")
    [line] = claim.lines
    assert adjustments(line.adjustments) == [("OA", "23", D("516")), ("OA", "94", D("-9"))]
    assert line.allowed == D("550")
    assert balance_warnings(p) == []


def check_secondary_payments(p: RemittancePayment) -> None:
    first, second = p.claims
    assert adjustments(first.adjustments) == [("OA", "23", D("9411.64"))] and first.lines == ()
    assert [(ln.procedure_code, ln.modifiers) for ln in second.lines] == [("12345", ("26",)), ("66543", ("26",))]
    # One CAS with two triplets: PR-1 150 and PR-2 70.
    assert adjustments(second.lines[1].adjustments) == [("PR", "1", D("150")), ("PR", "2", D("70")),
                                                        ("CO", "42", D("85"))]
    assert second.patient_responsibility == D("220")


def check_tertiary(p: RemittancePayment) -> None:
    claim = only_claim(p)
    assert (claim.status_code, claim.paid) == ("3", D("187.50"))
    assert balance_warnings(p) == []


def check_lfh_secondary(p: RemittancePayment, *, fixed: bool) -> None:
    if fixed:
        check_secondary_payments(p)
    else:
        # ISA16 says ':' but the body uses '>': SVC01 cannot be split, and the reader says so.
        assert [ln.qualifier for ln in p.claims[1].lines] == ["HC>12345>26", "HC>66543>26"]
        assert [w for w in p.warnings if "SVC01" in w] == [
            "claim #2 (CLP segment #22) line #1: SVC01 has no procedure code (is the component separator in ISA16 "
            "the one the file uses?)",
            "claim #2 (CLP segment #22) line #2: SVC01 has no procedure code (is the component separator in ISA16 "
            "the one the file uses?)"]
        assert "BPR16 (check issue or EFT effective date) is missing" in p.warnings
    assert balance_warnings(p) == []


def check_lfh_tertiary(p: RemittancePayment) -> None:
    # SVC*HC*24599.00*1766.50*...: the procedure code sits where the charge belongs, so nothing adds up.
    claim = only_claim(p)
    assert (claim.lines[0].qualifier, claim.lines[0].procedure_code, claim.lines[0].charge) == (
        "HC", None, D("24599.00"))
    assert balance_warnings(p) == [
        "claim #1 (CLP segment #14) line #1 does not balance: SVC02 - SVC03 = 22832.50, its adjustments total 1579.00",
        "claim #1 (CLP segment #14): CLP04 187.50 is not the lines' SVC03 less claim-level adjustments (1766.50)",
    ]


def check_denial(p: RemittancePayment) -> None:
    claim = only_claim(p)
    assert (p.payment_method, p.handling_code, p.amount) == ("NON", "H", D("0"))
    assert (claim.denied, claim.status, claim.paid, claim.claim_filing_indicator) == (True, "Denied", D("0"), "MC")
    assert [(ln.procedure_code, ln.units, ln.remark_codes) for ln in claim.lines] == [
        ("T1005", D("68"), ("N14",)), ("T1005", D("16"), ("N14",)), ("T1005", D("36"), ("N14",))]
    assert adjustments(claim.all_adjustments) == [("CO", "16", D("500.04")), ("OA", "A7", D("127.8")),
                                                  ("OA", "A7", D("287.55"))]
    assert p.production_date == date(2013, 9, 1)


def check_edifabric(p: RemittancePayment) -> None:
    # GS01 is HC (the 837's) on an 835: read anyway, reported as an envelope defect.
    assert [e.code for e in p.envelope_errors] == [EnvelopeErrorCode.FUNCTIONAL_ID_MISMATCH]
    assert only_claim(p).lines[0].procedure_code == "55669"


def check_cob(p: RemittancePayment, *, fixed: bool) -> None:
    [line] = only_claim(p).lines
    assert adjustments(line.adjustments) == [("OA", "23", D("516.00")), ("OA", "94", D("-9.00"))]
    assert balance_warnings(p) == []
    assert (line.procedure_code == "55669") is fixed


EXPECTED = {
    "badx12_X221-dollars-and-data-sent-separate.835": check_separate,
    "badx12_X221-dollars-and-data-sent-together.835": check_institutional,
    "badx12_X221-era-sample.835": check_dental,
    "badx12_X221-multiple-claims-single-check.835": check_single_check,
    "badx12_X221-secondary-payment-with-higher-fee-schedule.835": check_secondary_with_negative_cas,
    "badx12_X221-secondary-payments.835": check_secondary_payments,
    "badx12_X221-tertiary-payments.835": check_tertiary,
    "edifabric_payment.835": check_edifabric,
    "lfh_cob-contractual-adjustment.835": lambda p: check_cob(p, fixed=False),
    "lfh_cob-contractual-adjustment.fixed.835": lambda p: check_cob(p, fixed=True),
    "lfh_managed-care.835": lambda p: check_managed_care(p, fixed=False),
    "lfh_managed-care.fixed.835": lambda p: check_managed_care(p, fixed=True),
    "lfh_medicare-part-a.835": check_institutional,
    "lfh_secondary-payment.835": lambda p: check_lfh_secondary(p, fixed=False),
    "lfh_secondary-payment.fixed.835": lambda p: check_lfh_secondary(p, fixed=True),
    "lfh_tertiary-payment.835": check_lfh_tertiary,
    "pyx12_mult-loops.835": check_denial,
}

# The only sample whose amounts do not balance; MANIFEST.tsv calls its SVC01 malformed.
OFF_BALANCE = {"lfh_tertiary-payment.835": "malformed SVC01"}


@pytest.mark.parametrize("path", sample_params("x12", "835"))
def test_835_sample_parses(path: Path):
    payment = only(read_835(path.read_text()))
    assert payment.claims, f"{path.name}: no claim read"
    assert all(c.patient_control_number for c in payment.claims)
    # Balance warnings exactly where the file is known to be off.
    assert bool(balance_warnings(payment)) == (path.name in OFF_BALANCE), balance_warnings(payment)
    check = EXPECTED.get(path.name)
    if check is None:
        return  # parses; no specific expectations written for this new sample yet
    check(payment)


@pytest.mark.parametrize("path", sample_params("x12", "835"))
def test_835_sample_agrees_with_the_manifest_notes(path: Path):
    """Counts and codes the MANIFEST states in words (e.g. '9 claims, 33 SVC', 'CLP02=4') hold for what is read."""
    notes = manifest_notes().get(path.name)
    if notes is None:
        pytest.skip(f"{path.name} has no MANIFEST.tsv row")
    payment = only(read_835(path.read_text()))
    if m := re.search(r"\b(\d+) claims?\b", notes):
        assert len(payment.claims) == int(m.group(1))
    if m := re.search(r"\b(\d+) (?:SVC|service lines)\b", notes):
        assert sum(len(c.lines) for c in payment.claims) == int(m.group(1))
    if m := re.search(r"CLP02=(\d+)", notes):
        assert {c.status_code for c in payment.claims} == {m.group(1)}
    if "PLB" in notes:
        assert payment.provider_adjustments
    if "negative CAS" in notes:
        assert any(a.amount < 0 for c in payment.claims for a in c.all_adjustments)
    if path.name in OFF_BALANCE:
        assert OFF_BALANCE[path.name] in notes


# ---------------------------------------------------------------- hand-written ERAs


def era(*detail: Segment, bpr: list[str] | None = None, header: list[Segment] | None = None) -> str:
    segments = [
        Segment("ST", ["835", "0001"]),
        Segment("BPR", bpr or ["I", "80", "C", "CHK", *[""] * 11, "20260323"]),
        Segment("TRN", ["1", "CHK100", "1123456789"]),
        *(header or [Segment("DTM", ["405", "20260320"])]),
        Segment("N1", ["PR", "SANDBOX HEALTH PLAN"]), Segment("N3", ["1 PAYER WAY"]),
        Segment("N4", ["HARRISBURG", "PA", "17111"]), Segment("REF", ["2U", "SBX01"]),
        Segment("PER", ["BL", "EDI", "TE", "8005551212"]),
        Segment("N1", ["PE", "NORTHSIDE CLINIC", "XX", "1234567893"]), Segment("REF", ["TJ", "987654321"]),
        Segment("LX", ["1"]),
        *detail,
    ]
    return build_interchange("SANDBOXPAY", "CLINIC01", 5, "HP", "005010X221A1", [segments], now=NOW)


PAID_CLAIM = [
    Segment("CLP", ["PCN1", "1", "100", "80", "10", "12", "SBX1", "11", "1"]),
    Segment("NM1", ["QC", "1", "DOE", "JANE", "", "", "", "MI", "M1"]),
    Segment("MIA", ["0", "", "", "", "MA01", *[""] * 14, "N20"]),
    Segment("DTM", ["232", "20260302"]),
    Segment("SVC", ["HC:99213:25:59:76:77", "100", "80", "", "2", "", "3"]),
    Segment("DTM", ["472", "20260302"]),
    Segment("CAS", ["CO", "45", "10", "1", "253", "0", "", "59", "0", "", "94", "0", "", "97", "0", "", "131", "0"]),
    Segment("CAS", ["PR", "3", "10"]),
    Segment("REF", ["6R", "LINE1"]),
    Segment("AMT", ["B6", "90"]),
    Segment("LQ", ["HE", "N130"]),
    Segment("LQ", ["RX", "75"]),
]


def test_claim_line_and_payment_fields():
    payment = only(read_835(era(*PAID_CLAIM)))
    assert (payment.payer_id, payment.payer_name, payment.payee_npi, payment.payee_tax_id) == (
        "SBX01", "SANDBOX HEALTH PLAN", "1234567893", "987654321")
    assert (payment.amount, payment.credit, payment.payment_date, payment.trace_number, payment.trace_originator) \
        == (D("80"), True, date(2026, 3, 23), "CHK100", "1123456789")
    claim = only_claim(payment)
    assert claim.remark_codes == ("MA01", "N20")  # MIA05 and MIA20
    [line] = claim.lines
    assert (line.procedure_code, line.modifiers, line.units, line.original_units) == (
        "99213", ("25", "59", "76", "77"), D("2"), D("3"))
    assert (line.allowed, line.line_item_control_number, line.remark_codes) == (D("90"), "LINE1", ("N130",))
    # Six CAS triplets in one segment, the quantity of the first kept.
    assert [(a.reason, a.amount, a.quantity) for a in line.adjustments][:2] == [
        ("45", D("10"), D("1")), ("253", D("0"), None)]
    assert len(line.adjustments) == 7
    assert payment.warnings == ()


def test_every_imbalance_is_a_warning():
    text = era(
        Segment("CLP", ["PCN1", "1", "100", "70", "15", "12", "SBX1"]),
        Segment("CAS", ["CO", "A2", "5"]),
        Segment("SVC", ["HC:99213", "100", "80"]),
        Segment("CAS", ["CO", "45", "10"]),
        Segment("CAS", ["PR", "3", "5"]),
        Segment("CLP", ["PCN2", "4", "50", "10", "", "12", "SBX2"]),
        Segment("CAS", ["CO", "96", "40"]),
    )
    payment = only(read_835(text))
    assert balance_warnings(payment) == [
        "claim #1 (CLP segment #13) line #1 does not balance: SVC02 - SVC03 = 20, its adjustments total 15",
        "claim #1 (CLP segment #13) does not balance: CLP03 - CLP04 = 30, claim and line adjustments total 20",
        "claim #1 (CLP segment #13): CLP04 70 is not the lines' SVC03 less claim-level adjustments (75)",
        "claim #1 (CLP segment #13): CLP05 15 is not the sum of its PR adjustments (5)",
    ]  # the payment itself balances: BPR02 80 = 70 + 10
    assert "claim #2 (CLP segment #18) is denied (CLP02 4) but pays 10" in payment.warnings


def test_payment_total_is_checked_against_claims_and_plb():
    claim = [Segment("CLP", ["PCN1", "1", "100", "80", "", "12", "SBX1"]), Segment("CAS", ["CO", "45", "20"])]
    withheld = only(read_835(era(*claim, Segment("PLB", ["1234567893", "20261231", "WO:OVERPAY1", "5"]),
                                 bpr=["I", "75", "C", "CHK", *[""] * 11, "20260323"])))
    assert balance_warnings(withheld) == []
    assert [(a.reason, a.reference, a.amount) for a in withheld.provider_adjustments] == [("WO", "OVERPAY1", D("5"))]
    short = only(read_835(era(*claim, bpr=["I", "79.99", "C", "CHK", *[""] * 11, "20260323"])))
    assert balance_warnings(short) == ["payment does not balance: BPR02 79.99, claims' CLP04 less PLB adjustments 80"]


def test_reversal_and_its_correction_balance():
    # A payer corrects a paid claim by reversing it (CLP02 22, negated amounts) and paying it again.
    text = era(Segment("CLP", ["PCN1", "22", "-100", "-80", "", "12", "SBX1"]),
               Segment("CAS", ["CO", "45", "-20"]),
               Segment("CLP", ["PCN1", "1", "100", "90", "", "12", "SBX1"]),
               Segment("CAS", ["CO", "45", "10"]),
               bpr=["I", "10", "C", "CHK", *[""] * 11, "20260323"])
    payment = only(read_835(text))
    assert [c.status for c in payment.claims] == ["Reversal of previous payment", "Processed as primary"]
    assert payment.warnings == ()


def test_unreadable_optional_values_are_warnings():
    text = era(Segment("CLP", ["PCN1", "1", "100", "100", "1O", "12", "SBX1"]),
               Segment("SVC", ["HC:99213", "100", "100", "", "x"]), Segment("AMT", ["B6", "n/a"]),
               Segment("DTM", ["472", "20261340"]),
               header=[Segment("DTM", ["405", "2026"])])
    payment = only(read_835(text))
    line = only_claim(payment).lines[0]
    assert (line.units, line.allowed, line.service_from) == (D(1), None, None)
    assert set(payment.warnings) >= {"DTM*405 is not a valid date; ignored",
                                     "claim #1 (CLP segment #13) CLP05 is not a number; ignored",
                                     "claim #1 (CLP segment #13) line #1 SVC05 is not a number; ignored",
                                     "claim #1 (CLP segment #13) line #1 AMT*B6 is not a number; ignored",
                                     "DTM*'472' is not a valid date; ignored"}


def test_segments_between_lx_and_clp_are_ignored_with_a_warning():
    text = era(Segment("NM1", ["QC", "1", "DOE"]), *PAID_CLAIM[:2])
    payment = only(read_835(text))
    assert "NM1 segment #13 is outside any claim; ignored" in payment.warnings


def test_several_835s_in_one_interchange():
    one = [Segment("ST", ["835", "0001"]), Segment("BPR", ["H", "0", "C", "NON", *[""] * 11, "20260323"]),
           Segment("TRN", ["1", "T1", "1123456789"]), Segment("CLP", ["A", "4", "10", "0", "", "12", "X"]),
           Segment("CAS", ["CO", "31", "10"])]
    two = [Segment("ST", ["835", "0002"]), *one[1:]]
    text = build_interchange("SANDBOXPAY", "CLINIC01", 5, "HP", "005010X221A1", [one, two], now=NOW)
    assert [p.control_number for p in read_835(text)] == ["0001", "0002"]


# ---------------------------------------------------------------- garbage

PHI = "DOE^JOHN 1980-01-02 SSN 123-45-6789"


@pytest.mark.parametrize("text, reason", [
    ("", "not an X12 interchange"),
    (f"remittance for {PHI}", "not an X12 interchange"),
    (era(Segment("CLP", ["PCN1", "1", PHI, "80", "", "12", "X"])), "CLP03 of segment #13 is not an amount"),
    (era(Segment("CLP", ["PCN1", "1", "100", "", "", "12", "X"])), "CLP04 of segment #13 is missing"),
    (era(Segment("CLP", ["PCN1", "1", "100", "80", "", "12", "X"]), Segment("CAS", ["CO", "45", PHI])),
     "CAS03 of segment #14 is not an amount"),
    (era(Segment("SVC", ["HC:99213", "100", "80"])), "SVC segment #13 comes before any CLP"),
    (era(bpr=["I", PHI, "C", "CHK"]), "BPR02 of segment #2 is not an amount"),
])
def test_garbage_raises_without_quoting_it(text, reason):
    with pytest.raises(Unparseable835, match=reason) as caught:
        read_835(text)
    assert "DOE" not in safe_reason(caught.value) and "123-45" not in str(caught.value)


def test_no_bpr_and_wrong_transaction_set_are_named():
    no_bpr = build_interchange("P", "C", 5, "HP", "005010X221A1", [[Segment("ST", ["835", "0001"]),
                                                                    Segment("TRN", ["1", "T"])]], now=NOW)
    with pytest.raises(Unparseable835, match="835 '0001' has no BPR segment"):
        read_835(no_bpr)
    ack = build_interchange("P", "C", 5, "FA", "005010X231A1", [[Segment("ST", ["999", "0001"])]], now=NOW)
    with pytest.raises(Unparseable835, match=r"no 835 transaction set in the interchange \(found: '999'\)"):
        read_835(ack)


# ---------------------------------------------------------------- whole files: interchanges, versions, truncation

from rcm_x12.remit_835 import (  # noqa: E402
    ClaimPosition,
    Incomplete835,
    Unsupported835Version,
    read_835_file,
)


def check(control: str, *claims: list[Segment], amount: str = "0", trn: str = "T1",
          parties: list[Segment] | None = None) -> list[Segment]:
    return [Segment("ST", ["835", control, "005010X221A1"]),
            Segment("BPR", ["H", amount, "C", "NON", *[""] * 11, "20260323"]),
            Segment("TRN", ["1", trn, "1123456789"]),
            *(parties if parties is not None else [Segment("N1", ["PR", "SANDBOX HEALTH PLAN", "XV", "SBXPLAN"]),
                                                   Segment("REF", ["2U", "SBX01"])]),
            Segment("LX", ["1"]), *(seg for claim in claims for seg in claim)]


def denied(pcn: str, icn: str = "X") -> list[Segment]:
    return [Segment("CLP", [pcn, "4", "10", "0", "", "12", icn]), Segment("CAS", ["CO", "31", "10"])]


def interchange(control: int, *checks: list[Segment], version: str = "005010X221A1") -> str:
    return build_interchange("SANDBOXPAY", "CLINIC01", control, "HP", version, list(checks), now=NOW)


def test_every_interchange_of_a_file_is_read():
    text = (interchange(5, check("0001", denied("A"), denied("B")), check("0002", denied("C")))
            + interchange(6, check("0001", denied("D")))
            + "\n" + interchange(7, check("0009", denied("E"), denied("F"))))
    payments = read_835(text)
    assert [(p.interchange_control_number, p.control_number, [c.patient_control_number for c in p.claims])
            for p in payments] == [("000000005", "0001", ["A", "B"]), ("000000005", "0002", ["C"]),
                                   ("000000006", "0001", ["D"]), ("000000007", "0009", ["E", "F"])]
    whole = read_835_file(text)
    assert whole.claim_count == 6
    assert [(i.control_number, i.transaction_control_numbers) for i in whole.interchanges] == [
        ("000000005", ("0001", "0002")), ("000000006", ("0001",)), ("000000007", ("0009",))]
    assert whole.findings() == ()


def test_interchanges_with_their_own_delimiters_are_each_split_with_them():
    other = interchange(6, check("0001", denied("D"))).replace("*", "|").replace("~", "\n")
    payments = read_835(interchange(5, check("0001", denied("A"))) + other)
    assert [c.patient_control_number for p in payments for c in p.claims] == ["A", "D"]


def test_the_shared_samples_as_one_file_read_as_each_alone():
    paths = sample_files("x12", "835")
    if not paths:
        missing("835 samples", samples_dir("x12", "835"))
    alone = [only(read_835(path.read_text())) for path in paths]
    together = read_835("\n".join(path.read_text() for path in paths))
    assert len(together) == len(alone) == len(paths)
    for a, t in zip(alone, together, strict=True):
        assert (t.claims, t.provider_adjustments, t.amount, t.warnings, t.envelope_errors) == (
            a.claims, a.provider_adjustments, a.amount, a.warnings, a.envelope_errors)
    assert sum(len(p.claims) for p in together) == sum(len(p.claims) for p in alone) > len(paths)


def test_a_4010_835_is_rejected_naming_its_version():
    st = [Segment("ST", ["835", "0001"]), *check("0001", denied("A"))[1:]]  # 4010 has no ST03
    text = interchange(5, st, version="004010X091A1")
    with pytest.raises(Unsupported835Version, match=r"version '004010X091A1' \(GS08\) is not 5010 \(005010X221A1\); only 005010X221A1 835s are read, and "
                       r"the whole file is rejected so that none of it is half-posted") as caught:
        read_835(text)
    assert caught.value.version == "004010X091A1"
    assert isinstance(caught.value, Unparseable835)
    # a 5010 interchange before it does not make the file half-readable
    with pytest.raises(Unsupported835Version):
        read_835(interchange(4, check("0001", denied("B"))) + text)


def test_an_st03_of_another_guide_is_rejected():
    st = check("0001", denied("A"))
    st[0] = Segment("ST", ["835", "0001", "005010X221"])
    with pytest.raises(Unsupported835Version, match=r"implementation reference '005010X221' \(ST03\)"):
        read_835(interchange(5, st))


def two_claims() -> str:
    claim = [Segment("CLP", ["PCN1", "1", "100", "80", "", "12", "SBX1"]), Segment("NM1", ["QC", "1", "DOE", "JANE"]),
             Segment("CAS", ["CO", "45", "20"])]
    second = [Segment("CLP", ["PCN2", "1", "50", "50", "", "12", "SBX2"])]
    return interchange(5, check("0001", claim, second, amount="130"))


@pytest.mark.parametrize("cut, codes", [
    ("CLP*PCN2", {"missing_se", "missing_ge", "missing_iea"}),  # cut after the first claim
    ("SE*", {"missing_se", "missing_ge", "missing_iea"}),  # cut before the trailers
    ("GE*", {"missing_ge", "missing_iea"}),
    ("IEA*", {"missing_iea"}),
])
def test_a_truncated_file_is_rejected_whole(cut: str, codes: set[str]):
    text = two_claims()
    truncated = text[: text.index(cut)]
    with pytest.raises(Incomplete835, match="835 file rejected whole") as caught:
        read_835(truncated)
    assert {str(e.code) for e in caught.value.envelope_errors} == codes
    assert "DOE" not in str(caught.value) and "JANE" not in str(caught.value)


def test_a_file_cut_mid_segment_or_in_its_second_interchange_returns_nothing():
    text = two_claims()
    with pytest.raises(Incomplete835):
        read_835(text[: text.index("CLP*PCN2") + 12])
    whole = interchange(4, check("0001", denied("A")))
    with pytest.raises(Incomplete835, match=r"interchange #2 \('000000005'\)"):
        read_835(whole + text[: text.index("SE*")])


def test_a_wrong_count_or_data_after_the_last_iea_rejects_the_file():
    text = two_claims()
    se = re.search(r"SE\*(\d+)\*", text)
    wrong = text.replace(se.group(0), f"SE*{int(se.group(1)) - 1}*")  # a segment lost in transit
    with pytest.raises(Incomplete835, match="se01_segment_count"):
        read_835(wrong)
    with pytest.raises(Incomplete835, match="data_after_iea"):
        read_835(text + "CLP*PCN3*1*10*10~")
    with pytest.raises(Incomplete835, match="ge01_transaction_count"):
        read_835(text.replace("GE*1*", "GE*2*"))


def test_envelope_defects_that_lose_nothing_are_returned_with_every_interchange():
    first = interchange(5, check("0001", denied("A"))).replace("IEA*1*000000005", "IEA*1*000000099")
    second = interchange(6, check("0001", denied("B"))).replace("SE*9*0001", "SE*9*0002")
    whole = read_835_file(first + second)
    assert [[e.code for e in p.envelope_errors] for p in whole.payments] == [
        [EnvelopeErrorCode.IEA_CONTROL_NUMBER], [EnvelopeErrorCode.SE_CONTROL_NUMBER]]
    assert whole.findings() == (
        "interchange '000000005': iea02_control_number: IEA02 '000000099' does not match ISA13 '000000005' "
        "(segment #13)",
        "interchange '000000006': se02_control_number: SE02 '0002' does not match ST02 '0001' (segment #11)")


def test_warnings_of_every_interchange_are_in_the_findings():
    off = [Segment("CLP", ["A", "1", "10", "9", "", "12", "X"])]  # 1.00 unexplained
    text = interchange(5, check("0001", off, amount="9")) + interchange(6, check("0001", off, amount="9"))
    findings = read_835_file(text).findings()
    assert findings == tuple(
        f"interchange '{n}' 835 '0001': claim #1 (CLP segment #7) does not balance: CLP03 - CLP04 = 1, "
        "claim and line adjustments total 0" for n in ("000000005", "000000006"))


def test_a_transaction_set_that_is_not_an_835_is_reported_not_dropped_silently():
    text = build_interchange("P", "C", 5, "HP", "005010X221A1",
                             [check("0001", denied("A")), [Segment("ST", ["999", "0002"])]], now=NOW)
    whole = read_835_file(text)
    assert whole.claim_count == 1
    assert "interchange '000000005': transaction set '0002' (ST01 '999') is not an 835; ignored" in whole.findings()


# ---------------------------------------------------------------- identity, PLB, claim and line detail


def test_each_claim_payment_carries_what_identifies_it():
    same = denied("A", icn="SAMEICN")  # two payments identical in every element, CLP07 included
    dated = [Segment("CLP", ["B", "1", "10", "10", "", "12", "SAMEICN"]), Segment("DTM", ["050", "20260301"]),
             Segment("SVC", ["HC:99213", "10", "10"]), Segment("DTM", ["472", "20260302"])]
    text = interchange(5, check("0001", same, same, dated, amount="10", trn="EFT77"))
    [payment] = read_835(text)
    first, second, third = payment.claims
    assert first.position == ClaimPosition("000000005", "5", "0001", 1, 7)
    assert (second.position.claim_index, second.position.segment_position) == (2, 9)
    one, two, three = (payment.identity(c) for c in payment.claims)
    assert one != two and one.position != two.position
    assert (one.payer_identifier, one.payer_reference, one.trace_number, one.trace_originator,
            one.patient_control_number, one.status_code, one.payer_claim_control_number) == (
        "SBXPLAN", "SBX01", "EFT77", "1123456789", "A", "4", "SAMEICN")
    assert (payment.payer_identifier_qualifier, payment.group_control_number, payment.version,
            payment.sender_id, payment.receiver_id) == ("XV", "5", "005010X221A1", "SANDBOXPAY", "CLINIC01")
    # no claim-level DTM*232: the service dates come from the lines
    assert (three.service_from, three.service_to) == (date(2026, 3, 2), date(2026, 3, 2))
    assert third.dates == (("050", date(2026, 3, 1)),)


def test_a_payer_named_only_in_trn03_has_no_payer_identity_of_its_own():
    [payment] = read_835(interchange(5, check("0001", denied("A"), parties=[])))
    identity = payment.identity(payment.claims[0])
    assert (identity.payer_identifier, identity.payer_reference, identity.trace_originator) == (
        None, None, "1123456789")
    assert payment.payer_id == "1123456789"  # the existing fallback is unchanged


def test_plb_pairs_are_kept_as_read():
    claim = [Segment("CLP", ["PCN1", "1", "100", "80", "", "12", "SBX1"]), Segment("CAS", ["CO", "45", "20"])]
    plbs = [Segment("PLB", ["1234567893", "20261231", "WO:OVERPAY1", "5", "L6:INT1", "-2.5", "FB:FWD9", "1.25",
                            "CS:ADJ", "0.75", "72:AUTH3", "3", "J1", "-1"]),
            Segment("PLB", ["1234567893", "20261231", "L6", "-0.5"])]
    payment = only(read_835(era(*claim, *plbs, bpr=["I", "74.00", "C", "CHK", *[""] * 11, "20260323"])))
    assert [(a.provider_id, a.fiscal_period, a.plb_index, a.pair_index, a.reason, a.reference, a.amount)
            for a in payment.provider_adjustments] == [
        ("1234567893", date(2026, 12, 31), 1, 1, "WO", "OVERPAY1", D("5")),
        ("1234567893", date(2026, 12, 31), 1, 2, "L6", "INT1", D("-2.5")),
        ("1234567893", date(2026, 12, 31), 1, 3, "FB", "FWD9", D("1.25")),
        ("1234567893", date(2026, 12, 31), 1, 4, "CS", "ADJ", D("0.75")),
        ("1234567893", date(2026, 12, 31), 1, 5, "72", "AUTH3", D("3")),
        ("1234567893", date(2026, 12, 31), 1, 6, "J1", None, D("-1")),
        ("1234567893", date(2026, 12, 31), 2, 1, "L6", None, D("-0.5")),
    ]
    assert balance_warnings(payment) == []  # 80 - (5 - 2.5 + 1.25 + 0.75 + 3 - 1 - 0.5) = 74


def test_claim_and_line_detail():
    claim = [Segment("CLP", ["PCN1", "1", "100", "70", "10", "12", "SBX1"]),
             Segment("CAS", ["OA", "23", "5"]),
             Segment("DTM", ["232", "20260302"]), Segment("DTM", ["233", "20260303"]),
             Segment("DTM", ["036", "20261231"]),
             Segment("SVC", ["HC:99214:25", "100", "75", "", "2", "HC:99215"]),
             Segment("DTM", ["150", "20260302"]), Segment("DTM", ["151", "20260303"]),
             Segment("CAS", ["CO", "45", "15"]), Segment("CAS", ["PR", "2", "10"]),
             Segment("LQ", ["HE", "M15"]), Segment("LQ", ["HE", "N381"])]
    payment = only(read_835(era(*claim, bpr=["I", "70", "C", "CHK", *[""] * 11, "20260323"])))
    c = only_claim(payment)
    assert adjustments(c.adjustments) == [("OA", "23", D("5"))]
    assert c.dates == (("232", date(2026, 3, 2)), ("233", date(2026, 3, 3)), ("036", date(2026, 12, 31)))
    [line] = c.lines
    assert (line.qualifier, line.procedure_code, line.modifiers, line.charge, line.paid, line.units,
            line.submitted_procedure_code) == ("HC", "99214", ("25",), D("100"), D("75"), D("2"), "99215")
    assert adjustments(line.adjustments) == [("CO", "45", D("15")), ("PR", "2", D("10"))]
    assert (line.remark_codes, line.service_from, line.service_to) == (
        ("M15", "N381"), date(2026, 3, 2), date(2026, 3, 3))
    assert payment.warnings == ()


# ---------------------------------------------------------------- the benchmark's file


def test_the_benchmark_file_reads_whole_and_balances():
    from bench.remittance import generate_835

    text, claims = generate_835(300, 3, 20)
    whole = read_835_file(text)
    assert whole.claim_count == claims >= 300
    assert len(whole.interchanges) == 3 and whole.findings() == ()
    statuses = {c.status_code for p in whole.payments for c in p.claims}
    assert {"1", "2", "22"} <= statuses
    assert all(p.provider_adjustments for p in whole.payments)
    reversals = [(p, n) for p in whole.payments for n, c in enumerate(p.claims) if c.status_code == "22"]
    for p, n in reversals:  # each reversal follows the payment it negates, and names the same claim
        original, reversal = p.claims[n - 1], p.claims[n]
        assert (reversal.paid, reversal.patient_control_number) == (-original.paid, original.patient_control_number)


def test_every_object_the_reader_makes_has_exactly_its_fields():
    """The reader builds its frozen dataclasses without their __init__ (for speed): each must still carry every
    field of its class, equal and hash as one built the ordinary way."""
    from dataclasses import fields, replace

    from rcm_x12.remit_835 import Adjustment, ClaimPayment, ServicePayment

    payment = only(read_835(era(*PAID_CLAIM)))
    claim = only_claim(payment)
    objects = [claim, claim.position, *claim.lines, *claim.all_adjustments]
    assert {type(o) for o in objects} == {ClaimPayment, ClaimPosition, ServicePayment, Adjustment}
    for obj in objects:
        assert set(vars(obj)) == {f.name for f in fields(obj)}, type(obj).__name__
        same = replace(obj)  # built through the dataclass's own __init__
        assert same == obj and hash(same) == hash(obj)
    with pytest.raises(AttributeError):
        claim.paid = D("1")  # still frozen


def test_an_interchange_cut_short_before_a_complete_one_rejects_the_file():
    text = two_claims()
    with pytest.raises(Incomplete835, match="missing_se") as caught:
        read_835(text[: text.index("CLP*PCN2")] + interchange(6, check("0001", denied("B"))))
    assert "DOE" not in str(caught.value)


# ---------------------------------------------------------------- the row reader against a plain reading
#
# read_835 reads split rows, shares one row between identical segments and remembers what a repeated CAS, SVC or
# claim DTM reads as. These pin its results to those of the previous reader (a Segment per segment, everything
# read afresh) and to a plain segment walk written here.

# What the previous reader read from each shared sample: claims, lines, sum of CLP04, sum of every CAS amount,
# findings (envelope errors and warnings).
SAMPLE_TOTALS = {
    "badx12_X221-dollars-and-data-sent-separate.835": (2, 2, "945", "1055", 0),
    "badx12_X221-dollars-and-data-sent-together.835": (2, 0, "149998.73", "76368.24", 0),
    "badx12_X221-era-sample.835": (1, 5, "132", "94", 0),
    "badx12_X221-multiple-claims-single-check.835": (9, 33, "810.8", "2008.2", 0),
    "badx12_X221-secondary-payment-with-higher-fee-schedule.835": (1, 1, "34", "507", 0),
    "badx12_X221-secondary-payments.835": (2, 2, "1222", "9853.14", 0),
    "badx12_X221-tertiary-payments.835": (1, 1, "187.50", "1579", 0),
    "edifabric_payment.835": (1, 1, "34", "507", 1),
    "lfh_cob-contractual-adjustment.835": (1, 1, "34.00", "507.00", 2),
    "lfh_cob-contractual-adjustment.fixed.835": (1, 1, "34.00", "507.00", 0),
    "lfh_managed-care.835": (2, 2, "945.00", "1055.00", 1),
    "lfh_managed-care.fixed.835": (2, 2, "945.00", "1055.00", 0),
    "lfh_medicare-part-a.835": (2, 0, "149998.73", "76368.24", 0),
    "lfh_secondary-payment.835": (2, 2, "1222.00", "9853.14", 3),
    "lfh_secondary-payment.fixed.835": (2, 2, "1222.00", "9853.14", 0),
    "lfh_tertiary-payment.835": (1, 1, "187.50", "1579.00", 4),
    "pyx12_mult-loops.835": (1, 3, "0", "915.39", 0),
}


def totals(whole) -> tuple[int, int, str, str, int]:
    claims = [c for p in whole.payments for c in p.claims]
    return (len(claims), sum(len(c.lines) for c in claims), str(sum((c.paid for c in claims), D(0))),
            str(sum((a.amount for c in claims for a in c.all_adjustments), D(0))), len(whole.findings()))


@pytest.mark.parametrize("path", sample_params("x12", "835"))
def test_sample_totals_are_those_the_previous_reader_read(path: Path):
    if path.name not in SAMPLE_TOTALS:
        pytest.skip(f"{path.name}: a new sample, no totals pinned")
    assert totals(read_835_file(path.read_text())) == SAMPLE_TOTALS[path.name]


def canonical(value):
    """Every field of every object, recursively, in a form whose repr is stable (for a digest)."""
    from dataclasses import fields, is_dataclass
    from enum import Enum

    if is_dataclass(value):
        return type(value).__name__, tuple((f.name, canonical(getattr(value, f.name))) for f in fields(value))
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, (list, tuple)):
        return tuple(canonical(v) for v in value)
    return value


def plain_reading(text: str) -> dict[str, tuple]:
    """Per check (ST02, the first interchange's numbering): what a plain walk over codec Segments finds."""
    from rcm_x12.codec import parse_interchanges

    found = {}
    for ic in parse_interchanges(text):
        for t in ic.transactions:
            clp = [s for s in t.body if s.tag == "CLP"]
            svc = [s for s in t.body if s.tag == "SVC"]
            cas = [(s.element(1), D(s.element(p))) for s in t.body if s.tag == "CAS"
                   for p in (3, 6, 9, 12, 15, 18) if s.element(p)]
            plb = [D(s.element(p)) for s in t.body if s.tag == "PLB" for p in range(4, 15, 2) if s.element(p)]
            found[f"{ic.control_number}/{t.control_number}"] = (
                [s.element(1) for s in clp], sum((D(s.element(4)) for s in clp), D(0)),
                sum((D(s.element(5) or 0) for s in clp), D(0)), len(svc), sum((D(s.element(3)) for s in svc), D(0)),
                sum((a for g, a in cas if g == "PR"), D(0)), sum((a for _, a in cas), D(0)), sum(plb, D(0)),
                D(next(s for s in t.body if s.tag == "BPR").element(2)))
    return found


def test_the_benchmark_file_reads_as_a_plain_walk_and_as_the_previous_reader():
    from bench.remittance import generate_835

    text, claims = generate_835(2000, 3, 40)
    whole = read_835_file(text)
    read = {f"{p.interchange_control_number}/{p.control_number}": (
        [c.patient_control_number for c in p.claims], sum((c.paid for c in p.claims), D(0)),
        sum((c.patient_responsibility for c in p.claims), D(0)), sum(len(c.lines) for c in p.claims),
        sum((ln.paid for c in p.claims for ln in c.lines), D(0)),
        sum((a.amount for c in p.claims for a in c.all_adjustments if a.group == "PR"), D(0)),
        sum((a.amount for c in p.claims for a in c.all_adjustments), D(0)),
        sum((a.amount for a in p.provider_adjustments), D(0)), p.amount) for p in whole.payments}
    assert read == plain_reading(text) and whole.claim_count == claims
    # Every field of every object, as the previous reader (a Segment per segment, nothing remembered) read it.
    import hashlib

    # (13cf026e8f9f08ff before RemittancePayment.interchange, the place of its interchange in the file, was added)
    assert hashlib.sha256(repr(canonical(whole)).encode()).hexdigest()[:16] == "890507aa822b6ea3"


def test_a_repeated_faulty_segment_warns_each_time_and_is_placed_where_it_stopped_the_read():
    # Identical segments are one row, and what a CAS reads as is remembered only when it warned of nothing.
    odd = Segment("CAS", ["CO", "45", "20", "x"])  # CAS04 (quantity) is not a number: a warning each time
    claim = [Segment("CLP", ["PCN1", "1", "100", "80", "", "12", "SBX1"]), odd]
    payment = only(read_835(interchange(5, check("0001", claim, claim, amount="160"))))
    assert [w for w in payment.warnings if "CAS04" in w] == ["CAS04 is not a number; ignored"] * 2
    # The same unreadable CAS once after the LX (ignored there) and once in the claim: the read stops at the
    # claim's: segment #9 (ST 1, BPR 2, TRN 3, N1 4, REF 5, LX 6, CAS 7, CLP 8, CAS 9), not #7.
    bad = Segment("CAS", ["CO", "45", "x"])
    text = interchange(5, check("0001", [bad, Segment("CLP", ["PCN1", "1", "100", "80", "", "12", "SBX1"]), bad]))
    with pytest.raises(Unparseable835, match=r"^CAS03 of segment #9 is not an amount$"):
        read_835(text)
