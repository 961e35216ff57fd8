import json
from typing import Literal

from pydantic import model_validator

from rcm_contracts import topics
from rcm_runtime import secret_settings as secret
from rcm_runtime.settings import ServiceSettings

ENVELOPE_ROOM = 64 * 1024  # the envelope and headers around an event's data, with room to spare


def connection_keys(value: str) -> list[str]:
    """RCM_CLEARINGHOUSES (JSON): the key of each HTTP connection that has its own (the others use
    RCM_CLEARINGHOUSE_KEY, checked on its own). Empty: the sandbox, with RCM_CLEARINGHOUSE_KEY."""
    if not value.strip():
        return []
    try:
        config = json.loads(value)
    except json.JSONDecodeError:
        return ["is not valid JSON"]
    if not isinstance(config, dict):
        return ["is not a JSON object"]
    return secret.each_key((str(c["key"]) for c in config.values()
                            if isinstance(c, dict) and c.get("kind") == "http" and "key" in c), "connection key")


class Settings(ServiceSettings):
    secret_settings = {**ServiceSettings.secret_settings, "clearinghouse_key": secret.key,
                       "clearinghouses": connection_keys}

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
    ack_poll_s: float = 0.5  # idle wait between polls of the clearinghouses for 999/277CA/835 files
    # The largest 835 (its text as it travels in the event, JSON-escaped) handed to remittance as an event; a
    # larger one is quarantined for an operator to upload through remittance's POST /v1/remittances/x12.
    era_event_max_bytes: int = 8_000_000
    # submission's topic carries whole 835 files: its producer compresses (X12 shrinks about tenfold) and may send
    # records up to the topic's max.message.bytes
    kafka_compression: Literal["gzip"] | None = "gzip"
    kafka_max_request_bytes: int = topics.MAX_MESSAGE_BYTES[topics.SUBMISSION]

    @model_validator(mode="after")
    def _an_era_event_fits_a_record(self) -> "Settings":
        if self.era_event_max_bytes + ENVELOPE_ROOM > self.kafka_max_request_bytes:
            raise ValueError(f"era_event_max_bytes ({self.era_event_max_bytes}) leaves no room for the envelope in "
                             f"kafka_max_request_bytes ({self.kafka_max_request_bytes})")
        return self

    def clearinghouse_config(self) -> dict[str, dict]:
        if self.clearinghouses:
            return json.loads(self.clearinghouses)
        config = {"sandbox": {"kind": "http", "url": None, "key": self.clearinghouse_key}}
        if self.file_drop_root:
            config["sandbox-sftp"] = {"kind": "file", "root": self.file_drop_root}
        return config
