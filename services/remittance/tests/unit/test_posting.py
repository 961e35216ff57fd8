"""835 posting rules (rcm_remittance.domain.posting): balancing and the claim's outcome."""

import uuid
from decimal import Decimal as D

import pytest

from rcm_contracts.events import Adjustment
from rcm_contracts.wire import ClaimRemittance
from rcm_remittance.domain.posting import UnbalancedRemittance, check_balanced, outcome


def adj(group: str, carc: str, amount: str) -> Adjustment:
    return Adjustment(group_code=group, reason_code=carc, amount=D(amount))


def remit(*, charge: str, paid: str, patient: str, adjustments=(), allowed: str | None = None) -> ClaimRemittance:
    return ClaimRemittance(
        claim_id=uuid.uuid4(),
        payer_claim_control_number="PCCN1",
        total_charge=D(charge),
        allowed_amount=D(allowed if allowed is not None else paid),
        paid_amount=D(paid),
        patient_responsibility=D(patient),
        adjustments=list(adjustments),
    )


# 150.00 charged; allowed 92.00 (CO-45 58.00); copay 25.00 (PR-3); payer pays 67.00.
PAID_WITH_COPAY = dict(charge="150.00", allowed="92.00", paid="67.00", patient="25.00",
                       adjustments=[adj("CO", "45", "58.00"), adj("PR", "3", "25.00")])


# ---------------------------------------------------------------- check_balanced


def test_balanced_remittance_is_accepted():
    assert check_balanced(remit(**PAID_WITH_COPAY)) is None


def test_fully_paid_claim_without_adjustments_is_balanced():
    check_balanced(remit(charge="100.00", paid="100.00", patient="0.00"))


def test_fully_denied_claim_is_balanced_by_its_denial_adjustment():
    check_balanced(remit(charge="100.00", paid="0.00", patient="0.00", adjustments=[adj("CO", "27", "100.00")]))


def test_balance_compares_amounts_not_their_scale():
    check_balanced(remit(charge="100", paid="60.0", patient="0", adjustments=[adj("CO", "45", "40.00")]))


def test_paid_one_cent_too_much_is_unbalanced():
    bad = dict(PAID_WITH_COPAY, paid="67.01")
    with pytest.raises(UnbalancedRemittance, match="charge does not equal payment plus adjustments"):
        check_balanced(remit(**bad))


def test_missing_adjustment_is_unbalanced():
    bad = dict(PAID_WITH_COPAY, adjustments=[adj("PR", "3", "25.00")])  # CO-45 left out
    with pytest.raises(UnbalancedRemittance, match="charge does not equal"):
        check_balanced(remit(**bad))


def test_patient_responsibility_not_matching_pr_adjustments_is_unbalanced():
    bad = dict(PAID_WITH_COPAY, patient="20.00")  # charge still balances; PR rows say 25.00
    with pytest.raises(UnbalancedRemittance, match="patient responsibility does not equal the PR adjustments"):
        check_balanced(remit(**bad))


def test_patient_responsibility_without_pr_rows_is_unbalanced():
    bad = remit(charge="100.00", paid="80.00", patient="20.00", adjustments=[adj("CO", "45", "20.00")])
    with pytest.raises(UnbalancedRemittance, match="patient responsibility"):
        check_balanced(bad)


def test_only_pr_rows_count_as_patient_responsibility():
    # OA-23 and CO-45 balance the charge but are not the patient's; PR-1 + PR-2 are.
    r = remit(charge="200.00", paid="100.00", patient="45.00",
              adjustments=[adj("CO", "45", "40.00"), adj("OA", "23", "15.00"), adj("PR", "1", "30.00"), adj("PR", "2", "15.00")])
    check_balanced(r)


def test_unbalanced_remittance_is_a_value_error():
    assert issubclass(UnbalancedRemittance, ValueError)


# ---------------------------------------------------------------- outcome


def test_outcome_paid_with_only_contractual_and_patient_rows():
    assert outcome(remit(**PAID_WITH_COPAY)) == "paid"


def test_outcome_paid_without_adjustments():
    assert outcome(remit(charge="100.00", paid="100.00", patient="0.00")) == "paid"


def test_outcome_paid_when_everything_goes_to_the_deductible():
    r = remit(charge="150.00", paid="0.00", patient="92.00",
              adjustments=[adj("CO", "45", "58.00"), adj("PR", "1", "92.00")])
    assert outcome(r) == "paid"


def test_outcome_partially_paid_with_a_co96_row_and_a_payment():
    r = remit(charge="235.00", paid="92.00", patient="0.00",
              adjustments=[adj("CO", "45", "58.00"), adj("CO", "96", "85.00")])
    check_balanced(r)
    assert outcome(r) == "partially_paid"


def test_outcome_partially_paid_when_only_the_patient_owes_beside_a_denied_line():
    r = remit(charge="235.00", paid="0.00", patient="92.00",
              adjustments=[adj("CO", "45", "58.00"), adj("PR", "1", "92.00"), adj("CO", "96", "85.00")])
    assert outcome(r) == "partially_paid"


@pytest.mark.parametrize("carc", ["27", "31", "96", "197"])
def test_outcome_denied_when_nothing_paid_and_no_patient_share(carc):
    r = remit(charge="150.00", paid="0.00", patient="0.00", adjustments=[adj("CO", carc, "150.00")])
    check_balanced(r)
    assert outcome(r) == "denied"


def test_zero_amount_denial_row_does_not_make_a_paid_claim_partial():
    r = remit(charge="150.00", paid="92.00", patient="0.00",
              adjustments=[adj("CO", "45", "58.00"), adj("CO", "96", "0.00")])
    assert outcome(r) == "paid"


@pytest.mark.parametrize("carc", ["1", "2", "3", "45", "253", "23"])
def test_not_denial_carcs_keep_the_claim_paid(carc):
    r = remit(charge="100.00", paid="90.00", patient="0.00", adjustments=[adj("CO", carc, "10.00")])
    assert outcome(r) == "paid"


def test_zero_pay_with_only_contractual_adjustment_is_not_a_denial():
    r = remit(charge="100.00", paid="0.00", patient="0.00", allowed="0.00", adjustments=[adj("CO", "45", "100.00")])
    check_balanced(r)
    assert outcome(r) == "paid"
