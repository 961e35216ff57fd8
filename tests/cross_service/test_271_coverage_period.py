"""The coverage period a 271 reports, from the payer's answer through eligibility to the claim the scrubber judges
(pure; both services' domains, hence here): the plan and eligibility dates (346/347, 356/357, EB-level 291/292,
RD8 ranges), never the inquiry date DTP*307; and what the 271 reader found (issues) or could not read (a 4010
answer) kept on the snapshot."""

from datetime import date, datetime, timezone

from rcm_contracts.events import CoverageVerified, EligibilityHeld
from rcm_eligibility.domain.decision import (
    CoverageSnapshot,
    decide,
    snapshot_of,
    unreadable_snapshot,
    with_coverage_period,
)
from rcm_eligibility.domain.prior_auth import AuthRuleTable
from rcm_eligibility.service import outcome_event
from rcm_scrubber.domain.engine import ScrubContext, scrub
from rcm_x12.codec import Segment, build_interchange
from rcm_x12.eligibility_271 import Unparseable271, read_271
from tests.support.claims import make_claim, make_coverage

NOW = datetime(2026, 3, 14, 9, 5, tzinfo=timezone.utc)
INQUIRY_DAY = "20260314"


def cms_style_271(*subscriber: str, version: str = "005010X279A1") -> str:
    """A Medicare (HETS-like) 271: the 2100C carries DTP*307 = the day the inquiry was answered."""
    body = ["BHT*0022*11*REF1*20260314*0905", "HL*1**20*1", "NM1*PR*2*CMS*****PI*CMS",
            "HL*2*1*21*1", "NM1*1P*2*CLINIC*****XX*1234567893", "HL*3*2*22*0", "TRN*2*T-1*9000000001",
            "NM1*IL*1*DOE*JANE****MI*9UY4R33KV83", f"DTP*307*RD8*{INQUIRY_DAY}-{INQUIRY_DAY}", *subscriber]
    segments = [Segment("ST", ["271", "0001", version])]
    segments += [Segment(tag, elements) for tag, *elements in (s.split("*") for s in body)]
    return build_interchange("CMS", "CLINIC", 7, "HB", version, [segments], now=NOW)


def verified_claim(text: str, service_date: date):
    response = read_271(text)
    snapshot = snapshot_of(list(response.summaries), response.issues)
    claim = make_claim(service_date=service_date, coverage=make_coverage())
    decision = decide(claim, snapshot, source="payer", now=NOW, auth_rules=AuthRuleTable())
    event = outcome_event(claim, decision, snapshot)
    assert isinstance(event, CoverageVerified)
    return event.claim, snapshot


def test_a_cms_style_271_dates_the_claim_from_the_plan_begin_never_the_inquiry_date():
    text = cms_style_271("DTP*346*D8*20150701", "EB*1**30^42*MA", "EB*1**30^2*MB", "DTP*291*D8*20150701")
    claim, snapshot = verified_claim(text, date(2026, 3, 20))  # a visit after the day the payer answered
    assert (snapshot.coverage_start, snapshot.coverage_end) == ("2015-07-01", None)
    assert (claim.coverage.effective_from, claim.coverage.effective_to) == (date(2015, 7, 1), None)
    # the scrubber's coverage-dates edit: inside an open-ended coverage, not "after coverage ended" on 03-14
    edits = scrub(claim, context=ScrubContext(today=date(2026, 3, 20), tenant_id="t"))
    assert "SCR029" not in [e.code for e in edits]


def test_plan_end_and_eligibility_ranges_close_the_period_the_scrubber_judges():
    text = cms_style_271("EB*1**30*MB", "DTP*291*RD8*20260101-20260315")
    claim, _ = verified_claim(text, date(2026, 3, 20))
    assert (claim.coverage.effective_from, claim.coverage.effective_to) == (date(2026, 1, 1), date(2026, 3, 15))
    edits = scrub(claim, context=ScrubContext(today=date(2026, 3, 20), tenant_id="t"))
    assert "SCR029" in [e.code for e in edits]


def test_only_the_inquiry_date_leaves_the_claim_undated():
    claim, snapshot = verified_claim(cms_style_271("EB*1**30*MB"), date(2026, 3, 20))
    assert (snapshot.coverage_start, snapshot.coverage_end) == (None, None)
    assert (claim.coverage.effective_from, claim.coverage.effective_to) == (None, None)


def test_reading_issues_of_the_answering_interchange_are_kept_on_the_snapshot():
    text = cms_style_271("EB*1**30*MB", "EB*C*IND*30***23*abc").replace("GE*1*7~", "GE*1*8~")
    _, snapshot = verified_claim(text, date(2026, 3, 20))
    assert [(i["interchange"], i["kind"], i["code"]) for i in snapshot.reading_issues] == [
        (1, "envelope_error", "ge02_control_number"), (1, "warning", "")]
    assert CoverageSnapshot.from_json(snapshot.as_json()) == snapshot  # cached and stored with them
    assert CoverageSnapshot.from_json({"active": True}).reading_issues == []  # snapshots cached before them


def test_a_4010_271_holds_the_claim_with_the_reason_never_read_as_5010():
    text = cms_style_271("EB*1**30*MB", version="004010X092A1")
    try:
        read_271(text)
    except Unparseable271 as exc:
        snapshot = unreadable_snapshot(exc.reason)
    else:
        raise AssertionError("a 4010 271 was read")
    claim = make_claim(service_date=date(2026, 3, 20), coverage=make_coverage())
    decision = decide(claim, snapshot, source="payer", now=NOW, auth_rules=AuthRuleTable())
    assert decision.hold_reason == "payer_rejected" and decision.work_queue == "front-desk"
    assert decision.result.reason.startswith("eligibility not verified: the payer's 271 response could not be read")
    assert "'004010X092A1' (GS08) is not 5010" in decision.result.reason
    assert isinstance(outcome_event(claim, decision, snapshot), EligibilityHeld)
    assert with_coverage_period(claim, snapshot) is claim
