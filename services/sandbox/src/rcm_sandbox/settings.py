from rcm_runtime import secret_settings as secret
from rcm_runtime.settings import ServiceSettings


class Settings(ServiceSettings):
    secret_settings = {**ServiceSettings.secret_settings, "clearinghouse_key": secret.key}

    service_name: str = "sandbox"
    db_schema: str = "sandbox"
    relay_enabled: bool = False  # the sandbox plays the outside world: it speaks HTTP, not our Kafka
    consumer_enabled: bool = False
    clearinghouse_key: str = "dev-clearinghouse-key"
    fixtures_path: str | None = None  # JSON payer rules + member benefits; default: the packaged fixtures
    # how long an accepted claim waits before the payer adjudicates it: the 277CA usually reaches the
    # submitter first, as in real life (where the 835 comes days later)
    adjudication_delay_s: float = 1.0
    remit_batch_max: int = 500
    file_drop_root: str | None = None  # the SFTP-style mailbox directory shared with submission's file-drop adapter
    loops_enabled: bool = True  # the remitter and mailbox loops (in-process tests run them step by step)
    # Payer ids (comma-separated) whose 835s go through the clearinghouse: queued with the submitter's outbound
    # files, which submission polls and forwards to remittance. The other payers push to remittance's HTTP intake.
    era_via_clearinghouse: str = ""

    def era_payers_via_clearinghouse(self) -> frozenset[str]:
        return frozenset(p.strip() for p in self.era_via_clearinghouse.split(",") if p.strip())
