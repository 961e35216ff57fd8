from decimal import Decimal as D

import pytest

from rcm_denials.domain import workflow
from rcm_denials.domain.workflow import NotAllowed


def test_the_happy_paths():
    assert workflow.assign("open").to == "in_progress"
    assert workflow.assign("in_progress").to == "in_progress"  # reassigned
    assert workflow.appeal("in_progress").to == "appealed"
    assert workflow.appeal("open").to == "appealed"
    assert workflow.corrected("in_progress").to == "corrected"
    assert workflow.rebill("open").to == "rebilled"
    assert workflow.answer_appeal("appealed", "upheld", None).to == "upheld"
    assert workflow.answer_appeal("appealed", "overturned", None).to == "appealed"  # waits for the money
    for waiting in ("appealed", "corrected", "rebilled"):
        assert workflow.paid(waiting).to == "recovered"


@pytest.mark.parametrize("status", ["recovered", "upheld", "written_off", "voided", "expired", "appealed",
                                    "corrected", "rebilled", "write_off_pending"])
def test_appeal_corrected_rebill_only_from_open_or_in_progress(status):
    for action in (workflow.appeal, workflow.corrected, workflow.rebill):
        with pytest.raises(NotAllowed, match=f"not allowed on an item in status {status}"):
            action(status)


@pytest.mark.parametrize("status", ["recovered", "upheld", "written_off", "voided", "expired"])
def test_a_closed_or_expired_item_cannot_be_assigned(status):
    with pytest.raises(NotAllowed):
        workflow.assign(status)


def test_an_appeal_answer_needs_an_appealed_item_not_yet_answered():
    with pytest.raises(NotAllowed, match="appeal answer is not allowed"):
        workflow.answer_appeal("in_progress", "upheld", None)
    with pytest.raises(NotAllowed, match="already answered"):
        workflow.answer_appeal("appealed", "upheld", "overturned")


def test_a_write_off_above_the_amount_waits_for_approval_at_or_below_it_is_immediate():
    assert workflow.write_off("open", D("100.00"), D("100.00")).to == "written_off"
    assert workflow.write_off("in_progress", D("100.01"), D("100.00")).to == "write_off_pending"
    assert workflow.write_off("upheld", D("5"), D("100")).to == "written_off"
    assert workflow.write_off("expired", D("5"), D("100")).to == "written_off"
    for status in ("appealed", "recovered", "written_off", "write_off_pending"):
        with pytest.raises(NotAllowed):
            workflow.write_off(status, D("5"), D("100"))


def test_a_write_off_is_approved_by_another_person_only():
    assert workflow.approve_write_off("write_off_pending", "sam", "ada").to == "written_off"
    with pytest.raises(NotAllowed, match="another person"):
        workflow.approve_write_off("write_off_pending", "sam", "sam")
    with pytest.raises(NotAllowed):
        workflow.approve_write_off("open", "sam", "ada")


def test_a_payment_leaves_items_not_waiting_on_the_payer_and_expiry_takes_only_workable_ones():
    for status in ("open", "in_progress", "upheld", "written_off", "write_off_pending", "expired"):
        assert workflow.paid(status) is None
    assert workflow.expire("open").to == "expired" and workflow.expire("in_progress").to == "expired"
    assert workflow.expire("appealed") is None and workflow.expire("written_off") is None
