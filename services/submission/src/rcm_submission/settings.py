from rcm_runtime.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: str = "submission"
    db_schema: str = "submission"
    clearinghouse_name: str = "sandbox"
    clearinghouse_url: str | None = None  # default: the sandbox service URL from RCM_SERVICE_URLS
    clearinghouse_key: str = "dev-clearinghouse-key"
    dispatch_enabled: bool = True
