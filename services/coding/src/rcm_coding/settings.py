from rcm_runtime.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: str = "coding"
    db_schema: str = "coding"
