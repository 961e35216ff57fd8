"""Underpayments: each tenant's contracts with its payers, and the check run while a file is posted.

- `Contracts` (use cases): PUT a payer's contract (fee table CSV and/or a percentage of the Medicare physician
  fee schedule for a MAC + locality, and a tolerance), audited with the operator (the token's subject) in
  remittance_audit; GET it back.
- `check_posted` (called by `Poster.post` for the payments it has just inserted): for payments of claim status
  1/19 (primary) or 2/20 (secondary), the tenant's contracts for the payers in the file are loaded in one
  statement, each payment's service lines are checked (`domain.underpayment.check_claim`), a payment paid
  incorrectly gets its finding (payment_underpayments, one multi-row insert) and a PaymentUnderpaid event.
  A payment is inserted once per (tenant, payment key), so its finding and event are too: re-posting the
  same file or payment emits nothing.
- The Medicare fee schedule is reference data read once by the composition root (`load_fee_schedule_dir`,
  settings `fee_schedule_dir`) and handed to the objects that need it: `Contracts` (to validate a Medicare
  percentage) and `Remittance` (which passes it to `Poster` and on to `check_posted`). Posting runs from
  request use cases and from the consumer handlers (payments waiting for their claim); both are the same
  `Remittance` object, so both see the same release set.
- `Contracts.underpayments` is the read of a claim's findings (GET /v1/claims/{id}/underpayments).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert

from rcm_contracts.events import PaymentUnderpaid, UnderpaidLine
from rcm_runtime.bulk import BulkInsert
from rcm_runtime.errors import DomainError, NotFound
from rcm_runtime.reads import jsonable
from rcm_runtime.unit_of_work import UnitOfWork, UnitsOfWork

from rcm_remittance.db import payer_contracts, payment_underpayments, remittance_audit
from rcm_remittance.domain.contract_rates import Contract, MedicarePercent, load_fee_table
from rcm_remittance.domain.identity import payer_key
from rcm_remittance.domain.medicare_pfs import (PfsRelease, PfsSchedule, effective_from_filename, load_gpci,
                                                load_pprrvu)
from rcm_remittance.domain.rate_files import RateFileError
from rcm_remittance.domain.remit import Check, ClaimPay
from rcm_remittance.domain.underpayment import ClaimResult, PaidLine, Tolerance, check_claim

ZERO = Decimal("0.00")
CHECKED_STATUSES = frozenset({"1", "19", "2", "20"})  # primary and secondary payments
DEFAULT_PLACE_OF_SERVICE = "11"  # office: for a claim submitted before claim-submitted 1.2 carried its POS
_MAC = re.compile(r"^\d{5}$")
_LOCALITY = re.compile(r"^\d{1,2}$")


class InvalidContract(DomainError):
    code = "invalid_contract"


class NoContract(NotFound):
    pass


# ---------------------------------------------------------------- Medicare reference data


_GPCI_YEAR = re.compile(r"gpci(\d{4})", re.IGNORECASE)


def load_fee_schedule_dir(directory: str | Path) -> PfsSchedule:
    """Every release in a directory: each `PPRRVUyyyy_<Mon>*.csv` with the `GPCIyyyy*.csv` of its year, in force
    from the quarter its name says to the day before the next release. Raises ValueError (naming files, never
    rows' values) when a PPRRVU has no GPCI of its year or the directory holds no release."""
    root = Path(directory)
    gpcis = {int(m.group(1)): p for p in sorted(root.iterdir()) if p.suffix.lower() == ".csv"
             for m in [_GPCI_YEAR.search(p.name)] if m}
    starts = sorted((d, p) for p in sorted(root.iterdir()) if p.suffix.lower() == ".csv"
                    for d in [effective_from_filename(p.name)] if d)
    if not starts:
        raise ValueError(f"no PPRRVU release file in {root}")
    releases = []
    for n, (start, path) in enumerate(starts):
        gpci = gpcis.get(start.year)
        if gpci is None:
            raise ValueError(f"{path.name}: no GPCI file of {start.year} in {root}")
        end = starts[n + 1][0] - timedelta(days=1) if n + 1 < len(starts) else None
        releases.append(PfsRelease(start, end, load_pprrvu(path.read_text().splitlines(keepends=True)),
                                   load_gpci(gpci.read_text().splitlines(keepends=True))))
    return PfsSchedule(tuple(releases))


# ---------------------------------------------------------------- contracts (use cases)


@dataclass(frozen=True)
class ContractTerms:
    fee_table: str | None
    medicare_percent: Decimal | None
    mac: str | None
    locality: str | None
    tolerance_absolute: Decimal | None
    tolerance_percent: Decimal | None


def _rows_json(exc: RateFileError) -> list[dict]:
    return [{"row": row, "reason": reason} for row, reason in exc.problems]


class InvalidFeeTable(InvalidContract):
    code = "invalid_fee_table"

    def __init__(self, exc: RateFileError) -> None:
        super().__init__(str(exc))
        self.errors = _rows_json(exc)


def validate(terms: ContractTerms, schedule: PfsSchedule | None) -> int:
    """The terms' problems as InvalidContract/InvalidFeeTable (422); returns the fee table's row count."""
    if terms.fee_table is None and terms.medicare_percent is None:
        raise InvalidContract("a contract needs a fee table, a Medicare percentage, or both")
    rows = 0
    if terms.fee_table is not None:
        try:
            rows = len(load_fee_table(terms.fee_table.splitlines(keepends=True)))
        except RateFileError as exc:
            raise InvalidFeeTable(exc) from None
    if terms.medicare_percent is not None:
        if not terms.mac or not _MAC.match(terms.mac) or not terms.locality or not _LOCALITY.match(terms.locality):
            raise InvalidContract("a Medicare percentage needs the MAC (5 digits) and locality number (1-2 digits)")
        if schedule is None:
            raise InvalidContract("no Medicare physician fee schedule is configured on this server "
                                  "(fee_schedule_dir): a Medicare percentage cannot be priced")
        key = (terms.mac, terms.locality.zfill(2))
        if not any(key in r.gpcis for r in schedule.releases):
            raise InvalidContract("the MAC and locality number are not in any configured GPCI file")
    return rows


def contract_json(row: Any) -> dict:
    def s(v):
        return None if v is None else str(v)

    def pct(v):  # 120.000 -> "120", 2.500 -> "2.5"
        return None if v is None else f"{v.normalize():f}"
    return {"payer_id": row.payer_id, "version": row.version,
            "fee_table": row.fee_table, "fee_table_rows": row.fee_table_rows,
            "medicare": None if row.medicare_percent is None else {
                "percent": pct(row.medicare_percent), "mac": row.medicare_mac,
                "locality": row.medicare_locality},
            "tolerance": {"absolute": s(row.tolerance_absolute),
                          "percent": pct(row.tolerance_percent)},
            "updated_by": row.updated_by, "updated_at": row.updated_at.isoformat()}


class Contracts:
    """Contract use cases: each opens and owns its unit of work. `medicare`: the Medicare fee schedule the
    composition root read (None: none configured)."""

    def __init__(self, units: UnitsOfWork, *, medicare: PfsSchedule | None) -> None:
        self.units, self.medicare = units, medicare

    async def put(self, *, tenant_id: str, actor: str, payer_id: str, terms: ContractTerms, reason: str) -> dict:
        rows = validate(terms, self.medicare)
        async with self.units.begin(tenant_id=tenant_id, actor=actor) as uow:
            values = {"fee_table": terms.fee_table, "fee_table_rows": rows,
                      "medicare_percent": terms.medicare_percent,
                      "medicare_mac": terms.mac if terms.medicare_percent is not None else None,
                      "medicare_locality": terms.locality.zfill(2) if terms.medicare_percent is not None else None,
                      "tolerance_absolute": terms.tolerance_absolute, "tolerance_percent": terms.tolerance_percent,
                      "updated_by": actor, "updated_at": uow.now()}
            stmt = pg_insert(payer_contracts).values(tenant_id=tenant_id, payer_id=payer_id, version=1, **values)
            stmt = stmt.on_conflict_do_update(index_elements=["tenant_id", "payer_id"],
                                              set_={**values, "version": payer_contracts.c.version + 1})
            row = (await uow.conn.execute(stmt.returning(*payer_contracts.c))).one()
            await uow.conn.execute(remittance_audit.insert().values(
                tenant_id=tenant_id, subject="contract", subject_id=payer_id, action=f"put v{row.version}",
                actor=actor, reason=reason, at=uow.now()))
            return contract_json(row)

    async def get(self, *, tenant_id: str, payer_id: str) -> dict:
        async with self.units.read(tenant_id) as conn:
            row = (await conn.execute(select(payer_contracts).where(
                payer_contracts.c.tenant_id == tenant_id, payer_contracts.c.payer_id == payer_id))).first()
        if row is None:
            raise NoContract("no contract with this payer for this tenant")
        return contract_json(row)

    async def underpayments(self, *, tenant_id: str, claim_id: uuid.UUID) -> dict:
        """A claim's payments paid incorrectly (its findings, oldest first)."""
        async with self.units.read(tenant_id) as conn:
            rows = (await conn.execute(select(payment_underpayments).where(
                payment_underpayments.c.tenant_id == tenant_id, payment_underpayments.c.claim_id == claim_id)
                .order_by(payment_underpayments.c.id))).mappings().all()
        return {"claim_id": str(claim_id), "items": [jsonable({k: v for k, v in r.items() if k != "tenant_id"})
                                                     for r in rows]}


# ---------------------------------------------------------------- the check while posting


def contract_of(row: Any, schedule: PfsSchedule | None) -> tuple[Contract, Tolerance] | None:
    """A stored contract as the domain's Contract and Tolerance; None when nothing of it can price (a Medicare
    percentage without a configured schedule and no fee table)."""
    fees = load_fee_table(row.fee_table.splitlines(keepends=True)) if row.fee_table is not None else None
    pct = None
    if row.medicare_percent is not None and schedule is not None:
        pct = MedicarePercent(row.medicare_percent, schedule, row.medicare_mac, row.medicare_locality)
    if fees is None and pct is None:
        return None
    return (Contract(row.payer_id, fee_table=fees, medicare=pct),
            Tolerance(absolute=row.tolerance_absolute, percent=row.tolerance_percent))


def paid_lines(claim: ClaimPay, check: Check, place_of_service: str = DEFAULT_PLACE_OF_SERVICE) -> list[PaidLine]:
    """The 835's service lines as the check sees them: allowed = AMT*B6 when present, else SVC02 less the
    line's CO adjustments; units SVC05; date of service DTM*472/150, else the claim's first date, else the
    payment date. Lines without a procedure code cannot be priced and are left out (line_id keeps the SVC's
    1-based position)."""
    claim_start = claim.dates[0]
    out = []
    for n, line in enumerate(claim.lines, start=1):
        if not line.procedure_code:
            continue
        allowed = line.allowed if line.allowed is not None else line.charge - sum(
            (a.amount for a in line.adjustments if a.group == "CO"), ZERO)
        out.append(PaidLine(line.procedure_code, tuple(line.modifiers), line.units, place_of_service,
                            line.service_from or claim_start or check.payment_date, allowed, line_id=str(n)))
    return out


_insert_findings = BulkInsert(payment_underpayments, [
    "tenant_id", "remittance_id", "claim_id", "file_id", "payer_id", "contract_version", "expected_allowed",
    "actual_allowed", "difference", "lines"], on_conflict="ON CONSTRAINT uq_payment_underpayment DO NOTHING",
    returning=["remittance_id"])
_contracts_for = text("SELECT * FROM payer_contracts WHERE tenant_id = :tenant AND payer_id = ANY(CAST(:payers AS text[]))")


def _line_json(r) -> dict:
    return {"line_number": int(r.line.line_id), "procedure_code": r.line.code, "modifiers": list(r.line.modifiers),
            "units": str(r.line.units), "date_of_service": r.line.date_of_service.isoformat(), "status": r.status,
            "expected_allowed": None if r.expected is None else str(r.expected), "actual_allowed": str(r.actual),
            "difference": None if r.difference is None else str(r.difference), "reason": r.reason}


async def check_posted(uow: UnitOfWork, file_id: uuid.UUID | None, aliases: dict[str, str], posted: list,
                       medicare: PfsSchedule | None) -> None:
    """`posted`: (item, outcome dict, remittance id, payer as events name it) of the payments just inserted;
    `medicare`: the configured Medicare fee schedule (None: a Medicare percentage cannot price)."""
    todo = [p for p in posted if p[0].claim.status_code in CHECKED_STATUSES and p[0].claim.lines]
    if not todo:
        return
    keys = {id(i): payer_key(i.check, aliases) for i, *_ in todo}
    names = sorted({p[3] for p in todo} | set(keys.values()))
    rows = {r.payer_id: r for r in await uow.conn.execute(_contracts_for, {"tenant": uow.tenant_id, "payers": names})}
    if not rows:
        return
    schedule, built = medicare, {}
    findings, events = [], []
    for i, o, remittance_id, payer in todo:
        row = rows.get(payer) or rows.get(keys[id(i)])
        if row is None:
            continue
        if row.payer_id not in built:
            built[row.payer_id] = contract_of(row, schedule)
        terms = built[row.payer_id]
        if terms is None:
            continue
        pos = i.place_of_service or DEFAULT_PLACE_OF_SERVICE
        result: ClaimResult = check_claim(paid_lines(i.claim, i.check, pos), *terms)
        o["contract_check"] = {"status": result.status, "expected_allowed": str(result.expected),
                               "actual_allowed": str(result.actual), "difference": str(result.difference)}
        if result.status != "paid_incorrectly":
            continue
        findings.append({"tenant_id": uow.tenant_id, "remittance_id": remittance_id, "claim_id": i.claim_id,
                         "file_id": file_id, "payer_id": payer, "contract_version": row.version,
                         "expected_allowed": result.expected, "actual_allowed": result.actual,
                         "difference": result.difference, "lines": [_line_json(r) for r in result.lines]})
        events.append((i, remittance_id, payer, result))
    if not findings:
        return
    inserted = {r.remittance_id for r in await _insert_findings.execute(uow.conn, findings)}
    for i, remittance_id, payer, result in events:
        if remittance_id not in inserted:
            continue
        uow.emit(PaymentUnderpaid(
            claim_id=i.claim_id, remittance_id=remittance_id, payer_id=payer, claim_status_code=i.claim.status_code,
            payment_date=i.check.payment_date, expected_allowed=result.expected, actual_allowed=result.actual,
            underpaid_amount=result.expected - result.actual,
            lines=[UnderpaidLine(line_number=int(r.line.line_id), procedure_code=r.line.code,
                                 modifiers=list(r.line.modifiers), units=r.line.units,
                                 date_of_service=r.line.date_of_service, expected_allowed=r.expected,
                                 actual_allowed=r.actual, underpaid_amount=r.expected - r.actual)
                   for r in result.flagged_lines]), key=i.claim_id)
