"""coding: ICD-10-CM / CPT / HCPCS validation, NCCI and MUE edits, medical necessity, coder queue.
`create_app` is the composition root."""

from fastapi import FastAPI

from rcm_contracts import topics
from rcm_runtime.app import Runtime, create_service_app
from rcm_runtime.clock import Clock

from rcm_coding import api, consumers
from rcm_coding.access import ACCESS
from rcm_coding.domain import icd10
from rcm_coding.domain.engine import load_tables
from rcm_coding.service import Coding
from rcm_coding.settings import Settings


def create_app(settings: Settings | None = None, *, clock: Clock | None = None) -> FastAPI:
    settings = settings or Settings()
    tables = load_tables(settings.coding_tables_dir)  # once per process: every request and batch shares them
    icd10.is_known("A000")  # load the ICD-10-CM release now (~3 s), not on the first claim

    async def wire(rt: Runtime) -> None:
        rt.provide(Coding(rt.units, tables))

    return create_service_app(settings, access=ACCESS, title="OpenRCM coding",
                              description="ICD-10-CM / CPT / HCPCS validation, NCCI PTP and MUE edits, modifier "
                                          "rules, medical necessity and the coder queue.",
                              routers=[api.reads, api.router],
                              handlers=lambda rt: consumers.handlers(rt.services[Coding]),
                              consume_topics=topics.CONSUMES["coding"], startup=[wire], clock=clock)
