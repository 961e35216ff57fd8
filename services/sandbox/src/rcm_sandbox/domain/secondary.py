"""The sandbox payer as a secondary (supplemental) plan: adjudicates a claim whose SBR01 is S against the earlier
payer's adjudication the 837P carries (2320 claim level, 2430 per line). Pure; money is Decimal.

What a supplemental plan does, per line:

1. The earlier payer's patient responsibility on the line, by CARC (PR-1 deductible, PR-2 coinsurance, PR-3
   copay, other PR): from its 2430 for the line when it sent one; when it reported claim-level adjustments
   only (2320 without 2430), its PR amounts are laid over the lines in line order, each line taking up to
   its charge (the claim's totals are exact, the split across lines is the sandbox's choice).
2. The plan pays the reasons it covers (`PayerRules.secondary_covers`), less its own member's cost share
   (its deductible as PR-1, then its coinsurance as PR-2; a supplement has no copay of its own).
3. CAS OA-23 carries the earlier payer's impact (charge less what it left to the patient); what the plan did not
   pay stays PR with its reason. So charge - paid = OA-23 + PR on every line, and the claim's PR is what the
   patient still owes after both payers.

A member the plan does not know (or whose coverage ended) is denied (CLP02 4): the prior payer's impact as OA-23
and the patient's share as PR-31 / PR-27, so the patient keeps owing it (a CO denial would write it off).
"""

from __future__ import annotations

from decimal import Decimal

from rcm_contracts.claim import Adjustment, Claim, OtherPayer, ServiceLine

from rcm_sandbox.domain.adjudication import (
    ZERO,
    AdjustmentRow,
    ClaimAdjudication,
    LineAdjudication,
    MemberBenefits,
    PayerRules,
    _cents,
    _check_balanced,
    _summarize,
)

PRIOR_PAYER_IMPACT = ("OA", "23")  # CARC 23: the impact of prior payer(s) adjudication


def adjudicate_secondary(claim: Claim, benefits: MemberBenefits | None, rules: PayerRules) -> ClaimAdjudication:
    lines = sorted(claim.lines, key=lambda ln: ln.line_number)
    prior = _prior_patient_shares(lines, claim.other_payers[0] if claim.other_payers else None)
    unknown = benefits is None or claim.coverage is None or claim.coverage.member_id != benefits.member_id
    if unknown or not benefits.active:
        results = [_denied(line, prior[line.line_number], "31" if unknown else "27") for line in lines]
        outcome = "denied"
    else:
        deductible_left = _cents(max(benefits.deductible_remaining, ZERO))
        results = []
        for line in lines:
            result, deductible_left = _paid(line, prior[line.line_number], rules, benefits, deductible_left)
            results.append(result)
        outcome = "paid"
    for result in results:
        _check_balanced(result)
    return ClaimAdjudication(
        claim_id=claim.claim_id, total_charge=_cents(claim.total_charge),
        # what this plan allowed: what it took on (its payment and its member's cost share), not the charge
        allowed=sum((r.allowed for r in results), ZERO), paid=sum((r.paid for r in results), ZERO),
        patient_responsibility=sum((r.patient_responsibility for r in results), ZERO),
        adjustments=_summarize(results), lines=results, outcome=outcome, remark_codes=[])


def _paid(line: ServiceLine, prior_pr: list[AdjustmentRow], rules: PayerRules, benefits: MemberBenefits,
          deductible_left: Decimal) -> tuple[LineAdjudication, Decimal]:
    charge = _cents(line.charge)
    covered = sum((a for _, carc, a in prior_pr if carc in rules.secondary_covers), ZERO)
    deductible = min(deductible_left, covered)
    coinsurance = min(covered - deductible, _cents((covered - deductible) * benefits.coinsurance_rate))
    paid = covered - deductible - coinsurance
    patient = [(g, carc, a) for g, carc, a in prior_pr if carc not in rules.secondary_covers]
    patient += [("PR", "1", deductible), ("PR", "2", coinsurance)]
    rows = _merged([_prior_impact(charge, prior_pr), *patient])
    return (LineAdjudication(line.line_number, line.procedure_code, charge, allowed=covered, paid=paid,
                             adjustments=rows), deductible_left - deductible)


def _denied(line: ServiceLine, prior_pr: list[AdjustmentRow], carc: str) -> LineAdjudication:
    charge = _cents(line.charge)
    owed = sum((a for _, _, a in prior_pr), ZERO)
    return LineAdjudication(line.line_number, line.procedure_code, charge, allowed=ZERO, paid=ZERO,
                            adjustments=_merged([_prior_impact(charge, prior_pr), ("PR", carc, owed)]))


def _prior_impact(charge: Decimal, prior_pr: list[AdjustmentRow]) -> AdjustmentRow:
    return (*PRIOR_PAYER_IMPACT, charge - sum((a for _, _, a in prior_pr), ZERO))


def _merged(rows: list[AdjustmentRow]) -> list[AdjustmentRow]:
    """One row per (group, CARC), zero rows left out (a CAS amount of 0 says nothing)."""
    totals: dict[tuple[str, str], Decimal] = {}
    for group, carc, amount in rows:
        totals[(group, carc)] = totals.get((group, carc), ZERO) + amount
    return [(g, c, a) for (g, c), a in totals.items() if a]


def _prior_patient_shares(lines: list[ServiceLine], prior: OtherPayer | None) -> dict[int, list[AdjustmentRow]]:
    """Per line number, the earlier payer's PR rows (CARC -> amount), never more than the line's charge."""
    shares: dict[int, list[AdjustmentRow]] = {line.line_number: [] for line in lines}
    if prior is None:
        return shares
    by_line = {adj.line_number: adj for adj in prior.lines}
    if by_line:
        for line in lines:
            reported = by_line.get(line.line_number)
            shares[line.line_number] = _pr_rows(reported.adjustments) if reported else []
        return shares
    room = {line.line_number: _cents(line.charge) for line in lines}
    for group, carc, amount in _pr_rows(prior.adjustments):
        for line in lines:
            take = min(amount, room[line.line_number])
            if take:
                shares[line.line_number].append((group, carc, take))
                room[line.line_number] -= take
                amount -= take
    return shares


def _pr_rows(adjustments: list[Adjustment]) -> list[AdjustmentRow]:
    return _merged([("PR", a.reason_code, _cents(a.amount)) for a in adjustments
                    if a.group_code == "PR" and a.amount > 0])
