"""The sandbox payer's real-time eligibility: a 270 in, a 005010X279A1 271 out, from member fixtures.

Only what the sandbox needs to answer is read from the 270 (trace, payer, provider, member id, date of
service); the 271 echoes the inquiry's loops as the guide requires and adds the benefits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from rcm_x12.codec import Segment, X12Error, build_interchange, parse_interchange

from rcm_sandbox.domain.adjudication import MemberBenefits, PayerRules

IMPLEMENTATION = "005010X279A1"


class Bad270(ValueError):
    """The inquiry cannot be answered; the message names segments, never patient data."""


@dataclass(frozen=True)
class Inquiry:
    sender_id: str
    receiver_id: str
    trace: list[str]  # TRN elements to echo
    payer: list[str]  # NM1*PR elements
    provider: list[str]  # NM1*1P elements
    subscriber: list[str]  # NM1*IL elements
    member_id: str
    service_date: date | None


def read_270s(text: str) -> list[Inquiry]:
    """Every 270 of the interchange (a real-time request holds one; a batch, many)."""
    try:
        interchange = parse_interchange(text)
    except X12Error as exc:
        raise Bad270(f"not an X12 interchange: {exc}") from None
    txs = [t for t in interchange.transactions if t.id_code == "270"]
    if not txs or len(txs) != len(interchange.transactions):
        raise Bad270("expected 270 transaction sets only")
    return [_inquiry(interchange, tx.body) for tx in txs]


def read_270(text: str) -> Inquiry:
    inquiries = read_270s(text)
    if len(inquiries) != 1:
        raise Bad270("expected exactly one 270 transaction set")
    return inquiries[0]


def _inquiry(interchange, body) -> Inquiry:
    nm1 = {s.element(1): s for s in body if s.tag == "NM1"}
    if "PR" not in nm1 or "IL" not in nm1:
        raise Bad270("the 270 needs NM1*PR (payer) and NM1*IL (subscriber)")
    trn = next((s for s in body if s.tag == "TRN"), None)
    dtp = next((s for s in body if s.tag == "DTP" and s.element(1) == "291"), None)
    service_date = None
    if dtp is not None and len(dtp.element(3)) >= 8:
        try:
            service_date = datetime.strptime(dtp.element(3)[:8], "%Y%m%d").date()
        except ValueError:
            raise Bad270("DTP*291 is not a CCYYMMDD date") from None
    return Inquiry(interchange.sender_id, interchange.receiver_id,
                   trn.elements if trn else ["2", "0", "9SANDBOX"], nm1["PR"].elements,
                   nm1["1P"].elements if "1P" in nm1 else ["1P", "2", "PROVIDER"], nm1["IL"].elements,
                   nm1["IL"].element(9), service_date)


def _money(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.01'))}"


def build_271(inquiry: Inquiry, payer: PayerRules | None, benefits: MemberBenefits | None, *,
              control_number: int, now: datetime, plan_name: str = "SANDBOX PPO") -> str:
    return build_271_interchange([(inquiry, payer, benefits)], control_number=control_number, now=now,
                                 plan_name=plan_name)


def build_271_interchange(answers: list[tuple[Inquiry, PayerRules | None, MemberBenefits | None]], *,
                          control_number: int, now: datetime, plan_name: str = "SANDBOX PPO") -> str:
    """One 271 per inquiry, in one interchange addressed back to the submitter."""
    first = answers[0][0]
    transactions = [_transaction_271(inq, payer, benefits, st02=i, now=now, plan_name=plan_name)
                    for i, (inq, payer, benefits) in enumerate(answers, start=1)]
    return build_interchange(first.receiver_id or "SANDBOX", first.sender_id or "SUBMITTER", control_number,
                             "HB", "005010X279A1", transactions, now=now)


def _transaction_271(inquiry: Inquiry, payer: PayerRules | None, benefits: MemberBenefits | None, *, st02: int,
                     now: datetime, plan_name: str) -> list[Segment]:
    trn = Segment("TRN", ["2", *inquiry.trace[1:3]])
    body = [
        Segment("ST", ["271", f"{st02:04d}", IMPLEMENTATION]),
        Segment("BHT", ["0022", "11", f"R{st02}", now.strftime("%Y%m%d"), now.strftime("%H%M")]),
        Segment("HL", ["1", "", "20", "1"]),
        Segment("NM1", inquiry.payer),
        Segment("HL", ["2", "1", "21", "1"]),
        Segment("NM1", inquiry.provider),
        Segment("HL", ["3", "2", "22", "0"]),
        trn,
        Segment("NM1", inquiry.subscriber),
    ]
    if payer is None:
        body.append(Segment("AAA", ["Y", "", "51", "N"]))  # provider not on file with this payer
    elif benefits is None:
        body.append(Segment("AAA", ["Y", "", "75", "C"]))  # subscriber/insured not found: correct and resubmit
    else:
        dos = (inquiry.service_date or now.date()).strftime("%Y%m%d")
        body.append(Segment("DTP", ["346", "D8", f"{dos[:4]}0101"]))
        if not benefits.active:
            body.append(Segment("EB", ["6", "IND", "30", "", plan_name]))
        else:
            body += [
                Segment("EB", ["1", "IND", "30", "PR", plan_name]),
                Segment("EB", ["C", "IND", "30", "", "", "29", _money(benefits.deductible_remaining), "", "", "", "", "Y"]),
                Segment("EB", ["A", "IND", "30", "", "", "27", "", f"{benefits.coinsurance_rate.normalize()}", "", "", "", "Y"]),
                Segment("EB", ["B", "IND", "98", "", "", "27", _money(benefits.copay), "", "", "", "", "Y"]),
            ]
            if payer.auth_required_codes:
                # diagnostic imaging needs prior authorization with this payer (EB11 = Y)
                body.append(Segment("EB", ["1", "IND", "4", "", "", "", "", "", "", "", "Y", "Y"]))
    return body
