"""The HL7 v2 interface's use case: one message in, its ACK out (the MLLP listener, rcm_charges.mllp, is the
transport). What a message does and the ACK it gets commit in one transaction, before the ACK is sent.

- DFT^P03: captured through the same path as `POST /v1/encounters/hl7v2` (capture_encounters: the same
  idempotency per source encounter, completeness holds, charge lag); AA also when held, AE naming the fields
  when the message cannot become encounters (or changes a claim already released).
- ADT^A04 / ADT^A08: handed to eligibility as PatientRegistrationReceived on charges' events topic (eligibility
  keeps registrations and already consumes that topic); AA once handed over, AE naming the fields.
- Anything else, or text that is no HL7 message: AR with the reason.
- Idempotent on MSH-10 per tenant and sender (MSH-3, MSH-4): a resend gets the stored ACK again and changes
  nothing; another message reusing a control id gets AR (nothing stored, the first message's ACK stays).

Audited like the HTTP intake (rcm_runtime.audit), in the same transaction: the actor is the client certificate's
subject (`mllp:<CN>`), actor_kind `certificate`, the source `mllp:<peer address>`.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert

from rcm_runtime import audit, phi
from rcm_runtime.failures import is_transient
from rcm_runtime.unit_of_work import UnitOfWork, UnitsOfWork

from rcm_charges.db import mllp_messages
from rcm_charges.domain import hl7_ack
from rcm_charges.domain.hl7_ack import Ack, AckError, Header
from rcm_charges.domain.hl7_adt import REGISTRATION_TRIGGERS, adt_to_registration
from rcm_charges.domain.hl7_dft import dft_to_encounters
from rcm_charges.domain.intake_errors import IntakeError
from rcm_charges.service import ConflictingResend, Intake, capture_encounters

log = logging.getLogger("rcm.charges.hl7")

NOT_HL7 = "not an HL7 v2 message: it must start with an MSH segment"
NO_CONTROL_ID = "MSH-10 (message control id) is required"
ONE_MESSAGE = "one message per frame: the frame holds several MSH segments"
REUSED_CONTROL_ID = "this message control id (MSH-10) was already used for a different message from this sender"
UNSUPPORTED = "message type not taken here: only DFT^P03, ADT^A04 and ADT^A08"
TOO_LARGE = "the message is larger than this interface takes"
NO_TENANT = "the client certificate names no tenant of this interface"
FAILED = "the message could not be processed; it was not taken (the interface's operators have the error)"


@dataclass(frozen=True)
class Client:
    """Who is sending, as the transport authenticated it."""

    tenant_id: str | None  # None: the connection names no tenant (a certificate without one): everything is AR
    actor: str  # mllp:<certificate CN> (or mllp:<tenant> without TLS)
    source: str  # mllp:<peer address>


def decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")  # the HL7 v2 default character set when MSH-18 is empty


class _Raced(Exception):
    """Another connection stored this control id first: answer with what it stored."""


class Hl7Interface:
    def __init__(self, units: UnitsOfWork, *, charge_lag: timedelta = timedelta(0)) -> None:
        self.units = units
        self.clock = units.clock
        self.charge_lag = charge_lag

    # -- answers that need no database ------------------------------------------------------------------
    def refuse(self, reason: str, raw: bytes = b"", code: tuple[str, str] = hl7_ack.APPLICATION_ERROR) -> bytes:
        """AR for what cannot be taken at all (unreadable, too large, no tenant), answering the header if any."""
        header = hl7_ack.read_header(decode(raw[:4096])) if raw else None
        return self._ack(header or Header(), Ack("AR", reason, [AckError("message", reason, code)]))

    def _ack(self, header: Header, ack: Ack) -> bytes:
        control_id = "A" + uuid.uuid4().hex[:19]  # MSH-10 of the ACK itself: at most 20 characters
        return hl7_ack.build(header, ack, control_id=control_id, now=self.clock.now()).encode("utf-8")

    # -- one message -------------------------------------------------------------------------------------
    async def handle(self, client: Client, raw: bytes) -> bytes:
        """The ACK for one message (framing removed). Raises only on an outage (database away): then no ACK is
        sent and the sender resends, which is safe. Any other failure is answered AE and nothing is kept."""
        if client.tenant_id is None:
            return self.refuse(NO_TENANT, raw)
        text = decode(raw)
        header = hl7_ack.read_header(text)
        if header is None:
            return self.refuse(NOT_HL7)
        if not header.control_id:
            return self._ack(header, Ack("AR", NO_CONTROL_ID, [AckError("MSH-10", NO_CONTROL_ID,
                                                                         hl7_ack.REQUIRED_FIELD_MISSING)]))
        if sum(1 for line in text.replace("\n", "\r").split("\r") if line.lstrip().startswith("MSH")) > 1:
            return self._ack(header, Ack("AR", ONE_MESSAGE, [AckError("MSH", ONE_MESSAGE)]))
        digest = hashlib.sha256(raw).hexdigest()
        try:
            # the control id is claimed first thing in the transaction: a new message costs one transaction, a
            # resend (or a concurrent twin) finds the claim taken and is answered from the stored ACK
            return await self._apply(client, header, text, digest)
        except _Raced:
            return await self._answer_stored(client.tenant_id, header, digest)
        except ConflictingResend:
            reason = ("the encounter was already released as a claim: changes need a corrected claim "
                      "(frequency 7)")
            try:
                return await self._store_only(client, header, digest, Ack("AE", reason, [AckError("PV1-19", reason)]))
            except _Raced:  # its twin on another connection stored the answer meanwhile
                return await self._answer_stored(client.tenant_id, header, digest)
        except Exception as exc:  # noqa: BLE001 - only an outage goes unanswered (the sender resends)
            if is_transient(exc):
                raise
            # a message that can never be taken as it is: without an answer the engine would resend it forever and
            # hold its queue. AE, not stored: a resend after a fix is taken. The type names no value (no PHI).
            log.error("HL7 message failed", extra={"error": type(exc).__name__, "tenant_id": client.tenant_id})
            return self._ack(header, Ack("AE", FAILED, [AckError("message", FAILED)]))

    async def _answer_stored(self, tenant_id: str, header: Header, digest: str) -> bytes:
        stored = await self._stored(tenant_id, header, digest)
        if stored is None:  # pragma: no cover - the row that claimed it is gone: refuse rather than guess
            return self._ack(header, Ack("AR", REUSED_CONTROL_ID, [AckError("MSH-10", REUSED_CONTROL_ID,
                                                                             hl7_ack.DUPLICATE_KEY)]))
        return stored

    async def _stored(self, tenant_id: str, header: Header, digest: str) -> bytes | None:
        app, facility = header.sender_key
        async with self.units.read(tenant_id) as conn:
            row = (await conn.execute(select(mllp_messages.c.message_digest, mllp_messages.c.ack).where(
                mllp_messages.c.tenant_id == tenant_id, mllp_messages.c.sending_application == app,
                mllp_messages.c.sending_facility == facility, mllp_messages.c.control_id == header.control_id))).first()
        if row is None:
            return None
        if row.message_digest != digest:
            return self._ack(header, Ack("AR", REUSED_CONTROL_ID, [AckError("MSH-10", REUSED_CONTROL_ID,
                                                                             hl7_ack.DUPLICATE_KEY)]))
        return row.ack.encode("utf-8")

    def _decide(self, header: Header, text: str):
        """(ack when refused or in error, else None; what to apply: encounters or a registration)."""
        kind = f"{header.message_type}^{header.trigger}"
        try:
            if kind == "DFT^P03":
                return None, ("dft", dft_to_encounters(text))
            if header.message_type == "ADT" and header.trigger in REGISTRATION_TRIGGERS:
                return None, ("adt", adt_to_registration(text))
        except IntakeError as exc:
            errors = [AckError(e.get("field", "message"), e.get("reason", "invalid"),
                               hl7_ack.error_code_for(e.get("reason", ""))) for e in exc.errors]
            return Ack("AE", "the message cannot be taken: see ERR", errors), None
        code = hl7_ack.UNSUPPORTED_MESSAGE_TYPE if header.message_type not in ("DFT", "ADT") \
            else hl7_ack.UNSUPPORTED_EVENT_CODE
        return Ack("AR", UNSUPPORTED, [AckError("MSH-9", UNSUPPORTED, code)]), None

    async def _apply(self, client: Client, header: Header, text: str, digest: str) -> bytes:
        refused, work = self._decide(header, text)
        async with self.units.begin(tenant_id=client.tenant_id, actor=client.actor) as uow:
            ack = refused or Ack("AA")
            body = self._ack(header, ack)
            if not await self._claim(uow, header, digest, body, ack.code):
                raise _Raced()
            if work is not None:
                kind, payload = work
                if kind == "dft":
                    results = await capture_encounters(uow, [Intake(uow, s, "hl7v2") for s in payload],
                                                       actor=client.actor, charge_lag=self.charge_lag)
                    await self._audit(uow, client, "money", "encounter.submit_mllp", "claim",
                                      [str(r.claim_id) for r in results])
                else:
                    key = phi.sealer().blind_index(payload.patient_id, tenant=client.tenant_id,
                                                   field="charges.registration.patient_id", normalise=False)
                    uow.emit(payload, key=key, subject="patient/registration")
                    await self._audit(uow, client, "phi_change", "patient.register_mllp", "patient", [])
        return body

    async def _store_only(self, client: Client, header: Header, digest: str, ack: Ack) -> bytes:
        async with self.units.begin(tenant_id=client.tenant_id, actor=client.actor) as uow:
            body = self._ack(header, ack)
            if not await self._claim(uow, header, digest, body, ack.code):
                raise _Raced()
        return body

    @staticmethod
    async def _claim(uow: UnitOfWork, header: Header, digest: str, ack: bytes, code: str) -> bool:
        """Store the control id with its ACK; False when a concurrent connection stored it first (its insert
        blocks ours until it commits, then ours does nothing)."""
        app, facility = header.sender_key
        stmt = pg_insert(mllp_messages).values(
            tenant_id=uow.tenant_id, sending_application=app, sending_facility=facility,
            control_id=header.control_id, message_digest=digest,
            message_type=f"{header.message_type}^{header.trigger}"[:40], ack_code=code, ack=ack.decode("utf-8"),
        ).on_conflict_do_nothing().returning(mllp_messages.c.control_id)
        return (await uow.conn.execute(stmt)).first() is not None

    @staticmethod
    async def _audit(uow: UnitOfWork, client: Client, category: str, action: str, resource_type: str,
                     ids: list[str]) -> None:
        row = audit.batch_row(tenant_id=uow.tenant_id, service="charges", category=category, action=action,
                              resource_type=resource_type, resource_ids=ids, source=client.source)
        row.update(actor=client.actor, actor_kind="certificate")
        await audit.append(uow.conn, [row])
