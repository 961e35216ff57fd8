"""Hand-written 005010X221A1 835s for tests: a check (BPR/TRN, payer named the ways payers name it), its
claims (CLP) with claim-level CAS and service lines (SVC/DTM/CAS), PLB, one or several interchanges.

    text = era(check(claims=[clp("PCN-1", "100.00", "80.00", lines=[svc("99213", "100.00", "80.00",
                                  cas=[("PR", "2", "20.00")])])]))

BPR02 defaults to the balancing total (sum of CLP04 less PLB); pass `amount` to make it disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal


@dataclass
class Svc:
    code: str
    charge: str
    paid: str
    cas: list[tuple[str, str, str]] = field(default_factory=list)
    date: str = "20261001"


@dataclass
class Clp:
    pcn: str
    charge: str
    paid: str
    status: str = "1"
    patient: str | None = None  # CLP05: the PR adjustments' total unless given
    pccn: str | None = None  # CLP07
    cas: list[tuple[str, str, str]] = field(default_factory=list)  # claim level
    lines: list[Svc] = field(default_factory=list)


@dataclass
class Check:
    claims: list[Clp]
    trace: str = "TRN-835-1"
    payer_id: str = "SANDBOX1"
    naming: str = "n1"  # n1: N1*PR N104; ref: REF*2U only; trn: TRN03 only
    trn03: str = "1512345678"
    amount: str | None = None
    plb: list[tuple[str, str | None, str]] = field(default_factory=list)  # (reason, reference, amount)
    date: str = "20261102"


def svc(code: str, charge: str, paid: str, cas=(), date: str = "20261001") -> Svc:
    return Svc(code, charge, paid, list(cas), date)


def clp(pcn: str, charge: str, paid: str, *, status: str = "1", patient: str | None = None, pccn: str | None = None,
        cas=(), lines=()) -> Clp:
    return Clp(pcn, charge, paid, status, patient, pccn, list(cas), list(lines))


def check(claims, **kw) -> Check:
    return Check(list(claims), **kw)


def _cas(rows: list[tuple[str, str, str]]) -> list[str]:
    return [f"CAS*{g}*{r}*{a}" for g, r, a in rows]


def transaction(c: Check, st02: str = "0001") -> list[str]:
    plb_total = sum((Decimal(a) for _, _, a in c.plb), Decimal(0))
    amount = c.amount if c.amount is not None else str(sum((Decimal(x.paid) for x in c.claims), Decimal(0)) - plb_total)
    segs = [f"ST*835*{st02}*005010X221A1",
            f"BPR*I*{amount}*C*ACH*CCP*01*999999999*DA*123456*1512345678**01*888888888*DA*654321*{c.date}",
            f"TRN*1*{c.trace}*{c.trn03}", f"DTM*405*{c.date}"]
    if c.naming == "n1":
        segs.append(f"N1*PR*SANDBOX PAYER*XV*{c.payer_id}")
    elif c.naming == "ref":
        segs += ["N1*PR*SANDBOX PAYER", f"REF*2U*{c.payer_id}"]
    else:
        segs.append("N1*PR*SANDBOX PAYER")
    segs += ["N3*1 PAYER WAY", "N4*CITY*NY*10001", "N1*PE*DEMO CLINIC*XX*1234567893", "LX*1"]
    for x in c.claims:
        pr = x.patient if x.patient is not None else str(sum(
            (Decimal(a) for g, _, a in x.cas + [r for s in x.lines for r in s.cas] if g == "PR"), Decimal("0.00")))
        segs.append(f"CLP*{x.pcn}*{x.status}*{x.charge}*{x.paid}*{pr}*12" + (f"*{x.pccn}" if x.pccn else ""))
        segs += _cas(x.cas)
        segs.append("NM1*QC*1*DOE*JANE****MI*MEMBER1")
        for s in x.lines:
            segs += [f"SVC*HC:{s.code}*{s.charge}*{s.paid}**1", f"DTM*472*{s.date}", *_cas(s.cas)]
    for reason, ref, a in c.plb:
        segs.append(f"PLB*1234567893*20261231*{reason}:{ref}*{a}" if ref else f"PLB*1234567893*20261231*{reason}*{a}")
    segs.append(f"SE*{len(segs) + 1}*{st02}")
    return segs


def interchange(*checks: Check, isa13: str = "000000901") -> str:
    segs = [f"ISA*00*          *00*          *ZZ*SANDBOX1       *ZZ*OPENRCM        *261102*1200*^*00501*{isa13}*0*P*:",
            f"GS*HP*SANDBOX1*OPENRCM*20261102*1200*{int(isa13)}*X*005010X221A1"]
    for n, c in enumerate(checks, start=1):
        segs += transaction(c, f"{n:04d}")
    segs += [f"GE*{len(checks)}*{int(isa13)}", f"IEA*1*{isa13}"]
    return "~".join(segs) + "~"


def era(*checks: Check, isa13: str = "000000901") -> str:
    return interchange(*checks, isa13=isa13)


async def submit_claim(api, pcn: str, tenant: str = "tenant-a", *, payer_id: str = "SANDBOX1",
                       total_charge: str = "100.00", place_of_service: str | None = None):
    """Make the claim an 835 pays: a ClaimSubmitted (CLP01 = `pcn`) through remittance's own consumer handler
    (`api` is tests.support.api's ServiceApi of the remittance app). Returns the claim id."""
    import uuid
    from datetime import datetime, timezone

    from rcm_contracts.events import ClaimSubmitted

    claim_id = uuid.uuid4()
    applier = await api.consume((ClaimSubmitted(
        claim_id=claim_id, payer_id=payer_id, clearinghouse="sandbox", interchange_control_number="000000001",
        total_charge=total_charge, submitted_at=datetime(2026, 10, 2, tzinfo=timezone.utc), patient_control_number=pcn,
        place_of_service=place_of_service),
        tenant, claim_id))
    assert applier.applied == 1
    return claim_id
