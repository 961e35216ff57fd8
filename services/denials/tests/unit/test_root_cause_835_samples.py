"""The shared 835 samples read by rcm_x12 and classified as remittance passes them on (claim and line CAS rows,
LQ/MOA/MIA remarks, the check date): every sample classifies without error, and what a sample says is read
right (pyx12_mult-loops, 2004: CO-16 with remark N14 on a denied claim, and OA-A7, a presumptive payment
adjustment valid then, not a denial)."""

from datetime import date

import pytest

from rcm_denials.domain.codes import load_code_lists
from rcm_denials.domain.root_cause import classify
from rcm_x12.remit_835 import Unparseable835, read_835_file
from tests.support.shared import sample_file, sample_params

SAMPLES = sample_params("x12", "835", pattern="*.835")


def classified(text: str) -> list:
    out = []
    for payment in read_835_file(text).payments:
        on = payment.payment_date or payment.production_date or date(2026, 1, 1)
        for claim in payment.claims:
            rows = [*claim.adjustments, *(a for line in claim.lines for a in line.adjustments)]
            remarks = [*claim.remark_codes, *(r for line in claim.lines for r in line.remark_codes)]
            out.append((claim, classify([(a.group, a.reason, a.amount) for a in rows], remarks, on=on)))
    return out


@pytest.mark.parametrize("path", SAMPLES)
def test_every_835_sample_classifies(path):
    try:
        results = classified(path.read_text(encoding="utf-8", errors="replace"))
    except Unparseable835:
        pytest.skip("a sample the 835 reader refuses (its own tests cover why)")
    roots = {r.root_cause for _, r in results if r is not None}
    lists = load_code_lists()
    assert roots <= set(lists.root_causes)
    for _, r in results:
        if r is not None:
            assert r.explanation and r.follow_up


def test_the_multi_loop_sample_reads_a_co16_with_its_remark_and_no_denial_in_oa_a7():
    results = classified(sample_file("x12", "835", "pyx12_mult-loops.835").read_text(encoding="utf-8"))
    denied = [r for _, r in results if r is not None and "CO-16" in r.reason_codes]
    assert denied, "the sample's CO-16 claim"
    first = denied[0]
    assert first.root_cause == "documentation" and "N14" in first.remark_codes and first.unknown_codes == ()
    assert "remark N14: Payment based on a contractual amount" in first.explanation
    assert not any("OA-A7" in r.reason_codes for _, r in results if r is not None)


def test_codes_the_samples_use_that_were_retired_since_are_known_on_their_date_and_unknown_now():
    lists = load_code_lists()
    for code in ("A2", "42", "A7"):
        assert lists.carc(code, date(2005, 4, 12)) is not None and lists.carc(code, date(2026, 1, 1)) is None
