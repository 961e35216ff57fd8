"""Denial trends and denial patterns (pure, no I/O).

Per posted payment, the facts a denial rate needs: what was billed, what was denied and on which lines with which
CARC (`payment_facts`). A denial rate is denied claims / claims paid or denied, and denied amount / billed amount.

A denial pattern is one payer denying one procedure code with one CARC (group and code: CO-96) on more than N
claims (N per tenant, default 5) within 30 days of remittance dates. When it passes, one recommendation is made
for that window; the next one for the same pattern counts only denials after that window's end, so a pattern is
recommended at most once per window however often its denials are redelivered or arrive late.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from rcm_denials.domain.codes import norm
from rcm_denials.domain.root_cause import DenialClassification, classify, is_denial

ZERO = Decimal("0.00")
WINDOW_DAYS = 30
DEFAULT_THRESHOLD = 5
# ids of recommendations: the same pattern and window always give the same id (a consumer dedupes on it)
_NAMESPACE = uuid.UUID("7f3d0c1e-6a2b-5c4d-8e9f-0a1b2c3d4e5f")


@dataclass(frozen=True)
class DeniedLine:
    procedure_code: str
    carc: str  # GROUP-CARC, e.g. CO-96
    amount: Decimal


@dataclass(frozen=True)
class PaymentFacts:
    billed: Decimal
    denied_amount: Decimal
    root_cause: str | None  # None: nothing denied
    reason_codes: tuple[str, ...]
    carc_amounts: dict[str, Decimal]  # GROUP-CARC -> denied amount (claim and line adjustments, summed)
    denied_lines: tuple[DeniedLine, ...]

    @property
    def denied(self) -> bool:
        return self.denied_amount > 0


def payment_facts(total_charge: Decimal, adjustments: Iterable[tuple[str, str, Decimal]],
                  lines: Iterable[tuple[str, Iterable[tuple[str, str, Decimal]]]], *, on: date,
                  remark_codes: Iterable[str] = (), found: DenialClassification | None = None) -> PaymentFacts:
    """The denial facts of one posted payment: `adjustments` (group, carc, amount) are the payment's (claim and line
    adjustments together, as remittance publishes them); `lines` are (procedure code, its own adjustments); `on` the
    remittance date (which code lists are valid), `remark_codes` its RARCs (they refine the root cause); `found`
    the payment's classification when the caller has it (classified here otherwise)."""
    adjustments = list(adjustments)
    if found is None:
        found = classify(adjustments, remark_codes, on=on)
    carc_amounts: dict[str, Decimal] = {}
    for group, carc, amount in adjustments:
        if is_denial(group, carc, on) and amount > 0:
            key = f"{norm(group)}-{norm(carc)}"
            carc_amounts[key] = carc_amounts.get(key, ZERO) + amount
    denied_lines = []
    for code, line_adjustments in lines:
        per_carc: dict[str, Decimal] = {}
        for group, carc, amount in line_adjustments:
            if is_denial(group, carc, on) and amount > 0:
                key = f"{norm(group)}-{norm(carc)}"
                per_carc[key] = per_carc.get(key, ZERO) + amount
        denied_lines += [DeniedLine(norm(code), carc, amount) for carc, amount in per_carc.items()]
    return PaymentFacts(billed=total_charge, denied_amount=found.denied_amount if found else ZERO,
                        root_cause=found.root_cause if found else None,
                        reason_codes=found.reason_codes if found else (), carc_amounts=carc_amounts,
                        denied_lines=tuple(denied_lines))


# ---------------------------------------------------------------- trends


@dataclass(frozen=True)
class TrendRow:
    """One group's counts (what SQL sums): payments paid or denied, those denied, billed and denied amounts."""

    key: str
    claims: int
    denied_claims: int
    billed: Decimal
    denied_amount: Decimal


def rate(part: Decimal | int, whole: Decimal | int) -> Decimal | None:
    """A share rounded to 4 places; None when there is nothing to divide by."""
    if not whole:
        return None
    return (Decimal(part) / Decimal(whole)).quantize(Decimal("0.0001"))


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)  # money and rates travel as decimal strings, never floats


def trend_item(row: TrendRow) -> dict:
    return {"key": row.key, "claims": row.claims, "denied_claims": row.denied_claims,
            "denial_rate_count": _text(rate(row.denied_claims, row.claims)), "billed_amount": _text(row.billed),
            "denied_amount": _text(row.denied_amount),
            "denial_rate_amount": _text(rate(row.denied_amount, row.billed))}


# ---------------------------------------------------------------- patterns


@dataclass(frozen=True)
class Pattern:
    payer_id: str
    procedure_code: str
    carc: str  # GROUP-CARC


@dataclass(frozen=True)
class Occurrence:
    claim_id: uuid.UUID
    on: date  # remittance (payment) date
    amount: Decimal


@dataclass(frozen=True)
class Recommendation:
    recommendation_id: uuid.UUID
    pattern: Pattern
    count: int
    threshold: int
    window_start: date
    window_end: date
    denied_amount: Decimal
    rule_id: str
    message: str


def rule_id(pattern: Pattern) -> str:
    """The suggested scrubber rule's id: DNL-<payer>-<code>-<carc>, within the custom rule id alphabet (64)."""
    raw = f"DNL-{pattern.payer_id}-{pattern.procedure_code}-{pattern.carc}"
    return re.sub(r"[^A-Za-z0-9._-]", "_", raw)[:64]


def _message(p: Pattern, count: int, threshold: int, start: date, end: date) -> str:
    # static text of codes, counts and dates only: no claim's or patient's data
    return (f"denial pattern: payer {p.payer_id} denied {p.procedure_code} with {p.carc} on {count} claims from "
            f"{start.isoformat()} to {end.isoformat()} (more than {threshold} in {WINDOW_DAYS} days); "
            "check the payer's policy and coverage before sending")


def detect(tenant_id: str, pattern: Pattern, occurrences: Sequence[Occurrence], *, threshold: int,
           covered_until: date | None = None, window_days: int = WINDOW_DAYS) -> list[Recommendation]:
    """The recommendations a pattern's denials call for: a window of `window_days` (both ends included) ending on a
    denial's date holding denials of more than `threshold` distinct claims. Only denials after `covered_until` (the
    end of the pattern's latest recommended window) count, and each recommendation moves it on."""
    if threshold < 1:
        raise ValueError("the threshold is at least 1")
    # one pass: a window sliding over the denials by date (both of its ends only move forward), holding how many
    # of each claim's denials it contains and their amount
    dated = sorted(occurrences, key=lambda o: o.on)
    claims: dict[uuid.UUID, int] = {}
    amount, lo, hi, found = ZERO, 0, 0, []
    for end in sorted({o.on for o in dated}):
        if covered_until is not None and end <= covered_until:
            continue
        while hi < len(dated) and dated[hi].on <= end:
            claims[dated[hi].claim_id] = claims.get(dated[hi].claim_id, 0) + 1
            amount += dated[hi].amount
            hi += 1
        start = end - timedelta(days=window_days - 1)
        after = start if covered_until is None else max(start, covered_until + timedelta(days=1))
        while lo < hi and dated[lo].on < after:
            gone = dated[lo].claim_id
            claims[gone] -= 1
            if not claims[gone]:
                del claims[gone]
            amount -= dated[lo].amount
            lo += 1
        if len(claims) > threshold:
            key = f"{tenant_id}|{pattern.payer_id}|{pattern.procedure_code}|{pattern.carc}|{end.isoformat()}"
            found.append(Recommendation(
                recommendation_id=uuid.uuid5(_NAMESPACE, key), pattern=pattern, count=len(claims),
                threshold=threshold, window_start=start, window_end=end, denied_amount=amount,
                rule_id=rule_id(pattern), message=_message(pattern, len(claims), threshold, start, end)))
            covered_until = end
    return found
