"""Which tenant an 835 that arrived on a clearinghouse connection is for.

A check pays one payee (a practice: one tenant), and the clearinghouse mailbox is shared by every tenant, so
the file itself must say whose it is: by the claims it pays. Each CLP01 is a patient control number we sent
(CLM01, unique per tenant, though two tenants' claims with the same claim id share one). The file is for the
one tenant every claim we know of belongs to; it is never guessed: no claim we know, or claims that only
several tenants together account for, and the file is quarantined for an operator.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from rcm_x12.codec import split_interchanges, tokenize


@dataclass(frozen=True)
class EraTenant:
    tenant_id: str | None
    reason: str | None = None  # why no tenant (no PHI: counts only)


def claim_numbers(text: str) -> list[str]:
    """The CLP01 (patient control numbers) of every claim payment in the file, all its interchanges, in order.
    Raises X12Error when the text is not X12."""
    numbers: list[str] = []
    for chunk in split_interchanges(text):
        _, segments = tokenize(chunk)
        numbers += [s.element(1) for s in segments if s.tag == "CLP" and s.element(1)]
    return numbers


def tenant_for(numbers: Iterable[str], owners: Mapping[str, Iterable[str]]) -> EraTenant:
    """`owners`: for each patient control number we sent, the tenants whose claims carry it. Claims we do not
    know (sent before this deployment, or by hand) do not count against a tenant the known ones agree on:
    remittance queues them as that tenant's unmatched payments."""
    numbers = list(dict.fromkeys(numbers))
    if not numbers:
        return EraTenant(None, "the 835 pays no claim (no CLP segment)")
    known = {n: set(owners[n]) for n in numbers if owners.get(n)}
    if not known:
        return EraTenant(None, f"the 835 names none of the claims this deployment sent ({len(numbers)} claims)")
    candidates = set.intersection(*known.values())
    if len(candidates) == 1:
        return EraTenant(next(iter(candidates)))
    tenants = set.union(*known.values())
    if candidates:
        return EraTenant(None, f"the 835's claims are claims of {len(candidates)} tenants alike (they share the "
                               "patient control numbers); upload it through POST /v1/remittances/x12 as its tenant")
    return EraTenant(None, f"the 835 pays claims of {len(tenants)} tenants; a check pays one payee: split it, or "
                           "upload it through POST /v1/remittances/x12 per tenant")

