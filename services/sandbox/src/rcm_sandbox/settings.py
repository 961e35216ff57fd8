from rcm_runtime.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: str = "sandbox"
    db_schema: str = "sandbox"
    relay_enabled: bool = False  # the sandbox plays the outside world: it speaks HTTP, not our Kafka
    consumer_enabled: bool = False
    clearinghouse_key: str = "dev-clearinghouse-key"
    fixtures_path: str | None = None  # JSON payer rules + member benefits; default: the packaged fixtures
    adjudication_delay_s: float = 0.0  # how long a claim waits before the payer adjudicates it
    remit_batch_max: int = 500
