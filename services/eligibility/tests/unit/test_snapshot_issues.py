"""Which reading issues of a 271 file a patient's coverage snapshot carries (pure): its own answer's warnings, its
interchange's envelope errors and warnings and the file's; never the warnings read in another patient's answer of
the batch."""

from rcm_eligibility.domain.decision import snapshot_of
from rcm_x12.eligibility_271 import CoverageSummary
from rcm_x12.reading import ENVELOPE_ERROR, REJECTED_INTERCHANGE, WARNING, ReadingIssue

ANNA_WARNING = "DTP*348 at position 14: the date cannot be read; left out"
BORIS_WARNING = "EB*C at position 31: the amount cannot be read; left out"


def issue(kind: str, reason: str, interchange: int = 1) -> ReadingIssue:
    return ReadingIssue(interchange=interchange, interchange_control_number="000000101", kind=kind, reason=reason)


SET_WARNING = "transaction set (ST01 '999') is not a 271; ignored"
IN_ANSWERS = frozenset({ANNA_WARNING, BORIS_WARNING})
ISSUES = [issue(WARNING, ANNA_WARNING), issue(WARNING, BORIS_WARNING), issue(ENVELOPE_ERROR, "IEA01 counts 2 groups"),
          issue(WARNING, SET_WARNING),
          issue(ENVELOPE_ERROR, "another interchange's trailer", interchange=2),
          issue(REJECTED_INTERCHANGE, "interchange #3 is 4010", interchange=3)]


def test_a_patients_snapshot_carries_its_own_warnings_and_the_envelope_and_file_issues_only():
    anna = CoverageSummary(payer_id="SBX01", payer_name="Sandbox", member_id="M1", active=True,
                           warnings=(ANNA_WARNING,))
    reasons = [i["reason"] for i in snapshot_of([anna], ISSUES, IN_ANSWERS).reading_issues]
    assert reasons == [ANNA_WARNING, "IEA01 counts 2 groups", SET_WARNING, "interchange #3 is 4010"]
    boris = CoverageSummary(payer_id="SBX01", payer_name="Sandbox", member_id="M2", active=True,
                            warnings=(BORIS_WARNING,))
    assert ANNA_WARNING not in [i["reason"] for i in snapshot_of([boris], ISSUES, IN_ANSWERS).reading_issues]


def test_without_an_answer_every_issue_says_why():
    assert len(snapshot_of([], ISSUES).reading_issues) == len(ISSUES)
