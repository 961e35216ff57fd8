"""What the sandbox clearinghouse/payer writes (999, 277CA, 835) is what submission and remittance read back.

Services never import each other; only this cross-service test holds both ends, so a change to either side
of an acknowledgment that the other side does not understand fails here.
"""

import uuid
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal as D

from rcm_contracts.claim import Address, Claim, patient_control_number
from rcm_x12.remit_835 import read_835
from rcm_sandbox.domain.adjudication import MemberBenefits, PayerRules, adjudicate
from rcm_sandbox.domain.x12_835 import BankAccount, Payee, Payer, Payment, RemittedClaim, build_835
from rcm_x12.ack_277ca import ClaimDecision, Party, StatusCode, build_277ca, read_277ca
from rcm_x12.ack_999 import (
    AckStatus,
    Finding,
    ReceivedGroup,
    SituationalTrigger,
    TransactionSetResult,
    build_999,
    read_999,
)
from tests.support import claims as factory

NOW = datetime(2026, 3, 20, 6, 30)
NPI = "1234567893"


def pcn() -> str:
    return patient_control_number(uuid.uuid4())


# ---------------------------------------------------------------- 999


def test_999_round_trip():
    claim_a, claim_b = pcn(), pcn()
    results = [
        TransactionSetResult("0001", implementation_reference="005010X222A1"),
        TransactionSetResult("0002", implementation_reference="005010X222A1", findings=(
            Finding("NM1", 17, "2010BA", 9, "I12", element_reference="67", claim_id=claim_a),
            Finding("DTP", 31, "2300", 3, "8", component_position=None, element_reference="1251", claim_id=claim_b),
        )),
        TransactionSetResult("0003", rejected=True, findings=(
            Finding("REF", 30, "2300", None, "I6", trigger=SituationalTrigger("CLM", 25, "2300", 1)),
            Finding("SV1", 40, "2400", 1, "7", component_position=2, element_reference="234"),
        )),
    ]
    text = build_999(ReceivedGroup("HC", "17456", "005010X222A1"), results, control_number=42,
                     sender_id="SANDBOXCH", receiver_id="CLINIC01", now=NOW)

    [group] = read_999(text)
    assert (group.functional_id, group.group_control_number, group.version) == ("HC", "17456", "005010X222A1")
    assert group.status == AckStatus.PARTIALLY_ACCEPTED
    assert (group.transaction_sets_included, group.transaction_sets_received, group.transaction_sets_accepted) == (
        3, 3, 2)
    assert (group.envelope_errors, group.warnings) == ((), ())
    assert [(t.control_number, t.status) for t in group.transaction_sets] == [
        ("0001", AckStatus.ACCEPTED), ("0002", AckStatus.ACCEPTED_WITH_ERRORS), ("0003", AckStatus.REJECTED)]
    for written, read in zip(results, group.transaction_sets):
        assert [e.code for e in read.syntax_errors] == written.ik5_errors()
        assert read.implementation_reference == written.implementation_reference
        assert [(f.segment_tag, f.segment_position, f.element_position, f.component_position, f.element_reference,
                 f.code, f.claim_id) for f in read.findings] == [
            (f.segment_tag, f.segment_position, f.element_position, f.component_position, f.element_reference,
             f.code, f.claim_id) for f in written.findings]
        # IK303 holds 4 characters: the guide's 2010BA comes back as 2010.
        assert [f.loop_id for f in read.findings] == [f.loop_id[:4] for f in written.findings]
    rejected = group.for_transaction_set("0003")
    assert rejected.findings[0].trigger_segment == "CLM"
    assert rejected.findings[1].description == ("SV1 segment #40 (loop 2400), element SV101-2: Invalid code value")


# ---------------------------------------------------------------- 277CA


def test_277ca_round_trip():
    accepted = ClaimDecision(
        patient_control_number=pcn(), billing_provider_npi=NPI, billing_provider_name="NORTHSIDE CLINIC",
        patient_last_name="LOVELACE", patient_first_name="ADA", member_id="M1", total_charge=D("210.00"),
        service_from=date(2026, 3, 2), accepted=True, payer_claim_control_number="SBX2603200001")
    rejected = replace(accepted, patient_control_number=pcn(), accepted=False, payer_claim_control_number=None,
                       billing_provider_npi="1497758544", total_charge=D("80.55"), service_to=date(2026, 3, 4),
                       statuses=(StatusCode("A7", "562", "85"), StatusCode("A7", "21"), StatusCode("A6", "454"),
                                 StatusCode("A8", "187")))
    text = build_277ca([accepted, rejected], source=Party("SANDBOX HEALTH PLAN", "SBX01"),
                       receiver=Party("NORTHSIDE BILLING", "CLINIC01"), batch_reference="BATCH0042",
                       received=date(2026, 3, 19), control_number=43, sender_id="SANDBOXCH", receiver_id="CLINIC01",
                       now=NOW)

    acks = read_277ca(text)
    assert (acks.envelope_errors, acks.warnings) == ((), ())
    [batch] = acks.batches
    assert (batch.source_name, batch.source_id, batch.receiver_id, batch.batch_reference) == (
        "SANDBOX HEALTH PLAN", "SBX01", "CLINIC01", "BATCH0042")
    assert (batch.accepted_quantity, batch.rejected_quantity) == (1, 1)
    assert (batch.accepted_amount, batch.rejected_amount) == (D("210"), D("80.55"))
    for written in (accepted, rejected):
        read = acks.for_claim(written.patient_control_number)
        assert read is not None
        assert (read.accepted, read.payer_claim_control_number, read.billing_provider_npi, read.total_charge) == (
            written.accepted, written.payer_claim_control_number, written.billing_provider_npi, written.total_charge)
        assert (read.service_from, read.service_to) == (written.service_from, written.service_to or
                                                        written.service_from)
        assert [(s.category, s.code, s.entity) for s in read.statuses] == [
            (s.category, s.code, s.entity) for s in written.statuses]
        assert all(s.effective_date == NOW.date() for s in read.statuses)
    npi_status = acks.for_claim(rejected.patient_control_number).statuses[0]
    assert (npi_status.meaning, npi_status.entity_meaning) == ("Entity's National Provider Identifier (NPI)",
                                                               "Billing provider")


# ---------------------------------------------------------------- 835

RULES = PayerRules(payer_id="SBX01", fee_schedule={"99213": D("92.47"), "36415": D("3.00"), "97110": D("28.15")},
                   default_allowed_ratio=D("0.60"), non_covered_codes=frozenset({"S9999"}),
                   auth_required_codes=frozenset({"70553"}))
BENEFITS = MemberBenefits(member_id="M1", active=True, deductible_remaining=D("20.00"),
                          coinsurance_rate=D("0.20"), copay=D("15.00"))


def make_claim(*lines: tuple, member_id: str = "M1") -> Claim:
    """lines: (procedure_code, charge, units, modifiers)."""
    return factory.make_claim(
        service_date=date(2026, 3, 2),
        coverage=factory.make_coverage(payer_id="SBX01", payer_name="Sandbox Health Plan", member_id=member_id),
        billing_provider=factory.make_provider(NPI),
        diagnoses=["J06.9"],
        lines=[factory.make_line(i, code, charge, units=units, modifiers=modifiers)
               for i, (code, charge, units, modifiers) in enumerate(lines, start=1)],
    )


def by_cas_group(rows: list[tuple[str, str, D]]) -> list[tuple[str, str, D]]:
    """One CAS segment per group code, groups in first-seen order: the order the rows come back in."""
    groups = [row[0] for row in rows]
    return sorted(rows, key=lambda row: groups.index(row[0]))


def test_835_round_trip():
    claims = [
        make_claim(("99213", "150.00", "1", ["25"]), ("36415", "20.00", "2", []), ("S9999", "40.00", "1", [])),
        make_claim(("97110", "90.00", "3", ["GP"])),
        make_claim(("99213", "150.00", "1", []), member_id="UNKNOWN"),  # denied CO-31
    ]
    remitted = [RemittedClaim(c, adjudicate(c, BENEFITS, RULES), f"SBX{n:04d}") for n, c in enumerate(claims, 1)]
    payer = Payer(name="SANDBOX HEALTH PLAN", payer_id="SBX01", tax_id="123456789",
                  address=Address(line1="1 PAYER WAY", city="HARRISBURG", state="PA", postal_code="17111"),
                  contact_phone="8005551212")
    payment = Payment(method="ACH", payment_date=date(2026, 3, 23), trace_number="EFT20260323001",
                      payer_bank=BankAccount("011000015", "1234567"), payee_bank=BankAccount("021000021", "7654321"))
    text = build_835(remitted, payer=payer, payee=Payee(name="NORTHSIDE CLINIC", npi=NPI), payment=payment,
                     control_number=77, sender_id="SANDBOXPAY", receiver_id="CLINIC01", now=NOW)

    [read] = read_835(text)
    assert (read.envelope_errors, read.warnings) == ((), ())
    assert (read.payer_id, read.payer_name, read.payee_npi, read.trace_number) == (
        "SBX01", "SANDBOX HEALTH PLAN", NPI, "EFT20260323001")
    assert (read.payment_method, read.payment_date, read.credit) == ("ACH", date(2026, 3, 23), True)
    assert read.amount == sum((r.adjudication.paid for r in remitted), D(0))
    assert [c.status_code for c in read.claims] == ["1", "1", "4"]
    for written, claim in zip(remitted, read.claims):
        adj = written.adjudication
        assert claim.patient_control_number == patient_control_number(written.claim.claim_id)
        assert (claim.charge, claim.paid, claim.patient_responsibility) == (
            adj.total_charge, adj.paid, adj.patient_responsibility)
        assert claim.payer_claim_control_number == written.payer_claim_control_number
        assert claim.remark_codes == tuple(adj.remark_codes)
        assert claim.adjustments == ()  # the sandbox reports every adjustment on its line
        assert (claim.service_from, claim.service_to) == (date(2026, 3, 2), date(2026, 3, 2))
        submitted = {line.line_number: line for line in written.claim.lines}
        for line_written, line_read in zip(adj.lines, claim.lines):
            source = submitted[line_written.line_number]
            assert (line_read.procedure_code, line_read.modifiers, line_read.units) == (
                line_written.procedure_code, tuple(source.modifiers), source.units)
            assert (line_read.charge, line_read.paid, line_read.allowed) == (
                line_written.charge, line_written.paid, line_written.allowed)
            assert [(a.group, a.reason, a.amount) for a in line_read.adjustments] == by_cas_group(
                line_written.adjustments)
        # Claim-level summary of the adjudication == what the lines read back add up to.
        totals: dict[tuple[str, str], D] = {}
        for a in claim.all_adjustments:
            totals[(a.group, a.reason)] = totals.get((a.group, a.reason), D(0)) + a.amount
        assert totals == {(g, r): amount for g, r, amount in adj.adjustments}
