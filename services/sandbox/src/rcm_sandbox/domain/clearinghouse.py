"""The sandbox clearinghouse's answer to one 837P interchange (pure): a 999 for its syntax, then a
277CA with a decision per claim, and the claims the payer will adjudicate.

Like a real clearinghouse it validates the file against the implementation guide first (the same
pyx12-equivalent check submission runs, so a file submission let through is accepted here); a file
that fails is rejected whole by the 999 and gets no 277CA. Accepted claims are then checked against
the payer's enrollment (unknown payer, billing NPI not enrolled) and accepted or rejected one by one.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from rcm_contracts.claim import Claim
from rcm_x12.ack_277ca import ClaimDecision, Party, StatusCode, build_277ca
from rcm_x12.ack_999 import Finding, ReceivedGroup, TransactionSetResult, build_999
from rcm_x12.claim_837p.read import read_837p
from rcm_x12.codec import parse_interchange, tokenize
from rcm_x12.ig.validator import IgFinding, IgReport, validate_interchange

CLEARINGHOUSE_ID = "SANDBOXCH"
CLEARINGHOUSE = Party("OpenRCM Sandbox Clearinghouse", CLEARINGHOUSE_ID, is_clearinghouse=True)

# IgFinding codes -> 999 IK403 (element) and IK304 (segment) codes
ELEMENT_ERRORS = {"element_missing": "1", "conditional_missing": "2", "too_many_elements": "3",
                  "element_too_short": "4", "element_too_long": "5", "invalid_character": "6", "invalid_code": "7",
                  "invalid_date": "8", "invalid_time": "9", "exclusion_violated": "10", "too_many_repetitions": "12",
                  "too_many_components": "13", "element_not_used": "I10"}
SEGMENT_ERRORS = {"unrecognized_segment": "1", "unexpected_segment": "2", "segment_not_found": "2",
                  "mandatory_segment_missing": "3", "mandatory_loop_missing": "3", "loop_max_exceeded": "4",
                  "segment_max_exceeded": "5", "segment_not_used": "I4"}


@dataclass(frozen=True)
class ReceivedClaim:
    tenant_id: str
    payer_id: str
    claim: Claim  # claim_id = sandbox_claim_id(tenant, CLM01), so its CLM01 comes back in the 835's CLP01
    payer_claim_control_number: str


@dataclass
class Answer:
    files: list[tuple[str, str]] = field(default_factory=list)  # (name, X12 text): 999, then 277CA
    received: list[ReceivedClaim] = field(default_factory=list)
    accepted: bool = False


def sandbox_claim_id(tenant_id: str, pcn: str, later_payer: str | None = None) -> uuid.UUID:
    """Stable per (submitter, CLM01): a claim sent again is the same payer claim. For OpenRCM's own
    CLM01s (20 hex digits) the id begins with them, so patient_control_number(id) gives CLM01 back.
    `later_payer`: the payer of a secondary/tertiary claim, which may keep the primary's CLM01 (providers
    often do) and is still another payer's claim."""
    tail = hashlib.sha256(f"{tenant_id}/{pcn}".encode() + (f"/{later_payer}".encode() if later_payer else b"")
                          ).hexdigest()
    if len(pcn) == 20 and all(c in "0123456789ABCDEFabcdef" for c in pcn):
        return uuid.UUID(hex=pcn.lower() + tail[:12])
    return uuid.UUID(hex=tail[:32])


def pccn_for(claim_id: uuid.UUID, later_payer: bool = False) -> str:
    """Payer claim control number: stable per claim, so a re-sent claim gets the same answer. A later payer's
    claim may share its CLM01 (the head of the id) with the primary's: its number comes from the id's tail."""
    return "SBX" + (claim_id.hex[-17:] if later_payer else claim_id.hex[:17]).upper()


def _ik(finding: IgFinding, st_position: int) -> Finding:
    element_code = ELEMENT_ERRORS.get(finding.code)
    element_position = None
    if finding.element and element_code:
        element_position = int(finding.element[len(finding.tag or ""):][:2] or 0) or None
    position = max(finding.position - st_position + 1, 1)
    if element_code and element_position:
        return Finding(finding.tag or "ST", position, (finding.loop_id or "")[:4] or None, element_position,
                       element_code)
    return Finding(finding.tag or "ST", position, (finding.loop_id or "")[:4] or None, None,
                   SEGMENT_ERRORS.get(finding.code, "8"))


def answer_837(text: str, *, payers: set[str], not_enrolled_npis: set[str], control_number: int,
               now: datetime) -> Answer:
    """Raises rcm_x12.codec.X12Error for text that is not X12 at all (the caller answers 400)."""
    interchange = parse_interchange(text)
    tenant_id = interchange.sender_id.strip()
    group = interchange.groups[0] if interchange.groups and interchange.groups[0].header is not None else None
    transactions = [t for g in interchange.groups for t in g.transactions]
    report: IgReport = validate_interchange(text)
    st_position = _first_st_position(text)
    results = [TransactionSetResult(
        control_number=t.control_number, rejected=not report.ok,
        implementation_reference=t.implementation_reference or None,
        findings=tuple(_ik(f, st_position) for f in report.errors[:20]) if not report.ok else ())
        for t in transactions]
    answer = Answer(accepted=report.ok)
    if group is None or not results:
        return answer
    answer.files.append((f"{control_number:09d}.999", build_999(
        ReceivedGroup(group.functional_id, group.control_number, group.version, len(transactions)), results,
        control_number=control_number, sender_id=CLEARINGHOUSE_ID, receiver_id=tenant_id, now=now)))
    if not report.ok:
        return answer
    decisions = []
    for read in read_837p(text).claims:
        claim = read.claim
        payer_id = claim.coverage.payer_id if claim.coverage else ""
        claim_id = sandbox_claim_id(tenant_id, read.patient_control_number,
                                    payer_id if claim.payer_responsibility != "P" else None)
        statuses: tuple[StatusCode, ...] = ()
        if payer_id not in payers:
            statuses = (StatusCode("A3", "116"),)  # claim submitted to the incorrect payer
        elif claim.billing_provider.npi in not_enrolled_npis:
            statuses = (StatusCode("A7", "562", "85"),)  # billing provider NPI not enrolled with the payer
        accepted = not statuses
        pccn = pccn_for(claim_id, claim.payer_responsibility != "P") if accepted else None
        if accepted:
            answer.received.append(ReceivedClaim(tenant_id, payer_id, claim.model_copy(update={"claim_id": claim_id}),
                                                 pccn))
        decisions.append(ClaimDecision(
            patient_control_number=read.patient_control_number, billing_provider_npi=claim.billing_provider.npi,
            billing_provider_name=claim.billing_provider.name or "BILLING PROVIDER",
            patient_last_name=claim.patient.last_name, patient_first_name=claim.patient.first_name,
            member_id=claim.coverage.member_id if claim.coverage else "UNKNOWN", total_charge=claim.total_charge,
            service_from=claim.service_date, accepted=accepted, statuses=statuses, payer_claim_control_number=pccn))
    if decisions:
        answer.files.append((f"{control_number:09d}.277", build_277ca(
            decisions, source=CLEARINGHOUSE, receiver=Party("SUBMITTER", tenant_id),
            batch_reference=str(interchange.control_number), received=now.date(), control_number=control_number,
            sender_id=CLEARINGHOUSE_ID, receiver_id=tenant_id, now=now)))
    return answer


def _first_st_position(text: str) -> int:
    _, segments = tokenize(text)
    return next((i for i, s in enumerate(segments, start=1) if s.tag == "ST"), 3)
