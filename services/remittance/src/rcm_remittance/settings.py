from rcm_runtime.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: str = "remittance"
    db_schema: str = "remittance"

    # Medicare physician fee schedule reference data (PPRRVUyyyy_<Mon>*.csv + GPCIyyyy*.csv per release), read
    # once at start-up for contracts priced as a percentage of Medicare. Unset: no Medicare pricing (a contract
    # may still carry a fee table).
    fee_schedule_dir: str | None = None
