"""The PHI revisions that seal columns of rows stored before them (rcm_runtime.migrations.seal_phi_steps), run as
the stack runs them (tests/isolation/test_row_level_security.py `_migrate`: the service's owner role, a throwaway
schema): rows written in plain text at the revision before are sealed in place by the upgrade (and a registration's
MRN indexed), the code reads them back as they were, and the downgrade opens them again."""

from __future__ import annotations

import json
import uuid

import pytest
from sqlalchemy import text

from rcm_eligibility.db import PHI as ELIGIBILITY_PHI, appointments, patients
from rcm_remittance.db import PHI as REMITTANCE_PHI, unmatched_payments
from rcm_sandbox.db import PHI as SANDBOX_PHI, outbound_files, payer_claims
from tests.isolation.test_row_level_security import ROOT, _drop, _migrate, _psql

pytestmark = pytest.mark.integration

A = "tenant-a"
CLAIM_PAYMENT = {"patient_control_number": "PCN-REV-1", "status_code": "1", "charge": "120.00", "paid": "80.00",
                 "patient_responsibility": "20.00", "payer_claim_control_number": "PCCN-REV-1", "adjustments": [],
                 "lines": [], "remark_codes": [], "service_from": "1999-04-05", "service_to": None, "allowed": None,
                 "claim_id": None}
CHECK = {"payer_id": "SBX01", "trace_number": "TRN-REV-1", "payment_date": "2026-03-01"}
ADVICE = {"check": CHECK, "claim": CLAIM_PAYMENT}
LEGACY_ADVICE = {"payer_id": "SBX01", "payment_date": "2026-03-01", "trace_number": "TRN-REV-0",  # before 0004
                 "claims": [{"claim_id": str(uuid.uuid4()), "paid_amount": "5.00"}]}


@pytest.fixture
async def schema(admin_engine):
    name = f"t_rev_{uuid.uuid4().hex[:10]}"
    _psql("-v", f"svc={name}", "-f", str(ROOT / "deploy/postgres/service_schema.sql"))
    try:
        yield name
    finally:
        await _drop(admin_engine, name)


async def _rows(admin_engine, schema: str, sql: str, **params) -> list:
    async with admin_engine.connect() as conn:  # the superuser: the raw rows, nothing opened
        await conn.execute(text(f'SET search_path = "{schema}"'))
        return (await conn.execute(text(sql), params)).mappings().all()


async def _write(admin_engine, schema: str, sql: str, **params) -> None:
    async with admin_engine.begin() as conn:
        await conn.execute(text(f'SET LOCAL search_path = "{schema}"'))
        await conn.execute(text(sql), params)


async def test_the_mrn_revision_seals_stored_mrns_and_indexes_registrations(admin_engine, schema):
    _migrate("eligibility", schema, to="0010_audit")
    await _write(admin_engine, schema, "INSERT INTO patients (tenant_id, patient_id, patient, coverages) VALUES "
                 "(:t, 'MRN-REV-1', '{}', '[]'), (:t, 'mrn-rev-1', '{}', '[]')", t=A)
    await _write(admin_engine, schema, "INSERT INTO appointments (id, tenant_id, source_system, source_appointment_id, "
                 "patient_id, scheduled_date, status, problems) VALUES (:id, :t, 'sched', 'A-REV-1', 'MRN-REV-1', "
                 "'2026-03-10', 'verified', '[]')", id=uuid.uuid4(), t=A)

    _migrate("eligibility", schema)
    stored = await _rows(admin_engine, schema, "SELECT tenant_id, patient_id, patient_key FROM patients ORDER BY id")
    assert all(r["patient_id"].startswith("phi1.") for r in stored)
    assert [ELIGIBILITY_PHI.open(patients, r)["patient_id"] for r in stored] == ["MRN-REV-1", "mrn-rev-1"]
    assert [r["patient_key"] for r in stored] == [
        ELIGIBILITY_PHI.blind_index(patients, "patient_id", mrn, tenant=A) for mrn in ("MRN-REV-1", "mrn-rev-1")]
    [appt] = await _rows(admin_engine, schema, "SELECT tenant_id, patient_id FROM appointments")
    assert appt["patient_id"].startswith("phi1.")
    assert ELIGIBILITY_PHI.open(appointments, appt)["patient_id"] == "MRN-REV-1"
    with pytest.raises(Exception, match="uq_patient"):  # one registration per MRN (its index) and tenant
        await _write(admin_engine, schema, "INSERT INTO patients (tenant_id, patient_id, patient_key, patient, "
                     "coverages) VALUES (:t, 'x', :k, '{}', '[]')", t=A, k=stored[0]["patient_key"])

    _migrate("eligibility", schema, to="0010_audit", command="downgrade")
    assert [r["patient_id"] for r in await _rows(admin_engine, schema, "SELECT patient_id FROM patients ORDER BY id")] \
        == ["MRN-REV-1", "mrn-rev-1"]
    assert [r["patient_id"] for r in await _rows(admin_engine, schema, "SELECT patient_id FROM appointments")] == [
        "MRN-REV-1"]


async def test_the_unmatched_advice_revision_seals_queued_claim_payments(admin_engine, schema):
    _migrate("remittance", schema, to="0016_audit")
    for key, advice in (("k1", ADVICE), ("k0", LEGACY_ADVICE)):
        await _write(admin_engine, schema, "INSERT INTO unmatched_payments (tenant_id, patient_control_number, "
                     "paid_amount, reason, status, advice, payment_key) VALUES (:t, 'PCN-REV-1', 80, 'no claim', "
                     "'unmatched', CAST(:a AS jsonb), :k)", t=A, a=json.dumps(advice), k=key)

    _migrate("remittance", schema)
    stored = await _rows(admin_engine, schema, "SELECT tenant_id, advice FROM unmatched_payments ORDER BY id")
    assert [sorted(r["advice"]) for r in stored] == [["_phi", "check"], ["_phi", "payer_id", "payment_date",
                                                                          "trace_number"]]
    assert "1999-04-05" not in str(stored) and "PCCN-REV-1" not in str(stored[0]["advice"])
    assert [REMITTANCE_PHI.open(unmatched_payments, r)["advice"] for r in stored] == [ADVICE, LEGACY_ADVICE]

    _migrate("remittance", schema, to="0016_audit", command="downgrade")
    assert [r["advice"] for r in await _rows(admin_engine, schema, "SELECT advice FROM unmatched_payments "
                                                                   "ORDER BY id")] == [ADVICE, LEGACY_ADVICE]


async def test_the_sandbox_revision_seals_the_payers_copies_and_the_mailbox(admin_engine, schema):
    _migrate("sandbox", schema, to="0008_audit")
    claim = {"frequency_code": "1", "billing_provider": {"npi": "1234567893"},
             "patient": {"last_name": "Revisionhurst"}, "coverage": {"payer_id": "SBX01", "member_id": "MREV77"}}
    await _write(admin_engine, schema, "INSERT INTO payer_claims (claim_id, tenant_id, payer_id, "
                 "payer_claim_control_number, interchange_control_number, status, claim) VALUES (:c, :t, 'SBX01', "
                 "'P-REV-1', '000000001', 'received', CAST(:j AS jsonb))", c=uuid.uuid4(), t=A, j=json.dumps(claim))
    await _write(admin_engine, schema, "INSERT INTO outbound_files (submitter_id, name, content) VALUES "
                 "('tenant-a', '1.277', 'NM1*QC*1*REVISIONHURST~')")

    _migrate("sandbox", schema)
    [pc] = await _rows(admin_engine, schema, "SELECT tenant_id, claim FROM payer_claims")
    [of] = await _rows(admin_engine, schema, "SELECT submitter_id, content FROM outbound_files")
    assert "revisionhurst" not in (str(pc) + str(of)).lower() and "MREV77" not in str(pc)
    assert pc["claim"]["billing_provider"] == claim["billing_provider"]  # what the sandbox queries stays readable
    assert SANDBOX_PHI.open(payer_claims, pc)["claim"] == claim
    assert SANDBOX_PHI.open(outbound_files, of)["content"] == "NM1*QC*1*REVISIONHURST~"

    _migrate("sandbox", schema, to="0008_audit", command="downgrade")
    assert [r["claim"] for r in await _rows(admin_engine, schema, "SELECT claim FROM payer_claims")] == [claim]
