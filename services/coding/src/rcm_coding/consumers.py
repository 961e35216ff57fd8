"""coding reacts to verified coverage: event type -> use case (run the coding engine, queue what a coder
must fix)."""

from rcm_contracts.events import CoverageVerified
from rcm_runtime.consumer import Handler

from rcm_coding.service import Coding


def handlers(coding: Coding) -> dict[str, Handler]:
    return {CoverageVerified.event_type(): coding.on_coverage_verified}
