"""835 writer: layout per 005010X221A1, the guide's balancing rules checked on the written X12 itself, refusal
of unbalanced input, and every generated 835 accepted by the independent pyx12 validator."""

from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal as D

import pytest

from rcm_contracts.claim import Address, Claim, Insured, Person, patient_control_number
from tests.support import claims as factory
from tests.support.pyx12_oracle import assert_pyx12_valid
from rcm_x12.codec import Segment, parse_interchange
from rcm_sandbox.domain.adjudication import ClaimAdjudication, LineAdjudication, MemberBenefits, PayerRules, adjudicate
from rcm_sandbox.domain.x12_835 import BankAccount, Payee, Payer, Payment, RemittedClaim, build_835
from rcm_sandbox.domain.checks import PendingRecovery, plan_checks
from rcm_sandbox.domain.reprocessing import ProviderAdjustment
from rcm_sandbox.domain.secondary import adjudicate_secondary
from rcm_contracts.claim import Adjustment, OtherPayer

NOW = datetime(2026, 3, 20, 6, 30)
NPI = "1234567893"
MEMBER = "M123456789"

PAYER = Payer(name="SANDBOX HEALTH PLAN", payer_id="SBX01", tax_id="123456789",
              address=Address(line1="1 PAYER WAY", city="HARRISBURG", state="PA", postal_code="17111"),
              contact_phone="8005551212", contact_name="EDI SUPPORT")
PAYEE = Payee(name="NORTHSIDE CLINIC", npi=NPI, tax_id="987654321",
              address=Address(line1="22 CLINIC RD", city="YORK", state="PA", postal_code="17401"))
ACH = Payment(method="ACH", payment_date=date(2026, 3, 23), trace_number="EFT20260323001",
              payer_bank=BankAccount("011000015", "1234567"), payee_bank=BankAccount("021000021", "7654321"))
CHECK = Payment(method="CHK", payment_date=date(2026, 3, 23), trace_number="100234")
NO_PAYMENT = Payment(method="NON", payment_date=date(2026, 3, 23), trace_number="ZP20260323001")

RULES = PayerRules(payer_id="SBX01", fee_schedule={"99213": D("92.47"), "36415": D("3.00"), "97110": D("28.15")},
                   default_allowed_ratio=D("0.60"), non_covered_codes=frozenset({"S9999"}),
                   auth_required_codes=frozenset({"70553"}))
BENEFITS = MemberBenefits(member_id=MEMBER, active=True, deductible_remaining=D("20.00"),
                          coinsurance_rate=D("0.20"), copay=D("15.00"))


# ---------------------------------------------------------------- helpers


def make_claim(*lines: tuple, member_id: str = MEMBER, subscriber: Person | None = None,
               insured: Insured | None = None, responsibility: str = "P") -> Claim:
    """lines: (procedure_code, charge[, units[, modifiers[, service_date]]]). A subscriber or insured makes
    the patient (Ada Lovelace, whom the NM1*QC checks name) a dependent."""
    return factory.make_claim(
        service_date=date(2026, 3, 2),
        patient=factory.make_patient(first_name="Ada", last_name="Lovelace"),
        coverage=factory.make_coverage(payer_id="SBX01", payer_name="Sandbox Health Plan", member_id=member_id,
                                       relationship="self" if subscriber is None and insured is None else "child",
                                       subscriber=subscriber, insured=insured),
        billing_provider=factory.make_provider(NPI, name="Northside Clinic"),
        diagnoses=["J06.9"],
        lines=[factory.make_line(i, spec[0], spec[1], units=spec[2] if len(spec) > 2 else "1",
                                 modifiers=spec[3] if len(spec) > 3 else (),
                                 service_date=spec[4] if len(spec) > 4 else None)
               for i, spec in enumerate(lines, start=1)],
        payer_responsibility=responsibility,
    )


def remitted(claim: Claim, number: str = "SBX0001", benefits: MemberBenefits | None = BENEFITS) -> RemittedClaim:
    return RemittedClaim(claim=claim, adjudication=adjudicate(claim, benefits, RULES),
                         payer_claim_control_number=number)


def era(claims, payment: Payment = ACH, **kwargs) -> str:
    args = {"payer": PAYER, "payee": PAYEE, "payment": payment, "control_number": 77, "sender_id": "SANDBOXPAY",
            "receiver_id": "CLINIC01", "now": NOW} | kwargs
    return build_835(claims, **args)


def segments(text: str) -> list[Segment]:
    [transaction] = parse_interchange(text).transactions
    return transaction.segments


def texts(text: str) -> list[str]:
    return [s for s in text.split("~") if s][2:-2]


def cas_total(segs: list[Segment], group: str | None = None) -> D:
    total = D(0)
    for cas in segs:
        for at in range(2, 20, 3):
            if cas.element(at) and (group is None or cas.element(1) == group):
                total += D(cas.element(at + 1))
    return total


def assert_balanced_835(text: str) -> None:
    """The guide's balancing rules, checked on the X12 as written (not on the writer's inputs)."""
    segs = segments(text)
    bpr = segs[1]
    claims: list[list[Segment]] = []
    plb = [s for s in segs if s.tag == "PLB"]
    for seg in segs:
        if seg.tag == "CLP":
            claims.append([seg])
        elif claims and seg.tag not in ("SE", "PLB"):
            claims[-1].append(seg)
    plb_pairs = [(p.element(at).split(":")[0], D(p.element(at + 1))) for p in plb for at in range(3, 15, 2)
                 if p.element(at)]
    assert D(bpr.element(2)) == sum((D(c[0].element(4)) for c in claims), D(0)) - sum(
        (a for _, a in plb_pairs), D(0)), "BPR02 != sum of CLP04 - sum of PLB04"
    interest = sum((D(s.element(2)) for c in claims for s in c if s.tag == "AMT" and s.element(1) == "I"), D(0))
    assert interest == -sum((a for r, a in plb_pairs if r == "L6"), D(0)), "AMT*I != PLB L6 (negated)"
    for claim in claims:
        clp = claim[0]
        first_svc = next((i for i, s in enumerate(claim) if s.tag == "SVC"), len(claim))
        claim_cas = [s for s in claim[:first_svc] if s.tag == "CAS"]
        lines: list[list[Segment]] = []
        for seg in claim[first_svc:]:
            if seg.tag == "SVC":
                lines.append([seg])
            else:
                lines[-1].append(seg)
        for line in lines:
            svc, line_cas = line[0], [s for s in line if s.tag == "CAS"]
            assert D(svc.element(2)) - D(svc.element(3)) == cas_total(line_cas), f"line does not balance: {svc}"
        all_cas = claim_cas + [s for line in lines for s in line if s.tag == "CAS"]
        assert D(clp.element(3)) - D(clp.element(4)) == cas_total(all_cas), f"claim does not balance: {clp}"
        assert D(clp.element(4)) == sum((D(line[0].element(3)) for line in lines), D(0)) - cas_total(claim_cas)
        assert D(clp.element(5) or 0) == cas_total(all_cas, "PR"), "CLP05 != PR adjustments"


# ---------------------------------------------------------------- layout


def test_paid_claim_with_copay_deductible_coinsurance_and_a_contractual_write_off():
    claim = make_claim(("99213", "150.00", "1", ["25"]), ("36415", "20.00", "2"))
    text = era([remitted(claim)])
    pcn = patient_control_number(claim.claim_id)
    assert text.split("~")[1] == "GS*HP*SANDBOXPAY*CLINIC01*20260320*0630*77*X*005010X221A1"
    assert texts(text) == [
        "ST*835*0077",
        "BPR*I*50.78*C*ACH*CCP*01*011000015*DA*1234567*1123456789**01*021000021*DA*7654321*20260323",
        "TRN*1*EFT20260323001*1123456789",
        "DTM*405*20260320",
        "N1*PR*SANDBOX HEALTH PLAN",
        "N3*1 PAYER WAY",
        "N4*HARRISBURG*PA*17111",
        "REF*2U*SBX01",
        "PER*BL*EDI SUPPORT*TE*8005551212",
        "N1*PE*NORTHSIDE CLINIC*XX*1234567893",
        "N3*22 CLINIC RD",
        "N4*YORK*PA*17401",
        "REF*TJ*987654321",
        "LX*1",
        f"CLP*{pcn}*1*170*50.78*47.69*12*SBX0001*11*1",  # PR: 15 + 20 + 11.49 + 1.20
        "NM1*QC*1*Lovelace*Ada****MI*M123456789",
        "DTM*232*20260302",
        # allowed 92.47: copay 15, deductible 20, coinsurance 20 % of 57.47 = 11.49, paid 45.98
        "SVC*HC:99213:25*150*45.98",
        "DTM*472*20260302",
        "CAS*CO*45*57.53",
        "CAS*PR*3*15**1*20**2*11.49",
        "AMT*B6*92.47",
        # allowed 6.00 (2 units x 3.00): coinsurance 1.20, paid 4.80; SVC05 because units are not 1
        "SVC*HC:36415*20*4.8**2",
        "DTM*472*20260302",
        "CAS*CO*45*14",
        "CAS*PR*2*1.2",
        "AMT*B6*6",
        "SE*28*0077",
    ]
    assert_balanced_835(text)
    assert_pyx12_valid(text, "835")


def test_denied_claim_is_status_4_with_nothing_paid():
    claim = make_claim(("99213", "150.00"), member_id="UNKNOWN")
    text = era([remitted(claim)], payment=NO_PAYMENT)
    clp = next(s for s in texts(text) if s.startswith("CLP"))
    assert clp.split("*")[2:6] == ["4", "150", "0", ""]  # no CLP05 when the patient owes nothing
    assert "CAS*CO*31*150" in texts(text) and "AMT*B6*0" in texts(text)
    assert_balanced_835(text)
    assert_pyx12_valid(text, "835")


def test_zero_pay_remittance_uses_non_and_notification_only():
    claim = make_claim(("99213", "150.00"))
    inactive = replace(BENEFITS, active=False)
    text = era([remitted(claim, benefits=inactive)], payment=NO_PAYMENT)
    assert texts(text)[1] == "BPR*H*0*C*NON************20260323"
    assert texts(text)[2] == "TRN*1*ZP20260323001*1123456789"
    assert_balanced_835(text)
    assert_pyx12_valid(text, "835")


def test_partially_paid_claim_carries_its_remark_code():
    claim = make_claim(("99213", "150.00"), ("S9999", "40.00"))
    text = era([remitted(claim)], payment=CHECK)
    assert texts(text)[1] == "BPR*I*45.98*C*CHK************20260323"
    assert "MOA***N130" in texts(text)
    assert "CAS*CO*96*40" in texts(text)
    assert next(s for s in texts(text) if s.startswith("CLP")).split("*")[2] == "1"
    assert_balanced_835(text)
    assert_pyx12_valid(text, "835")


def test_multi_claim_payment_totals_and_statuses():
    paid = make_claim(("99213", "150.00"), ("97110", "90.00", "3"))
    denied = make_claim(("70553", "900.00"))  # needs an authorization the claim lacks: CO-197
    secondary = make_claim(("36415", "20.00"), responsibility="S")
    claims = [remitted(paid, "SBX0001"), remitted(denied, "SBX0002"), remitted(secondary, "SBX0003")]
    text = era(claims)
    clps = [s.split("*") for s in texts(text) if s.startswith("CLP")]
    assert [c[2] for c in clps] == ["1", "4", "2"]
    assert [c[7] for c in clps] == ["SBX0001", "SBX0002", "SBX0003"]
    total = sum((c.adjudication.paid for c in claims), D(0))
    assert D(texts(text)[1].split("*")[2]) == total
    assert "CAS*CO*197*900" in texts(text)
    assert_balanced_835(text)
    assert_pyx12_valid(text, "835")


def test_dependent_patient_is_named_apart_from_the_insured_who_holds_the_member_id():
    parent = factory.make_patient(first_name="Grace", last_name="Lovelace", birth_date=date(1955, 6, 1))
    text = era([remitted(make_claim(("99213", "150.00"), subscriber=parent))])
    names = [s for s in texts(text) if s.startswith("NM1")]
    assert names == ["NM1*QC*1*Lovelace*Ada", "NM1*IL*1*Lovelace*Grace****MI*M123456789"]
    assert_pyx12_valid(text, "835")


def test_an_insured_known_by_name_only_holds_the_member_id_too():
    claim = make_claim(("99213", "150.00"), insured=factory.make_insured(first_name="Grace", last_name="Lovelace"))
    assert claim.coverage.subscriber is None
    text = era([remitted(claim)])
    names = [s for s in texts(text) if s.startswith("NM1")]
    assert names == ["NM1*QC*1*Lovelace*Ada", "NM1*IL*1*Lovelace*Grace****MI*M123456789"]


def test_statement_period_spans_the_line_dates():
    claim = make_claim(("99213", "150.00", "1", [], date(2026, 3, 2)), ("97110", "90.00", "1", [], date(2026, 3, 5)))
    text = era([remitted(claim)])
    assert [s for s in texts(text) if s.startswith("DTM*23")] == ["DTM*232*20260302", "DTM*233*20260305"]
    assert [s for s in texts(text) if s.startswith("DTM*472")] == ["DTM*472*20260302", "DTM*472*20260305"]
    assert_pyx12_valid(text, "835")


def hand_adjudication(claim: Claim, line_rows, claim_rows, paid: D, patient: D,
                      outcome: str = "paid") -> ClaimAdjudication:
    line = claim.lines[0]
    line_paid = line.charge - sum((a for _, _, a in line_rows), D(0))
    return ClaimAdjudication(
        claim_id=claim.claim_id, total_charge=claim.total_charge, allowed=line_paid, paid=paid,
        patient_responsibility=patient, adjustments=list(line_rows) + list(claim_rows),
        lines=[LineAdjudication(line_number=1, procedure_code=line.procedure_code, charge=line.charge,
                                allowed=line_paid, paid=line_paid, adjustments=list(line_rows))],
        outcome=outcome, remark_codes=[],
    )


def test_adjustments_beyond_the_lines_are_reported_at_claim_level():
    claim = make_claim(("99213", "100.00"))
    # A claim-level interest-style reduction the lines do not hold: CO-A2 of 5.00 at claim level.
    adjudication = hand_adjudication(claim, [("CO", "45", D("20.00"))], [("CO", "A2", D("5.00"))],
                                     paid=D("75.00"), patient=D("0.00"))
    text = era([RemittedClaim(claim, adjudication, "SBX0009")])
    clp_at = next(i for i, s in enumerate(texts(text)) if s.startswith("CLP"))
    assert texts(text)[clp_at + 1] == "CAS*CO*A2*5"
    assert "SVC*HC:99213*100*80" in texts(text)
    assert_balanced_835(text)
    assert_pyx12_valid(text, "835")


def test_more_than_six_reasons_in_one_group_split_the_cas():
    claim = make_claim(("99213", "100.00"))
    rows = [("CO", carc, D("1.00")) for carc in ("45", "59", "94", "97", "131", "144", "253")]
    adjudication = hand_adjudication(claim, rows, [], paid=D("93.00"), patient=D("0.00"))
    text = era([RemittedClaim(claim, adjudication, "SBX0010")])
    assert [s for s in texts(text) if s.startswith("CAS")] == [
        "CAS*CO*45*1**59*1**94*1**97*1**131*1**144*1", "CAS*CO*253*1"]
    assert_balanced_835(text)
    assert_pyx12_valid(text, "835")


def test_names_with_delimiters_are_blanked():
    claim = make_claim(("99213", "150.00"))
    claim = claim.model_copy(update={"patient": claim.patient.model_copy(update={"last_name": "O*Neil~"})})
    text = era([remitted(claim)])
    assert "NM1*QC*1*O Neil*Ada****MI*M123456789" in texts(text)
    assert_pyx12_valid(text, "835")


# ---------------------------------------------------------------- refusals


def test_unbalanced_line_is_refused():
    claim = make_claim(("99213", "100.00"))
    good = hand_adjudication(claim, [("CO", "45", D("20.00"))], [], paid=D("80.00"), patient=D("0.00"))
    bad_line = replace(good.lines[0], paid=D("81.00"))
    with pytest.raises(ValueError, match="claim #1 line 1 does not balance"):
        era([RemittedClaim(claim, replace(good, lines=[bad_line]), "X")])


def test_unbalanced_claim_and_patient_responsibility_are_refused():
    claim = make_claim(("99213", "100.00"))
    good = hand_adjudication(claim, [("CO", "45", D("20.00"))], [], paid=D("80.00"), patient=D("0.00"))
    with pytest.raises(ValueError, match="claim #1 does not balance"):
        era([RemittedClaim(claim, replace(good, paid=D("70.00")), "X")])
    with pytest.raises(ValueError, match="patient responsibility"):
        era([RemittedClaim(claim, replace(good, patient_responsibility=D("5.00")), "X")])


def test_denied_claim_that_pays_is_refused():
    claim = make_claim(("99213", "100.00"))
    odd = hand_adjudication(claim, [("CO", "45", D("20.00"))], [], paid=D("80.00"), patient=D("0.00"),
                            outcome="denied")
    with pytest.raises(ValueError, match="denied but pays"):
        era([RemittedClaim(claim, odd, "X")])


def test_retired_group_code_is_refused():
    claim = make_claim(("99213", "100.00"))
    reversal = hand_adjudication(claim, [("CR", "45", D("20.00"))], [], paid=D("80.00"), patient=D("0.00"))
    with pytest.raises(ValueError, match="CO, OA, PI and PR only"):
        era([RemittedClaim(claim, reversal, "X")])


def test_payment_method_must_suit_the_amount():
    paying = remitted(make_claim(("99213", "150.00")))
    zero = remitted(make_claim(("99213", "150.00"), member_id="UNKNOWN"))
    with pytest.raises(ValueError, match="zero-pay remittance; these claims pay"):
        era([paying], payment=NO_PAYMENT)
    with pytest.raises(ValueError, match="uses payment method NON"):
        era([zero], payment=CHECK)
    with pytest.raises(ValueError, match="both bank accounts"):
        Payment(method="ACH", payment_date=date(2026, 3, 23), trace_number="T1")
    with pytest.raises(ValueError, match="both bank accounts"):
        replace(CHECK, payer_bank=BankAccount("011000015", "1"), payee_bank=BankAccount("021000021", "2"))


def test_claim_and_adjudication_must_belong_together():
    one, other = make_claim(("99213", "150.00")), make_claim(("99213", "150.00"))
    with pytest.raises(ValueError, match="not for this claim"):
        RemittedClaim(one, adjudicate(other, BENEFITS, RULES), "X")
    with pytest.raises(ValueError, match="CLP06"):
        RemittedClaim(one, adjudicate(one, BENEFITS, RULES), "X", claim_filing_indicator="CI")
    with pytest.raises(ValueError, match="payer claim control number"):
        RemittedClaim(one, adjudicate(one, BENEFITS, RULES), " ")


def test_too_many_remark_codes_are_refused():
    claim = make_claim(("99213", "150.00"))
    adjudication = replace(adjudicate(claim, BENEFITS, RULES), remark_codes=["N1", "N2", "N3", "N4", "N5", "N6"])
    with pytest.raises(ValueError, match="at most 5 RARC"):
        era([RemittedClaim(claim, adjudication, "X")])


@pytest.mark.parametrize("build, message", [
    (lambda: replace(PAYER, tax_id="12-345678"), "9-digit EIN"),
    (lambda: replace(PAYER, contact_phone="555-1212"), "10 digits"),
    (lambda: replace(PAYEE, npi="123"), "NPI"),
    (lambda: BankAccount("1234", "1"), "routing"),
    (lambda: replace(CHECK, trace_number="has space"), "trace number"),
])
def test_party_and_payment_fields_are_checked(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_an_835_pays_at_least_one_claim():
    with pytest.raises(ValueError, match="at least one claim"):
        era([])


# ---------------------------------------------------------------- what real payers send: reversals, PLB, secondary

WRONG_RULES = replace(RULES, fee_schedule={**RULES.fee_schedule, "99213": D("104.00")})  # the rate later corrected


def test_reversal_and_correction_in_one_check_park_the_overpayment_with_a_negative_wo():
    claim = make_claim(("99213", "150.00"), ("36415", "20.00", "2"))
    original = RemittedClaim(claim, adjudicate(claim, BENEFITS, WRONG_RULES), "SBX0001")
    corrected = RemittedClaim(claim, adjudicate(claim, BENEFITS, RULES), "SBX0001")
    [plan] = plan_checks([], [("k", original, corrected)], [])
    assert plan.total == 0  # the overpayment is not netted from this check: it pays nothing more, takes nothing
    text = era(plan.claims, provider_adjustments=plan.adjustments, payment=NO_PAYMENT)
    assert texts(text)[1] == "BPR*H*0*C*NON************20260323"
    pcn = patient_control_number(claim.claim_id)
    clps = [s for s in texts(text) if s.startswith("CLP")]
    # the original: allowed 104, copay 15, deductible 20, coinsurance 13.80, paid 55.20 (+ 4.80 and 1.20 PR-2)
    assert clps == [f"CLP*{pcn}*22*-170*-60*-50*12*SBX0001*11*1", f"CLP*{pcn}*1*170*50.78*47.69*12*SBX0001*11*1"]
    assert "SVC*HC:99213*-150*-55.2" in texts(text) and "CAS*CO*45*-46" in texts(text)
    assert "CAS*PR*3*-15**1*-20**2*-13.8" in texts(text) and "AMT*B6*-104" in texts(text)
    overpaid = D("60.00") - D("50.78")
    assert texts(text)[-2] == f"PLB*1234567893*20261231*WO:{pcn}*-{overpaid}"
    assert plan.overpaid == {claim.claim_id: overpaid}
    assert_balanced_835(text)
    assert_pyx12_valid(text, "835")


def test_a_later_check_recovers_the_parked_overpayment_with_a_positive_wo_never_more_than_it_pays():
    earlier = make_claim(("99213", "150.00"))
    new = make_claim(("99213", "150.00"))
    paying = RemittedClaim(new, adjudicate(new, BENEFITS, RULES), "SBX0002")  # pays 45.98
    [plan] = plan_checks([("k", paying)], [], [("k", PendingRecovery(earlier.claim_id, D("9.22"))),
                                             ("other", PendingRecovery(uuid_of(), D("1.00")))])
    assert plan.recovered == {earlier.claim_id: D("9.22")}
    text = era(plan.claims, provider_adjustments=plan.adjustments, payment=CHECK)
    assert texts(text)[1] == "BPR*I*36.76*C*CHK************20260323"
    assert texts(text)[-2] == f"PLB*1234567893*20261231*WO:{patient_control_number(earlier.claim_id)}*9.22"
    assert_balanced_835(text)
    assert_pyx12_valid(text, "835")

    [small] = plan_checks([("k", paying)], [], [("k", PendingRecovery(earlier.claim_id, D("100.00")))])
    assert small.recovered == {earlier.claim_id: D("45.98")} and small.total == 0  # the rest waits


def uuid_of():
    import uuid
    return uuid.uuid4()


def test_interest_on_a_late_payment_is_amt_i_on_the_claim_and_plb_l6_on_the_check():
    claim = make_claim(("99213", "150.00"))
    late = RemittedClaim(claim, adjudicate(claim, BENEFITS, RULES), "SBX0003", interest=D("0.68"))
    [plan] = plan_checks([("k", late)], [], [])
    text = era(plan.claims, provider_adjustments=plan.adjustments)
    pcn = patient_control_number(claim.claim_id)
    assert "AMT*I*0.68" in texts(text)
    at = texts(text).index("AMT*I*0.68")
    assert texts(text)[at - 1] == "DTM*232*20260302" and texts(text)[at + 1].startswith("SVC*")  # 2100 order
    assert texts(text)[-2] == f"PLB*1234567893*20261231*L6:{pcn}*-0.68"
    assert D(texts(text)[1].split("*")[2]) == D("45.98") + D("0.68")
    assert_balanced_835(text)
    assert_pyx12_valid(text, "835")


def test_interest_is_one_l6_per_claim_and_past_the_plbs_room_the_rest_is_paid_net():
    claims = [make_claim(("99213", "150.00")) for _ in range(8)]
    late = [RemittedClaim(c, adjudicate(c, BENEFITS, RULES), f"SBX{n}", interest=D("1.10")) for n, c in enumerate(claims)]
    [plan] = plan_checks([("k", r) for r in late[:2]], [], [])
    text = era(plan.claims, provider_adjustments=plan.adjustments)
    pcns = [patient_control_number(c.claim_id) for c in claims]
    assert [s for s in texts(text) if s.startswith("PLB")] == [
        f"PLB*1234567893*20261231*L6:{pcns[0]}*-1.1*L6:{pcns[1]}*-1.1"]
    [crowded] = plan_checks([("k", r) for r in late], [], [])
    assert [(a.reference, a.amount) for a in crowded.adjustments] == [
        *[(pcn, D("-1.10")) for pcn in pcns[:5]], (None, D("-3.30"))]
    text = era(crowded.claims, provider_adjustments=crowded.adjustments)
    assert_balanced_835(text)
    assert_pyx12_valid(text, "835")


def test_the_writer_splits_more_than_six_adjustments_over_plb_segments():
    claim = make_claim(("99213", "150.00"))
    text = era([remitted(claim)], provider_adjustments=[ProviderAdjustment("WO", f"R{n}", D("1.00")) for n in range(7)])
    plbs = [s for s in texts(text) if s.startswith("PLB")]
    assert [s.count("WO:") for s in plbs] == [6, 1]
    assert_balanced_835(text)


def test_a_check_parks_at_most_six_adjustments_and_the_rest_waits():
    reprocessed = []
    for n in range(7):
        claim = make_claim(("99213", "150.00"))
        reprocessed.append(("k", RemittedClaim(claim, adjudicate(claim, BENEFITS, WRONG_RULES), f"S{n}"),
                            RemittedClaim(claim, adjudicate(claim, BENEFITS, RULES), f"S{n}")))
    [plan] = plan_checks([], reprocessed, [("k", PendingRecovery(uuid_of(), D("1.00")))])
    assert len(plan.reprocessed) == 6 and len(plan.adjustments) == 6 and not plan.recovered
    assert [c.reversal for c in plan.claims] == [True, False] * 6
    text = era(plan.claims, provider_adjustments=plan.adjustments, payment=NO_PAYMENT)
    assert_balanced_835(text)
    assert_pyx12_valid(text, "835")


def test_secondary_payment_is_clp02_2_with_the_prior_payers_impact_as_oa23():
    primary = make_claim(("99213", "150.00"), ("36415", "20.00", "2"))
    first = adjudicate(primary, BENEFITS, RULES)  # copay 15, deductible 20, coinsurance 11.49 + 1.20
    other = OtherPayer(coverage=primary.coverage, paid_amount=first.paid, adjudication_date=date(2026, 3, 20),
                       adjustments=[Adjustment(group_code=g, reason_code=r, amount=a) for g, r, a in first.adjustments])
    claim = primary.model_copy(update={"payer_responsibility": "S", "other_payers": [other]})
    supplement = replace(RULES, payer_id="SBX03", secondary_covers=frozenset({"1", "2"}))
    plain = replace(BENEFITS, deductible_remaining=D(0), coinsurance_rate=D(0), copay=D(0))
    text = era([RemittedClaim(claim, adjudicate_secondary(claim, plain, supplement), "SBX0004")])
    clp = next(s for s in texts(text) if s.startswith("CLP")).split("*")
    assert clp[2:6] == ["2", "170", "32.69", "15"]  # deductible and coinsurance paid, the copay stays
    # the primary reported claim-level adjustments only: its patient share is laid on the lines in order
    assert "CAS*OA*23*102.31" in texts(text) and "CAS*PR*3*15" in texts(text) and "CAS*OA*23*20" in texts(text)
    assert_balanced_835(text)
    assert_pyx12_valid(text, "835")


def test_refusals_for_provider_adjustments():
    claim = make_claim(("99213", "150.00"))
    paid = remitted(claim)
    with pytest.raises(ValueError, match="AMT\\*I"):
        era([paid], provider_adjustments=[ProviderAdjustment("L6", "X", D("-1.00"))])
    with pytest.raises(ValueError, match="negative amount"):
        era([paid], provider_adjustments=[ProviderAdjustment("WO", "X", D("100.00"))])
    with pytest.raises(ValueError, match="zero"):
        ProviderAdjustment("WO", "X", D("0"))
    with pytest.raises(ValueError, match="not with its reversal"):
        RemittedClaim(claim, paid.adjudication, "X", reversal=True, interest=D("1.00"))
