"""pyx12 as the reference oracle for tests and benchmarks: its verdict on a text, and an agreement check.

Test support, never imported by production code: rcm_x12.ig is the validator, and this module compares it
with pyx12 (tests and bench/ import it; the root pyproject puts the checkout on pytest's path).

pyx12 logs every error with the offending values; its loggers are silenced while it runs so that no
element value (possibly PHI) reaches test output or logs.
"""

from __future__ import annotations

import io
import json
import logging
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

from rcm_x12.ig.validator import IgReport, IgValidator, validate_interchange


@dataclass(frozen=True, slots=True)
class Pyx12Verdict:
    valid: bool
    crashed: str | None = None  # exception type name when pyx12 raised instead of answering

    def __str__(self) -> str:
        if self.crashed:
            return f"pyx12 raised {self.crashed}"
        return "pyx12: valid" if self.valid else "pyx12: invalid"


@contextmanager
def _quiet_pyx12() -> Iterator[None]:
    logger = logging.getLogger("pyx12")
    previous = logger.level
    logger.setLevel(logging.CRITICAL + 1)  # child loggers (pyx12.error_handler, ...) inherit it
    try:
        yield
    finally:
        logger.setLevel(previous)


def pyx12_verdict(text: str) -> Pyx12Verdict:
    """x12n_document()'s answer; an exception counts as "not valid" (the interchange did not pass)."""
    import pyx12.params
    import pyx12.x12n_document

    with _quiet_pyx12():
        try:
            ok = pyx12.x12n_document.x12n_document(pyx12.params.params(), io.StringIO(text), fd_997=None,
                                                   fd_html=None)
        except Exception as exc:  # noqa: BLE001 - any crash is a "did not pass" for the oracle
            return Pyx12Verdict(False, type(exc).__name__)
    return Pyx12Verdict(bool(ok))


def pyx12_errors(text: str) -> list[str]:
    """Every error pyx12 reports, located by segment and element ([] when it accepts the text): for test
    failure messages. Read from its JSON error tree, never from its log (which quotes values)."""
    import pyx12.params
    import pyx12.x12n_document

    report = io.StringIO()
    with _quiet_pyx12():
        valid = pyx12.x12n_document.x12n_document(pyx12.params.params(), io.StringIO(text), fd_997=None,
                                                  fd_html=None, fd_json=report)
    errors: list[str] = []

    def walk(node: object, where: str) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item, where)
        elif isinstance(node, dict):
            if "seg_id" in node:
                where = f"{node['seg_id']} (segment #{node.get('seg_count')})"
            if node.get("ele_pos") is not None:
                where = f"{where} element {node['ele_pos']}"
            errors.extend(f"{where}: {e.get('err_cde')} {e.get('err_str')}" for e in node.get("errors", []))
            for key, value in node.items():
                if key != "errors":
                    walk(value, where)

    walk(json.loads(report.getvalue() or "{}"), "envelope")
    if not valid and not errors:
        errors.append("pyx12 rejected the document without reporting an error")
    return errors


def assert_pyx12_valid(text: str, what: str = "document") -> None:
    errors = pyx12_errors(text)
    assert not errors, f"pyx12 rejects the generated {what}:\n" + "\n".join(errors)


def assert_agrees_with_pyx12(text: str, validator: IgValidator | None = None) -> IgReport:
    """AssertionError unless our verdict equals pyx12's. Returns our report for further assertions."""
    report = validator.validate(text) if validator is not None else validate_interchange(text)
    reference = pyx12_verdict(text)
    if report.ok != reference.valid:
        ours = "; ".join(str(f) for f in report.findings[:5]) or "no findings"
        raise AssertionError(f"verdicts differ: {reference}, ours: {'valid' if report.ok else 'invalid'} "
                             f"({ours})")
    return report
