from rcm_runtime import secret_settings as secret
from rcm_runtime.settings import ServiceSettings


class Settings(ServiceSettings):
    secret_settings = {**ServiceSettings.secret_settings, "payer_key": secret.key}

    service_name: str = "eligibility"
    db_schema: str = "eligibility"
    payer_connection: str = "http"  # http (real time) | file (batch mailbox directories)
    payer_outbox_dir: str | None = None  # file: where 270s are dropped
    payer_inbox_dir: str | None = None  # file: where the payer's 271s arrive
    payer_url: str | None = None  # real-time 270/271 endpoint; default: the sandbox payer (RCM_SERVICE_URLS)
    payer_key: str = "dev-clearinghouse-key"
    submitter_id: str = "OPENRCM"
    eligibility_cache_ttl_s: int = 24 * 3600  # per (member, payer, date of service)
    payer_concurrency: int = 8
    auth_rules_path: str | None = None  # CSV payer_id,procedure_code,place_of_service,min_units,description
