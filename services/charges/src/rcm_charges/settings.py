from rcm_runtime.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: str = "charges"
    db_schema: str = "charges"
    # Complete encounters wait this long before release so late charges join the claim (0 = release
    # at once). Open encounters accept late charges and fixes like held ones.
    charge_lag_s: int = 0
    # HL7 v2 over MLLP (rcm_charges.mllp): listens when a port is set (0: any free port). With the service's TLS
    # certificate it requires client certificates of RCM_MLLP_CLIENT_CA_FILE (default RCM_TLS_CA_FILE) naming the
    # tenant; without TLS (development only) every message belongs to RCM_MLLP_TENANT.
    mllp_port: int | None = None
    mllp_host: str = "127.0.0.1"
    mllp_client_ca_file: str | None = None
    mllp_tenant: str | None = None
    mllp_idle_timeout_s: float = 300.0  # a connection silent this long is closed (engines reconnect)
    mllp_max_connections: int = 64
    mllp_max_message_bytes: int | None = None  # a larger frame is answered AR; default RCM_MAX_FILE_BODY_BYTES
