from rcm_runtime.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: str = "eligibility"
    db_schema: str = "eligibility"
