from rcm_runtime.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: str = "denials"
    db_schema: str = "denials"
