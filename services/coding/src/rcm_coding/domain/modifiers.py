"""Modifier edits (pure). The rules are data so a deployment can widen them (payer policy, PFS indicators)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass

from rcm_contracts.claim import Claim
from rcm_contracts.events import Edit

from rcm_coding.domain.hcpcs import CodeTable, normalize_header

MODIFIER_FORMAT = re.compile(r"^[A-Z0-9]{2}$")


@dataclass(frozen=True)
class ModifierRules:
    # Modifier 25 marks a significant, separately identifiable E/M service: it means nothing on other codes.
    em_code_ranges: tuple[tuple[str, str], ...] = (("99202", "99499"),)
    em_codes: frozenset[str] = frozenset()  # extra codes a payer treats as E/M (e.g. eye visits 92002-92014)
    # Codes with a professional/technical split (PFS PCTC indicator 1). None = not loaded: 26/TC use is not judged.
    pc_tc_codes: frozenset[str] | None = None

    def is_em(self, code: str) -> bool:
        if code in self.em_codes:
            return True
        # Ranges compare as strings, so only codes of the same shape (5 digits) can fall inside one.
        return any(len(code) == len(lo) and code.isdigit() and lo <= code <= hi for lo, hi in self.em_code_ranges)


DEFAULT_RULES = ModifierRules()


def pctc_codes_from_pprrvu(rows: Iterable[Mapping[str, str]], indicators: Collection[str] = ("1",)) -> frozenset[str]:
    """Codes whose PFS PCTC indicator allows a 26/TC split, from parsed PPRRVU rows (columns HCPCS, PCTC IND).

    Indicator 1 = diagnostic test with professional and technical components. The HCPCS+26 / +TC rows of the file
    carry the same indicator, so codes are de-duplicated.
    """
    codes: set[str] = set()
    for row in rows:
        cells = {normalize_header(k): (v or "").strip() for k, v in row.items() if k}
        if cells.get("PCTC IND") in indicators and cells.get("HCPCS"):
            codes.add(cells["HCPCS"].upper())
    return frozenset(codes)


def modifier_edits(claim: Claim, rules: ModifierRules = DEFAULT_RULES, hcpcs: CodeTable | None = None) -> list[Edit]:
    """COD030 25 off E/M, COD031 LT+RT, COD032 26/TC without a PC/TC split, COD033 26+TC, COD034 duplicate,
    COD035 malformed, COD036 Level II modifier not in the HCPCS file, COD037 modifier not valid on the date."""
    edits: list[Edit] = []

    def add(code: str, line_number: int, message: str) -> None:
        edits.append(Edit(code=code, severity="error", line_number=line_number, field="modifiers",
                          message=f"line {line_number}: {message}"))

    known_level2 = hcpcs.modifiers if hcpcs and hcpcs.modifiers else None  # a file without modifier rows can't judge
    for line in claim.lines:
        n, code, mods = line.line_number, line.procedure_code, list(line.modifiers)
        present = set(mods)
        for mod in mods:
            if not MODIFIER_FORMAT.match(mod):
                add("COD035", n, f"modifier {mod!r} is not two letters/digits; correct it")
        for mod, count in Counter(mods).items():
            if count > 1:
                add("COD034", n, f"modifier {mod} is listed {count} times; list each modifier once")
        if "25" in present and not rules.is_em(code):
            add("COD030", n, f"modifier 25 applies only to an E/M service, not {code}; "
                             f"remove it or move it to the E/M line")
        if {"LT", "RT"} <= present:
            add("COD031", n, "LT and RT on one line; use modifier 50 for a bilateral procedure "
                             "or bill two lines, one with LT and one with RT")
        if {"26", "TC"} <= present:
            add("COD033", n, "26 and TC together make the global service; bill the code without either modifier")
        elif rules.pc_tc_codes is not None and code not in rules.pc_tc_codes:
            for mod in sorted(present & {"26", "TC"}):
                add("COD032", n, f"modifier {mod} needs a code with a professional/technical split and {code} "
                                 f"has none; remove the modifier")
        if known_level2 is not None:
            service_date = line.service_date or claim.service_date
            for mod in sorted(present):
                if not MODIFIER_FORMAT.match(mod) or mod.isdigit():
                    continue  # numeric modifiers are CPT (AMA) modifiers, not in the HCPCS file
                entry = known_level2.get(mod)
                if entry is None:
                    add("COD036", n, f"modifier {mod} is not a HCPCS Level II modifier in the loaded file; "
                                     f"correct it")
                elif not entry.effective_on(service_date):
                    add("COD037", n, f"modifier {mod} is not valid on the date of service (effective "
                                     f"{entry.effective or 'always'}, terminated {entry.terminated or 'never'}); "
                                     f"use a modifier in force on that date")
    return edits
