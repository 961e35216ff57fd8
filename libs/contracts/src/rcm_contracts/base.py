"""Base class for event payloads (the CloudEvents `data`)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict

TYPE_PREFIX = "org.openrcm.rcm"


class Contract(BaseModel):
    """Frozen, tolerant reader: unknown fields are ignored so producers may add optional fields."""

    model_config = ConfigDict(frozen=True, extra="ignore")


DataClass = Literal["phi", "internal"]


class Event(Contract):
    """An event payload. Subclasses set SERVICE, NAME, MAJOR and SCHEMA_MINOR, and their data classification:
    DATA_CLASS `phi` (PHI_FIELDS names the fields that carry protected health information: names, birth dates,
    member ids, addresses, medical record numbers, files holding them) or `internal` (ids, codes and amounts
    only). libs/contracts/tests/test_data_classification.py holds every event to it.

    Compatible change (new optional field): bump SCHEMA_MINOR. Breaking change: a new class with
    MAJOR + 1 and an upcaster from the old major in rcm_contracts.upcasters.
    """

    SERVICE: ClassVar[str]
    NAME: ClassVar[str]
    MAJOR: ClassVar[int] = 1
    SCHEMA_MINOR: ClassVar[int] = 0
    DATA_CLASS: ClassVar[DataClass]
    PHI_FIELDS: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def event_type(cls) -> str:
        return f"{TYPE_PREFIX}.{cls.SERVICE}.{cls.NAME}.v{cls.MAJOR}"

    @classmethod
    def dataschema(cls) -> str:
        return f"https://schemas.openrcm.org/{cls.SERVICE}/{cls.NAME}/{cls.MAJOR}.{cls.SCHEMA_MINOR}.json"

    @classmethod
    def schema_name(cls) -> str:
        return f"{cls.SERVICE}.{cls.NAME}.v{cls.MAJOR}"
