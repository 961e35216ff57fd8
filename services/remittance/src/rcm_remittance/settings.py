from rcm_runtime.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: str = "remittance"
    db_schema: str = "remittance"
