"""What makes two claim payments "the same payment" (pure), so each is posted exactly once.

A claim payment's key is the SHA-256 of:

    tenant | payer | TRN02 trace | CLP01 | CLP02 | CLP07 (or "") | service dates | CLP03 | CLP04 | occurrence

- payer: who paid. An 835 names its payer up to three ways: N1*PR N104, REF*2U, and TRN03 (the "payer
  identifier", required in 5010). They are not the same strings, so the payer is normalised to ONE key:
  TRN03 when the check has it (it is also what makes TRN02 unique: a trace number is unique per
  originator), else the N1*PR/REF*2U id resolved through the tenant's payer aliases (learned from every
  835 that gives both TRN03 and N1*PR/REF*2U: see `aliases_of`). So the same payment with the payer named
  in N1*PR, in REF*2U or only in TRN03 has one key.
- trace, CLP01, CLP02, CLP07: the check, the claim, what the payer did with it and the payer's own claim
  number. CLP07 is NOT the identity by itself: in the guide's "many claims, one check" example every claim
  shares it, and a reversal (22) and its correction (1) repeat it; CLP02 and CLP01 tell those apart.
  CLP07 absent counts as "" (two claims without CLP07 still differ by CLP01).
- service dates and CLP03/CLP04 (charge, paid): two payments of the same claim in one check (a split claim,
  two dates of service) differ by them.
- occurrence: the n-th claim payment of the check with all the above equal. Position in the file is
  the only thing left to tell two identical CLP loops of one check apart, but ISA13/ST02/claim index
  cannot be part of the key: the same payment re-sent inside another interchange (a new ISA13, a new
  ST02, another claim order) must post nothing new. The occurrence is position made stable: it counts only
  identical payments in the same check, so it is the same number in every re-send.

Not part of it: ISA13, ST02, the claim's index, BPR amounts, CLP05 (informational) or the lines.
"""

from __future__ import annotations

import hashlib
from collections import Counter

from rcm_remittance.domain.remit import Check, ClaimPay


def norm(value: str | None) -> str:
    return "".join((value or "").split()).upper()


def aliases_of(check: Check) -> dict[str, str]:
    """The payer names this check teaches: N1*PR/REF*2U id -> the TRN03 payer key (when it gives both)."""
    if check.trace_originator and check.payer_id and norm(check.payer_id) != norm(check.trace_originator):
        return {norm(check.payer_id): norm(check.trace_originator)}
    return {}


def payer_key(check: Check, aliases: dict[str, str]) -> str:
    """TRN03 when present; else the N1*PR/REF*2U id through the aliases (else as given)."""
    if check.trace_originator:
        return norm(check.trace_originator)
    named = norm(check.payer_id)
    return aliases.get(named, named)


def _components(tenant_id: str, payer: str, trace: str, claim: ClaimPay) -> tuple[str, ...]:
    start, end = claim.dates
    return (tenant_id, payer, norm(trace), claim.patient_control_number.strip(), claim.status_code.strip(),
            norm(claim.payer_claim_control_number), start.isoformat() if start else "",
            end.isoformat() if end else "", str(claim.charge.normalize()), str(claim.paid.normalize()))


def payment_keys(tenant_id: str, check: Check, aliases: dict[str, str]) -> list[str]:
    """One key per claim payment of the check, in the check's order."""
    payer = payer_key(check, aliases)
    seen: Counter[tuple[str, ...]] = Counter()
    keys = []
    for claim in check.claims:
        parts = _components(tenant_id, payer, check.trace_number, claim)
        seen[parts] += 1
        keys.append(hashlib.sha256("\x1f".join((*parts, str(seen[parts]))).encode()).hexdigest())
    return keys


def plb_keys(tenant_id: str, check: Check, aliases: dict[str, str]) -> list[str]:
    """One key per PLB adjustment of the check: payer, trace, provider, reason, reference, amount and the
    occurrence among identical ones (a re-sent check posts its provider adjustments once too)."""
    payer = payer_key(check, aliases)
    seen: Counter[tuple[str, ...]] = Counter()
    keys = []
    for p in check.provider_adjustments:
        parts = ("plb", tenant_id, payer, norm(check.trace_number), norm(p.provider_id), norm(p.reason),
                 norm(p.reference), str(p.amount.normalize()))
        seen[parts] += 1
        keys.append(hashlib.sha256("\x1f".join((*parts, str(seen[parts]))).encode()).hexdigest())
    return keys
