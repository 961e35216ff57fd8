"""OpenRCM event contracts: the only code services share about each other (no I/O here)."""

from rcm_contracts.envelope import Envelope, EnvelopeError, decode_envelope, new_envelope
from rcm_contracts.registry import REGISTRY, UnknownEventType, parse_event
from rcm_contracts import topics

__all__ = [
    "Envelope",
    "EnvelopeError",
    "decode_envelope",
    "new_envelope",
    "REGISTRY",
    "UnknownEventType",
    "parse_event",
    "topics",
]
