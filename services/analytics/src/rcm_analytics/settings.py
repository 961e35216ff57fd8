from rcm_runtime.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: str = "analytics"
    db_schema: str = "analytics"
