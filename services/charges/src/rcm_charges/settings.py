from rcm_runtime.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: str = "charges"
    db_schema: str = "charges"
    # Complete encounters wait this long before release so late charges join the claim (0 = release
    # at once). Open encounters accept late charges and fixes like held ones.
    charge_lag_s: int = 0
