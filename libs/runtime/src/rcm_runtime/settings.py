"""One settings class per service process, read from RCM_* environment variables."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import PositiveInt
from pydantic_settings import BaseSettings, SettingsConfigDict

from rcm_runtime import secret_settings as secret
from rcm_runtime.kafka_access import consumer_group
from rcm_runtime.tls import DbSslMode


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RCM_", extra="ignore")

    # The settings below that hold secrets, each with the check of its shape (rcm_runtime.secret_settings). Outside
    # RCM_ENV=development a service refuses to start when one is empty or a development default. A service's
    # settings add theirs: `secret_settings = {**ServiceSettings.secret_settings, "payer_key": secret.key}`.
    secret_settings: ClassVar[dict[str, secret.SecretCheck]] = {
        "database_url": secret.database_url,
        "migration_database_url": secret.unless_unset(secret.database_url),
        "api_keys": secret.api_key_digests,
        "phi_keys_file": secret.phi_keys_file,
        # unset: a process that does not use Kafka (with SASL, the client refuses to connect without it)
        "kafka_password": secret.unless_unset(secret.key),
    }

    # development: the defaults below (development keys, passwordless superuser URL) are allowed. Anything else
    # (production by default, so a forgotten setting fails closed) refuses them at start-up.
    env: Literal["development", "production"] = "production"
    service_name: str
    db_schema: str
    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:55432/openrcm"
    # The schema owner's URL, for migrations only (rcm_runtime.migrations); the service itself runs as the role
    # of database_url, which holds data rights only and is kept to its tenant's rows (rcm_runtime.row_security).
    # Unset: migrations run as database_url's role (a superuser in development).
    migration_database_url: str | None = None
    db_pool_size: int = 10
    # TLS to PostgreSQL (rcm_runtime.tls): libpq's sslmode, and the CA bundle that verify-ca/verify-full check the
    # server's certificate against (the system's CAs when unset). prefer is asyncpg's own default.
    db_sslmode: DbSslMode = "prefer"
    db_ca_file: str | None = None
    kafka_bootstrap: str = "127.0.0.1:19092"
    # Who the service is to Kafka (rcm_runtime.kafka_access): its own SCRAM principal over TLS, allowed by the
    # broker's ACLs to read what it consumes and write its own events topic only (rcm_runtime.kafka_acls).
    # SASL_SSL by default; outside development the password must be set (secret_settings).
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "SASL_SSL"
    kafka_sasl_mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"] = "SCRAM-SHA-512"
    kafka_username: str | None = None
    kafka_password: str | None = None
    kafka_ca_file: str | None = None  # PEM bundle of the CA that signed the broker's certificate (None: system CAs)
    # How often the consumer refreshes topic metadata: a tenant's intake topic made while a service runs is read
    # within this long (pattern subscription).
    kafka_metadata_max_age_ms: int = 30_000
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    # HTTPS: the service's certificate chain and key (PEM; rcm_runtime.serve hands them to uvicorn; both or neither),
    # and the CA bundle its own HTTP clients verify https:// servers with (the system's CAs when unset).
    http_tls_cert_file: str | None = None
    http_tls_key_file: str | None = None
    tls_ca_file: str | None = None

    # Scale-out switches: a replica may serve HTTP only, consume only, or relay only.
    relay_enabled: bool = True
    consumer_enabled: bool = True
    consumer_group: str | None = None  # default rcm.<service_name>
    consumer_batch_max: int = 500  # records sharing one DB transaction
    consumer_max_retries: int = 3  # per-record attempts before dead-lettering
    consumer_retry_backoff_s: float = 0.2
    # An outage (PostgreSQL, Kafka or an outside party not answering) is waited out, never dead-lettered: the
    # consumer, the relay and the background loops retry after delays doubling from the first to the cap
    # (rcm_runtime.outage).
    outage_backoff_initial_s: float = 0.2
    outage_backoff_max_s: float = 30.0
    # A service started while PostgreSQL or Kafka is down waits this long for them before giving up.
    startup_wait_s: float = 120.0
    # Inbox history kept for de-duplication (rcm_runtime.inbox): at least the consumed topics' retention.
    inbox_retention_days: float = 14.0
    inbox_prune_every_s: float = 3600.0
    relay_batch_max: int = 1000
    relay_idle_poll_s: float = 0.05
    # The relay's producer: compression (None or gzip, the one codec aiokafka has without extra packages) and the
    # largest record it may send (uncompressed). A service whose events can be large raises both; its topic's
    # max.message.bytes must let the broker take them (rcm_contracts.topics.MAX_MESSAGE_BYTES).
    kafka_compression: Literal["gzip"] | None = None
    kafka_max_request_bytes: int = 1 << 20

    # Authentication (rcm_runtime.auth). Trusted token issuers: "issuer=jwks_url" pairs separated by commas; the
    # JWKS is read over https:// (http:// for a local identity provider) or from a file:// (the development issuer).
    auth_issuers: str = ""
    auth_audience: str = "openrcm"  # accepted `aud` values, comma-separated
    auth_algorithms: str = "RS256,ES256"  # asymmetric only (rcm_runtime.tokens refuses HS* and none)
    auth_leeway_s: float = 60.0  # clock skew allowed on exp, nbf and iat
    auth_jwks_ttl_s: float = 3600.0  # an issuer's key set is fetched again after this long
    auth_jwks_refetch_min_s: float = 30.0  # an unknown kid refetches the key set at most this often
    auth_tenant_claim: str = "rcm_tenant"
    auth_roles_claim: str = "rcm_roles"
    auth_patient_claim: str = "rcm_patient"
    # Machine clients' API keys, hashed: "sha256:<hex>=<tenant>:<role>+<role>" entries separated by commas
    # (rcm_runtime.api_keys; `python -m rcm_runtime.dev_issuer api-key` makes one).
    api_keys: str = ""

    # The tenant id of the platform's operations team: a token's `operator` role counts only with this tenant
    # (rcm_runtime.ops), so no practice's token (nor a practice's admin) reaches the routes spanning tenants.
    ops_tenant: str = "platform"

    # PHI at rest (rcm_runtime.phi): the keys file (key ids -> data keys, the active one, the blind-index key; empty:
    # the public development keyring, refused outside development), and the local key manager's key-encryption key
    # for keys stored wrapped ("kms": "local").
    phi_keys_file: str = ""
    phi_kek_file: str = ""

    # Request bodies (rcm_runtime.body_limits): the most any endpoint reads, and the most a file intake endpoint
    # reads (X12 835/837 files, FHIR Bundles, HL7 batches, CSV/BAI2 files; routes marked @body_limit("max_file_
    # body_bytes")). Larger bodies are answered 413 before they are read whole.
    max_body_bytes: PositiveInt = 1 << 20
    max_file_body_bytes: PositiveInt = 32 << 20
    # Intake endpoints (rcm_runtime.rate_limits): a token bucket per client, per replica: `intake_rate_per_s`
    # requests a second sustained, bursts up to `intake_burst`; a rate of 0 turns the limit off.
    intake_rate_per_s: float = 20.0
    intake_burst: int = 200

    otel_exporter: Literal["none", "console", "file", "otlp"] = "none"
    otel_endpoint: str | None = None  # OTLP/HTTP traces endpoint when otel_exporter=otlp
    otel_file: str | None = None  # spans appended as JSON lines when otel_exporter=file (the suite scans them for PHI)
    log_level: str = "INFO"

    # Other services' base URLs, "name=url" pairs (for the few synchronous calls).
    service_urls: str = ""

    @property
    def group_id(self) -> str:
        return self.consumer_group or consumer_group(self.service_name)

    def service_url(self, name: str) -> str:
        for pair in filter(None, self.service_urls.split(",")):
            key, _, url = pair.partition("=")
            if key.strip() == name:
                return url.strip().rstrip("/")
        raise KeyError(f"no URL configured for service {name!r} (RCM_SERVICE_URLS)")

    def auth_issuer_jwks(self) -> dict[str, str]:
        """issuer -> JWKS URL."""
        out = {}
        for pair in filter(None, (p.strip() for p in self.auth_issuers.split(","))):
            issuer, sep, url = pair.partition("=")
            if not sep or not issuer.strip() or not url.strip():
                raise ValueError("RCM_AUTH_ISSUERS entries are issuer=jwks_url")
            out[issuer.strip()] = url.strip()
        return out
