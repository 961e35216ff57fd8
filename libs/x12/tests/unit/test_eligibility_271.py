"""271 reader: every shared sample (with its known defects), and one hand-written 271 per rule."""

import re
from datetime import date, datetime
from decimal import Decimal

import pytest

from rcm_x12.eligibility_271 import (
    AmountBasis,
    CoverageSummary,
    DateRange,
    Network,
    Unparseable271,
    Unsupported271Version,
    parse_271,
)
from rcm_runtime.failures import safe_reason
from rcm_x12.codec import EnvelopeErrorCode, Segment, build_interchange
from tests.support.claims import make_claim, make_coverage
from tests.support.shared import need, sample_file, sample_files, sample_params, samples_dir

E = EnvelopeErrorCode
NOW = datetime(2026, 3, 14, 9, 5)
SERVICE_TYPES = ["1", "33", "35", "47", "86", "88", "98", "AL", "MH", "UC"]  # EB03 of the TR3 example copays


# ---------------------------------------------------------------- shared samples


def only(summaries: list[CoverageSummary]) -> CoverageSummary:
    assert len(summaries) == 1
    return summaries[0]


def assert_tr3_example_coverage(s: CoverageSummary, *, payer_id: str, dependent: bool) -> None:
    """The TR3 'GOLD 123 PLAN' example every tool copies: HMO, $10 in-network / $30 out-of-network copays."""
    assert s.active is True
    assert (s.payer_id, s.payer_name, s.member_id) == (payer_id, "ABC COMPANY", "123456789")
    assert s.is_dependent is dependent
    assert s.relationship_code == ("19" if dependent else None)
    assert s.trace_number == "93175-012547"
    assert (s.plan_description, s.insurance_types) == ("GOLD 123 PLAN", ("HM",))
    assert s.coverage_period == DateRange(date(2006, 1, 1), None)
    for service_type in SERVICE_TYPES:
        assert s.copay_amount(service_type, Network.IN) == Decimal("10")
        assert s.copay_amount(service_type, Network.OUT) == Decimal("30")
    assert [c.time_period for c in s.copays] == ["27"] * 20  # per visit
    assert s.copay_amount("30") is None  # no copay was given at plan level
    assert s.deductibles == s.out_of_pocket_limits == s.coinsurance == s.authorizations == ()
    assert s.rejections == ()


def check_badx12_error(s: CoverageSummary) -> None:
    assert (s.payer_id, s.member_id, s.active) == ("842610001", None, None)
    [r] = s.rejections
    assert (r.code, r.follow_up_code, r.loop, r.request_valid) == ("50", "N", "2100B", True)
    assert r.meaning.startswith("Provider ineligible for inquiries")
    assert r.follow_up_action == "Resubmission not allowed"
    assert s.envelope_errors == ()


def check_lfh_error(s: CoverageSummary) -> None:
    # Same AAA as the badx12 example, but SE02 (4323) does not match ST02 (4321): read, and reported.
    [r] = s.rejections
    assert (r.code, r.follow_up_action, r.loop) == ("50", "Resubmission not allowed", "2100B")
    assert s.active is None and s.member_id is None
    assert [e.code for e in s.envelope_errors] == [E.SE_CONTROL_NUMBER]


def check_badx12_subscriber(s: CoverageSummary) -> None:
    assert_tr3_example_coverage(s, payer_id="842610001", dependent=False)
    # GS08/ST03 say 005010X279 (no A1): read anyway, but said so.
    assert s.warnings == ("implementation reference '005010X279' is not 005010X279A1; read as 005010X279A1",)
    assert s.envelope_errors == ()


def check_badx12_dependent(s: CoverageSummary) -> None:
    assert_tr3_example_coverage(s, payer_id="842610001", dependent=True)  # member id comes from 2100C
    assert len(s.warnings) == 1 and s.envelope_errors == ()


def check_edifabric(s: CoverageSummary) -> None:
    assert_tr3_example_coverage(s, payer_id="842610001", dependent=False)
    assert [e.code for e in s.envelope_errors] == [E.FUNCTIONAL_ID_MISMATCH]  # GS01 HC on a 271
    assert s.warnings == ()


def check_lfh_subscriber(s: CoverageSummary) -> None:
    # The LFH copy says 841610001 (its 270 asked 842610001) and moves the copays after the 2120 LS/LE.
    assert_tr3_example_coverage(s, payer_id="841610001", dependent=False)
    assert s.copay_amount("98") == Decimal("10.00")
    assert s.envelope_errors == () and s.warnings == ()


def check_lfh_dependent(s: CoverageSummary) -> None:
    assert_tr3_example_coverage(s, payer_id="841610001", dependent=True)
    assert s.envelope_errors == () and s.warnings == ()


def check_nodex12(s: CoverageSummary) -> None:
    # Medicare (HETS via a clearinghouse) for a QMB: Part A + B active, zero deductibles/coinsurance.
    assert (s.payer_id, s.payer_name, s.member_id, s.active) == ("CMS", "CMS", "9UY4R33KV83", True)
    assert s.insurance_types == ("MA", "MB")
    assert s.plan_description is None
    # the plan's begin (EB*1 DTP*291 D8), open-ended; never DTP*307 RD8 20191230-20191230, the inquiry date
    assert s.coverage_period == DateRange(date(2015, 7, 1), None)
    assert [(d.amount, d.time_period, d.insurance_type) for d in s.deductibles] == [
        (Decimal("0"), "26", "QM"), (Decimal("0"), "23", "QM")]  # Part A per episode, Part B per calendar year
    assert s.deductible_amount(level=None, basis=AmountBasis.TOTAL) == Decimal("0")
    assert s.coinsurance_rate("30") == Decimal("0")
    assert s.copays == () and s.out_of_pocket_limits == () and s.rejections == ()
    assert s.plan_number is None  # REF*18*S5601 belongs to EB*R (the SilverScript drug plan), not this plan
    assert s.trace_number is None  # the clearinghouse sent TRN01=1, not the echoed trace (2)
    assert [e.code for e in s.envelope_errors] == [E.FUNCTIONAL_ID_MISMATCH, E.MISSING_GE, E.MISSING_IEA]


SAMPLE_CHECKS = {
    "badx12_X279-error-response-from-payer-to-clinic-not-eligible-for-inquiries-with-payer.271": check_badx12_error,
    "badx12_X279-response-to-generic-request-by-clinic-for-patient-subscriber-eligibility.271":
        check_badx12_subscriber,
    "badx12_X279-response-to-generic-request-by-physician-for-patient-dependent-eligibility.271":
        check_badx12_dependent,
    "edifabric_response.271": check_edifabric,
    "lfh_dependent.271": check_lfh_dependent,
    "lfh_subscriber-error.271": check_lfh_error,
    "lfh_subscriber.271": check_lfh_subscriber,
    "nodex12_271.edi": check_nodex12,
}


@pytest.mark.parametrize("path", sample_params("x12", "271"))
def test_every_shared_271_sample_parses(path):
    summaries = parse_271(path.read_text())
    assert summaries and all(s.payer_id for s in summaries)
    for s in summaries:  # no PHI beyond the member id survives the parse
        text = repr(s)
        assert "SMITH" not in text and "BELMAR" not in text and "BROADWAY" not in text and "1963" not in text
    check = SAMPLE_CHECKS.get(path.name)
    if check is None:
        return  # parses; no specific expectations written for this new sample yet
    check(only(summaries))


def test_every_specific_check_has_its_sample():
    need(samples_dir("x12", "271"))
    assert set(SAMPLE_CHECKS) <= {p.name for p in sample_files("x12", "271")}


# ---------------------------------------------------------------- hand-written 271s


def response(*subscriber: str, dependent: list[str] | None = None, source_2000a: list[str] = (),
             source_2100a: list[str] = (), receiver: list[str] = (), version: str = "005010X279A1",
             second_subscriber: list[str] | None = None) -> str:
    """A 271 around the given 2100C/2110C segments (plus optional dependent, second subscriber, AAAs above)."""
    body = [
        "BHT*0022*11*REF1*20260314*0905",
        "HL*1**20*1", *source_2000a, "NM1*PR*2*ACME HEALTH*****PI*60054", *source_2100a,
        "HL*2*1*21*1", "NM1*1P*2*CLINIC*****XX*1234567893", *receiver,
        f"HL*3*2*22*{'1' if dependent else '0'}", "TRN*2*T-1*9000000001", "NM1*IL*1*DOE*JANE****MI*W123",
        "DMG*D8*19700101*F", *subscriber,
    ]
    if dependent is not None:
        body += ["HL*4*3*23*0", "TRN*2*T-2*9000000001", "NM1*03*1*DOE*JIM", "INS*N*19", *dependent]
    if second_subscriber is not None:
        body += ["HL*5*2*22*0", "NM1*IL*1*ROE*RICHARD****MI*W999", *second_subscriber]
    segments = [Segment("ST", ["271", "0001", version])]
    segments += [Segment(tag, elements) for tag, *elements in (s.split("*") for s in body)]
    return build_interchange("ACME", "CLINIC", 7, "HB", "005010X279A1", [segments], now=NOW)


ACTIVE = "EB*1**30**GOLD PPO"


def test_individual_vs_family_deductible_and_out_of_pocket():
    s = only(parse_271(response(
        ACTIVE,
        "EB*C*IND*30***23*500*****Y", "EB*C*FAM*30***23*1500*****Y",
        "EB*G*IND*30***23*3000*****Y", "EB*G*FAM*30***23*6000*****Y",
    )))
    assert s.deductible_amount("IND") == Decimal("500")
    assert s.deductible_amount("FAM") == Decimal("1500")
    assert s.out_of_pocket_amount("IND") == Decimal("3000")
    assert s.out_of_pocket_amount("FAM") == Decimal("6000")
    assert s.deductible_amount("ESP") is None


def test_remaining_vs_total_vs_met():
    s = only(parse_271(response(
        ACTIVE,
        "EB*C*IND*30***22*750*****Y", "EB*C*IND*30***29*123.45*****Y", "EB*C*IND*30***24*626.55*****Y",
        "EB*G*FAM*30***25*8000*****Y", "EB*G*FAM*30***29*7999.99*****Y", "EB*G*IND*30***33*1000000*****Y",
    )))
    assert s.deductible_amount("IND", AmountBasis.TOTAL) == Decimal("750")  # 22 service year
    assert s.deductible_amount("IND", AmountBasis.REMAINING) == Decimal("123.45")
    assert s.deductible_amount("IND", AmountBasis.MET) == Decimal("626.55")  # 24 year to date
    assert s.out_of_pocket_amount("FAM", AmountBasis.TOTAL) == Decimal("8000")  # 25 contract
    assert s.out_of_pocket_amount("FAM", AmountBasis.REMAINING) == Decimal("7999.99")
    assert s.out_of_pocket_amount("IND", AmountBasis.REMAINING) == Decimal("1000000")  # 33 lifetime remaining
    assert [d.time_period for d in s.deductibles] == ["22", "29", "24"]


def test_in_vs_out_of_network_and_not_applicable_fallback():
    s = only(parse_271(response(
        ACTIVE,
        "EB*C*IND*30***23*500*****Y", "EB*C*IND*30***23*1000*****N",
        "EB*G*IND*30***23*6000*****W",
        "EB*B**98***27*25*****Y", "EB*B**98***27*60*****N",
        "EB*A**98*****0.2****Y", "EB*A**98*****0.4****N",
        "EB*B**UC***27*75",
    )))
    assert s.deductible_amount(network=Network.IN) == Decimal("500")
    assert s.deductible_amount(network=Network.OUT) == Decimal("1000")
    # W = not applicable: the same limit whichever network
    assert s.out_of_pocket_amount(network=Network.IN) == s.out_of_pocket_amount(network=Network.OUT) == Decimal("6000")
    assert (s.copay_amount("98", Network.IN), s.copay_amount("98", Network.OUT)) == (Decimal("25"), Decimal("60"))
    assert (s.coinsurance_rate("98", Network.IN), s.coinsurance_rate("98", Network.OUT)) == (
        Decimal("0.2"), Decimal("0.4"))
    # no EB12: not network-specific, so it answers both
    assert s.copay_amount("UC", Network.IN) == s.copay_amount("UC", Network.OUT) == Decimal("75")
    assert s.copay_amount("UC", Network.IN) is not None and s.copays[-1].network is Network.UNKNOWN


def test_copay_and_coinsurance_per_service_type_repetition():
    s = only(parse_271(response(ACTIVE, "EB*B**98^MH^UC***27*35*****Y", "EB*A*IND*1^2*****0.10****Y")))
    assert [(c.service_type, c.value) for c in s.copays] == [("98", 35), ("MH", 35), ("UC", 35)]
    assert s.coinsurance_rate("1") == s.coinsurance_rate("2") == Decimal("0.10")
    assert s.coinsurance[0].coverage_level == "IND"


def test_authorization_required_per_service_type():
    s = only(parse_271(response(
        ACTIVE,
        "EB*B**98^UC***27*25****Y*Y",
        "EB*B**2***27*50****N*Y",
        "EB*A**MH*****0.2***Y*N",
        "EB*1**48********U",
    )))
    assert s.authorization_required("98") is True and s.authorization_required("UC") is True
    assert s.authorization_required("2") is False
    assert s.authorization_required("MH", Network.OUT) is True
    assert s.authorization_required("MH", Network.IN) is None  # only the out-of-network rule was given
    assert s.authorization_required("48") is None  # U = unknown
    assert [a for a in s.authorizations if a.service_type == "48"][0].required is None
    assert s.authorization_required("30") is None  # not stated
    assert {a.service_type for a in s.authorizations if a.required} == {"98", "UC", "MH"}


@pytest.mark.parametrize("eb, active", [
    ("EB*1**30", True), ("EB*5**30", True), ("EB*6**30", False), ("EB*8**30", False),
    ("EB*V", None), ("EB*B**98***27*25", None),
])
def test_active_from_eb01(eb, active):
    assert only(parse_271(response(eb))).active is active


def test_active_wins_over_inactive_for_another_service():
    assert only(parse_271(response("EB*6**35", "EB*1**30"))).active is True


def test_plan_group_and_coverage_dates():
    s = only(parse_271(response(
        "REF*6P*G-100*ACME EMPLOYEES", "REF*18*PLAN-9", "DTP*346*D8*20260101", "DTP*347*D8*20261231",
        "DTP*307*RD8*20260314-20260314",
        "EB*1**30*PR*GOLD PPO",
        "EB*R**88*OT", "REF*18*OTHER-PLAN", "REF*6P*OTHER-GROUP",
    )))
    assert (s.plan_number, s.group_number, s.group_name) == ("PLAN-9", "G-100", "ACME EMPLOYEES")
    assert (s.plan_description, s.insurance_types) == ("GOLD PPO", ("PR",))
    assert s.coverage_period == DateRange(date(2026, 1, 1), date(2026, 12, 31))  # plan dates beat 307
    assert s.coverage_period.contains(date(2026, 3, 14)) and not s.coverage_period.contains(date(2027, 1, 1))


def test_the_coverage_period_travels_on_the_claim_for_the_scrubber():
    from rcm_eligibility.domain.decision import CoverageSnapshot, snapshot_of, with_coverage_period

    snapshot = snapshot_of(parse_271(response("DTP*346*D8*20260101", "DTP*347*D8*20261231", "EB*1**30")))
    assert (snapshot.coverage_start, snapshot.coverage_end) == ("2026-01-01", "2026-12-31")
    assert CoverageSnapshot.from_json(snapshot.as_json()) == snapshot  # cached snapshots keep it
    claim = make_claim(service_date=date(2026, 3, 14), coverage=make_coverage())
    dated = with_coverage_period(claim, snapshot)
    assert (dated.coverage.effective_from, dated.coverage.effective_to) == (date(2026, 1, 1), date(2026, 12, 31))
    assert with_coverage_period(claim, CoverageSnapshot(active=True)) is claim  # no dates reported: unchanged


@pytest.mark.parametrize("dates, expected", [
    (["DTP*356*D8*20250601", "DTP*357*D8*20260531"], DateRange(date(2025, 6, 1), date(2026, 5, 31))),
    (["DTP*291*RD8*20260101-20261231"], DateRange(date(2026, 1, 1), date(2026, 12, 31))),
    (["DTP*307*D8*20240201"], None),  # the eligibility (inquiry) date is never the coverage period
    (["DTP*307*RD8*20260314-20260314"], None),
    (["DTP*347*D8*20261231"], DateRange(None, date(2026, 12, 31))),
    (["DTP*346*RD8*20260101-20261231"], DateRange(date(2026, 1, 1), date(2026, 12, 31))),
    (["DTP*356*RD8*20250601-20260531"], DateRange(date(2025, 6, 1), date(2026, 5, 31))),
    (["DTP*307*RD8*20260314-20260314", "DTP*346*D8*20260101"], DateRange(date(2026, 1, 1), None)),
    (["DTP*472*D8*20260314"], None),  # service date says nothing about coverage
    # a commercial payer's eligibility period as a 307 range: taken when nothing better is given
    (["DTP*307*RD8*20260101-20261231"], DateRange(date(2026, 1, 1), date(2026, 12, 31))),
])
def test_coverage_date_qualifiers(dates, expected):
    assert only(parse_271(response(*dates, "EB*1**30"))).coverage_period == expected


@pytest.mark.parametrize("eb_dates, expected", [
    (["DTP*291*D8*20260101"], DateRange(date(2026, 1, 1), None)),  # plan begin
    (["DTP*291*D8*20260101", "DTP*292*D8*20261231"], DateRange(date(2026, 1, 1), date(2026, 12, 31))),
    (["DTP*291*RD8*20240101-20241231"], DateRange(date(2024, 1, 1), date(2024, 12, 31))),
    (["DTP*307*D8*20260314"], None),
])
def test_coverage_period_from_the_active_benefit_plan_dates(eb_dates, expected):
    assert only(parse_271(response("DTP*307*D8*20260314", "EB*1**30", *eb_dates))).coverage_period == expected


def test_a_dependent_without_its_own_dates_takes_the_subscriber_plan_dates():
    s = parse_271(response("DTP*346*D8*20260101", "DTP*347*D8*20261231",
                           dependent=["DTP*307*D8*20260314", "EB*1**30"]))[-1]
    assert s.is_dependent and s.coverage_period == DateRange(date(2026, 1, 1), date(2026, 12, 31))


def test_active_benefit_dates_fill_in_what_2100c_leaves_out():
    s = only(parse_271(response("DTP*346*D8*20260101", "EB*1**30", "DTP*347*D8*20260630",
                                "EB*C*IND*30***23*500", "DTP*291*RD8*20200101-20201231")))
    assert s.coverage_period == DateRange(date(2026, 1, 1), date(2026, 6, 30))


def test_group_number_from_the_active_benefit_when_2100c_has_none():
    s = only(parse_271(response("EB*1**30", "REF*6P*G-7", "EB*R**88", "REF*18*NOT-OURS")))
    assert (s.group_number, s.plan_number) == ("G-7", None)


# ---------------------------------------------------------------- rejections


def test_rejections_at_every_level_with_loop_and_text():
    s = only(parse_271(response(
        "AAA*N**72*C",
        "EB*1**30", "AAA*Y**57*R",
        source_2000a=["AAA*Y**42*W"], source_2100a=["AAA*Y**80*Y"],
        receiver=["AAA*N**43*C"],
    )))
    assert [(r.loop, r.code, r.follow_up_code) for r in s.rejections] == [
        ("2000A", "42", "W"), ("2100A", "80", "Y"), ("2100B", "43", "C"), ("2100C", "72", "C"), ("2110C", "57", "R")]
    by_code = {r.code: r for r in s.rejections}
    assert by_code["72"].meaning == "Invalid or missing subscriber/insured ID"
    assert by_code["72"].follow_up_action == "Please correct and resubmit"
    assert by_code["72"].request_valid is False
    assert by_code["42"].meaning.startswith("Payer unable to respond")
    assert by_code["42"].follow_up_action == "Please wait 30 days and resubmit"
    assert by_code["80"].follow_up_action.startswith("Do not resubmit; we will hold your request")
    assert by_code["57"].follow_up_action == "Resubmission allowed"


@pytest.mark.parametrize("code, meaning", [
    ("15", "Required application data missing"), ("41", "Authorization/access restrictions"),
    ("45", "Invalid or missing provider specialty"), ("47", "Invalid or missing provider state"),
    ("48", "Invalid or missing referring provider"), ("49", "Provider is not the patient's primary care"),
    ("51", "Provider not on file"), ("52", "Service dates not within the provider's plan enrollment"),
    ("56", "Inappropriate date"), ("58", "Invalid or missing date of birth"),
    ("60", "Date of birth follows"), ("62", "Date of service not within the allowable inquiry period"),
    ("63", "Date of service is in the future"), ("71", "Patient birth date does not match"),
    ("73", "Invalid or missing subscriber/insured name"), ("74", "Invalid or missing subscriber/insured gender"),
    ("75", "Subscriber/insured not found"), ("76", "Duplicate subscriber/insured ID"),
    ("78", "Subscriber/insured not in the group/plan"), ("ZZ", "Unrecognised reject reason code 'ZZ'"),
])
def test_common_reject_reasons_have_plain_words(code, meaning):
    [r] = only(parse_271(response(f"AAA*Y**{code}*C"))).rejections
    assert r.meaning.startswith(meaning)


@pytest.mark.parametrize("follow_up, action", [
    ("C", "Please correct and resubmit"), ("N", "Resubmission not allowed"), ("R", "Resubmission allowed"),
    ("W", "Please wait 30 days and resubmit"), ("X", "Please wait 10 days and resubmit"),
    ("Y", "Do not resubmit; we will hold your request and respond again shortly"),
    ("P", "Please resubmit original transaction"), ("S", "Do not resubmit; inquiry initiated to a third party"),
    ("", "No follow-up action given"), ("Q", "Unrecognised follow-up action code 'Q'"),
])
def test_follow_up_actions(follow_up, action):
    [r] = only(parse_271(response(f"AAA*Y**75*{follow_up}"))).rejections
    assert r.follow_up_action == action and r.follow_up_code == (follow_up or None)


def test_subscriber_not_found_leaves_activity_unknown():
    s = only(parse_271(response("AAA*Y**75*C")))
    assert s.active is None and s.member_id == "W123" and [r.code for r in s.rejections] == ["75"]


def test_dependent_inherits_subscriber_level_rejections_but_not_its_benefit_ones():
    summaries = parse_271(response("AAA*Y**15*C", dependent=["AAA*Y**77*C"]))
    [s] = summaries  # the subscriber loop only identifies the family: no summary of its own
    assert s.is_dependent and s.member_id == "W123" and s.trace_number == "T-2"
    assert [(r.loop, r.code) for r in s.rejections] == [("2100C", "15"), ("2100D", "77")]


def test_subscriber_with_own_benefits_and_dependents_gets_both_summaries():
    sub, dep = parse_271(response("EB*1**30", dependent=["EB*6**30"]))
    assert (sub.is_dependent, sub.active, sub.relationship_code) == (False, True, None)
    assert (dep.is_dependent, dep.active, dep.relationship_code) == (True, False, "19")


def test_one_summary_per_subscriber_loop():
    first, second = parse_271(response("EB*1**30", second_subscriber=["EB*6**30"]))
    assert (first.member_id, first.active) == ("W123", True)
    assert (second.member_id, second.active) == ("W999", False)


# ---------------------------------------------------------------- defects and non-271 input


def test_bad_numbers_and_dates_become_warnings():
    s = only(parse_271(response("DTP*346*D8*20261399", "EB*1**30", "EB*C*IND*30***23*ABC",
                                "EB*A**98*****20")))
    assert s.deductibles == () and s.coverage_period is None
    assert s.coinsurance_rate("98") == Decimal("20")
    assert s.warnings == ("DTP*'346' has an unreadable date", "EB07 of EB*C is not a number; ignored",
                          "EB08 coinsurance is outside 0..1 (percent sent instead of a fraction?)")


def test_another_5010_implementation_reference_is_read_with_a_warning():
    s = only(parse_271(response("EB*1**30", version="005010X279")))
    assert s.active is True
    assert s.warnings == ("implementation reference '005010X279' is not 005010X279A1; read as 005010X279A1",)


def test_a_4010_271_is_rejected_never_read_as_5010():
    with pytest.raises(Unsupported271Version, match=r"version '004010X092A1' \(ST03\) is not 5010") as caught:
        parse_271(response("EB*1**30", version="004010X092A1"))
    assert isinstance(caught.value, Unparseable271) and safe_reason(caught.value) == caught.value.reason


def test_a_271_whose_delimiters_collide_is_rejected_with_the_reason():
    text = response("EB*1**30").replace("*P*:~", "*P*^~", 1)  # ISA16 component = ISA11 repetition
    assert text.count("*P*^~") == 1
    with pytest.raises(Unparseable271, match="not an X12 interchange: ISA delimiters are not distinct"):
        parse_271(text)


def test_envelope_defects_are_carried_not_raised():
    text = re.sub(r"~SE\*[0-9]+\*", "~SE*99*", response("EB*1**30"))
    s = only(parse_271(text))
    assert s.active is True and [e.code for e in s.envelope_errors] == [E.SE_SEGMENT_COUNT]


@pytest.mark.parametrize("text, reason", [
    ("", "not an X12 interchange"),
    ("Dear provider, the patient SMITH is eligible.", "not an X12 interchange"),
    ('{"member": "SMITH"}', "not an X12 interchange"),
])
def test_non_x12_input_is_unparseable(text, reason):
    with pytest.raises(Unparseable271, match=reason) as caught:
        parse_271(text)
    assert "SMITH" not in caught.value.reason


def test_a_270_is_not_a_271():
    inquiry = build_interchange("A", "B", 1, "HS", "005010X279A1", [[
        Segment("ST", ["270", "0001", "005010X279A1"]), Segment("NM1", ["IL", "1", "SMITH", "JOHN"])]], now=NOW)
    with pytest.raises(Unparseable271) as caught:
        parse_271(inquiry)
    assert caught.value.reason == "no 271 transaction set in the file (found: '270')"
    assert safe_reason(caught.value) == caught.value.reason  # a DomainError: safe to store as-is


def test_a_271_without_hierarchy_is_unparseable():
    text = build_interchange("A", "B", 1, "HB", "005010X279A1", [[
        Segment("ST", ["271", "0001", "005010X279A1"]), Segment("BHT", ["0022", "11"])]], now=NOW)
    with pytest.raises(Unparseable271, match="no information source"):
        parse_271(text)


def test_shared_270_sample_is_refused_as_a_271():
    text = sample_file("x12", "270", "lfh_subscriber.270").read_text()
    with pytest.raises(Unparseable271, match="found: '270'"):
        parse_271(text)
