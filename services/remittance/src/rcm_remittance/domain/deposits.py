"""ERA-to-deposit reassociation: which bank deposit paid which 835, by the EFT trace number and the amount.

A payer pays by ACH (CCD+) or check. The 835 names the payment in TRN02 (the EFT trace or check number) and
BPR02 (the amount); the bank reports the deposit in its BAI2 file (or a CSV export), with the trace in the
ACH addenda the payer sent (`TRN*1*<trace>*<payer id>\\`, carried in the 16 record's text or customer
reference). CAQH CORE's reassociation rule matches exactly on these two: same trace, same amount.

Pure: parsing and matching only; no I/O. Amounts are Decimal dollars (BAI2 carries cents, no point).

BAI2 (Bank Administration Institute, version 2), as this reader takes it:
- records end at "/" (a 16 or 88 record's free text runs to the end of the line instead); fields are comma-
  separated; 88 continues the record before it.
- 01 file header, 02 group header (as-of date YYMMDD), 03 account (account number, currency, summaries),
  16 transaction detail (type code, amount in cents, funds type, bank reference, customer reference, text),
  49 account trailer (control total, records), 98 group trailer (control total, accounts, records),
  99 file trailer (control total, groups, records).
- control totals are the sum of the amounts below them (03 summaries and 16 details for an account; the
  accounts for a group; the groups for the file); record counts include the header and trailer records
  and continuations. A file whose totals or counts disagree is refused whole: a deposit file that does not
  add up is not evidence of a deposit.
- deposits are the credit details, type codes 100-399 (e.g. 165 preauthorized ACH credit, 169 misc. ACH
  credit, 175 check deposit, 195 incoming wire, 301 commercial deposit); debits (400-699) are not deposits.
"""

from __future__ import annotations

import csv
import io
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation

from rcm_runtime.errors import DomainError

CENT = Decimal("0.01")
_TRN = re.compile(r"TRN\*1\*([^*\\/~]+)")


class DepositFileError(DomainError):
    """A deposit file that cannot be read, with one entry per problem (line number and reason; values only
    where they are codes or counts, never account numbers)."""

    def __init__(self, errors: list[dict]) -> None:
        super().__init__(f"the deposit file cannot be read ({len(errors)} problem(s))")
        self.errors = errors


@dataclass(frozen=True)
class Deposit:
    deposit_date: date
    amount: Decimal
    trace: str | None  # the EFT trace / check number that names the 835's TRN02, when the bank gave one
    bank_reference: str | None = None
    customer_reference: str | None = None
    type_code: str | None = None
    line: int = 0  # where in the file (1-based), to point people at it


@dataclass(frozen=True)
class EraPayment:
    """What an 835 says it paid: TRN02, BPR02, BPR16 (payment date) and the payment method (BPR04)."""

    era_id: str
    trace: str
    amount: Decimal
    payment_date: date | None = None
    method: str | None = None  # ACH | CHK | NON | ...


@dataclass(frozen=True)
class Match:
    deposit: Deposit
    eras: tuple[EraPayment, ...]  # one ERA, or several that one EFT paid together
    by: str  # "trace" | "amount_and_date"


@dataclass(frozen=True)
class AmountMismatch:
    deposit: Deposit
    eras: tuple[EraPayment, ...]
    difference: Decimal  # deposit - sum(ERAs)


@dataclass
class Reassociation:
    matches: list[Match] = field(default_factory=list)
    amount_mismatches: list[AmountMismatch] = field(default_factory=list)
    unmatched_deposits: list[Deposit] = field(default_factory=list)
    eras_without_deposit: list[EraPayment] = field(default_factory=list)


def normalise_trace(trace: str | None) -> str | None:
    """Traces are compared without case, spaces or leading zeros (banks and payers pad them differently)."""
    if trace is None:
        return None
    t = re.sub(r"\s+", "", trace).upper().lstrip("0")
    return t or None


def deposit_key(d: Deposit, file_sha256: str) -> str:
    """What identifies a deposit across bank files (a day's BAI2 and the month's CSV export overlap): the payer's
    trace, else the bank's own reference for the transaction, each with the date and amount; a deposit with neither
    is known only by its place in its file (two such deposits of one day and amount cannot be told apart)."""
    trace = normalise_trace(d.trace)
    if trace:
        return f"trace:{d.deposit_date.isoformat()}:{d.amount.quantize(CENT)}:{trace}"
    reference = re.sub(r"\s+", "", d.bank_reference or "").upper()
    if reference:
        return f"bank:{d.deposit_date.isoformat()}:{d.amount.quantize(CENT)}:{reference}"
    return f"file:{file_sha256}:{d.line}"


# ---------------------------------------------------------------- BAI2


def _cents(text: str, line: int, errors: list[dict]) -> Decimal:
    text = text.strip()
    if not text:
        return Decimal(0)
    sign = -1 if text.startswith("-") else 1
    digits = text.lstrip("+-")
    if not digits.isdigit():
        errors.append({"line": line, "reason": "amount is not a whole number of cents"})
        return Decimal(0)
    return sign * Decimal(int(digits)) * CENT


def _yymmdd(text: str, line: int, errors: list[dict]) -> date | None:
    try:
        return datetime.strptime(text.strip(), "%y%m%d").date()
    except ValueError:
        errors.append({"line": line, "reason": "as-of date is not YYMMDD"})
        return None


def _logical_records(text: str) -> list[tuple[int, str, list[str]]]:
    """(line, record code, fields) per physical record. An 88 continues the last data record: a 16's text
    goes on where the line broke (so a TRN split across records is whole again); any other record gets more
    fields. The 88 stays in the list, with no fields, because the trailers count it."""
    records: list[tuple[int, str, list[str]]] = []
    last_data: tuple[int, str, list[str]] | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        code, _, rest = line.partition(",")
        if code in ("16", "88"):
            rest = rest[:-1] if rest.endswith("/") else rest  # free text runs to the end of the line
        else:
            rest = rest.split("/", 1)[0]
        fields = rest.split(",")
        if code == "88":
            if last_data is not None:
                if last_data[1] == "16":
                    last_data[2][-1] += ",".join(fields)
                else:
                    last_data[2].extend(fields)
            records.append((number, "88", []))
            continue
        last_data = (number, code, fields)
        records.append(last_data)
    return records


def _detail(fields: list[str]) -> tuple[str, str, str, str, str, str]:
    """16: type code, amount, funds type [+ its own fields], bank ref, customer ref, text."""
    type_code, amount = (fields + ["", ""])[:2]
    funds = fields[2] if len(fields) > 2 else ""
    i = 3
    if funds == "S":
        i += 3  # immediate, one-day, two-or-more-day availability amounts
    elif funds == "V":
        i += 2  # value date, value time
    elif funds == "D":
        n = int(fields[3]) if len(fields) > 3 and fields[3].isdigit() else 0
        i += 1 + 2 * n  # count, then (days, amount) pairs
    bank_ref = fields[i] if len(fields) > i else ""
    customer_ref = fields[i + 1] if len(fields) > i + 1 else ""
    text = ",".join(fields[i + 2:]) if len(fields) > i + 2 else ""
    return type_code, amount, funds, bank_ref, customer_ref, text


def parse_bai2(text: str) -> list[Deposit]:
    """The credit details (type codes 100-399) of a BAI2 file, checked against its control totals and
    record counts. Raises DepositFileError listing every problem."""
    errors: list[dict] = []
    records = _logical_records(text)
    if not records or records[0][1] != "01":
        raise DepositFileError([{"line": records[0][0] if records else 1, "reason": "a BAI2 file starts with an 01 record"}])
    deposits: list[Deposit] = []
    as_of: date | None = None
    account_total = group_total = file_total = Decimal(0)
    account_records = group_records = 0
    accounts_in_group = groups = 0
    file_records = 0
    ended = False
    for line, code, fields in records:
        file_records += 1
        group_records += 1
        account_records += 1
        if code == "01":
            continue
        if code == "02":
            as_of = _yymmdd(fields[3] if len(fields) > 3 else "", line, errors)
            group_total, group_records, accounts_in_group = Decimal(0), 1, 0
        elif code == "03":
            account_total, account_records = Decimal(0), 1
            accounts_in_group += 1
            # summaries: (type code, amount, item count, funds type) repeated after account number and currency
            summary = fields[2:]
            for k in range(0, len(summary) - 1, 4):
                account_total += _cents(summary[k + 1], line, errors)
        elif code == "16":
            type_code, amount_text, _funds, bank_ref, customer_ref, detail_text = _detail(fields)
            amount = _cents(amount_text, line, errors)
            account_total += amount
            if type_code.isdigit() and 100 <= int(type_code) <= 399 and as_of is not None:
                found = _TRN.search(detail_text) or _TRN.search(customer_ref)
                trace = found.group(1) if found else (customer_ref or None)
                deposits.append(Deposit(deposit_date=as_of, amount=amount, trace=trace,
                                        bank_reference=bank_ref or None, customer_reference=customer_ref or None,
                                        type_code=type_code, line=line))
        elif code == "88":
            continue
        elif code == "49":
            if _cents(fields[0], line, errors) != account_total:
                errors.append({"line": line, "reason": "account control total differs from the sum of the account's "
                                                       "amounts"})
            if (fields[1].strip() if len(fields) > 1 else "") != str(account_records):
                errors.append({"line": line, "reason": f"account trailer counts {fields[1] if len(fields) > 1 else '?'} "
                                                       f"records, the account has {account_records}"})
            group_total += account_total
        elif code == "98":
            if _cents(fields[0], line, errors) != group_total:
                errors.append({"line": line, "reason": "group control total differs from the sum of its accounts"})
            if (fields[1].strip() if len(fields) > 1 else "") != str(accounts_in_group):
                errors.append({"line": line, "reason": "group trailer counts a different number of accounts"})
            if (fields[2].strip() if len(fields) > 2 else "") != str(group_records):
                errors.append({"line": line, "reason": f"group trailer counts {fields[2] if len(fields) > 2 else '?'} "
                                                       f"records, the group has {group_records}"})
            file_total += group_total
            groups += 1
        elif code == "99":
            if _cents(fields[0], line, errors) != file_total:
                errors.append({"line": line, "reason": "file control total differs from the sum of its groups"})
            if (fields[1].strip() if len(fields) > 1 else "") != str(groups):
                errors.append({"line": line, "reason": "file trailer counts a different number of groups"})
            if (fields[2].strip() if len(fields) > 2 else "") != str(file_records):
                errors.append({"line": line, "reason": f"file trailer counts {fields[2] if len(fields) > 2 else '?'} "
                                                       f"records, the file has {file_records}"})
            ended = True
        else:
            errors.append({"line": line, "reason": f"unknown BAI2 record code {code[:2]!r}"})
    if not ended:
        errors.append({"line": records[-1][0], "reason": "no 99 file trailer: the file is truncated"})
    if errors:
        raise DepositFileError(errors)
    return deposits


# ---------------------------------------------------------------- CSV export

CSV_COLUMNS = ("date", "amount", "trace")


def parse_deposit_csv(text: str) -> list[Deposit]:
    """A bank's CSV export with the header `date,amount,trace` (ISO dates, dollars with a point; trace may be
    empty for a check deposit). Raises DepositFileError listing every bad row."""
    reader = csv.DictReader(io.StringIO(text))
    header = tuple(h.strip().lower() for h in (reader.fieldnames or ()))
    if header[:3] != CSV_COLUMNS:
        raise DepositFileError([{"line": 1, "reason": f"the header must start with {','.join(CSV_COLUMNS)}"}])
    deposits, errors = [], []
    for number, row in enumerate(reader, start=2):
        row = {(k or "").strip().lower(): (v or "").strip() for k, v in row.items()}
        try:
            when = date.fromisoformat(row["date"])
        except ValueError:
            errors.append({"line": number, "reason": "date is not YYYY-MM-DD"})
            continue
        try:
            amount = Decimal(row["amount"].replace(",", ""))
        except InvalidOperation:
            errors.append({"line": number, "reason": "amount is not a number"})
            continue
        if amount != amount.quantize(CENT) or amount <= 0:
            errors.append({"line": number, "reason": "amount must be positive with at most two decimals"})
            continue
        deposits.append(Deposit(deposit_date=when, amount=amount, trace=row["trace"] or None, line=number))
    if errors:
        raise DepositFileError(errors)
    return deposits


# ---------------------------------------------------------------- matching


CHECK_WINDOW = timedelta(days=10)  # a check deposit is matched by amount to an ERA paid this close to it


def days_before(day: date, window: timedelta) -> date:
    """`day - window`, or the first day there is when the window reaches before it (a `since` of 0001-01-01 is a
    valid way to ask for everything)."""
    return day - window if day - date.min > window else date.min


def reassociate(deposits: list[Deposit], eras: list[EraPayment], *,
                check_window: timedelta = CHECK_WINDOW) -> Reassociation:
    """Match deposits to ERAs. By trace first: a deposit and the ERA(s) with its trace match when the amounts
    agree (several ERAs sharing one EFT trace match together when they add up to the deposit); the same trace
    with another amount is an amount mismatch, never a match. A deposit without a trace (a check deposit)
    matches by amount only when exactly one still-unmatched check ERA has that amount within `check_window`
    of the deposit date; anything ambiguous stays unmatched for a person."""
    out = Reassociation()
    by_trace: dict[str, list[EraPayment]] = defaultdict(list)
    for era in eras:
        key = normalise_trace(era.trace)
        if key:
            by_trace[key].append(era)
    used: set[str] = set()
    untraced: list[Deposit] = []
    for deposit in deposits:
        key = normalise_trace(deposit.trace)
        candidates = [e for e in by_trace.get(key, []) if e.era_id not in used] if key else []
        if not candidates:
            untraced.append(deposit)
            continue
        total = sum((e.amount for e in candidates), Decimal(0))
        if total == deposit.amount:
            out.matches.append(Match(deposit, tuple(candidates), by="trace"))
            used.update(e.era_id for e in candidates)
            continue
        exact = [e for e in candidates if e.amount == deposit.amount]
        if len(exact) == 1:
            out.matches.append(Match(deposit, (exact[0],), by="trace"))
            used.add(exact[0].era_id)
            continue
        out.amount_mismatches.append(AmountMismatch(deposit, tuple(candidates), deposit.amount - total))
        used.update(e.era_id for e in candidates)  # a person decides; not offered again as an ERA without deposit
    for deposit in untraced:
        candidates = [e for e in eras if e.era_id not in used and e.amount == deposit.amount
                      and (e.method or "").upper() != "ACH"
                      and (e.payment_date is None or abs(e.payment_date - deposit.deposit_date) <= check_window)]
        if len(candidates) == 1:
            out.matches.append(Match(deposit, (candidates[0],), by="amount_and_date"))
            used.add(candidates[0].era_id)
        else:
            out.unmatched_deposits.append(deposit)
    out.eras_without_deposit = [e for e in eras if e.era_id not in used]
    return out
