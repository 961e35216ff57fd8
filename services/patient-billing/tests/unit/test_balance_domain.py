"""The balance rules (pure): replace, never add; wait for the next payer before billing."""

import uuid
from decimal import Decimal as D

from rcm_patient_billing.domain.balance import AWAITING, Posting, apply


def payment(total: str, awaiting: str | None = None) -> Posting:
    return Posting(uuid.uuid4(), "payment", D(total), D(total), awaiting_payer_id=awaiting)


def test_a_primary_share_waiting_for_the_secondary_is_recorded_not_billed():
    out = apply(None, payment("30.00", "SECOND1"))
    assert (out.effect, out.amount_due, out.status) == ("awaiting", D("30.00"), AWAITING)


def test_the_next_payers_answer_bills_what_is_left_or_settles_unbilled():
    assert apply(D("30.00"), payment("10.00"), current_status=AWAITING).effect == "opened"
    settled = apply(D("30.00"), payment("0.00"), current_status=AWAITING)
    assert (settled.effect, settled.status) == ("settled", "closed")


def test_a_reversal_ends_the_wait_like_any_posting_without_a_next_payer():
    reversal = Posting(uuid.uuid4(), "reversal", D("30.00"), D("0.00"), uuid.uuid4())
    assert apply(D("30.00"), reversal, current_status=AWAITING).effect == "settled"


def test_a_billed_balance_changes_as_usual_even_if_a_later_posting_names_a_next_payer():
    out = apply(D("30.00"), payment("25.00", "SECOND1"), current_status="open")
    assert (out.effect, out.status) == ("changed", "open")
    assert apply(D("30.00"), payment("30.00"), current_status="open").effect == "unchanged"
