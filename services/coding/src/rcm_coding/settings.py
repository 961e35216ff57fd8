from rcm_runtime.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: str = "coding"
    db_schema: str = "coding"
    # Directory of reference files (HCPCS, CPT, NCCI PTP, MUE, coverage policies); see domain/engine.py.
    coding_tables_dir: str | None = None
