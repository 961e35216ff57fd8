"""HL7 v2 ADT^A04 (register a patient) / ADT^A08 (update patient information) -> PatientRegistrationReceived
(pure, no I/O), for eligibility, which keeps registrations.

Parsing is hl7_dft's (same tolerance, same delimiters, same field paths and fixed reasons: no PHI in them).

* patient id (the MRN eligibility registers under): PID-3, the repetition with identifier type (CX-5) MR, else
  the first; name PID-5, birth date PID-7, sex PID-8, address PID-11 (required: a registration is checked
  against it), phone PID-13 (XTN-1, or XTN-6 area code + XTN-7 number).
* coverages: each IN1 (at most 3; IN1-1 set id is the order of benefits, 1 primary): payer id IN1-3 (else IN1-2),
  payer name IN1-4, member id IN1-36 > IN1-49, group IN1-8, relationship IN1-17, effective IN1-12 (required:
  registration checks the date of service against it), expiration IN1-13, subscriber IN1-16/18/43/19 when not
  the patient. No IN1: the coverages on file stay as they are (an A08 often carries demographics only).
"""

from __future__ import annotations

import re

# hl7_dft's tolerant ER7 reader and value helpers, shared rather than copied
from rcm_charges.domain.hl7_dft import (_RELATIONSHIPS, _SEX, IntakeError, _address, _component, _hl7_date, _parse,
                                        _Problems, _Segment, _subscriber)
from rcm_contracts.claim import Person
from rcm_contracts.events import PatientRegistrationReceived, RegistrationCoverage

REGISTRATION_TRIGGERS = frozenset({"A04", "A08"})
MAX_COVERAGES = 3
_INTERNAL_REASON = "could not be read as an HL7 v2 ADT message"

_NANP = re.compile(r"[2-9][0-9]{2}[2-9][0-9]{6}")


def adt_to_registration(message: str) -> PatientRegistrationReceived:
    """Raises IntakeError, and only IntakeError, when the message cannot become a registration."""
    try:
        return _AdtMapper(message).map()
    except IntakeError:
        raise
    except Exception:  # noqa: BLE001 - bad input never raises anything but IntakeError
        raise IntakeError([{"field": "message", "reason": _INTERNAL_REASON}]) from None


class _AdtMapper:
    def __init__(self, message: str) -> None:
        self.msg = _parse(message)
        self.problems = _Problems()

    def map(self) -> PatientRegistrationReceived:
        msh = self.msg.first("MSH")
        assert msh is not None
        trigger = msh.component(9, 2).upper()
        if msh.component(9, 1).upper() != "ADT" or trigger not in REGISTRATION_TRIGGERS:
            raise IntakeError([{"field": "MSH-9", "reason": "message type must be ADT^A04 or ADT^A08"}])
        source_system = msh.component(3, 1) or msh.component(3, 2)
        if not source_system:
            self.problems.add("MSH-3", "is required (the sending application)")
        control_id = msh.component(10)
        if not control_id:
            self.problems.add("MSH-10", "is required (the message control id)")
        pid = self.msg.first("PID")
        if pid is None:
            raise IntakeError([{"field": "PID", "reason": "is required: the patient"}])
        patient_id = self._patient_id(pid)
        patient = self._patient(pid)
        coverages = [c for c in (self._coverage(in1) for in1 in self.msg.all("IN1")[:MAX_COVERAGES]) if c]
        if len(self.msg.all("IN1")) > MAX_COVERAGES:
            self.problems.add("IN1", f"more than {MAX_COVERAGES} coverages")
        self.problems.raise_if_any()
        try:
            return PatientRegistrationReceived(
                source_system=source_system[:64], message_control_id=control_id, trigger=trigger,
                patient_id=patient_id, patient=patient, phone=self._phone(pid), coverages=coverages)
        except ValueError:  # a length or format the contract refuses (pydantic's message may hold values)
            raise IntakeError([{"field": "PID", "reason": "a patient field is too long or malformed"}]) from None

    def _patient_id(self, pid: _Segment) -> str:
        reps = pid.repetitions(3)
        chosen = next((r for r in reps if _cx(r, pid, 5).upper() == "MR"), reps[0] if reps else "")
        value = _cx(chosen, pid, 1)
        if not value:
            self.problems.add("PID-3", "is required: the patient identifier (MRN)")
        elif len(value) > 64:
            self.problems.add("PID-3", "is longer than 64 characters")
        return value

    def _patient(self, pid: _Segment) -> Person | None:
        family, given = pid.component(5, 1), pid.component(5, 2)
        if not family:
            self.problems.add("PID-5.1", "is required: the patient's last name")
        if not given:
            self.problems.add("PID-5.2", "is required: the patient's first name")
        birth_date = _hl7_date(pid.component(7)) if pid.component(7) else None
        if not pid.component(7):
            self.problems.add("PID-7", "is required: the patient's birth date")
        elif birth_date is None:
            self.problems.add("PID-7", "must be a date YYYYMMDD")
        address = _address(pid, 11)
        if address is None:
            self.problems.add("PID-11", "is required: a US address (street, city, state, 5 or 9 digit ZIP)")
        if not family or not given or birth_date is None or address is None:
            return None
        try:
            return Person(first_name=given[:35], last_name=family[:60], birth_date=birth_date,
                          sex=_SEX.get(pid.component(8).upper(), "U"), address=address)
        except ValueError:
            self.problems.add("PID-5", "the patient's name cannot be read")
            return None

    @staticmethod
    def _phone(pid: _Segment) -> str | None:
        raw = pid.component(13, 1) or (pid.component(13, 6) + pid.component(13, 7))
        digits = re.sub(r"\D", "", raw)
        if len(digits) == 11 and digits.startswith("1"):
            digits = digits[1:]
        # a 10-digit NANP number (area code and exchange start 2-9, as eligibility's registration requires);
        # anything else is left out, not guessed: a registration must never be refused after its AA for a phone
        return digits if _NANP.fullmatch(digits) else None

    def _coverage(self, in1: _Segment) -> RegistrationCoverage | None:
        p = lambda n: in1.path(n, repeating=True)  # noqa: E731
        payer_id = in1.component(3) or in1.component(2)
        member_id = in1.component(36) or in1.component(49)
        effective = _hl7_date(in1.component(12)) if in1.component(12) else None
        expires = _hl7_date(in1.component(13)) if in1.component(13) else None
        order = in1.component(1)
        if not payer_id:
            self.problems.add(p(3), "is required (or IN1-2): the payer id")
        if not member_id:
            self.problems.add(p(36), "is required (or IN1-49): the member id")
        if not in1.component(12):
            self.problems.add(p(12), "is required: the plan's effective date")
        elif effective is None:
            self.problems.add(p(12), "must be a date YYYYMMDD")
        if in1.component(13) and expires is None:
            self.problems.add(p(13), "must be a date YYYYMMDD")
        if order and order not in ("1", "2", "3"):
            self.problems.add(p(1), "must be 1, 2 or 3 (the order of benefits)")
        if not payer_id or not member_id or effective is None or (in1.component(13) and expires is None):
            return None
        relationship = _RELATIONSHIPS.get(in1.component(17).upper(), "other")
        try:
            return RegistrationCoverage(
                payer_id=payer_id, payer_name=(in1.component(4) or payer_id)[:60], member_id=member_id,
                group_number=in1.component(8) or None, relationship=relationship,
                subscriber=None if relationship == "self" else _subscriber(in1),
                order_of_benefits=int(order) if order in ("1", "2", "3") else 1,
                effective_from=effective, effective_to=expires)
        except ValueError:
            self.problems.add(p(1), "a coverage field is too long or malformed")
            return None


def _cx(rep: str, segment: _Segment, c: int) -> str:
    return _component(rep, c, segment.delims)
