from rcm_runtime.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: str = "remittance"
    db_schema: str = "remittance"

    # Medicare physician fee schedule reference data (PPRRVUyyyy_<Mon>*.csv + GPCIyyyy*.csv per release), read
    # once at start-up for contracts priced as a percentage of Medicare. Unset: no Medicare pricing (a contract
    # may still carry a fee table).
    fee_schedule_dir: str | None = None

    # How often the background loop posts payments left unmatched although their claim is known by now (an 835 and
    # its claim's ClaimSubmitted applied at the same moment: rcm_remittance.service.Remittance.post_waiting). 0: off.
    waiting_payments_every_s: float = 5.0
