"""Denial root cause: which adjustments on a remittance are denials, why, and who works them.

Pure domain logic, no I/O. Input rows are (group_code, carc, amount) as they come off an 835 CAS segment
(or the sandbox adjudication summary). Source of the table: shared/reference/carc.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

Category = Literal[
    "eligibility",
    "coding",
    "documentation",
    "authorization",
    "timely_filing",
    "duplicate",
    "contractual",
    "patient_responsibility",
    "coordination_of_benefits",
    "medical_necessity",
    "unclassified",
]

# CARC (without group code) -> root-cause category. Every code in carc.md.
CARC_CATEGORIES: dict[str, Category] = {
    "1": "patient_responsibility",  # deductible
    "2": "patient_responsibility",  # coinsurance
    "3": "patient_responsibility",  # copayment
    "4": "coding",  # procedure code / modifier mismatch
    "11": "coding",  # diagnosis doesn't support the procedure
    "15": "authorization",  # authorization number missing/invalid
    "16": "documentation",  # missing information / billing error (see RARC)
    "18": "duplicate",  # exact duplicate claim/line
    "22": "coordination_of_benefits",  # another payer may be primary
    "23": "coordination_of_benefits",  # prior payer's adjudication (informational)
    "26": "eligibility",  # service before coverage start
    "27": "eligibility",  # service after coverage end
    "29": "timely_filing",  # filing limit expired
    "31": "eligibility",  # patient not identified as member
    "45": "contractual",  # exceeds fee schedule (write-off)
    "50": "medical_necessity",  # not medically necessary
    "96": "eligibility",  # non-covered charge (coverage/benefits)
    "97": "coding",  # bundled into another service
    "109": "eligibility",  # wrong payer
    "119": "eligibility",  # benefit maximum reached
    "146": "coding",  # diagnosis invalid for date of service
    "151": "coding",  # units/frequency (MUE)
    "167": "medical_necessity",  # diagnosis not covered (payer policy)
    "181": "coding",  # procedure code invalid for date of service
    "182": "coding",  # modifier invalid for date of service
    "185": "eligibility",  # rendering provider not eligible
    "197": "authorization",  # precert/authorization not obtained
    "204": "eligibility",  # not a benefit of the current plan
    "236": "coding",  # NCCI procedure-to-procedure edit
    "252": "documentation",  # attachment/other documentation required
    "253": "contractual",  # sequestration
    "B7": "eligibility",  # provider not certified for this service/date
}

WORK_QUEUES: dict[str, str] = {
    "eligibility": "front-desk",
    "coordination_of_benefits": "front-desk",
    "coding": "coding",
    "medical_necessity": "coding",
    "authorization": "authorizations",
    "documentation": "billing",
    "timely_filing": "billing",
    "duplicate": "billing",
    "unclassified": "billing",
}
DEFAULT_WORK_QUEUE = "billing"

# Routine adjustments, never denials, whatever the group code: contractual write-offs, sequestration,
# patient cost share, and a prior payer's adjudication (OA-23). Group PR is never a denial either.
NOT_A_DENIAL_CARCS = frozenset({"1", "2", "3", "23", "45", "253"})


@dataclass(frozen=True)
class DenialClassification:
    category: str
    reason_codes: tuple[str, ...]  # "GROUP-CARC", largest summed amount first (ties: first seen)
    denied_amount: Decimal
    work_queue: str


def category_of(carc: str) -> str:
    return CARC_CATEGORIES.get(_norm(carc), "unclassified")


def is_denial(group_code: str, carc: str) -> bool:
    return _norm(group_code) != "PR" and _norm(carc) not in NOT_A_DENIAL_CARCS


def _norm(code: str) -> str:
    return code.strip().upper()


def classify(adjustments: list[tuple[str, str, Decimal]]) -> DenialClassification | None:
    """Classify the denial rows among the adjustments; None when none of them is a denial.

    Rows with the same group and CARC are summed first (one claim can carry CO-96 on several lines);
    the category is that of the reason code with the largest summed amount. Negative amounts are
    reversals of an earlier adjudication, not denials, and are ignored.
    """
    totals: dict[str, Decimal] = {}
    categories: dict[str, str] = {}
    for group_code, carc, amount in adjustments:
        group, code = _norm(group_code), _norm(carc)
        if not is_denial(group, code) or amount < 0:
            continue
        reason = f"{group}-{code}"
        totals[reason] = totals.get(reason, Decimal("0.00")) + amount
        categories[reason] = category_of(code)
    if not totals:
        return None

    order = list(totals)  # first-seen order, used to break ties
    reason_codes = tuple(sorted(order, key=lambda r: (-totals[r], order.index(r))))
    category = categories[reason_codes[0]]
    return DenialClassification(
        category=category,
        reason_codes=reason_codes,
        denied_amount=sum(totals.values(), Decimal("0.00")),
        work_queue=WORK_QUEUES.get(category, DEFAULT_WORK_QUEUE),
    )
