"""ICD-10-CM validity and billability of a claim's diagnoses, by date of service (pure).

The code set comes from simple-icd-10-cm, which ships one CMS release (FY2026, April 1 2026 update) and holds
exactly one release per process. A code can only be judged against the release in force on its date of service,
so dates outside the loaded release's window get COD012 instead of a guess.
"""

from __future__ import annotations

import functools
import warnings
from collections import deque
from dataclasses import dataclass
from datetime import date
from types import ModuleType

from rcm_contracts.claim import Claim
from rcm_contracts.events import Edit

MAX_SUGGESTIONS = 5


@dataclass(frozen=True)
class Icd10Release:
    """One ICD-10-CM release and the dates of service it is valid for (inclusive)."""

    name: str
    valid_from: date
    valid_through: date

    def covers(self, service_date: date) -> bool:
        return self.valid_from <= service_date <= self.valid_through


# What simple-icd-10-cm 1.5.0 ships: the FY2026 tabular (April 1 2026 update had no code changes).
FY2026 = Icd10Release(name="FY2026", valid_from=date(2025, 10, 1), valid_through=date(2026, 9, 30))

_loaded_release: Icd10Release = FY2026


@functools.cache
def _cm() -> ModuleType:
    # Importing parses an 11 MB XML (~3 s): do it on first use, once per process, not at service import.
    # Its data loading uses importlib.resources calls deprecated in 3.11; that noise is the package's, not ours.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import simple_icd_10_cm

    return simple_icd_10_cm


def loaded_release() -> Icd10Release:
    return _loaded_release


def load_release(release: Icd10Release, all_codes_file: str, classification_file: str) -> None:
    """Replace the process-wide code set with another CMS release (e.g. FY2027). Call at start-up, not per claim:
    simple-icd-10-cm keeps one global release, so concurrent checks would see a half-switched state."""
    global _loaded_release
    cm = _cm()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        cm.change_version(all_codes_file_path=all_codes_file, classification_data_file_path=classification_file)
    _loaded_release = release


def normalize(code: str) -> str:
    # Claims store codes upper-case without the dot; accept the dotted form from other callers too.
    return code.strip().upper().replace(".", "")


def is_known(code: str) -> bool:
    """A category, subcategory or 7th-character code of the loaded release (chapters and blocks are not codes)."""
    cm = _cm()
    c = normalize(code)
    return bool(c) and cm.is_valid_item(c) and cm.is_category_or_subcategory(c)


def is_billable(code: str) -> bool:
    # Leaf alone is not enough: 12 blocks report is_leaf() == True (codesets.md 1.2).
    return is_known(code) and _cm().is_leaf(normalize(code))


def billable_children(code: str, limit: int | None = None) -> list[str]:
    """Billable codes under a header code, nearest level first (E11 -> E118, E119, E11A, E1100, ...).

    Breadth-first so that the shortest, most general billable codes come first as suggestions. Returns codes
    without dots (the claim format); [] for unknown or already billable codes.
    """
    cm = _cm()
    c = normalize(code)
    if not c or not cm.is_valid_item(c):
        return []
    found: list[str] = []
    queue = deque(cm.get_children(c))
    while queue and (limit is None or len(found) < limit):
        child = queue.popleft()
        if cm.is_category_or_subcategory(child) and cm.is_leaf(child):
            # str.replace, not cm.remove_dot: the latter scans the whole code list (~0.1 s per call).
            found.append(child.replace(".", ""))
        else:
            queue.extend(cm.get_children(child))
    return found


def _fiscal_year(service_date: date) -> int:
    # ICD-10-CM releases run October 1 to September 30 and are named after the year they end in.
    return service_date.year + 1 if service_date.month >= 10 else service_date.year


def _service_dates_by_diagnosis(claim: Claim) -> dict[int, set[date]]:
    """1-based diagnosis position -> the dates of service of the lines pointing at it (claim date if none)."""
    dates: dict[int, set[date]] = {i: set() for i in range(1, len(claim.diagnoses) + 1)}
    for line in claim.lines:
        for pointer in line.diagnosis_pointers:
            if pointer in dates:
                dates[pointer].add(line.service_date or claim.service_date)
    for used_on in dates.values():
        if not used_on:
            used_on.add(claim.service_date)
    return dates


def diagnosis_edits(claim: Claim, release: Icd10Release | None = None) -> list[Edit]:
    """COD010 unknown code, COD011 header (non-billable) code, COD012 date of service outside the loaded release.

    Messages name the diagnosis by position, never its code or the date of service (both are patient data).
    """
    release = release or _loaded_release
    edits: list[Edit] = []
    for i, service_dates in _service_dates_by_diagnosis(claim).items():
        field = f"diagnoses[{i}]"
        outside = sorted(d for d in service_dates if not release.covers(d))
        if outside:
            needed = ", ".join(f"FY{fy}" for fy in sorted({_fiscal_year(d) for d in outside}))
            edits.append(Edit(
                code="COD012", severity="error", field=field,
                message=(f"diagnosis {i} cannot be checked: its date of service is outside the loaded ICD-10-CM "
                         f"release {release.name} ({release.valid_from.isoformat()} to "
                         f"{release.valid_through.isoformat()}); load the {needed} release or have a coder "
                         f"verify the code"),
            ))
            continue
        dx = claim.diagnoses[i - 1]
        if not is_known(dx):
            edits.append(Edit(
                code="COD010", severity="error", field=field,
                message=(f"diagnosis {i} is not an ICD-10-CM code in release {release.name}; "
                         f"correct it from the documentation"),
            ))
        elif not is_billable(dx):
            suggestions = billable_children(dx, limit=MAX_SUGGESTIONS)
            hint = f"; billable codes under it include {', '.join(suggestions)}" if suggestions else ""
            edits.append(Edit(
                code="COD011", severity="error", field=field,
                message=(f"diagnosis {i} is a header code, not billable; code it to the highest specificity "
                         f"documented{hint}"),
            ))
    return edits
