"""Medicare physician fee schedule (pure): loaders for the official CMS files and the allowed amount.

Layouts (`../shared/reference/codesets.md` §2.4, as CMS ships them in the quarterly `RVUyyX` zip):

- **PPRRVU** CSV (`PPRRVU2026_Jan_nonQPP.csv`): a preamble of ~9 lines, a 4-row stacked header, then one row
  per HCPCS + MOD (global, `26`, `TC`, `53`). Columns are mapped **by position** (the stacked header cannot be
  read by name): 0 HCPCS, 1 MOD, 2 DESCRIPTION (AMA descriptor: never read), 3 STATUS CODE, 5 WORK RVU,
  6 NON-FAC PE RVU, 7 NON-FAC NA INDICATOR, 8 FACILITY PE RVU, 9 FACILITY NA INDICATOR, 10 MP RVU,
  13 PCTC IND, 18 MULT PROC, 19 BILAT SURG, 20 ASST SURG, 21 CO-SURG, 22 TEAM SURG, 24 CONV FACTOR.
  Data rows start at the first row whose first cell is a 5-character code after a header row whose first cell
  is `HCPCS`; anything after the data that is not a code row (footnotes) is skipped.
- **GPCI** CSV (`GPCI2026.csv`): 2-3 banner lines, a header row `Medicare Administrative Contractor (MAC),
  State, Locality Number, Locality Name, [yyyy PW GPCI (without 1.0 Floor)], yyyy PW GPCI (with 1.0 Floor),
  yyyy PE GPCI, yyyy MP GPCI`, data, footnotes. Key = MAC + locality number (numbers repeat across states).
  The work GPCI used is the "with 1.0 Floor" column (the one Medicare pays with; the no-floor column exists in
  the January 2026 file only).
- **ZIP5** fixed-width TXT (`ZIP5_<MON><YYYY>.txt`): state 1-2, ZIP 3-7, carrier 8-12, locality 13-14,
  rural 15, lab CB locality 16-17, rural2 18, plus-4 flag 21, year/qtr 76-80 (1-based columns). A ZIP with the
  plus-4 flag set spans localities and needs the ZIP9 file: it is not resolved here.

Allowed amount for a participating provider (codesets.md §2.4, "Allowed amount"):

    non-facility = [WorkRVU x WorkGPCI + NonFacPERVU x PEGPCI + MPRVU x MPGPCI] x CF
    facility     = [WorkRVU x WorkGPCI + FacPERVU    x PEGPCI + MPRVU x MPGPCI] x CF

Facility vs non-facility by place of service: the facility-rate POS list of codesets.md §2.6 (Claims Processing
Manual ch. 12 §20.4.2): 19, 21, 22, 23, 24, 26, 31, 34, 41, 42, 51, 52, 53, 56, 61; every other POS is priced
non-facility.

**Rounding** (the rule implemented, from codesets.md §2.4's worked fixture: (1.00 + 1.14 + 0.08) x 33.4009 =
74.15): the three RVU x GPCI products, their sum and the product with the CF are kept exact (Decimal, no
intermediate rounding), and only the fee schedule amount is rounded, once, to the cent, half up (CMS publishes
fee schedule amounts in dollars and cents). Payment-policy percentages (below) apply to that rounded amount and
are rounded to the cent, half up, again.

Policy indicators applied per line from its modifiers (codesets.md §2.4): BILAT SURG = 1 with modifier 50 ->
150 %; ASST SURG = 2 with 80/81/82 -> 16 %, with AS -> 85 % of 16 % (13.6 %); CO-SURG 1 or 2 with 62 -> 62.5 %.
An assistant or co-surgeon modifier on a code whose indicator does not allow it leaves the line unpriced
(`not_payable_with_modifier`): Medicare would deny it, so there is no contract rate to compare against.
The multiple-procedure reduction (MULT PROC = 2: 100 % for the highest, 50 % for the others on the same day)
depends on the claim's other lines: `multiple_procedure_rank` gives the indicator so the claim-level check
can apply it.

Reduced or discontinued services without a row of their own (modifiers 52, 73, 74; 53 where the PPRRVU has
no 53 row) are priced by the contractor: the line has no contract rate (`reduced_service_modifier`).

`NA` in a setting's NA indicator means that setting is not priced (codesets.md §2.4): the line has no
contract rate. Status codes A, R, T are payable; C is carrier priced (no national RVUs) and every other status
is not separately payable: no contract rate either.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from rcm_remittance.domain.rate_files import (CENT, MODIFIER, RateFileError, decimal_or_none, records, safe_code,
                                              squash)

FACILITY_POS = frozenset({"19", "21", "22", "23", "24", "26", "31", "34", "41", "42", "51", "52", "53", "56", "61"})
PAYABLE_STATUS = frozenset({"A", "R", "T"})
# modifiers that select a PPRRVU row of their own (professional / technical component, discontinued procedure)
ROW_MODIFIERS = ("26", "TC", "53")
REDUCED_SERVICE_MODIFIERS = frozenset({"52", "53", "73", "74"})

PPRRVU_COLUMNS = 25  # at least up to CONV FACTOR (index 24); the 2026 file has 32
_COL = {"hcpcs": 0, "mod": 1, "status": 3, "work": 5, "nf_pe": 6, "nf_na": 7, "f_pe": 8, "f_na": 9, "mp": 10,
        "pctc": 13, "mult_proc": 18, "bilat": 19, "asst": 20, "co_surg": 21, "team": 22, "cf": 24}


@dataclass(frozen=True, slots=True)
class Rvu:
    """One PPRRVU row. PE RVUs are None where the NA indicator says the setting is not priced."""

    code: str
    modifier: str
    status: str
    work: Decimal
    nonfacility_pe: Decimal | None
    facility_pe: Decimal | None
    mp: Decimal
    pctc: str = ""
    mult_proc: str = ""
    bilat: str = ""
    asst: str = ""
    co_surg: str = ""
    conversion_factor: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Gpci:
    mac: str
    locality: str
    work: Decimal
    pe: Decimal
    mp: Decimal


def _cell(row: list[str], index: int) -> str:
    return row[index].strip() if index < len(row) else ""


def load_pprrvu(lines: Iterable[str]) -> dict[tuple[str, str], Rvu]:
    """(HCPCS, MOD) -> Rvu from a PPRRVU CSV in the official layout. Raises RateFileError listing bad rows."""
    out: dict[tuple[str, str], Rvu] = {}
    problems: list[tuple[int, str]] = []
    seen_header = False
    for n, row in records(lines):
        first = squash(row[0]) if row else ""
        if not seen_header:
            seen_header = first == "HCPCS"
            continue
        code = safe_code(row[0]) if row else None
        if code is None:
            continue  # rest of the stacked header, blank lines, footnotes
        if len(row) < PPRRVU_COLUMNS:
            problems.append((n, f"code {code}: {len(row)} columns, the PPRRVU layout has at least {PPRRVU_COLUMNS}"))
            continue
        modifier = _cell(row, _COL["mod"]).upper()
        status = _cell(row, _COL["status"]).upper()
        values: dict[str, Decimal | None] = {}
        bad = []
        for name in ("work", "nf_pe", "f_pe", "mp", "cf"):
            text = _cell(row, _COL[name])
            value = Decimal("0") if text in ("", "NA") and name != "cf" else decimal_or_none(text)
            if name == "cf" and text == "":
                value = None
            elif value is None or value < 0:
                bad.append(name)
            values[name] = value
        if bad:
            problems.append((n, f"code {code}: not a non-negative number in {', '.join(bad)}"))
            continue
        if modifier and not MODIFIER.match(modifier):
            problems.append((n, f"code {code}: modifier is not two letters or digits"))
            continue
        key = (code, modifier)
        if key in out:
            problems.append((n, f"code {code}: duplicate row for this code and modifier"))
            continue
        nf_na = _cell(row, _COL["nf_na"]).upper() == "NA"
        f_na = _cell(row, _COL["f_na"]).upper() == "NA"
        out[key] = Rvu(code=code, modifier=modifier, status=status, work=values["work"],
                       nonfacility_pe=None if nf_na else values["nf_pe"],
                       facility_pe=None if f_na else values["f_pe"], mp=values["mp"],
                       pctc=_cell(row, _COL["pctc"]), mult_proc=_cell(row, _COL["mult_proc"]),
                       bilat=_cell(row, _COL["bilat"]), asst=_cell(row, _COL["asst"]),
                       co_surg=_cell(row, _COL["co_surg"]), conversion_factor=values["cf"])
    if not seen_header:
        problems.append((0, "no header row starting with HCPCS: not a PPRRVU file"))
    if problems:
        raise RateFileError("PPRRVU file", problems)
    return out


def load_gpci(lines: Iterable[str]) -> dict[tuple[str, str], Gpci]:
    """(MAC, locality number) -> Gpci from a GPCI CSV in the official layout."""
    out: dict[tuple[str, str], Gpci] = {}
    problems: list[tuple[int, str]] = []
    cols: dict[str, int] | None = None
    for n, row in records(lines):
        if cols is None:
            if row and squash(row[0]).startswith("MEDICAREADMINISTRATIVECONTRACTOR"):
                header = [squash(c) for c in row]
                work = [i for i, h in enumerate(header) if "PWGPCI" in h and "WITHOUT" not in h]
                pe = [i for i, h in enumerate(header) if "PEGPCI" in h]
                mp = [i for i, h in enumerate(header) if "MPGPCI" in h]
                loc = [i for i, h in enumerate(header) if h.startswith("LOCALITYNUMBER")]
                if not (work and pe and mp and loc):
                    problems.append((n, "header lacks a locality number, PW GPCI (with floor), PE GPCI or MP GPCI "
                                        "column"))
                    break
                cols = {"mac": 0, "locality": loc[0], "work": work[0], "pe": pe[0], "mp": mp[0]}
            continue
        mac = _cell(row, 0) if row else ""
        if not mac.isdigit():
            continue  # footnotes, blank lines
        locality = _cell(row, cols["locality"])
        if not locality.isdigit():
            problems.append((n, "locality number is not numeric"))
            continue
        values = {name: decimal_or_none(_cell(row, cols[name])) for name in ("work", "pe", "mp")}
        bad = [name for name, value in values.items() if value is None or value < 0]
        if bad:
            problems.append((n, f"not a non-negative number in {', '.join(bad)} GPCI"))
            continue
        key = (mac.zfill(5), locality.zfill(2))  # spreadsheet exports drop leading zeros
        if key in out:
            problems.append((n, "duplicate row for this MAC and locality"))
            continue
        out[key] = Gpci(key[0], key[1], values["work"], values["pe"], values["mp"])
    if cols is None and not problems:
        problems.append((0, "no header row starting with 'Medicare Administrative Contractor': not a GPCI file"))
    if problems:
        raise RateFileError("GPCI file", problems)
    return out


@dataclass(frozen=True, slots=True)
class ZipLocality:
    state: str
    zip5: str
    carrier: str
    locality: str
    rural: str
    plus4: bool


def load_zip_locality(lines: Iterable[str]) -> dict[str, ZipLocality]:
    """ZIP5 -> ZipLocality from the fixed-width ZIP5 TXT file (1-based columns in the module docstring)."""
    out: dict[str, ZipLocality] = {}
    problems: list[tuple[int, str]] = []
    for n, raw in enumerate(lines, start=1):
        line = raw.rstrip("\r\n")
        if not line.strip():
            continue
        state, zip5, carrier, locality = line[0:2], line[2:7], line[7:12], line[12:14]
        if not (state.isalpha() and zip5.isdigit() and len(zip5) == 5):
            problems.append((n, "state (columns 1-2) or ZIP (columns 3-7) not in the ZIP5 layout"))
            continue
        if not (carrier.isdigit() and len(carrier) == 5 and locality.isdigit() and len(locality) == 2):
            problems.append((n, "carrier (columns 8-12) or locality (columns 13-14) is not numeric"))
            continue
        if zip5 in out:
            problems.append((n, "duplicate ZIP"))
            continue
        out[zip5] = ZipLocality(state, zip5, carrier, locality, line[14:15].strip(), line[20:21] == "1")
    if problems:
        raise RateFileError("ZIP5 locality file", problems)
    return out


def locality_for_zip(table: dict[str, ZipLocality], zip_code: str) -> tuple[str, str] | None:
    """(carrier/MAC, locality) of a ZIP, or None when unknown or when the ZIP needs the ZIP9 file."""
    entry = table.get(zip_code.strip()[:5])
    if entry is None or entry.plus4:
        return None
    return entry.carrier, entry.locality


_RELEASE_NAME = re.compile(r"PPRRVU(\d{4})_(JAN|APR|JUL|OCT)", re.IGNORECASE)
_QUARTER_MONTH = {"JAN": 1, "APR": 4, "JUL": 7, "OCT": 10}


def effective_from_filename(name: str) -> date | None:
    """The first day a quarterly PPRRVU file applies to, from CMS's file name (`PPRRVU2026_Jan_nonQPP.csv` ->
    2026-01-01; the A/B/C/D releases are January, April, July, October), or None if the name does not say."""
    match = _RELEASE_NAME.search(name)
    if match is None:
        return None
    return date(int(match.group(1)), _QUARTER_MONTH[match.group(2).upper()], 1)


def is_facility(place_of_service: str) -> bool:
    return place_of_service.strip().zfill(2) in FACILITY_POS


@dataclass(frozen=True, slots=True)
class Price:
    """A priced line: `amount` per unit (rounded as the module docstring says), or `reason` when unpriced."""

    amount: Decimal | None
    reason: str | None = None
    mult_proc: str = ""

    @property
    def priced(self) -> bool:
        return self.amount is not None


def round_cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def fee_schedule_amount(rvu: Rvu, gpci: Gpci, conversion_factor: Decimal, *, facility: bool) -> Decimal | None:
    """[(work x work GPCI) + (PE x PE GPCI) + (MP x MP GPCI)] x CF, rounded once to the cent, half up.
    None when the setting is not priced (NA)."""
    pe = rvu.facility_pe if facility else rvu.nonfacility_pe
    if pe is None:
        return None
    exact = (rvu.work * gpci.work + pe * gpci.pe + rvu.mp * gpci.mp) * conversion_factor
    return round_cents(exact)


def _row_modifier(modifiers: Iterable[str]) -> str:
    for m in modifiers:
        if m.upper() in ROW_MODIFIERS:
            return m.upper()
    return ""


def _policy_factor(rvu: Rvu, modifiers: set[str]) -> tuple[Decimal | None, str | None]:
    """The payment-policy percentage for the line's modifiers (codesets.md §2.4), or (None, reason)."""
    factor = Decimal("1")
    if "50" in modifiers:
        if rvu.bilat != "1":
            return None, "not_payable_with_modifier"  # 150 % only where BILAT SURG = 1
        factor *= Decimal("1.5")
    if modifiers & {"80", "81", "82", "AS"}:
        if rvu.asst != "2":
            return None, "not_payable_with_modifier"
        factor *= Decimal("0.16") * (Decimal("0.85") if "AS" in modifiers else Decimal("1"))
    if "62" in modifiers:
        if rvu.co_surg not in ("1", "2"):
            return None, "not_payable_with_modifier"
        factor *= Decimal("0.625")
    return factor, None


@dataclass(frozen=True)
class PfsRelease:
    """One release in force from `effective_from` to `effective_to` (inclusive; None = open): the PPRRVU rows,
    the GPCIs and the conversion factor (from the PPRRVU CONV FACTOR column unless given, e.g. the 2026 QPP
    factor)."""

    effective_from: date
    effective_to: date | None
    rvus: dict[tuple[str, str], Rvu]
    gpcis: dict[tuple[str, str], Gpci]
    conversion_factor: Decimal | None = None

    def __post_init__(self) -> None:
        if self.effective_to is not None and self.effective_to < self.effective_from:
            raise ValueError("PFS release ends before it starts")
        if self.conversion_factor is None:
            factors = {r.conversion_factor for r in self.rvus.values() if r.conversion_factor}
            if len(factors) != 1:
                raise ValueError("PPRRVU rows must carry exactly one conversion factor, or give one")
            object.__setattr__(self, "conversion_factor", factors.pop())

    def in_force(self, day: date) -> bool:
        return self.effective_from <= day and (self.effective_to is None or day <= self.effective_to)

    def price(self, code: str, modifiers: Iterable[str], place_of_service: str, mac: str, locality: str) -> Price:
        modifiers = [m.upper() for m in modifiers]
        code, row_modifier = code.upper(), _row_modifier(modifiers)
        rvu = self.rvus.get((code, row_modifier))
        if rvu is None:
            if not row_modifier or (code, "") not in self.rvus:
                return Price(None, "code_not_in_fee_schedule")
            if row_modifier == "53":
                return Price(None, "reduced_service_modifier")
            return Price(None, "no_rate_for_modifier")  # a component of a code priced only globally
        if REDUCED_SERVICE_MODIFIERS.difference({rvu.modifier}).intersection(modifiers):
            return Price(None, "reduced_service_modifier")
        if rvu.status == "C":
            return Price(None, "carrier_priced")
        if rvu.status not in PAYABLE_STATUS:
            return Price(None, "not_separately_payable")
        gpci = self.gpcis.get((mac.zfill(5), locality.zfill(2)))
        if gpci is None:
            return Price(None, "locality_not_in_gpci_file")
        amount = fee_schedule_amount(rvu, gpci, self.conversion_factor, facility=is_facility(place_of_service))
        if amount is None:
            return Price(None, "not_priced_in_setting")
        factor, reason = _policy_factor(rvu, set(modifiers))
        if factor is None:
            return Price(None, reason)
        return Price(amount if factor == 1 else round_cents(amount * factor), mult_proc=rvu.mult_proc)


@dataclass(frozen=True)
class PfsSchedule:
    """Releases over time; the one in force on the date of service prices the line."""

    releases: tuple[PfsRelease, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        ordered = sorted(self.releases, key=lambda r: r.effective_from)
        for a, b in zip(ordered, ordered[1:]):
            if a.effective_to is None or a.effective_to >= b.effective_from:
                raise ValueError("PFS releases overlap: close the earlier one the day before the next starts")
        object.__setattr__(self, "releases", tuple(ordered))

    def release_on(self, day: date) -> PfsRelease | None:
        return next((r for r in self.releases if r.in_force(day)), None)

    def price(self, code: str, modifiers: Iterable[str], place_of_service: str, day: date,
              mac: str, locality: str) -> Price:
        release = self.release_on(day)
        if release is None:
            return Price(None, "no_fee_schedule_in_force")
        return release.price(code, modifiers, place_of_service, mac, locality)
