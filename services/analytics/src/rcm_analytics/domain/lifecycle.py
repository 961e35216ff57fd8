"""A claim's progress as analytics sees it, from every service's events (pure).

Events of one claim come from different topics, so they may arrive out of order: each event only
sets the facts it carries, and stage and final state are derived from the facts, never from arrival.

A self-pay encounter (charges' SelfPayEncounterCaptured) is billed to the patient, never to a payer: its stage and
final state are both `self_pay` (final once patient billing opened its balance), and the KPIs count it apart from
the claims sent to payers, whose rates it must not dilute.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from rcm_contracts.base import Event
from rcm_contracts.events import (
    ClaimAcknowledged,
    ClaimCoded,
    ClaimResubmissionRequested,
    ClaimScrubbed,
    ClaimSubmitted,
    CoverageVerified,
    DenialRecorded,
    EncounterCaptured,
    EligibilityHeld,
    EncounterHeld,
    PatientBalanceChanged,
    PatientBalanceOpened,
    PaymentPosted,
    PaymentReversed,
    SelfPayEncounterCaptured,
)

STAGES = ["captured", "eligibility_verified", "coded", "scrubbed", "submitted", "acknowledged", "posted"]
FINAL_STATES = ["paid", "patient_balance", "partially_paid", "denied", "rejected", "review_hold", "coding_hold",
                "incomplete", "eligibility_hold", "auth_hold", "self_pay"]
SELF_PAY = "self_pay"  # stage and final state of a self-pay encounter (not in STAGES: it skips the payer pipeline)


def facts_from(event: Event, occurred_at: datetime) -> dict[str, Any]:
    """The columns this event sets on the claim's status row (plus stage_rank)."""
    rank = STAGES.index
    match event:
        case EncounterCaptured() | SelfPayEncounterCaptured():
            c = event.claim
            facts = {"stage_rank": rank("captured"), "total_charge": c.total_charge, "captured_at": occurred_at,
                     "source_system": c.source_system, "source_encounter_id": c.source_encounter_id,
                     "payer_id": c.coverage.payer_id if c.coverage else None, "service_date": c.service_date}
            if isinstance(event, SelfPayEncounterCaptured):  # no payer: a coverage kept for the record is not billed
                facts |= {"payer_id": None, "self_pay": True}
            return facts
        case EncounterHeld():
            return {"stage_rank": rank("captured"), "held_reason": ", ".join(m.field for m in event.missing),
                    "source_system": event.source_system, "source_encounter_id": event.source_encounter_id}
        case CoverageVerified():
            return {"stage_rank": rank("eligibility_verified"), "eligibility_status": event.eligibility.status}
        case EligibilityHeld():
            return {"stage_rank": rank("captured"), "eligibility_hold": event.work_queue}
        case ClaimCoded():
            return {"stage_rank": rank("coded"), "coding_status": event.status}
        case ClaimScrubbed():
            return {"stage_rank": rank("scrubbed"), "scrub_decision": event.decision}
        case ClaimSubmitted():
            return {"stage_rank": rank("submitted")}
        case ClaimAcknowledged():
            return {"stage_rank": rank("acknowledged"), "ack_accepted": event.accepted}
        case PaymentPosted():
            return {"stage_rank": rank("posted"), "payment_outcome": event.outcome, "posted_at": occurred_at,
                    "paid_amount": event.paid_amount, "allowed_amount": event.allowed_amount,
                    "patient_responsibility": event.patient_responsibility}
        case DenialRecorded():
            return {"stage_rank": rank("posted"), "denial_category": event.category}
        case PatientBalanceOpened():
            return {"stage_rank": rank("posted"), "balance_opened": True}
        case PaymentReversed():
            return {"stage_rank": rank("posted")}  # amounts: folded from claim_payments (running_payments)
        case PatientBalanceChanged():
            return {"stage_rank": rank("posted"), "balance_opened": True}
    return {}


def summary_of(event: Event) -> dict[str, Any]:
    """What the timeline shows for an event: statuses and amounts, never patient data."""
    match event:
        case EncounterCaptured() | SelfPayEncounterCaptured():
            summary = {"channel": event.intake_channel, "lines": len(event.claim.lines),
                       "total_charge": str(event.claim.total_charge)}
            return summary | ({"self_pay": True} if isinstance(event, SelfPayEncounterCaptured) else {})
        case EncounterHeld():
            return {"missing": [m.field for m in event.missing]}
        case CoverageVerified():
            return {"eligibility": event.eligibility.status}
        case EligibilityHeld():
            return {"held": event.reason, "work_queue": event.work_queue, "edits": [e.code for e in event.edits]}
        case ClaimCoded():
            return {"status": event.status, "edits": [e.code for e in event.edits]}
        case ClaimScrubbed():
            return {"decision": event.decision, "edits": [e.code for e in event.edits]}
        case ClaimSubmitted():
            summary = {"clearinghouse": event.clearinghouse, "interchange": event.interchange_control_number}
            if event.primary_claim_id is not None:  # the secondary claim, on its primary's timeline
                summary |= {"payer_responsibility": event.payer_responsibility, "payer_id": event.payer_id}
            return summary
        case ClaimAcknowledged():
            return {"accepted": event.accepted, "status_code": event.status_code}
        case PaymentPosted():
            return {"outcome": event.outcome, "paid": str(event.paid_amount),
                    "patient_responsibility": str(event.patient_responsibility),
                    "adjustments": [f"{a.group_code}-{a.reason_code}" for a in event.adjustments]}
        case DenialRecorded():
            return {"category": event.category, "reason_codes": event.reason_codes, "work_queue": event.work_queue}
        case ClaimResubmissionRequested():  # the fields corrected or the payer rebilled, never their values
            if event.kind == "rebill":
                return {"resubmission": "rebill", "payer_id": event.coverage.payer_id if event.coverage else None,
                        "new_claim_id": str(event.new_claim_id)}
            return {"resubmission": "corrected", "review": event.review,
                    "corrected_fields": event.correction.changed_fields() if event.correction else []}
        case PatientBalanceOpened():
            return {"amount_due": str(event.amount_due), "due_date": event.due_date.isoformat()}
        case PaymentReversed():
            return {"reversed": str(event.paid_amount), "patient_responsibility_total": str(event.patient_responsibility_total)}
        case PatientBalanceChanged():
            return {"amount_due": str(event.amount_due), "previous_amount_due": str(event.previous_amount_due),
                    "status": event.status, "reason": event.reason}
    return {}


def running_payments(payments: list[dict[str, Any]]) -> dict[str, Any]:
    """A claim's payment facts from every payment and reversal it had (rows of claim_payments in arrival order),
    not from the last one: payer paid is the sum over payments minus the sum over reversals; patient
    responsibility is the latest running total remittance gave (replace, never add), or, for events without it,
    the same signed sum; allowed is the largest allowed of the payments not reversed (a secondary payer repeats
    the claim's allowed amount, it does not add to it); the outcome is the latest payment not reversed, or
    `reversed` while every payment has been taken back and no correction came yet."""
    reversed_ids = {p["reversed_remittance_id"] for p in payments if p["kind"] == "reversal"}
    sign = {"payment": 1, "reversal": -1}
    paid = sum((sign[p["kind"]] * p["paid_amount"] for p in payments), Decimal("0.00"))
    totals = [p["patient_responsibility_total"] for p in payments if p["patient_responsibility_total"] is not None]
    patient = totals[-1] if totals else sum((sign[p["kind"]] * p["patient_responsibility"] for p in payments),
                                            Decimal("0.00"))
    standing = [p for p in payments if p["kind"] == "payment" and p["remittance_id"] not in reversed_ids]
    allowed = max((p["allowed_amount"] for p in standing if p["allowed_amount"] is not None), default=None)
    outcome = standing[-1]["outcome"] if standing else ("reversed" if payments else None)
    return {"paid_amount": paid, "allowed_amount": allowed if allowed is not None else Decimal("0.00"),
            "patient_responsibility": patient, "payment_outcome": outcome}


@dataclass(frozen=True)
class Status:
    stage: str
    final_state: str | None  # None while the claim is still moving


def derive(facts: dict[str, Any]) -> Status:
    stage = STAGES[facts.get("stage_rank") or 0]
    if facts.get("self_pay"):
        # final once patient billing opened the balance (a self-pay encounter charging nothing opens none)
        billed = facts.get("balance_opened") or not (facts.get("total_charge") or Decimal(0)) > 0
        return Status(SELF_PAY, SELF_PAY if billed else None)
    if facts.get("held_reason") and not facts.get("captured_at"):
        return Status("held", "incomplete")  # waiting in charges' completeness review
    if facts.get("eligibility_hold") and (facts.get("stage_rank") or 0) < STAGES.index("eligibility_verified"):
        # waiting at eligibility until released (a later CoverageVerified moves the stage on)
        return Status("held", "auth_hold" if facts["eligibility_hold"] == "authorizations" else "eligibility_hold")
    if facts.get("coding_status") == "needs_coder":
        return Status(stage, "coding_hold")
    if facts.get("scrub_decision") == "review":
        return Status(stage, "review_hold")
    if facts.get("ack_accepted") is False:
        return Status(stage, "rejected")
    outcome = facts.get("payment_outcome")
    if outcome is None or outcome == "reversed":
        return Status(stage, None)  # not posted yet, or every payment taken back and its correction not yet in
    needs_denial = outcome in ("denied", "partially_paid")
    needs_balance = (facts.get("patient_responsibility") or Decimal(0)) > 0
    if (needs_denial and not facts.get("denial_category")) or (needs_balance and not facts.get("balance_opened")):
        return Status(stage, None)  # posted, but denials / patient-billing have not reported yet
    if outcome == "denied":
        return Status(stage, "denied")
    if needs_balance:
        return Status(stage, "patient_balance")
    return Status(stage, "partially_paid" if outcome == "partially_paid" else "paid")


def kpis(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Stage KPIs over claim status rows (one tenant): the claims billed to payers; self-pay encounters are
    counted apart (`self_pay_encounters`, their charges billed to patients `self_pay_charges`)."""
    def rate(num: int, den: int) -> float | None:
        return round(num / den, 4) if den else None

    self_pay = [r for r in rows if r.get("self_pay")]
    rows = [r for r in rows if not r.get("self_pay")]
    scrubbed = [r for r in rows if r.get("scrub_decision")]
    acked = [r for r in rows if r.get("ack_accepted") is not None]
    posted = [r for r in rows if r.get("payment_outcome")]
    allowed = sum((r.get("allowed_amount") or Decimal(0) for r in posted), Decimal(0))
    paid = sum((r.get("paid_amount") or Decimal(0) for r in posted), Decimal(0))
    patient = sum((r.get("patient_responsibility") or Decimal(0) for r in posted), Decimal(0))
    return {
        "claims": len(rows),
        "clean_claim_rate": rate(sum(r["scrub_decision"] == "clean" for r in scrubbed), len(scrubbed)),
        "first_pass_acceptance_rate": rate(sum(bool(r["ack_accepted"]) for r in acked), len(acked)),
        "denial_rate": rate(sum(r["payment_outcome"] in ("denied", "partially_paid") for r in posted), len(posted)),
        "payer_paid": str(paid),
        "patient_responsibility": str(patient),
        # Collected (payer) over what is collectible from the payer after contractual adjustments.
        "payer_net_collection_rate": float(round(paid / (allowed - patient), 4)) if allowed - patient > 0 else None,
        "self_pay_encounters": len(self_pay),
        "self_pay_charges": str(sum((r.get("total_charge") or Decimal(0) for r in self_pay), Decimal("0.00"))),
    }
