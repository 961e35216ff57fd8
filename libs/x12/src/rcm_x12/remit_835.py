"""Reading a 005010X221A1 835 (electronic remittance advice) into payments (pure).

One `RemittancePayment` per 835 transaction set: the money (BPR/TRN), who paid whom, and per CLP the claim's
payment with its claim-level and line-level adjustments and remark codes. Patient names and ids are not
kept: a claim is matched back by its patient control number (CLP01 = the 837's CLM01).

Real ERAs are often slightly off, and a posting clerk still needs to read them, so imbalances are reported
as warnings rather than refused:
- line:     SVC02 - SVC03 = sum of the line's CAS
- claim:    CLP03 - CLP04 = sum of claim and line CAS, and (with lines) CLP04 = sum of SVC03 - claim CAS
- patient:  CLP05 = sum of the PR CAS
- payment:  BPR02 = sum of CLP04 - sum of PLB amounts (a positive PLB withholds money from the provider)
Unreadable money in a required position raises `Unparseable835`: posting a guessed amount is worse than
stopping. Messages and warnings name segments and positions, never patient data.

The contract, per file (`read_835` and `read_835_file` read the same way):
- Every interchange (ISA..IEA) of the file is read, and every 835 transaction set in each: one
  `RemittancePayment` per set, in file order, each knowing its interchange (ISA13), group (GS06) and set (ST02).
- The whole file is rejected, nothing returned, when any part of it cannot be trusted to be complete or is not
  an 005010X221A1 835: `Unsupported835Version` (GS08 or ST03 names another version, e.g. a 4010
  004010X091A1 835), `Incomplete835` (a missing IEA/GE/SE trailer, a wrong SE01/GE01/IEA01 count, segments
  outside an envelope or after the last IEA: a truncated file), or `Unparseable835` (not X12, no 835 at all,
  no BPR, an unreadable amount). All three are `Unparseable835`, hence `Unreadable`: a permanent rejection
  whose reason is safe to keep and show.
- What does not put the money in doubt is returned, never dropped: envelope defects that leave every segment
  in place (a control number that does not match, GS01 not HP) are in each payment's `envelope_errors`; the
  balancing and value findings are in its `warnings`. `read_835_file(...).findings()` lists them all for the
  file, each prefixed with where it is (interchange and transaction set).
"""

from __future__ import annotations

import gc
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal

from rcm_x12.codec import (
    EnvelopeError,
    EnvelopeErrorCode,
    FunctionalGroup,
    Interchange,
    TransactionRows,
    X12Error,
    parse_interchanges_rows,
)
from rcm_x12.format import d8_date, parse_number, quote_code, quote_control_number
from rcm_x12.reading import (
    ENVELOPE_ERROR,
    INTERCHANGE_VERSION,
    WARNING,
    ReadingIssue,
    Unreadable,
    UnsupportedVersion,
)

IMPLEMENTATION = "005010X221A1"
ZERO = Decimal(0)
ONE = Decimal(1)

CLAIM_STATUS: dict[str, str] = {  # CLP02
    "1": "Processed as primary",
    "2": "Processed as secondary",
    "3": "Processed as tertiary",
    "4": "Denied",
    "19": "Processed as primary, forwarded to additional payer(s)",
    "20": "Processed as secondary, forwarded to additional payer(s)",
    "21": "Processed as tertiary, forwarded to additional payer(s)",
    "22": "Reversal of previous payment",
    "23": "Not our claim, forwarded to additional payer(s)",
    "25": "Predetermination pricing only, no payment",
}
DENIED = "4"

_CAS_TRIPLETS = range(2, 20, 3)  # CAS02/05/08/11/14/17: reason; the amount and quantity follow each
_PLB_PAIRS = range(3, 15, 2)  # PLB03/05/.../13: reason:reference composite; the amount follows each
_MIA_REMARKS = (5, 20, 21, 22, 23)
_MOA_REMARKS = (3, 4, 5, 6, 7)


# Envelope defects after which some of the file may be missing or misplaced: the file is rejected whole.
INCOMPLETE: frozenset[EnvelopeErrorCode] = frozenset({
    EnvelopeErrorCode.MISSING_IEA, EnvelopeErrorCode.IEA_GROUP_COUNT,
    EnvelopeErrorCode.MISSING_GE, EnvelopeErrorCode.GE_TRANSACTION_COUNT,
    EnvelopeErrorCode.MISSING_SE, EnvelopeErrorCode.SE_SEGMENT_COUNT,
    EnvelopeErrorCode.OUTSIDE_ENVELOPE, EnvelopeErrorCode.DATA_AFTER_IEA,
})


class Unparseable835(Unreadable):
    """The input is not a readable 835 (reason names segments and positions only, never element values)."""


class Unsupported835Version(Unparseable835, UnsupportedVersion):
    """An 835 of another version than 005010X221A1 (e.g. 4010's 004010X091A1): rejected, never read as 5010."""

    def __init__(self, reason: str, version: str) -> None:
        super().__init__(reason)
        self.version = version


class Incomplete835(Unparseable835):
    """The file is truncated or its envelopes do not hold together: rejected whole, with every defect found."""

    def __init__(self, reason: str, envelope_errors: tuple[EnvelopeError, ...]) -> None:
        super().__init__(reason)
        self.envelope_errors = envelope_errors


@dataclass(frozen=True)
class Adjustment:
    group: str  # CO contractual, PR patient responsibility, OA other, PI payer initiated
    reason: str  # CARC
    amount: Decimal
    quantity: Decimal | None = None


@dataclass(frozen=True)
class ServicePayment:
    qualifier: str | None  # SVC01-1: HC (HCPCS/CPT), AD (dental), NU (revenue code), ...
    procedure_code: str | None
    modifiers: tuple[str, ...]
    charge: Decimal  # SVC02
    paid: Decimal  # SVC03
    units: Decimal  # SVC05: units paid; the guide says absent means 1
    original_units: Decimal | None  # SVC07: units billed, when they differ from those paid
    revenue_code: str | None  # SVC04
    allowed: Decimal | None  # AMT*B6
    service_from: date | None
    service_to: date | None
    adjustments: tuple[Adjustment, ...]
    remark_codes: tuple[str, ...]  # LQ*HE
    line_item_control_number: str | None  # REF*6R: echoes the 837's line control number
    submitted_procedure_code: str | None = None  # SVC06-2: the code billed, when the payer paid another


@dataclass(frozen=True)
class ClaimPosition:
    """Where a claim payment sits in the file: with the payer and trace, what tells two payments apart when
    everything else (even CLP07) is the same."""

    interchange_control_number: str  # ISA13
    group_control_number: str  # GS06
    transaction_control_number: str  # ST02
    claim_index: int  # 1-based order of the CLP within its transaction set
    segment_position: int  # the CLP's segment number within the set (ST = 1)


@dataclass(frozen=True)
class ClaimIdentity:
    """What identifies one claim payment (see RemittancePayment.identity): the payer as it names itself
    (N1*PR N104, REF*2U; TRN03 is the trace's originator, kept apart), the check/EFT trace, the claim's own
    numbers and dates, and its position in the file."""

    payer_identifier: str | None  # N1*PR N104
    payer_reference: str | None  # N1*PR loop REF*2U
    trace_number: str | None  # TRN02
    trace_originator: str | None  # TRN03
    patient_control_number: str  # CLP01
    status_code: str  # CLP02
    payer_claim_control_number: str | None  # CLP07
    service_from: date | None  # claim DTM*232, else the earliest line date
    service_to: date | None  # claim DTM*233, else the latest line date
    position: ClaimPosition | None


@dataclass(frozen=True)
class ClaimPayment:
    patient_control_number: str  # CLP01
    status_code: str  # CLP02
    status: str
    charge: Decimal  # CLP03
    paid: Decimal  # CLP04
    patient_responsibility: Decimal  # CLP05 (0 when absent)
    claim_filing_indicator: str | None  # CLP06
    payer_claim_control_number: str | None  # CLP07
    adjustments: tuple[Adjustment, ...]  # claim level only; see all_adjustments
    remark_codes: tuple[str, ...]  # MOA/MIA
    lines: tuple[ServicePayment, ...]
    service_from: date | None  # DTM*232
    service_to: date | None  # DTM*233
    position: ClaimPosition | None = None  # where it is in the file
    dates: tuple[tuple[str, date], ...] = ()  # every claim-level DTM as (qualifier, date): 050 received, 036/037 ...

    @property
    def denied(self) -> bool:
        return self.status_code == DENIED

    @property
    def all_adjustments(self) -> tuple[Adjustment, ...]:
        return self.adjustments + tuple(a for line in self.lines for a in line.adjustments)


@dataclass(frozen=True)
class ProviderAdjustment:
    """PLB: money the payer adds (negative) or withholds (positive) outside any claim."""

    provider_id: str  # PLB01
    reason: str  # PLB03-1, e.g. WO overpayment recovery, L6 interest, FB forwarding balance, CS, 72, CV, ...
    reference: str | None  # PLB03-2
    amount: Decimal
    fiscal_period: date | None = None  # PLB02: the last day of the provider's fiscal year
    plb_index: int = 0  # 1-based order of the PLB segment within its transaction set
    pair_index: int = 0  # 1-based order of the (reason, amount) pair within that PLB (PLB03/04 = 1 ... PLB13/14 = 6)


@dataclass(frozen=True)
class RemittancePayment:
    control_number: str  # ST02
    payer_id: str | None  # N1*PR N104, else REF*2U, else TRN03
    payer_name: str | None
    payee_name: str | None
    payee_npi: str | None  # N1*PE N104 when N103 is XX
    payee_tax_id: str | None  # N1*PE N104 when N103 is FI, else REF*TJ
    handling_code: str  # BPR01: C payment + advice, I advice only, H notification only, ...
    payment_method: str  # BPR04: ACH, CHK, NON, BOP, FWT
    amount: Decimal  # BPR02
    credit: bool  # BPR03 C (money to the provider) rather than D
    payment_date: date | None  # BPR16
    production_date: date | None  # DTM*405
    trace_number: str | None  # TRN02: EFT trace or check number
    trace_originator: str | None  # TRN03
    claims: tuple[ClaimPayment, ...]
    provider_adjustments: tuple[ProviderAdjustment, ...]
    envelope_errors: tuple[EnvelopeError, ...] = ()  # its interchange's defects that leave every segment in place
    warnings: tuple[str, ...] = ()
    interchange_control_number: str = ""  # ISA13
    group_control_number: str = ""  # GS06
    version: str = IMPLEMENTATION  # GS08
    sender_id: str = ""  # ISA06
    receiver_id: str = ""  # ISA08
    payer_identifier: str | None = None  # N1*PR N104 alone (payer_id falls back to REF*2U and TRN03)
    payer_identifier_qualifier: str | None = None  # N1*PR N103: XV (CMS plan id), ...
    payer_reference: str | None = None  # N1*PR loop REF*2U
    interchange: int = 0  # the 1-based place in the file of its interchange (0: not read from a file)

    @property
    def where(self) -> str:
        """'interchange '000000005' 835 '0001'': the prefix findings are shown with."""
        return (f"interchange {quote_control_number(self.interchange_control_number)} "
                f"835 {quote_control_number(self.control_number)}")

    def identity(self, claim: ClaimPayment) -> ClaimIdentity:
        start = claim.service_from or min((ln.service_from for ln in claim.lines if ln.service_from), default=None)
        end = claim.service_to if claim.service_from else max(
            (ln.service_to or ln.service_from for ln in claim.lines if ln.service_to or ln.service_from),
            default=None)
        return ClaimIdentity(
            payer_identifier=self.payer_identifier, payer_reference=self.payer_reference,
            trace_number=self.trace_number, trace_originator=self.trace_originator,
            patient_control_number=claim.patient_control_number, status_code=claim.status_code,
            payer_claim_control_number=claim.payer_claim_control_number,
            service_from=start, service_to=end or start, position=claim.position)


@dataclass(frozen=True)
class InterchangeSummary:
    control_number: str  # ISA13
    sender_id: str  # ISA06
    receiver_id: str  # ISA08
    usage: str  # ISA15: P production, T test
    transaction_control_numbers: tuple[str, ...]  # ST02 of each 835 read from it
    envelope_errors: tuple[EnvelopeError, ...]  # the non-fatal ones (the fatal ones reject the file)
    warnings: tuple[str, ...]  # e.g. a transaction set that is not an 835, ignored


@dataclass(frozen=True)
class Remittance835:
    """A whole 835 file as read: its payments (every interchange, in order) and its interchanges."""

    payments: tuple[RemittancePayment, ...]
    interchanges: tuple[InterchangeSummary, ...]

    @property
    def claim_count(self) -> int:
        return sum(len(p.claims) for p in self.payments)

    @property
    def envelope_errors(self) -> tuple[EnvelopeError, ...]:
        return tuple(e for i in self.interchanges for e in i.envelope_errors)

    def issues(self) -> tuple[ReadingIssue, ...]:
        """Every envelope error and warning of the file as structured issues (interchange, set, position)."""
        found: list[ReadingIssue] = []
        for number, summary in enumerate(self.interchanges, start=1):
            found += [ReadingIssue(number, summary.control_number, ENVELOPE_ERROR, e.message, code=str(e.code),
                                   segment_position=e.segment_position) for e in summary.envelope_errors]
            found += [ReadingIssue(number, summary.control_number, WARNING, w) for w in summary.warnings]
        for payment in self.payments:
            found += [ReadingIssue(payment.interchange, payment.interchange_control_number, WARNING, w,
                                   transaction_set=payment.control_number) for w in payment.warnings]
        return tuple(found)

    def findings(self) -> tuple[str, ...]:
        """Every envelope error and warning of the file, each prefixed with where it is (PHI-free)."""
        found = []
        for summary in self.interchanges:
            where = f"interchange {quote_control_number(summary.control_number)}"
            found += [f"{where}: {e}" for e in summary.envelope_errors]
            found += [f"{where}: {w}" for w in summary.warnings]
        for payment in self.payments:
            found += [f"{payment.where}: {w}" for w in payment.warnings]
        return tuple(found)


def read_835(text: str) -> list[RemittancePayment]:
    """Every 835 payment of the file (all interchanges), or the file rejected whole: see the module's contract."""
    return list(read_835_file(text).payments)


def read_835_file(text: str) -> Remittance835:
    """The whole file: payments and interchanges; raises Unparseable835 (or a subclass) for the whole file."""
    # A file makes hundreds of thousands of small objects that all live until the read ends: the cyclic
    # collector would walk them over and over (it doubled the read time of a 10,000-claim file) and can free
    # none of them, so it is paused for the read (reference counting still frees as usual).
    paused = gc.isenabled()
    gc.disable()
    try:
        return _read_file(text)
    finally:
        if paused:
            gc.enable()


def _read_file(text: str) -> Remittance835:
    try:
        interchanges = parse_interchanges_rows(text)
    except X12Error as exc:
        raise Unparseable835(f"not an X12 interchange: {exc}") from None
    _reject_incomplete(interchanges)
    found = [(i, t) for i in interchanges for g in i.groups for t in g.transactions if t.id_code == "835"]
    if not found:
        present = sorted({quote_code(t.id_code) for i in interchanges for t in i.transactions})
        raise Unparseable835(f"no 835 transaction set in the interchange (found: {', '.join(present) or 'none'})")
    _reject_other_versions(interchanges)
    payments = []
    summaries = []
    for number, interchange in enumerate(interchanges, start=1):
        kept = tuple(e for e in interchange.errors if e.code not in INCOMPLETE)
        remembered = _Remembered()  # for this interchange's rows
        read = [replace(_PaymentReader(t, kept, interchange, group, remembered).read(), interchange=number)
                for group in interchange.groups for t in group.transactions if t.id_code == "835"]
        ignored = tuple(f"transaction set {quote_control_number(t.control_number)} (ST01 {quote_code(t.id_code)}) "
                        "is not an 835; ignored" for t in interchange.transactions if t.id_code != "835")
        payments += read
        summaries.append(InterchangeSummary(
            control_number=interchange.control_number, sender_id=interchange.sender_id,
            receiver_id=interchange.receiver_id, usage=interchange.usage,
            transaction_control_numbers=tuple(p.control_number for p in read), envelope_errors=kept,
            warnings=ignored))
    return Remittance835(payments=tuple(payments), interchanges=tuple(summaries))


def _reject_incomplete(interchanges: list[Interchange]) -> None:
    fatal = [(i, e) for i in interchanges for e in i.errors if e.code in INCOMPLETE]
    if not fatal:
        return
    shown = "; ".join(f"interchange #{n} ({quote_control_number(i.control_number)}): {e}"
                      for n, i in enumerate(interchanges, start=1) for e in i.errors if e.code in INCOMPLETE)
    raise Incomplete835(f"835 file rejected whole, it is truncated or its envelopes do not hold together: {shown}",
                        tuple(e for _, e in fatal))


def _reject_other_versions(interchanges: list[Interchange]) -> None:
    """Any interchange of another version than 5010 rejects the whole file, even beside 5010 interchanges: money
    is posted all or nothing per file, so a file is never half-posted (its 5010 checks posted, its 4010 ones
    waiting for a re-send that would then post the 5010 ones again as duplicates or not at all)."""
    for number, interchange in enumerate(interchanges, start=1):
        where = f"interchange #{number} ({quote_control_number(interchange.control_number)})"
        for group in interchange.groups:  # the guide's version first: it says the most
            sets = [t for t in group.transactions if t.id_code == "835"]
            if not sets:
                continue
            where_group = f"{where} functional group {quote_control_number(group.control_number)}"
            if group.version != IMPLEMENTATION:
                raise Unsupported835Version(
                    f"{where_group}: version {quote_code(group.version) if group.version else 'absent'} (GS08) is "
                    f"{_not_5010(group.version)}; {_ONLY_5010}", group.version)
            for t in sets:
                if t.implementation_reference not in ("", IMPLEMENTATION):
                    raise Unsupported835Version(
                        f"{where_group} 835 {quote_control_number(t.control_number)}: implementation reference "
                        f"{quote_code(t.implementation_reference)} (ST03) is "
                        f"{_not_5010(t.implementation_reference)}; {_ONLY_5010}", t.implementation_reference)
        isa12 = interchange.header.element(12)
        if isa12 != INTERCHANGE_VERSION:
            raise Unsupported835Version(
                f"{where}: version {quote_code(isa12) if isa12 else 'absent'} (ISA12) is not {INTERCHANGE_VERSION} "
                f"(5010); {_ONLY_5010}", isa12)


_ONLY_5010 = f"only {IMPLEMENTATION} 835s are read, and the whole file is rejected so that none of it is half-posted"


def _not_5010(version: str) -> str:
    """'not 5010 (005010X221A1)' for another version, 'not 005010X221A1' for another guide of 5010."""
    return f"not {IMPLEMENTATION}" if version.startswith(INTERCHANGE_VERSION) else f"not 5010 ({IMPLEMENTATION})"


# ---------------------------------------------------------------- walking the transaction set

# The segments that open a loop (or close the claims): each decides where the rows after it belong.
_LOOP_TAGS = frozenset({"CLP", "SVC", "N1", "PLB", "LX", "TS3", "TS2"})

_Line = tuple[list[str], list[list[str]]]  # (SVC row, the line's other rows)
_Claim = tuple[list[str], int, list[list[str]], list[_Line]]  # (CLP row, its position, its own rows, lines)
_Service = tuple  # what an SVC row reads as: see _PaymentReader.service


class _Remembered:
    """What one interchange's segments read as, by row. Identical segments share one row (codec.split_rows), and
    a remittance repeats most of its CAS and many of its SVC word for word: each is read once. Only readings that
    warned of nothing are remembered, so that every occurrence of a faulty segment still warns (and raises)."""

    __slots__ = ("adjustments", "services", "claim_dates")

    def __init__(self) -> None:
        self.claim_dates: dict[tuple[int, ...], tuple] = {}  # ids of a claim's DTM rows -> what they read as
        self.adjustments: dict[int, tuple[Adjustment, ...]] = {}  # id(CAS row) -> its adjustments
        self.services: dict[int, _Service] = {}  # id(SVC row) -> its reading


class _BadAmount(Exception):
    """A required amount that cannot be read; becomes Unparseable835 once the segment's position is known (rows
    are shared by identical segments, so the row alone does not tell which of them it was)."""

    def __init__(self, row: list[str], element: int, state: str) -> None:
        super().__init__(row[0])
        self.row, self.element, self.state = row, element, state


class _PaymentReader:
    """Reads one 835 transaction set from its rows: [tag, element 1, ...], so row[n] is element n (the codec's
    TransactionRows: no Segment object per segment).

    A row belongs to the loop the last loop-opening segment before it opened: the header (before any), a party
    (N1), a claim (CLP) or its current service line (SVC). LX/TS3/TS2 (header-number groups, institutional
    provider summaries) and PLB carry nothing more the payment needs, so what follows them until the next loop
    is ignored, with a warning. The set is first cut at its loop segments (a list of their indices, nothing
    done per other row), then each claim is built from its own rows.

    The claims are the hot path (ten thousand a file): amounts and dates go through the _AMOUNTS/_DATES caches
    first (`_AMOUNTS.get(text) or self.money(...)`: a cached zero is falsy and simply takes the checked path),
    repeated CAS and SVC through _Remembered, the frozen dataclasses are made without their __init__ (_frozen),
    and a claim's place in messages ('claim #n (CLP segment #p)') is only written when a message needs it.
    What is read, and the order of the warnings and of the checks that raise, are those of a plain reading
    segment by segment: the unit tests pin both."""

    def __init__(self, transaction: TransactionRows, envelope_errors: tuple[EnvelopeError, ...],
                 interchange: Interchange, group: FunctionalGroup, remembered: _Remembered) -> None:
        self.transaction = transaction
        self.envelope_errors = envelope_errors
        self.interchange = interchange
        self.group = group
        self.services = remembered.services
        self.claim_dates_read = remembered.claim_dates
        self.remembered_adjustments = remembered.adjustments
        self.warnings: list[str] = []
        self.header: list[list[str]] = []
        self.parties: dict[str, list[list[str]]] = {}
        self.claims: list[_Claim] = []
        self.plb: list[list[str]] = []
        self.component = interchange.delimiters.component
        self.repetition = interchange.delimiters.repetition

    def read(self) -> RemittancePayment:
        self.walk()
        bpr = self.single("BPR")
        if bpr is None:
            raise Unparseable835(f"835 {quote_control_number(self.transaction.control_number)} has no BPR segment")
        try:
            return self.payment(bpr)
        except _BadAmount as bad:  # in the header or a PLB: the first such row of the set is the one read
            raise self.unreadable(bad, 0) from None

    def walk(self) -> None:
        rows = self.transaction.rows
        end = len(rows) - 1 if len(rows) > 1 and rows[-1][0] == "SE" else len(rows)  # the SE is no loop's
        marks = [index for index in range(1, end) if rows[index][0] in _LOOP_TAGS]
        self.header = rows[1:marks[0] if marks else end]
        claims = self.claims
        for mark, following in zip(marks, [*marks[1:], end]):
            row = rows[mark]
            tag = row[0]
            if tag == "CLP":
                claims.append((row, mark + 1, rows[mark + 1:following], []))
            elif tag == "SVC":
                if not claims:
                    raise Unparseable835(f"SVC segment #{mark + 1} comes before any CLP")
                claims[-1][3].append((row, rows[mark + 1:following]))
            elif tag == "N1":
                self.parties.setdefault(_element(row, 1), []).extend(rows[mark:following])
            else:  # PLB, LX, TS3, TS2
                if tag == "PLB":
                    self.plb.append(row)
                self.warnings += [f"{rows[index][0]} segment #{index + 1} is outside any claim; ignored"
                                  for index in range(mark + 1, following)]

    def unreadable(self, bad: _BadAmount, start: int) -> Unparseable835:
        """The error for an unreadable amount of a row read in the part of the set from row index `start` (its
        claim's CLP): identical rows are one row, and the first of them there is the one the read stopped at."""
        rows = self.transaction.rows
        position = next((n for n in range(start, len(rows)) if rows[n] is bad.row), None)
        where = "?" if position is None else position + 1
        return Unparseable835(f"{bad.row[0]}{bad.element:02d} of segment #{where} is {bad.state}")

    def single(self, tag: str) -> list[str] | None:
        found = [row for row in self.header if row[0] == tag]
        if len(found) > 1:
            self.warnings.append(f"835 has {len(found)} {tag} segments; the first is read")
        return found[0] if found else None

    def payment(self, bpr: list[str]) -> RemittancePayment:
        trn = self.single("TRN")
        production = next((row for row in self.header if row[0] == "DTM" and _element(row, 1) == "405"), None)
        claims = self.read_claims()
        adjustments = tuple(a for n, row in enumerate(self.plb, start=1) for a in self.provider_adjustments(row, n))
        amount = self.money(bpr, 2)
        self.check_payment(amount, claims, adjustments)
        payee_npi, payee_tax_id = self.payee_ids()
        payer, payee = self.party_name("PR"), self.party_name("PE")
        if not _element(bpr, 16):
            self.warnings.append("BPR16 (check issue or EFT effective date) is missing")
        return RemittancePayment(
            control_number=self.transaction.control_number,
            payer_id=self.payer_id(trn),
            payer_name=(_element(payer, 2) or None) if payer else None,
            payee_name=(_element(payee, 2) or None) if payee else None,
            payee_npi=payee_npi, payee_tax_id=payee_tax_id,
            handling_code=_element(bpr, 1), payment_method=_element(bpr, 4), amount=amount,
            credit=_element(bpr, 3) != "D",
            payment_date=self.date(_element(bpr, 16), "BPR16"),
            production_date=self.date(_element(production, 2), "DTM*405") if production else None,
            trace_number=(_element(trn, 2) or None) if trn else None,
            trace_originator=(_element(trn, 3) or None) if trn else None,
            claims=claims, provider_adjustments=adjustments,
            envelope_errors=self.envelope_errors, warnings=tuple(self.warnings),
            interchange_control_number=self.interchange.control_number,
            group_control_number=self.group.control_number, version=self.group.version,
            sender_id=self.interchange.sender_id, receiver_id=self.interchange.receiver_id,
            payer_identifier=(_element(payer, 4) or None) if payer else None,
            payer_identifier_qualifier=(_element(payer, 3) or None) if payer else None,
            payer_reference=self.party_ref("PR", "2U"),
        )

    # ------------------------------------------------------------ parties

    def party_name(self, qualifier: str) -> list[str] | None:
        rows = self.parties.get(qualifier, [])
        return rows[0] if rows else None

    def party_ref(self, qualifier: str, ref: str) -> str | None:
        found = next((r for r in self.parties.get(qualifier, []) if r[0] == "REF" and _element(r, 1) == ref), None)
        return (_element(found, 2) or None) if found else None

    def payer_id(self, trn: list[str] | None) -> str | None:
        name = self.party_name("PR")
        # N104 is the CMS plan id once mandated; REF*2U is how payers name themselves today; TRN03 is the
        # guide's last-resort "payer identifier" (1 + EIN).
        return ((_element(name, 4) if name else "") or self.party_ref("PR", "2U")
                or (_element(trn, 3) if trn else "") or None)

    def payee_ids(self) -> tuple[str | None, str | None]:
        name = self.party_name("PE")
        qualifier, identifier = (_element(name, 3), _element(name, 4)) if name else ("", "")
        npi = identifier if qualifier == "XX" and identifier else None
        tax_id = identifier if qualifier == "FI" and identifier else self.party_ref("PE", "TJ")
        return npi, tax_id

    # ------------------------------------------------------------ claims

    def read_claims(self) -> tuple[ClaimPayment, ...]:
        envelope = (self.interchange.control_number, self.group.control_number, self.transaction.control_number)
        claims = []
        for number, draft in enumerate(self.claims, start=1):
            try:
                claims.append(self.claim(draft, number, envelope))
            except _BadAmount as bad:
                raise self.unreadable(bad, draft[1] - 1) from None
        return tuple(claims)

    def claim(self, draft: _Claim, number: int, envelope: tuple[str, str, str]) -> ClaimPayment:
        clp, position, own, drafts = draft
        cas = dtm = remarks = None
        for row in own:
            tag = row[0]
            if tag == "DTM":
                if dtm is None:
                    dtm = [row]
                else:
                    dtm.append(row)
            elif tag == "CAS":
                if cas is None:
                    cas = [row]
                else:
                    cas.append(row)
            elif tag == "MOA" or tag == "MIA":
                remarks = (remarks or []) + [row[p] for p in (_MOA_REMARKS if tag == "MOA" else _MIA_REMARKS)
                                             if p < len(row) and row[p]]
        read_dates = self.known_dates(dtm) if dtm else (None, None, ())
        if read_dates is None:  # a date not seen before, or not a date: the checked path, with its warnings
            start = self.claim_date(dtm, "232")
            end = self.claim_date(dtm, "233")
        else:
            start, end, dates = read_dates
        size = len(clp)
        status = clp[2] if size > 2 else ""
        charge = _AMOUNTS.get(clp[3] if size > 3 else "") or self.money(clp, 3)
        paid = _AMOUNTS.get(clp[4] if size > 4 else "") or self.money(clp, 4)
        patient = clp[5] if size > 5 else ""
        if patient:
            patient = (_AMOUNTS.get(patient) or self.optional_money(patient, _where(number, position), " CLP05")
                       or ZERO)
        else:
            patient = ZERO
        adjustments = self.adjustments(cas) if cas else ()
        lines = tuple([self.line(svc, rows, number, position, n) for n, (svc, rows) in enumerate(drafts, start=1)])
        if read_dates is None:
            dates = self.claim_dates(dtm, _where(number, position))
        where = _new(ClaimPosition)
        _set(where, "__dict__", {
            "interchange_control_number": envelope[0], "group_control_number": envelope[1],
            "transaction_control_number": envelope[2], "claim_index": number, "segment_position": position})
        claim = _new(ClaimPayment)
        _set(claim, "__dict__", {
            "patient_control_number": clp[1] if size > 1 else "",
            "status_code": status,
            "status": CLAIM_STATUS.get(status) or f"Unrecognised claim status code {quote_code(status)}",
            "charge": charge, "paid": paid, "patient_responsibility": patient,
            "claim_filing_indicator": (clp[6] if size > 6 else "") or None,
            "payer_claim_control_number": (clp[7] if size > 7 else "") or None,
            "adjustments": adjustments,
            "remark_codes": tuple(remarks) if remarks else (),
            "lines": lines,
            "service_from": start, "service_to": end or start,
            "position": where,
            "dates": dates,
        })
        if size < 2 or not clp[1]:
            self.warnings.append(f"{_where(number, position)} has no patient control number (CLP01)")
        self.check_claim(claim, number, position)
        return claim

    def known_dates(self, dtm: list[list[str]]) -> tuple[date | None, date | None, tuple[tuple[str, date], ...]] | None:
        """A claim's DTM*232 and DTM*233 dates and every (qualifier, date), when each of its dates was read
        before (so none can be wrong and warn): remembered by its DTM rows, since many claims of a file share
        their dates. None when a date is new (the checked path reads it)."""
        key = tuple(map(id, dtm))
        read = self.claim_dates_read.get(key)
        if read is None:
            start = end = None
            found = []
            for row in dtm:
                parsed = _DATES.get(row[2]) if len(row) > 2 else None
                if parsed is None:
                    return None
                qualifier = row[1]
                if qualifier == "232":
                    start = start or parsed
                elif qualifier == "233":
                    end = end or parsed
                found.append((qualifier, parsed))
            read = self.claim_dates_read[key] = (start, end, tuple(found))
        return read

    def claim_dates(self, dtm: list[list[str]], where: str) -> tuple[tuple[str, date], ...]:
        found = []
        for row in dtm:
            qualifier = _element(row, 1)
            # 232/233 are read (and warned about) by claim_date; the others are only kept here
            text = _element(row, 2)
            parsed = _DATES.get(text) or (d8_date(text) if qualifier in ("232", "233") else self.date(
                text, f"{where} DTM*{quote_code(qualifier)}"))
            if parsed is not None:
                found.append((qualifier, parsed))
        return tuple(found)

    def claim_date(self, dtm: list[list[str]], qualifier: str) -> date | None:
        for row in dtm:
            if len(row) > 1 and row[1] == qualifier:
                text = row[2] if len(row) > 2 else ""
                return _DATES.get(text) or self.date(text, f"DTM*{qualifier}")
        return None

    def line(self, svc: list[str], own: list[list[str]], claim: int, position: int, number: int) -> ServicePayment:
        """Service line `number` of claim #`claim` (whose CLP is segment #`position`)."""
        service = self.services.get(id(svc))
        if service is None:
            warned = len(self.warnings)
            procedure = self.procedure(svc[1] if len(svc) > 1 else "")
            if not procedure[1]:
                self.warnings.append(f"{_where(claim, position)} line #{number}: SVC01 has no procedure code (is "
                                     "the component separator in ISA16 the one the file uses?)")
        cas = remarks = allowed = control = None
        service_date = from_date = to_date = None  # DTM*472, DTM*150, DTM*151 (the last of each)
        for row in own:
            tag = row[0]
            if tag == "DTM":
                qualifier = row[1] if len(row) > 1 else ""
                text = row[2] if len(row) > 2 else ""
                parsed = _DATES.get(text) or self.date(text, f"DTM*{quote_code(qualifier)}")
                if qualifier == "472":
                    service_date = parsed
                elif qualifier == "150":
                    from_date = parsed
                elif qualifier == "151":
                    to_date = parsed
            elif tag == "CAS":
                if cas is None:
                    cas = [row]
                else:
                    cas.append(row)
            elif tag == "AMT":
                if allowed is None and len(row) > 1 and row[1] == "B6":
                    allowed = row
            elif tag == "LQ":
                if len(row) > 2 and row[1] == "HE" and row[2]:
                    if remarks is None:
                        remarks = [row[2]]
                    else:
                        remarks.append(row[2])
            elif tag == "REF":
                if control is None and len(row) > 1 and row[1] == "6R":
                    control = row
        if service is None:
            service = self.service(svc, procedure, claim, position, number, warned)
        if allowed is not None:
            amount = allowed[2] if len(allowed) > 2 else ""
            allowed = (_AMOUNTS.get(amount) or self.optional_money(
                amount, _where(claim, position), " line #", number, " AMT*B6")) if amount else None
        start = service_date or from_date
        line = _new(ServicePayment)
        _set(line, "__dict__", {
            "qualifier": service[0], "procedure_code": service[1], "modifiers": service[2],
            "charge": service[3], "paid": service[4], "units": service[5], "original_units": service[6],
            "revenue_code": service[7], "allowed": allowed,
            "service_from": start, "service_to": service_date or to_date or start,
            "adjustments": self.adjustments(cas) if cas else (),
            "remark_codes": tuple(remarks) if remarks else (),
            "line_item_control_number": (_element(control, 2) or None) if control else None,
            "submitted_procedure_code": service[8],
        })
        return line

    def service(self, svc: list[str], procedure: tuple[str | None, str | None, tuple[str, ...]], claim: int,
                position: int, number: int, warned: int) -> _Service:
        """What the SVC row says: (qualifier, code, modifiers, charge, paid, units, original units, revenue code,
        submitted code); remembered when neither it nor SVC01 (read before the line's DTMs, warnings since
        `warned`) warned."""
        size = len(svc)
        charge = _AMOUNTS.get(svc[2] if size > 2 else "") or self.money(svc, 2)
        paid = _AMOUNTS.get(svc[3] if size > 3 else "") or self.money(svc, 3)
        clean = len(self.warnings) == warned
        warned = len(self.warnings)
        units = svc[5] if size > 5 else ""
        units = self.optional_money(units, _where(claim, position), " line #", number, " SVC05") or ONE
        original = self.optional_money(svc[7], _where(claim, position), " line #", number, " SVC07") \
            if size > 7 else None
        service = (*procedure, charge, paid, units, original, (svc[4] if size > 4 else "") or None,
                   (self.component_of(svc[6], 2) or None) if size > 6 else None)
        if clean and len(self.warnings) == warned:
            self.services[id(svc)] = service
        return service

    def procedure(self, composite: str) -> tuple[str | None, str | None, tuple[str, ...]]:
        """SVC01 as (qualifier, code, modifiers), None for what is absent."""
        parts = composite.split(self.component) if composite else []
        if self.repetition and self.repetition in composite:
            parts = composite.split(self.repetition)[0].split(self.component)  # the first repetition's
        return ((parts[0] or None) if parts else None, (parts[1] or None) if len(parts) > 1 else None,
                tuple(filter(None, parts[2:6])) if len(parts) > 2 else ())

    def component_of(self, value: str, index: int) -> str:
        """Component `index` (1-based) of the first repetition of a composite element, '' when absent."""
        if self.repetition:
            value = value.split(self.repetition)[0]
        parts = value.split(self.component)
        return parts[index - 1] if value and index <= len(parts) else ""

    def adjustments(self, rows: list[list[str]]) -> tuple[Adjustment, ...]:
        found = self.cas(rows[0])
        for row in rows[1:]:
            found += self.cas(row)
        return found

    def cas(self, row: list[str]) -> tuple[Adjustment, ...]:
        """The adjustments of one CAS: up to six (reason, amount, quantity) after the group code."""
        read = self.remembered_adjustments.get(id(row))
        if read is not None:
            return read
        warned = len(self.warnings)
        size = len(row)
        group = row[1] if size > 1 else ""
        found = []
        for reason_at in _CAS_TRIPLETS:  # row[reason_at] is a reason (CAS02, 05, ...), its amount and quantity follow
            if reason_at >= size:
                break
            reason = row[reason_at]
            if not reason:
                continue
            quantity = row[reason_at + 2] if reason_at + 2 < size else ""
            found.append(_frozen(Adjustment, {
                "group": group, "reason": reason,
                "amount": _AMOUNTS.get(row[reason_at + 1] if reason_at + 1 < size else "")
                or self.money(row, reason_at + 1),
                "quantity": self.optional_money(quantity, "CAS", f"{reason_at + 2:02d}") if quantity else None,
            }))
        read = tuple(found)
        if len(self.warnings) == warned:
            self.remembered_adjustments[id(row)] = read
        return read

    def provider_adjustments(self, plb: list[str], number: int) -> list[ProviderAdjustment]:
        found = []
        period = self.date(_element(plb, 2), f"PLB #{number} PLB02")
        for pair, reason_at in enumerate(_PLB_PAIRS, start=1):
            composite = _element(plb, reason_at)
            reason = self.component_of(composite, 1)
            if not reason:
                continue
            found.append(ProviderAdjustment(
                provider_id=_element(plb, 1), reason=reason, reference=self.component_of(composite, 2) or None,
                amount=self.money(plb, reason_at + 1), fiscal_period=period, plb_index=number, pair_index=pair,
            ))
        return found

    # ------------------------------------------------------------ balancing

    def check_claim(self, claim: ClaimPayment, number: int, position: int) -> None:
        """The balancing rules of the module's docstring for claim #`number` (CLP segment #`position`)."""
        adjusted = patient = ZERO
        for a in claim.adjustments:
            adjusted += a.amount
            if a.group == "PR":
                patient += a.amount
        claim_level = adjusted
        lines_paid = ZERO
        for line_number, line in enumerate(claim.lines, start=1):
            line_adjusted = ZERO
            for a in line.adjustments:
                line_adjusted += a.amount
                if a.group == "PR":
                    patient += a.amount
            adjusted += line_adjusted
            lines_paid += line.paid
            if line.charge - line.paid != line_adjusted:
                self.warnings.append(f"{_where(number, position)} line #{line_number} does not balance: SVC02 - "
                                     f"SVC03 = {line.charge - line.paid}, its adjustments total {line_adjusted}")
        if claim.charge - claim.paid != adjusted:
            self.warnings.append(f"{_where(number, position)} does not balance: CLP03 - CLP04 = "
                                 f"{claim.charge - claim.paid}, claim and line adjustments total {adjusted}")
        if claim.lines:
            from_lines = lines_paid - claim_level
            if claim.paid != from_lines:
                self.warnings.append(f"{_where(number, position)}: CLP04 {claim.paid} is not the lines' SVC03 less "
                                     f"claim-level adjustments ({from_lines})")
        if claim.patient_responsibility != patient:
            self.warnings.append(f"{_where(number, position)}: CLP05 {claim.patient_responsibility} is not the sum "
                                 f"of its PR adjustments ({patient})")
        if claim.denied and claim.paid:
            self.warnings.append(f"{_where(number, position)} is denied (CLP02 4) but pays {claim.paid}")

    def check_payment(self, amount: Decimal, claims: tuple[ClaimPayment, ...],
                      adjustments: tuple[ProviderAdjustment, ...]) -> None:
        expected = sum((c.paid for c in claims), ZERO) - sum((a.amount for a in adjustments), ZERO)
        if amount != expected:
            self.warnings.append(f"payment does not balance: BPR02 {amount}, claims' CLP04 less PLB adjustments "
                                 f"{expected}")

    # ------------------------------------------------------------ values

    def money(self, row: list[str], element: int) -> Decimal:
        """A required amount: guessing one would post the wrong money, so an unreadable one stops the read."""
        text = row[element] if element < len(row) else ""
        amount = _AMOUNTS.get(text)
        if amount is None:
            amount = _amount(text)
            if amount is None:
                state = "missing" if not text else "not an amount"
                raise _BadAmount(row, element, state)
        return amount

    def optional_money(self, text: str, *label: object) -> Decimal | None:
        """An optional amount; `label`'s parts are joined only for the warning when it is unreadable."""
        if not text:
            return None
        amount = _AMOUNTS.get(text)
        if amount is None:
            amount = _amount(text)
            if amount is None:
                self.warnings.append(f"{''.join(map(str, label))} is not a number; ignored")
        return amount

    def date(self, text: str, label: str) -> date | None:
        parsed = _DATES.get(text)
        if parsed is None:
            parsed = d8_date(text)
            if parsed is not None:
                if len(_DATES) >= _AMOUNTS_MAX:
                    _DATES.clear()
                _DATES[text] = parsed
            elif text:
                self.warnings.append(f"{label} is not a valid date; ignored")
        return parsed


_new, _set = object.__new__, object.__setattr__


def _frozen(cls, values: dict):  # type: ignore[no-untyped-def]
    """`cls(**values)` for one of this module's frozen dataclasses, without the generated __init__'s
    object.__setattr__ per field (3x the cost, and the reader makes several such objects per claim). The
    object is the same: equal, hashable, immutable. `values` must name every field: the unit tests check that
    each object the reader returns has exactly its class's fields."""
    obj = _new(cls)
    _set(obj, "__dict__", values)
    return obj


# Amounts as read -> Decimal: most amounts in a file repeat ("0", "10", "25.50"), and a dictionary look-up is
# cheaper than the R-number check and Decimal's parse (`_AMOUNTS.get(text) or self.money(...)`: a cached zero
# is falsy and simply takes the checked path). Bounded: emptied when it grows past _AMOUNTS_MAX.
_AMOUNTS: dict[str, Decimal] = {}
_DATES: dict[str, date] = {}  # the same for D8 dates
_AMOUNTS_MAX = 50_000


def _amount(text: str) -> Decimal | None:
    amount = parse_number(text)
    if amount is not None:
        if len(_AMOUNTS) >= _AMOUNTS_MAX:
            _AMOUNTS.clear()
        _AMOUNTS[text] = amount
    return amount


def _where(claim: int, position: int) -> str:
    """How messages name a claim: 'claim #3 (CLP segment #25)'."""
    return f"claim #{claim} (CLP segment #{position})"


def _element(row: list[str], position: int) -> str:
    """Element `position` of a row, '' when absent (Segment.element for rows)."""
    return row[position] if position < len(row) else ""
