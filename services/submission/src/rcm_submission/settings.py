import json

from rcm_runtime.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: str = "submission"
    db_schema: str = "submission"
    # Clearinghouse connections by name, as JSON: {"name": {"kind": "http", "url": ..., "key": ...} or
    # {"kind": "file", "root": <mailbox directory>}}. Empty: the local sandbox over HTTP (its URL from
    # RCM_SERVICE_URLS) and, when RCM_FILE_DROP_ROOT is set, the sandbox's file-drop mailbox.
    clearinghouses: str = ""
    default_clearinghouse: str = "sandbox"  # the route when neither the payer nor the tenant has one
    clearinghouse_key: str = "dev-clearinghouse-key"
    file_drop_root: str | None = None
    submitter_name: str = "OpenRCM Billing"
    submitter_contact: str = "EDI Desk"
    submitter_phone: str = "8005550100"
    interchange_usage: str = "P"  # ISA15: P production, T test
    dispatch_enabled: bool = True
    dispatch_batch_max: int = 500
    ack_poll_s: float = 0.5  # idle wait between polls of the clearinghouses for 999/277CA files

    def clearinghouse_config(self) -> dict[str, dict]:
        if self.clearinghouses:
            return json.loads(self.clearinghouses)
        config = {"sandbox": {"kind": "http", "url": None, "key": self.clearinghouse_key}}
        if self.file_drop_root:
            config["sandbox-sftp"] = {"kind": "file", "root": self.file_drop_root}
        return config
