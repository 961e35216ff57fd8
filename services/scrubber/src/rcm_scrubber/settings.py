from rcm_runtime.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: str = "scrubber"
    db_schema: str = "scrubber"
