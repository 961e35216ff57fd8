from rcm_runtime.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: str = "charges"
    db_schema: str = "charges"
