from rcm_runtime.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: str = "analytics"
    db_schema: str = "analytics"
    # analytics reads every events topic and publishes none: no relay, and its Kafka principal may write nothing
    # (rcm_runtime.kafka_acls; an idempotent producer would need a write right just to start)
    relay_enabled: bool = False
