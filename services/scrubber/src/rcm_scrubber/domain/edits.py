"""Compatibility face of the scrubber's rule engine for callers written before rule sets: the built-in
default rule set, no duplicate fingerprints, no coverage dates. New callers use rcm_scrubber.domain.engine."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from rcm_contracts.claim import Claim
from rcm_contracts.events import Edit

from rcm_scrubber.domain.engine import ScrubContext, decision, npi_is_valid
from rcm_scrubber.domain.engine import scrub as _scrub

__all__ = ["decision", "npi_is_valid", "scrub"]


def scrub(claim: Claim, *, today: date, upstream: Sequence[Edit] = (), tenant_id: str = "") -> list[Edit]:
    return _scrub(claim, context=ScrubContext(today=today, tenant_id=tenant_id, upstream=upstream))
