from rcm_runtime.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: str = "patient-billing"
    db_schema: str = "patient_billing"
