"""Fast X12 implementation-guide validation that gives pyx12's verdict.

Before an 837P leaves OpenRCM it is validated against its implementation guide. pyx12 is the reference
but checks only ~100 claims/s; this validator compiles pyx12's own machine-readable maps (the XML files
inside the installed pyx12 package: the guide maps, x12.control.00501.xml, dataele.xml, codes.xml and
maps.xml) once per process and then walks an interchange with the same rules, quirks included, so that
`report.ok` equals `pyx12.x12n_document(...)`'s result.

    report = IgValidator.for_transaction("837", "005010X222A1").validate(text)
    report = validate_interchange(text)          # picks the map from ISA12/GS01/GS08 like pyx12
    if not report.ok:
        for finding in report.errors: ...        # position, tag, loop id, element ref, code, message

Findings never quote element values (they may be PHI): only tags, positions, element references,
lengths and counts. Findings that pyx12 would drop (see engine.py) are kept as warnings.

Modules of rcm_x12.ig: rules (the compiled rule types), maps (map compiler), walker (loop/segment
identification and counts), elements (element, composite and syntax checks), fastpath (generated per-segment
acceptance tests), engine (reader, envelopes, verdict). pyx12 as an oracle is test support, outside this
package: tests/support/pyx12_oracle.py (`assert_agrees_with_pyx12`, `pyx12_verdict`).
"""

from __future__ import annotations

from functools import lru_cache

from rcm_x12.ig.engine import Engine, IgFinding, IgReport, UnsupportedTransaction
from rcm_x12.ig.maps import compiled_map, map_index

__all__ = [
    "IgFinding",
    "IgReport",
    "IgValidator",
    "SUPPORTED",
    "UnsupportedTransaction",
    "validate_interchange",
]

# (ST01, GS08/ST03) -> pyx12 map file. Only the guides whose agreement with pyx12 is tested against
# real samples and mutations; the compiler itself would take any map listed in maps.xml.
SUPPORTED: dict[tuple[str, str], str] = {
    ("837", "005010X222A1"): "837.5010.X222.A1.xml",
    ("835", "005010X221A1"): "835.5010.X221.A1.xml",
    ("999", "005010X231A1"): "999.5010X231.A1.xml",
    ("999", "005010X231"): "999.5010.xml",
    ("277", "005010X214"): "277.5010.X214.xml",
}
_SUPPORTED_FILES = frozenset(SUPPORTED.values())


class IgValidator:
    """Validator bound to one implementation guide; an interchange whose GS selects another guide is
    reported (finding `transaction_mismatch`) rather than validated against the wrong map."""

    def __init__(self, map_file: str) -> None:
        self.map_file = map_file
        self.map = compiled_map(map_file)  # compile now so the first validate() is as fast as the rest

    @classmethod
    def for_transaction(cls, transaction: str, version: str) -> IgValidator:
        """E.g. ("837", "005010X222A1"). Cached: one validator (and one compiled map) per guide."""
        return _validator(transaction, version)

    def validate(self, text: str) -> IgReport:
        return Engine(text, self.map_file, _SUPPORTED_FILES).run()

    def __repr__(self) -> str:
        return f"IgValidator({self.map_file!r})"


@lru_cache(maxsize=None)
def _validator(transaction: str, version: str) -> IgValidator:
    file = SUPPORTED.get((transaction, version))
    if file is None:
        known = any(e.vriic == version for e in map_index())
        why = "is not among the validated guides" if known else "is unknown to pyx12's maps.xml"
        raise UnsupportedTransaction(f"transaction {transaction} version {version} {why}")
    return IgValidator(file)


def validate_interchange(text: str) -> IgReport:
    """Validate with the map each GS selects (ISA12 + GS08 + GS01 through maps.xml, as pyx12 does).

    Raises UnsupportedTransaction when the interchange is not 5010 or a GS names a guide outside
    SUPPORTED; a GS01 that does not suit a known GS08 is an invalid interchange (pyx12 aborts on it)."""
    return Engine(text, None, _SUPPORTED_FILES).run()
