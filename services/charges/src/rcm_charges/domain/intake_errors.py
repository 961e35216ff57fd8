"""Rejection of intake input (FHIR, HL7 v2): every problem at once, each naming the field and the
reason, never the submitted value (it is usually PHI)."""

from __future__ import annotations


class IntakeError(Exception):
    """The input cannot become an EncounterSubmitted. errors: [{"field": path, "reason": why}]."""

    def __init__(self, errors: list[dict]) -> None:
        self.errors = errors
        summary = "; ".join(f"{e['field']}: {e['reason']}" for e in errors)
        super().__init__(f"intake rejected ({len(errors)} error(s)): {summary}")


class Problems:
    """Collects every mapping problem so the sender can fix its message in one round trip."""

    def __init__(self) -> None:
        self.errors: list[dict] = []

    def add(self, field: str, reason: str) -> None:
        problem = {"field": field, "reason": reason}
        if problem not in self.errors:
            self.errors.append(problem)

    def raise_if_any(self) -> None:
        if self.errors:
            raise IntakeError(self.errors)


def reason_of(msg: str) -> str:
    """pydantic/fhir_core message templates name fields and limits, not the input value."""
    return " ".join(msg.removeprefix("Value error, ").split())
