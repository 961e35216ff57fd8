"""Building the 005010X279A1 270 eligibility inquiry (pure).

Free text (names) goes through rcm_x12.format.free_text, like every writer's: transliterated to ASCII,
delimiters blanked. Loop layout follows the TR3 examples (and the shared samples): 2000A payer, 2000B provider, 2000C
subscriber, and 2000D dependent only when the patient is not the subscriber. Patient-specific segments
(TRN, DMG, DTP*291, EQ) go in the patient's own loop, so the subscriber loop of a dependent inquiry
carries identification only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

from rcm_x12.codec import Segment, build_interchange
from rcm_x12.format import free_text, npi_is_valid

IMPLEMENTATION = "005010X279A1"
FUNCTIONAL_ID = "HS"  # GS01 for a 270

Relationship = Literal["self", "spouse", "child", "other"]  # same vocabulary as rcm_contracts Coverage
Sex = Literal["M", "F", "U"]

_SERVICE_TYPE = re.compile(r"[A-Z0-9]{1,2}")


@dataclass(frozen=True)
class Subscriber:
    member_id: str
    first_name: str
    last_name: str
    birth_date: date | None = None
    sex: Sex | None = None


@dataclass(frozen=True)
class Dependent:
    """The patient, when it is not the subscriber (5010 dependents have no member id of their own)."""

    first_name: str
    last_name: str
    birth_date: date
    sex: Sex | None = None


@dataclass(frozen=True)
class EligibilityInquiry:
    payer_id: str
    payer_name: str
    provider_npi: str
    provider_name: str  # organisation name, or last name when provider_first_name is given
    subscriber: Subscriber
    date_of_service: date
    provider_first_name: str | None = None
    relationship: Relationship = "self"
    dependent: Dependent | None = None
    service_type_codes: tuple[str, ...] = ("30",)  # 30 = health benefit plan coverage
    trace_number: str | None = None  # TRN02; defaults to the control number
    trace_originator: str | None = None  # TRN03 (10 chars); defaults to "9" + sender id

    def __post_init__(self) -> None:
        object.__setattr__(self, "service_type_codes", tuple(self.service_type_codes))
        # Messages name the field, never its value (names, ids and dates are PHI).
        if not npi_is_valid(self.provider_npi):
            raise ValueError("provider NPI must be 10 digits with a valid check digit")
        if not self.payer_id.strip() or not self.payer_name.strip():
            raise ValueError("payer id and name are required")
        if not self.subscriber.member_id.strip():
            raise ValueError("subscriber member id is required")
        if not self.service_type_codes or not all(_SERVICE_TYPE.fullmatch(c) for c in self.service_type_codes):
            raise ValueError("service type codes must be 1-2 upper-case letters/digits")
        if (self.relationship == "self") != (self.dependent is None):
            raise ValueError("a dependent is given exactly when the patient is not the subscriber")
        if self.trace_originator is not None and len(self.trace_originator) != 10:
            raise ValueError("trace originator (TRN03) must be 10 characters")

    @property
    def patient_is_subscriber(self) -> bool:
        return self.dependent is None


def build_270(
    inquiry: EligibilityInquiry, *, control_number: int, sender_id: str, receiver_id: str, now: datetime,
    usage: str = "P",
) -> str:
    """A complete interchange (ISA..IEA) holding one 270 for `inquiry`."""
    segments = transaction_270(inquiry, control_number=control_number, sender_id=sender_id, now=now)
    return build_interchange(sender_id, receiver_id, control_number, FUNCTIONAL_ID, IMPLEMENTATION, [segments],
                             now=now, usage=usage)


def build_270_batch(
    inquiries: list[EligibilityInquiry], *, control_number: int, sender_id: str, receiver_id: str, now: datetime,
    usage: str = "P",
) -> str:
    """One interchange with a 270 per inquiry (ST02 = 0001..n). Each inquiry needs its own trace
    number: the 271s come back in one interchange and are matched on the echoed TRN02."""
    transactions = [transaction_270(inq, control_number=i, sender_id=sender_id, now=now)
                    for i, inq in enumerate(inquiries, start=1)]
    return build_interchange(sender_id, receiver_id, control_number, FUNCTIONAL_ID, IMPLEMENTATION, transactions,
                             now=now, usage=usage)


def transaction_270(inquiry: EligibilityInquiry, *, control_number: int, sender_id: str, now: datetime) -> list[Segment]:
    """ST..(SE added by the envelope) of one 270."""
    st02 = f"{control_number:04d}"
    reference = inquiry.trace_number or str(control_number)
    originator = inquiry.trace_originator or _default_originator(sender_id)
    return [
        Segment("ST", ["270", st02, IMPLEMENTATION]),
        # 0022 = information source/receiver structure, 13 = request
        Segment("BHT", ["0022", "13", reference, f"{now:%Y%m%d}", f"{now:%H%M}"]),
        *_payer_loop(inquiry),
        *_provider_loop(inquiry),
        *_subscriber_loop(inquiry, reference, originator),
        *_dependent_loop(inquiry, reference, originator),
    ]


def _payer_loop(inquiry: EligibilityInquiry) -> list[Segment]:
    return [
        Segment("HL", ["1", "", "20", "1"]),
        Segment("NM1", ["PR", "2", free_text(inquiry.payer_name), "", "", "", "", "PI", inquiry.payer_id.strip()]),
    ]


def _provider_loop(inquiry: EligibilityInquiry) -> list[Segment]:
    person = inquiry.provider_first_name is not None
    name = [free_text(inquiry.provider_name), free_text(inquiry.provider_first_name or "")]
    return [
        Segment("HL", ["2", "1", "21", "1"]),
        Segment("NM1", ["1P", "1" if person else "2", *name, "", "", "", "XX", inquiry.provider_npi]),
    ]


def _subscriber_loop(inquiry: EligibilityInquiry, reference: str, originator: str) -> list[Segment]:
    sub = inquiry.subscriber
    segments = [Segment("HL", ["3", "2", "22", "0" if inquiry.patient_is_subscriber else "1"])]
    # Ids are sent as given (the writer refuses delimiter characters): altering one would query someone else.
    name = Segment("NM1", ["IL", "1", free_text(sub.last_name), free_text(sub.first_name), "", "", "", "MI",
                           sub.member_id.strip()])
    if not inquiry.patient_is_subscriber:
        return [*segments, name]
    return [*segments, _trace(reference, originator), name, *_demographics(sub.birth_date, sub.sex),
            *_service_request(inquiry)]


def _dependent_loop(inquiry: EligibilityInquiry, reference: str, originator: str) -> list[Segment]:
    dep = inquiry.dependent
    if dep is None:
        return []
    return [
        Segment("HL", ["4", "3", "23", "0"]),
        _trace(reference, originator),
        Segment("NM1", ["03", "1", free_text(dep.last_name), free_text(dep.first_name)]),
        *_demographics(dep.birth_date, dep.sex),
        *_service_request(inquiry),
    ]


def _trace(reference: str, originator: str) -> Segment:
    return Segment("TRN", ["1", reference, originator])  # 1 = current transaction trace number


def _demographics(birth_date: date | None, sex: Sex | None) -> list[Segment]:
    # DMG01/02 are required once the segment is sent, so no birth date means no DMG at all.
    if birth_date is None:
        return []
    return [Segment("DMG", ["D8", f"{birth_date:%Y%m%d}", sex or ""])]


def _service_request(inquiry: EligibilityInquiry) -> list[Segment]:
    return [Segment("DTP", ["291", "D8", f"{inquiry.date_of_service:%Y%m%d}"]),
            *(Segment("EQ", [code]) for code in inquiry.service_type_codes)]


def _default_originator(sender_id: str) -> str:
    # TRN03 is "1"+EIN, "3"+DUNS or "9"+a 9-character user-assigned id; the submitter id is ours to assign.
    return "9" + sender_id.strip()[-9:].rjust(9, "0")
