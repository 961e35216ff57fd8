"""Denial root cause: which adjustments on a remittance are denials, why (in words), and what to do next.

Pure domain logic, no I/O. Input rows are (group_code, carc, amount) as they come off an 835 CAS segment, plus
the remark codes (RARC: LQ*HE, MOA, MIA) of the claim and its lines, and the remittance date. The code lists
are data (rcm_denials/reference, loaded by rcm_denials.domain.codes):

- group PR is the patient's share, never a denial; a CARC whose root cause is contractual, patient
  responsibility or informational (CO-45, CO-253, OA-23, ...) is a routine adjustment, never a denial;
- the denial's root cause is that of the CARC with the largest summed amount, unless one of the remarks
  refines that CARC (CO-16 + MA130 -> registration, CO-97 + N362 -> bundling): remarks in the order given,
  the first that names the CARC wins;
- a CARC unknown, or not valid on the remittance date (deactivated before it), is `unclassified` and listed in
  `unknown_codes`, as is an unknown remark (ignored for refinement).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Iterable

from rcm_denials.domain.codes import CodeLists, load_code_lists, norm

UNCLASSIFIED = "unclassified"
GROUPS = {  # what the group code means for who pays, in words for the explanation
    "CO": "contractual obligation: the provider may not bill the patient",
    "OA": "other adjustment",
    "PI": "payer-initiated reduction",
    "CR": "correction or reversal",
    "PR": "patient responsibility",
}


@dataclass(frozen=True)
class DenialClassification:
    root_cause: str
    reason_codes: tuple[str, ...]  # "GROUP-CARC", largest summed amount first (ties: first seen)
    remark_codes: tuple[str, ...]
    denied_amount: Decimal
    work_queue: str
    explanation: str
    follow_up: str
    unknown_codes: tuple[str, ...]  # CARCs/RARCs not in the lists or not valid on the remittance date

    @property
    def category(self) -> str:  # the DenialRecorded field's name
        return self.root_cause


def is_denial(group_code: str, carc: str, on: date, codes: CodeLists | None = None) -> bool:
    """PR never; a known routine adjustment never; any other (an unknown code included) is a denial."""
    codes = codes or load_code_lists()
    if norm(group_code) == "PR":
        return False
    found = codes.carc(carc, on)
    return found is None or found.is_denial


def root_cause_of(carc: str, remarks: Iterable[str], on: date, codes: CodeLists | None = None) -> str:
    codes = codes or load_code_lists()
    found = codes.carc(carc, on)
    if found is None:
        return UNCLASSIFIED
    for remark in remarks:
        rarc = codes.rarc(remark, on)
        if rarc is not None and rarc.refines_to and found.code in rarc.refines_carcs:
            return rarc.refines_to
    return found.root_cause


def classify(adjustments: Iterable[tuple[str, str, Decimal]], remark_codes: Iterable[str] = (), *,
             on: date, codes: CodeLists | None = None) -> DenialClassification | None:
    """Classify the denial rows among the adjustments; None when none of them is a denial.

    Rows with the same group and CARC are summed first (one claim can carry CO-96 on several lines). Negative
    amounts are reversals of an earlier adjudication, not denials, and are ignored."""
    codes = codes or load_code_lists()
    remarks = tuple(dict.fromkeys(norm(r) for r in remark_codes if r and r.strip()))
    totals: dict[tuple[str, str], Decimal] = {}
    for group_code, carc, amount in adjustments:
        group, code = norm(group_code), norm(carc)
        if amount < 0 or not is_denial(group, code, on, codes):
            continue
        totals[(group, code)] = totals.get((group, code), Decimal("0.00")) + amount
    if not totals:
        return None
    order = list(totals)  # first-seen order, used to break ties
    ranked = sorted(order, key=lambda k: (-totals[k], order.index(k)))
    group, carc = ranked[0]
    cause = root_cause_of(carc, remarks, on, codes)
    unknown = tuple([f"{g}-{c}" for g, c in ranked if codes.carc(c, on) is None]
                    + [r for r in remarks if codes.rarc(r, on) is None])
    primary = codes.carc(carc, on)
    refined = primary is not None and cause != primary.root_cause
    follow_up = (primary.follow_up if primary is not None and not refined else codes.root_causes[cause].follow_up)
    return DenialClassification(
        root_cause=cause, reason_codes=tuple(f"{g}-{c}" for g, c in ranked), remark_codes=remarks,
        denied_amount=sum(totals.values(), Decimal("0.00")), work_queue=codes.root_causes[cause].work_queue,
        explanation=explain(ranked, remarks, on, codes), follow_up=follow_up, unknown_codes=unknown)


def explain(ranked: list[tuple[str, str]], remarks: tuple[str, ...], on: date, codes: CodeLists) -> str:
    parts = []
    for group, carc in ranked:
        found = codes.carc(carc, on)
        words = found.description if found is not None else "code not in the CARC list valid on the remittance date"
        parts.append(f"{group}-{carc} ({GROUPS.get(group, 'group ' + group)}): {words}")
    for remark in remarks:
        rarc = codes.rarc(remark, on)
        parts.append(f"remark {remark}: {rarc.description if rarc is not None else 'code not in the RARC list'}")
    return " ".join(parts)


def classify_payment(payment: Any, codes: CodeLists | None = None) -> DenialClassification | None:
    """A posted payment's (PaymentPosted) denial: its adjustments (claim and lines together) and remarks on its
    remittance date. None when nothing on it is a denial."""
    return classify([(a.group_code, a.reason_code, a.amount) for a in payment.adjustments], payment.remark_codes,
                    on=payment.payment_date, codes=codes)


def denied_lines(payment: Any, codes: CodeLists | None = None) -> list[dict[str, Any]]:
    """Each service line of a posted payment (PaymentPosted.lines) that carries denial adjustments, classified on
    its own: line, procedure and modifiers, charge, paid, denied amount, its GROUP-CARCs and root cause (the
    claim's remarks refine it). Lines fully paid or only adjusted by routine codes are left out."""
    out = []
    for line in payment.lines:
        found = classify([(a.group_code, a.reason_code, a.amount) for a in line.adjustments], payment.remark_codes,
                         on=payment.payment_date, codes=codes)
        if found is None:
            continue
        out.append({"line_number": line.line_number, "procedure_code": line.procedure_code,
                    "modifiers": list(line.modifiers), "charge": str(line.charge), "paid": str(line.paid),
                    "denied_amount": str(found.denied_amount), "reason_codes": list(found.reason_codes),
                    "root_cause": found.root_cause})
    return out


def reclassify(reason_codes: Iterable[str], remark_codes: Iterable[str], *, on: date,
               codes: CodeLists | None = None) -> DenialClassification | None:
    """An item recorded earlier, classified again from what it stored: its GROUP-CARCs, largest amount first (the
    order `classify` ranks them in), and its remarks. For items recorded by an older classifier. The amounts are not
    stored per code, so `denied_amount` of the result means nothing; None when none of the codes is a denial now."""
    ranked = [code.split("-", 1) for code in reason_codes if "-" in code]
    rows = [(group, carc, Decimal(len(ranked) - i)) for i, (group, carc) in enumerate(ranked)]
    return classify(rows, remark_codes, on=on, codes=codes)
