"""Base class for event payloads (the CloudEvents `data`)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict

TYPE_PREFIX = "org.openrcm.rcm"


class Contract(BaseModel):
    """Frozen, tolerant reader: unknown fields are ignored so producers may add optional fields."""

    model_config = ConfigDict(frozen=True, extra="ignore")


class Event(Contract):
    """An event payload. Subclasses set SERVICE, NAME, MAJOR and SCHEMA_MINOR.

    Compatible change (new optional field): bump SCHEMA_MINOR. Breaking change: a new class with
    MAJOR + 1 and an upcaster from the old major in rcm_contracts.upcasters.
    """

    SERVICE: ClassVar[str]
    NAME: ClassVar[str]
    MAJOR: ClassVar[int] = 1
    SCHEMA_MINOR: ClassVar[int] = 0

    @classmethod
    def event_type(cls) -> str:
        return f"{TYPE_PREFIX}.{cls.SERVICE}.{cls.NAME}.v{cls.MAJOR}"

    @classmethod
    def dataschema(cls) -> str:
        return f"https://schemas.openrcm.org/{cls.SERVICE}/{cls.NAME}/{cls.MAJOR}.{cls.SCHEMA_MINOR}.json"

    @classmethod
    def schema_name(cls) -> str:
        return f"{cls.SERVICE}.{cls.NAME}.v{cls.MAJOR}"
