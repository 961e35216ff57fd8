"""Registration and pre-visit checks: patients and coverages on file, appointments verified ahead
of the date of service so problems reach the front desk before the patient arrives."""

from __future__ import annotations

import dataclasses
import logging
import uuid
from dataclasses import dataclass
from datetime import date

from sqlalchemy import delete, func, select, tuple_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from rcm_contracts.claim import Address, Claim, Coverage, Person, ServiceLine
from rcm_contracts.events import AppointmentScheduled, PatientRegistrationReceived
from rcm_runtime.errors import DomainError
from rcm_runtime.bulk import BulkInsert
from rcm_runtime.reads import jsonable

from rcm_eligibility.db import PHI, appointments, member_id_rules, patients
from rcm_eligibility.domain.decision import Decision
from rcm_eligibility.domain.registration import (
    CoverageRegistration, PatientRegistration, PayerMemberIdRules, RegistrationProblem, validate_registration,
)

_put_patient = BulkInsert(patients, ["tenant_id", "patient_id", "patient_key", "patient", "coverages"],
                          on_conflict="ON CONSTRAINT uq_patient DO UPDATE SET patient = EXCLUDED.patient, "
                                      "coverages = EXCLUDED.coverages, updated_at = now()")
_put_appointment = BulkInsert(appointments, ["id", "tenant_id", "source_system", "source_appointment_id", "patient_id",
                                             "scheduled_date", "status", "work_queue", "problems", "eligibility"],
                              on_conflict="ON CONSTRAINT uq_appointment DO UPDATE SET scheduled_date = "
                                          "EXCLUDED.scheduled_date, status = EXCLUDED.status, work_queue = "
                                          "EXCLUDED.work_queue, problems = EXCLUDED.problems, eligibility = "
                                          "EXCLUDED.eligibility, checked_at = now()",
                              returning=["id", "tenant_id", "source_system", "source_appointment_id"])


DEFAULT_RULE_KEY = "*"  # member_id_rules.payer_id of a tenant's default format
log = logging.getLogger("rcm.eligibility.registrations")


async def tenant_member_id_rules(conn: AsyncConnection, tenant_ids: set[str]) -> dict[str, PayerMemberIdRules]:
    """Each tenant's member-id formats (built-in default where a tenant configured none)."""
    rows = await conn.execute(select(member_id_rules).where(member_id_rules.c.tenant_id.in_(tenant_ids)))
    configs: dict[str, dict] = {t: {"payers": {}} for t in tenant_ids}
    for r in rows:
        if r.payer_id == DEFAULT_RULE_KEY:
            configs[r.tenant_id]["default"] = r.pattern
        else:
            configs[r.tenant_id]["payers"][r.payer_id] = r.pattern

    def skipped(tenant_id: str):
        # a rule stored before patterns had to be RE2 must not fail every registration of its tenant: it is left
        # out (the built-in format applies) and reported, until the tenant sets it again
        return lambda name, reason: log.warning("stored member-id rule left out", extra={
            "tenant_id": tenant_id, "reason": reason})

    return {t: PayerMemberIdRules.from_mapping(c, on_invalid=skipped(t)) for t, c in configs.items()}


async def rules_of(conn: AsyncConnection, tenant_id: str) -> PayerMemberIdRules:
    return (await tenant_member_id_rules(conn, {tenant_id}))[tenant_id]


async def register(conn: AsyncConnection, *, tenant_id: str, patient_id: str, patient: PatientRegistration,
                   coverages: list[CoverageRegistration], today: date) -> list[RegistrationProblem]:
    """Store the registration unless it has errors; warnings are stored with it and returned."""
    problems = validate_registration(patient, coverages, today=today, rules=await rules_of(conn, tenant_id))
    if not any(p.severity == "error" for p in problems):
        await _put_patient.execute(conn, [PHI.seal(patients, {
            "tenant_id": tenant_id, "patient_id": patient_id, "patient": patient.model_dump(mode="json"),
            "coverages": [c.model_dump(mode="json") for c in coverages]})])
    return problems


class RegistrationRefused(DomainError):
    """A registration from a feed (HL7 ADT) with errors: nothing stored; dead-lettered with the problems' fields and
    codes (never the patient's values) for a person to fix at the source and resend."""

    code = "registration_refused"


def registration_from_feed(event: PatientRegistrationReceived,
                           on_file: list[dict] | None) -> tuple[PatientRegistration, list[CoverageRegistration]]:
    """The feed's registration in eligibility's terms. No coverage in the message: the coverages on file stay."""
    person = event.patient
    address = person.address.model_dump(mode="json") if person.address else None
    patient = PatientRegistration.model_validate({
        "first_name": person.first_name, "last_name": person.last_name, "birth_date": person.birth_date,
        "sex": person.sex, "address": address, "phone": event.phone})
    if event.coverages:
        coverages = [CoverageRegistration.model_validate(c.model_dump(mode="json")) for c in event.coverages]
    else:
        coverages = [CoverageRegistration.model_validate(c) for c in on_file or []]
    return patient, coverages


async def register_from_feed(conn: AsyncConnection, *, tenant_id: str, event: PatientRegistrationReceived,
                             today: date) -> list[RegistrationProblem]:
    """Store a feed's registration (ADT^A04 new, ADT^A08 update) like PUT /patients/{id}; raises
    RegistrationRefused when it has errors."""
    key = PHI.blind_index(patients, "patient_id", event.patient_id, tenant=tenant_id)
    on_file = None
    if not event.coverages:
        row = (await conn.execute(select(patients).where(patients.c.tenant_id == tenant_id,
                                                         patients.c.patient_key == key))).first()
        on_file = PHI.open(patients, row).coverages if row is not None else []
    patient, coverages = registration_from_feed(event, on_file)
    problems = await register(conn, tenant_id=tenant_id, patient_id=event.patient_id, patient=patient,
                              coverages=coverages, today=today)
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        raise RegistrationRefused("the registration has errors: " + "; ".join(f"{p.field} {p.code}" for p in errors))
    return problems


def _visit_claim(patient: dict, coverage: dict, appt: AppointmentScheduled) -> Claim:
    """The visit as a draft claim, so the same eligibility decision applies before and after the visit."""
    addr = patient["address"]
    person = Person(first_name=patient["first_name"], last_name=patient["last_name"],
                    birth_date=patient["birth_date"], sex=patient["sex"],
                    address=Address(line1=addr["line1"], city=addr["city"], state=addr["state"],
                                    postal_code=addr["postal_code"]))
    cov = Coverage(payer_id=coverage["payer_id"], payer_name=coverage["payer_name"], member_id=coverage["member_id"],
                   group_number=coverage.get("group_number"), relationship=coverage["relationship"],
                   subscriber=coverage.get("subscriber"))
    return Claim(claim_id=uuid.uuid4(), encounter_id=uuid.uuid4(), source_system=appt.source_system,
                 source_encounter_id=appt.source_appointment_id, service_date=appt.scheduled_date,
                 place_of_service=appt.place_of_service, patient=person, coverage=cov, billing_provider=appt.provider,
                 diagnoses=["Z0000"], total_charge=0,
                 lines=[ServiceLine(line_number=i, procedure_code=code, units=1, charge=0)
                        for i, code in enumerate(appt.procedure_codes, start=1)])


@dataclass(frozen=True)
class Visit:
    """What the registration says about an appointment: its problems, and the visit as a draft claim to
    verify with the payer (None when the patient is not registered or has no primary coverage)."""

    problems: list[dict]
    claim: Claim | None


@dataclass(frozen=True)
class PreVisitCheck:
    appointment_id: uuid.UUID
    status: str
    work_queue: str | None
    problems: list[dict]
    eligibility: dict | None


async def visits_for(conn: AsyncConnection, items: list[tuple[str, AppointmentScheduled]]) -> list[Visit]:
    """Registration rules for each appointment (a read): problems, and the draft claim to ask the payer about."""
    keys = {(t, PHI.blind_index(patients, "patient_id", a.patient_id, tenant=t)) for t, a in items}
    rules_by_tenant = await tenant_member_id_rules(conn, {t for t, _ in items})
    rows = await conn.execute(select(patients).where(tuple_(patients.c.tenant_id, patients.c.patient_key).in_(keys)))
    registered = {(r.tenant_id, r.patient_id): r for r in PHI.open_all(patients, rows)}
    visits = []
    for tenant_id, appt in items:
        reg = registered.get((tenant_id, appt.patient_id))
        if reg is None:
            visits.append(Visit([{"field": "patient_id", "code": "REG020", "severity": "error",
                                  "message": "the patient is not registered: register demographics and coverage "
                                             "before the visit"}], None))
            continue
        problems = validate_registration(PatientRegistration.model_validate(reg.patient),
                                         [CoverageRegistration.model_validate(c) for c in reg.coverages],
                                         today=appt.scheduled_date, rules=rules_by_tenant[tenant_id])
        checks = [p.model_dump(mode="json") for p in problems]
        primary = next((c for c in reg.coverages if c["order_of_benefits"] == 1), None)
        if primary is None:
            checks.append({"field": "coverages", "code": "REG021", "severity": "warning",
                           "message": "no primary coverage on file: self-pay unless coverage is added"})
        visits.append(Visit(checks, _visit_claim(reg.patient, primary, appt) if primary else None))
    return visits


async def record_pre_visit_checks(conn: AsyncConnection, items: list[tuple[str, AppointmentScheduled]],
                                  visits: list[Visit], decisions: list[Decision | None]) -> list[PreVisitCheck]:
    """Each appointment's outcome (registration problems + the payer's decision), stored in one statement;
    problems send it to a work queue."""
    checks, rows = [], []
    for (tenant_id, appt), visit, decision in zip(items, visits, decisions):
        problems = list(visit.problems)
        eligibility, queue = None, None
        if decision is not None:
            eligibility = decision.result.model_dump(mode="json")
            problems += [{"field": e.field, "code": e.code, "severity": e.severity, "message": e.message}
                         for e in decision.edits]
            queue = decision.work_queue
        if queue is None and any(p["severity"] == "error" for p in problems):
            queue = "front-desk"
        check = PreVisitCheck(uuid.uuid4(), "problems" if queue else "verified", queue, problems, eligibility)
        checks.append(check)
        rows.append({"id": check.appointment_id, "tenant_id": tenant_id, "source_system": appt.source_system,
                     "source_appointment_id": appt.source_appointment_id, "patient_id": appt.patient_id,
                     "scheduled_date": appt.scheduled_date, "status": check.status, "work_queue": queue,
                     "problems": problems, "eligibility": eligibility})
    # An appointment sent again updates its row, which keeps its first id: answer with the stored id.
    stored = {(r.tenant_id, r.source_system, r.source_appointment_id): r.id
              for r in await _put_appointment.execute(conn, PHI.seal_all(appointments, rows))}
    return [dataclasses.replace(check, appointment_id=stored[(row["tenant_id"], row["source_system"],
                                                              row["source_appointment_id"])])
            for check, row in zip(checks, rows)]


async def list_appointments(conn: AsyncConnection, tenant_id: str, *, work_queue: str | None, on: date | None,
                            limit: int) -> list[dict]:
    stmt = select(appointments).where(appointments.c.tenant_id == tenant_id)
    if work_queue:
        stmt = stmt.where(appointments.c.work_queue == work_queue)
    if on:
        stmt = stmt.where(appointments.c.scheduled_date == on)
    rows = (await conn.execute(stmt.order_by(appointments.c.scheduled_date).limit(limit))).mappings().all()
    return [jsonable(dict(r)) for r in PHI.open_all(appointments, rows)]


def check_member_id_rule(payer_id: str, pattern: str) -> None:
    """Raises ValueError when the pattern is not a usable regex."""
    PayerMemberIdRules.from_mapping({"payers": {payer_id: pattern}})


async def put_member_id_rule(conn: AsyncConnection, *, tenant_id: str, payer_id: str, pattern: str,
                             description: str | None, actor: str) -> None:
    """Raises ValueError when the pattern is not a usable regex (the API answers 422)."""
    check_member_id_rule(payer_id, pattern)  # validates before storing
    stmt = pg_insert(member_id_rules).values(tenant_id=tenant_id, payer_id=payer_id, pattern=pattern,
                                             description=description, updated_by=actor)
    await conn.execute(stmt.on_conflict_do_update(
        index_elements=[member_id_rules.c.tenant_id, member_id_rules.c.payer_id],
        set_={"pattern": pattern, "description": description, "updated_by": actor, "updated_at": func.now()}))


async def delete_member_id_rule(conn: AsyncConnection, *, tenant_id: str, payer_id: str) -> bool:
    result = await conn.execute(delete(member_id_rules).where(
        member_id_rules.c.tenant_id == tenant_id, member_id_rules.c.payer_id == payer_id))
    return result.rowcount > 0


async def list_member_id_rules(conn: AsyncConnection, tenant_id: str) -> list[dict]:
    rows = await conn.execute(select(member_id_rules).where(member_id_rules.c.tenant_id == tenant_id)
                              .order_by(member_id_rules.c.payer_id))
    return [dict(r) for r in rows.mappings()]
