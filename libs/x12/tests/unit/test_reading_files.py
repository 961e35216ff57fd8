"""Whole files for every reader (835, 271, 999, 277CA): every interchange is read (each with its own delimiters,
blanks or stray text between them), an interchange of another version than 5010 is refused (the 835: the whole
file), and what a reader read around comes back as structured ReadingIssues that never quote element values."""

from datetime import datetime

import pytest

from rcm_x12.ack_277ca import UnsupportedAcknowledgmentVersion, read_277ca
from rcm_x12.ack_999 import AckStatus, read_999, read_999_file
from rcm_x12.codec import Segment, build_interchange, interchange_texts
from rcm_x12.eligibility_271 import Unsupported271Version, parse_271, read_271
from rcm_x12.reading import ReadingIssue, UnparseableAcknowledgment, UnsupportedVersion
from rcm_x12.remit_835 import Incomplete835, Unparseable835, Unsupported835Version, read_835_file
from tests.support.shared import missing, sample_files, samples_dir

NOW = datetime(2026, 3, 14, 9, 5)
SECRET = "SMITH"  # stands for PHI: it must never reach an issue or a reason


def other_delimiters(text: str) -> str:
    """The same interchange written with '|' elements, '{' repetitions, '>' components and '!' terminators."""
    return text.translate(str.maketrans({"*": "|", "^": "{", ":": ">", "~": "!"}))


def as_4010(text: str, version: str) -> str:
    """An interchange relabelled as 4010: ISA12 00401, ISA11 U (no repetition separator), GS08/ST03 `version`."""
    return text.replace("*^*00501*", "*U*00401*", 1).replace("005010X279A1", version) \
        .replace("005010X231A1", version).replace("005010X214", version).replace("005010X221A1", version)


def kinds(issues: tuple[ReadingIssue, ...]) -> list[tuple[int, str, str]]:
    return [(i.interchange, i.kind, i.code) for i in issues]


def assert_no_phi(issues: tuple[ReadingIssue, ...]) -> None:
    for issue in issues:
        assert SECRET not in str(issue.as_json()) and SECRET not in str(issue)


# ---------------------------------------------------------------- splitting a file


def test_interchanges_are_split_each_with_its_delimiters_and_stray_text_between_them_is_set_apart():
    one = response271("T-1", control=1)
    two = other_delimiters(response271("T-2", control=2))
    texts = interchange_texts(one + "\r\n\n" + f"-- page 2 of the mailbox for {SECRET} --\n" + two + "\n\n")
    assert [(chunk[:3], chunk[-1], len(stray)) for chunk, stray in texts] == [
        ("ISA", "~", len(f"-- page 2 of the mailbox for {SECRET} --")), ("ISA", "!", 0)]


# ---------------------------------------------------------------- 271


def response271(trace: str, *, control: int, subscriber: list[str] = ("EB*1**30",), se_count: str | None = None,
                version: str = "005010X279A1") -> str:
    body = ["BHT*0022*11*REF1*20260314*0905", "HL*1**20*1", "NM1*PR*2*ACME HEALTH*****PI*60054",
            "HL*2*1*21*1", "NM1*1P*2*CLINIC*****XX*1234567893", "HL*3*2*22*0", f"TRN*2*{trace}*9000000001",
            f"NM1*IL*1*{SECRET}*JANE****MI*W123", "DMG*D8*19700101*F", *subscriber]
    segments = [Segment("ST", ["271", "0001", version])]
    segments += [Segment(tag, elements) for tag, *elements in (s.split("*") for s in body)]
    text = build_interchange("ACME", "CLINIC", control, "HB", version, [segments], now=NOW)
    return text.replace(f"SE*{len(segments) + 1}*", f"SE*{se_count}*") if se_count else text


def test_271_every_interchange_is_read_with_its_issues():
    text = (response271("T-1", control=1) + "\n"
            + other_delimiters(response271("T-2", control=2, subscriber=["EB*6**30"], se_count="99"))
            + f"\nprinted for {SECRET}\n"
            + response271("T-3", control=3, subscriber=["EB*1**30", "EB*C*IND*30***23*abc"]))
    read = read_271(text)
    assert [(s.trace_number, s.active, s.interchange) for s in read.summaries] == [
        ("T-1", True, 1), ("T-2", False, 2), ("T-3", True, 3)]
    assert kinds(read.issues) == [(2, "stray_text", "data_after_iea"), (2, "envelope_error", "se01_segment_count"),
                                  (3, "warning", "")]
    stray, count, warning = read.issues
    assert (count.interchange_control_number, count.segment_position) == ("000000002", 14)  # ISA 1, GS 2, ST 3
    assert count.reason == "SE01 says '99' segments, the set has 12"
    assert (warning.transaction_set, warning.reason) == ("0001", "EB07 of EB*C is not a number; ignored")
    assert [e.code.value for e in read.summaries[1].envelope_errors] == ["se01_segment_count"]
    assert read.summaries[0].envelope_errors == read.summaries[2].envelope_errors == ()
    assert_no_phi(read.issues)
    assert parse_271(text) == list(read.summaries)


def test_271_an_aaa_in_a_later_interchange_keeps_its_plain_words_and_follow_up():
    text = response271("T-1", control=1) + other_delimiters(response271("T-2", control=2, subscriber=["AAA*Y**75*C"]))
    first, second = read_271(text).summaries
    assert (first.rejections, second.interchange, second.active) == ((), 2, None)
    [r] = second.rejections
    assert (r.loop, r.meaning, r.follow_up_action) == ("2100C", "Subscriber/insured not found",
                                                      "Please correct and resubmit")


@pytest.mark.parametrize("version", ["004010X092A1", "004010X092"])
def test_271_a_4010_interchange_is_refused_alone_and_the_others_are_read(version):
    text = response271("T-1", control=1) + as_4010(response271("T-2", control=2), version)
    read = read_271(text)
    assert [s.trace_number for s in read.summaries] == ["T-1"]  # the 4010 answer is never read as 5010
    [refused] = read.issues
    assert (refused.interchange, refused.kind, refused.code) == (2, "rejected_interchange", "other_version")
    assert refused.reason.startswith(f"functional group '2': version '{version}' (GS08) is not 5010")
    with pytest.raises(Unsupported271Version, match=rf"interchange #1 \('000000002'\): .*'{version}' .*is not 5010"):
        read_271(as_4010(response271("T-2", control=2), version))


def test_271_an_isa12_of_4010_alone_is_refused():
    text = response271("T-1", control=1).replace("*^*00501*", "*U*00401*", 1)
    with pytest.raises(Unsupported271Version, match=r"version '00401' \(ISA12\) is not 00501 \(5010\)") as caught:
        read_271(text)
    assert isinstance(caught.value, UnsupportedVersion)


def test_271_envelope_count_and_control_number_defects_are_issues():
    text = response271("T-1", control=1).replace("GE*1*1~", "GE*2*7~").replace("IEA*1*000000001~", "IEA*3*000000009~")
    read = read_271(text)
    assert [(i.code, i.segment_position) for i in read.issues] == [
        ("ge01_transaction_count", 15), ("ge02_control_number", 15),
        ("iea01_group_count", 16), ("iea02_control_number", 16)]
    assert read.summaries[0].active is True


def test_271_real_samples_as_one_file_read_as_each_alone():
    # nodex12_271.edi (a real CMS answer) has no GE and no IEA: first, it ends where the next interchange starts
    paths = sorted(sample_files("x12", "271"), key=lambda p: p.suffix != ".edi")
    if not paths:
        missing("271 samples", samples_dir("x12", "271"))
    alone = [s for path in paths for s in parse_271(path.read_text())]
    together = read_271("\n".join(path.read_text() for path in paths))
    assert [(s.member_id, s.active, s.trace_number, s.rejections, s.coverage_period) for s in together.summaries] == [
        (s.member_id, s.active, s.trace_number, s.rejections, s.coverage_period) for s in alone]
    assert sorted({s.interchange for s in together.summaries}) == list(range(1, len(paths) + 1))
    assert [s.envelope_errors for s in together.summaries] == [s.envelope_errors for s in alone]
    if paths[0].name == "nodex12_271.edi":
        assert [i.code for i in together.issues if i.interchange == 1] == [
            "gs01_functional_id", "missing_ge", "missing_iea"]


# ---------------------------------------------------------------- 999


def ack999(group: str, *, control: int, ack_code: str = "A", version: str = "005010X231A1") -> str:
    sets = [Segment("AK2", ["837", "0001", "005010X222A1"]), Segment("IK5", [ack_code])]
    return build_interchange("SANDBOXCH", "CLINIC01", control, "FA", version, [[
        Segment("ST", ["999", "0001", version]), Segment("AK1", ["HC", group, "005010X222A1"]), *sets,
        Segment("AK9", [ack_code, "1", "1", "1" if ack_code == "A" else "0"])]], now=NOW)


def test_999_every_interchange_is_read_with_its_issues():
    text = (ack999("101", control=1) + "\n\n" + other_delimiters(ack999("102", control=2, ack_code="R"))
            + ack999("103", control=3).replace("IEA*1*000000003", "IEA*1*000000004"))
    read = read_999_file(text)
    assert [(g.group_control_number, g.status, g.interchange, g.interchange_control_number) for g in read.groups] == [
        ("101", AckStatus.ACCEPTED, 1, "000000001"), ("102", AckStatus.REJECTED, 2, "000000002"),
        ("103", AckStatus.ACCEPTED, 3, "000000003")]
    [issue] = read.issues
    assert (issue.interchange, issue.kind, issue.code, issue.segment_position) == (
        3, "envelope_error", "iea02_control_number", 10)
    assert str(issue) == ("interchange #3 ('000000003') segment #10: IEA02 '000000004' does not match ISA13 "
                          "'000000003'")
    assert read_999(text) == list(read.groups)


def test_999_another_5010_guide_is_read_with_a_warning_issue():
    read = read_999_file(ack999("101", control=1) + ack999("102", control=2).replace("005010X231A1", "005010X231"))
    assert [g.group_control_number for g in read.groups] == ["101", "102"]
    [warning] = read.issues
    assert (warning.interchange, warning.kind, warning.transaction_set) == (2, "warning", "0001")
    assert warning.reason == ("transaction set '0001': implementation reference '005010X231' is not 005010X231A1; "
                              "read as 005010X231A1")


def test_999_a_4010_interchange_is_refused_alone():
    read = read_999_file(ack999("101", control=1) + as_4010(ack999("102", control=2), "004010X231"))
    assert [g.group_control_number for g in read.groups] == ["101"]
    assert kinds(read.issues) == [(2, "rejected_interchange", "other_version")]
    with pytest.raises(UnsupportedAcknowledgmentVersion, match="is not 5010") as caught:
        read_999(as_4010(ack999("102", control=2), "004010X231"))
    assert isinstance(caught.value, UnparseableAcknowledgment)


def test_999_real_samples_as_one_file_read_as_each_alone():
    paths = sample_files("x12", "999")
    if not paths:
        missing("999 samples", samples_dir("x12", "999"))
    alone = [g for path in paths for g in read_999(path.read_text())]
    together = read_999_file("\n".join(path.read_text() for path in paths))
    assert [(g.group_control_number, g.status, g.transaction_sets, g.envelope_errors) for g in together.groups] == [
        (g.group_control_number, g.status, g.transaction_sets, g.envelope_errors) for g in alone]
    assert len({g.interchange for g in together.groups}) == len(paths)
    # the unrepaired IMS file's IEA02 does not match its ISA13: an issue naming that interchange only
    assert [(i.interchange, i.code) for i in together.issues if i.kind == "envelope_error"] == [
        (n, "iea02_control_number") for n, p in enumerate(paths, start=1) if p.name == "ims_999-accepted.999"]


# ---------------------------------------------------------------- 277CA


def ack277(pcn: str, *, control: int, category: str = "A1:20", action: str = "WQ",
           version: str = "005010X214") -> str:
    body = ["BHT*0085*08*1*20260314*0905*TH", "HL*1**20*1", "NM1*PR*2*SANDBOX*****PI*SBX01",
            "HL*2*1*21*1", "NM1*41*2*CLINIC*****46*C01", "TRN*2*BATCH1", "STC*A1:19:PR*20260314*WQ*300",
            "HL*3*2*19*1", "NM1*85*2*CLINIC*****XX*1234567893", "HL*4*3*PT", f"NM1*QC*1*{SECRET}*JANE***MI*M1",
            f"TRN*2*{pcn}", f"STC*{category}*20260314*{action}*100"]
    segments = [Segment("ST", ["277", "0001", version])]
    segments += [Segment(tag, elements) for tag, *elements in (s.split("*") for s in body)]
    return build_interchange("SANDBOXCH", "CLINIC01", control, "HN", version, [segments], now=NOW)


def test_277ca_every_interchange_is_read_with_its_issues():
    text = (ack277("PCN-1", control=1) + other_delimiters(ack277("PCN-2", control=2, category="A7:21", action="U"))
            + "\n" + ack277("PCN-3", control=3).replace("GE*1*3~", "GE*1*4~"))
    read = read_277ca(text)
    assert [(c.patient_control_number, c.accepted) for c in read.claims] == [
        ("PCN-1", True), ("PCN-2", False), ("PCN-3", True)]
    assert len(read.batches) == 3
    assert [(i.interchange, i.kind, i.code) for i in read.issues] == [(3, "envelope_error", "ge02_control_number")]
    assert [e.code.value for e in read.envelope_errors] == ["ge02_control_number"]
    assert_no_phi(read.issues)


def test_277ca_a_4010_interchange_is_refused_alone():
    read = read_277ca(as_4010(ack277("PCN-1", control=1), "004010X167") + ack277("PCN-2", control=2))
    assert [c.patient_control_number for c in read.claims] == ["PCN-2"]
    assert kinds(read.issues) == [(1, "rejected_interchange", "other_version")]
    with pytest.raises(UnsupportedAcknowledgmentVersion, match=r"'004010X167' \(GS08\) is not 5010"):
        read_277ca(as_4010(ack277("PCN-1", control=1), "004010X167"))


def test_277ca_real_samples_as_one_file_read_as_each_alone():
    paths = sample_files("x12", "277ca")
    if not paths:
        missing("277CA samples", samples_dir("x12", "277ca"))
    alone = [c for path in paths for c in read_277ca(path.read_text()).claims]
    together = read_277ca("\n".join(path.read_text() for path in paths))
    assert together.claims == tuple(alone) and len(alone) >= len(paths)


# ---------------------------------------------------------------- 835


def check835(control: str, pcn: str, *, trn: str, bpr16: str = "20260323") -> list[Segment]:
    return [Segment("ST", ["835", control, "005010X221A1"]),
            Segment("BPR", ["H", "0", "C", "NON", *[""] * 11, bpr16]),
            Segment("TRN", ["1", trn, "1123456789"]),
            Segment("N1", ["PR", "SANDBOX HEALTH PLAN", "XV", "SBXPLAN"]),
            Segment("LX", ["1"]), Segment("CLP", [pcn, "4", "10", "0", "", "12", "X"]),
            Segment("NM1", ["QC", "1", SECRET, "JANE"]), Segment("CAS", ["CO", "31", "10"])]


def era(control: int, *checks: list[Segment], version: str = "005010X221A1") -> str:
    return build_interchange("SANDBOXPAY", "CLINIC01", control, "HP", version, list(checks), now=NOW)


def test_835_issues_name_their_interchange_transaction_set_and_position():
    text = (era(5, check835("0001", "A", trn="T1"))
            + "\n" + other_delimiters(era(6, check835("0007", "B", trn="T2", bpr16="")))
            + era(7, check835("0001", "C", trn="T3")).replace("IEA*1*000000007", "IEA*1*000000070"))
    whole = read_835_file(text)
    assert [(p.interchange, [c.patient_control_number for c in p.claims]) for p in whole.payments] == [
        (1, ["A"]), (2, ["B"]), (3, ["C"])]
    assert [(i.interchange, i.kind, i.code, i.transaction_set, i.segment_position) for i in whole.issues()] == [
        (3, "envelope_error", "iea02_control_number", None, 13),
        (2, "warning", "", "0007", None)]
    assert whole.issues()[1].reason == "BPR16 (check issue or EFT effective date) is missing"
    assert whole.issues()[0].as_json() == {
        "interchange": 3, "interchange_control_number": "000000007", "kind": "envelope_error",
        "code": "iea02_control_number", "transaction_set": None, "segment_position": 13,
        "reason": "IEA02 '000000070' does not match ISA13 '000000007'"}
    assert_no_phi(whole.issues())


@pytest.mark.parametrize("mangle, match", [
    (lambda t: t.replace("005010X221A1", "004010X091A1"), r"version '004010X091A1' \(GS08\) is not 5010"),
    (lambda t: t.replace("*^*00501*", "*U*00401*", 1), r"version '00401' \(ISA12\) is not 00501 \(5010\)"),
])
def test_835_one_4010_interchange_among_5010_ones_rejects_the_whole_file(mangle, match):
    text = era(5, check835("0001", "A", trn="T1")) + mangle(era(6, check835("0001", "B", trn="T2")))
    with pytest.raises(Unsupported835Version, match=rf"interchange #2 \('000000006'\).*{match}.*the whole file is "
                                                    r"rejected so that none of it is half-posted"):
        read_835_file(text)


@pytest.mark.parametrize("stray, error, match", [
    (f"REMIT FOR {SECRET}", Unparseable835, "segment #14 does not start with a valid segment tag"),
    (f"NM1*QC*1*{SECRET}~", Incomplete835, r"interchange #1 \('000000005'\): data_after_iea: NM1 segment after IEA"),
])
def test_835_stray_text_between_interchanges_rejects_the_whole_file_without_quoting_it(stray, error, match):
    text = era(5, check835("0001", "A", trn="T1")) + f"\n{stray}\n" + era(6, check835("0001", "B", trn="T2"))
    with pytest.raises(error, match=match) as caught:
        read_835_file(text)
    assert SECRET not in caught.value.reason


def test_the_real_835_samples_as_one_multi_interchange_file():
    """No shared 835 sample holds more than one interchange; all 17 as one file are 17 interchanges, each read."""
    paths = sample_files("x12", "835")
    if not paths:
        missing("835 samples", samples_dir("x12", "835"))
    whole = read_835_file("\n".join(path.read_text() for path in paths))
    alone = sum(read_835_file(path.read_text()).claim_count for path in paths)
    assert len(whole.interchanges) == len(paths) and whole.claim_count == alone == 33
    assert {p.interchange for p in whole.payments} == set(range(1, len(paths) + 1))
