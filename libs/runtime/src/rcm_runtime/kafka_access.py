"""How every client of the project reaches Kafka: the bootstrap address and who it authenticates as. The local
stack's broker takes SASL_SSL only (SCRAM-SHA-512 over TLS; deploy/stack.sh), and each principal may do only what
its ACLs allow (rcm_runtime.kafka_acls). The outbox relay, the consumer loop, the admin tooling, the tests, the demo
and the benchmarks all build their aiokafka clients from a `KafkaAccess`:

    AIOKafkaProducer(client_id=..., **access.client_options())

A service takes it from its settings (RCM_KAFKA_BOOTSTRAP, RCM_KAFKA_SECURITY_PROTOCOL, RCM_KAFKA_SASL_MECHANISM,
RCM_KAFKA_USERNAME, RCM_KAFKA_PASSWORD, RCM_KAFKA_CA_FILE); tools of the local stack take a principal's
credentials from the stack's files (`stack_access`)."""

from __future__ import annotations

import os
import secrets
import ssl
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"]

# deploy/stack.sh keeps each principal's password in <stack dir>/kafka-auth/<principal>.password (0600) and the
# development CA in <stack dir>/tls/ca.pem
CREDENTIALS_DIR = "kafka-auth"
TLS_DIR = "tls"
ADMIN = "rcm-admin"  # the stack tooling's super user: topics, principals, ACLs, tests that read everything


@dataclass(frozen=True)
class KafkaAccess:
    bootstrap: str
    security_protocol: SecurityProtocol = "PLAINTEXT"
    sasl_mechanism: SaslMechanism = "SCRAM-SHA-512"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    ca_file: str | None = None  # the CA that signed the broker's certificate (None: the system's)

    @classmethod
    def from_settings(cls, settings: Any) -> KafkaAccess:
        return cls(bootstrap=settings.kafka_bootstrap, security_protocol=settings.kafka_security_protocol,
                   sasl_mechanism=settings.kafka_sasl_mechanism, username=settings.kafka_username or None,
                   password=settings.kafka_password or None, ca_file=settings.kafka_ca_file or None)

    def as_principal(self, username: str, password: str) -> KafkaAccess:
        """The same broker, another principal (an integrator, a service, a wrong password in a test)."""
        return replace(self, username=username, password=password)

    @property
    def sasl(self) -> bool:
        return self.security_protocol.startswith("SASL_")

    @cached_property
    def _ssl_context(self) -> ssl.SSLContext | None:
        if not self.security_protocol.endswith("SSL"):
            return None
        context = ssl.create_default_context(cafile=self.ca_file)  # verifies the chain and the host name
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        return context

    def client_options(self) -> dict[str, Any]:
        """The keyword arguments every aiokafka client (producer, consumer, admin) takes for this access."""
        options: dict[str, Any] = {"bootstrap_servers": self.bootstrap, "security_protocol": self.security_protocol}
        if self._ssl_context is not None:
            options["ssl_context"] = self._ssl_context
        if self.sasl:
            if not self.username or not self.password:
                raise ValueError(f"Kafka {self.security_protocol} needs RCM_KAFKA_USERNAME and RCM_KAFKA_PASSWORD")
            options |= {"sasl_mechanism": self.sasl_mechanism, "sasl_plain_username": self.username,
                        "sasl_plain_password": self.password}
        return options


def stack_dir() -> Path:
    """The local stack's state directory (RCM_STACK_DIR, else <repo>/.stack, as deploy/stack.sh)."""
    return Path(os.environ.get("RCM_STACK_DIR") or Path(__file__).resolve().parents[4] / ".stack")


def consumer_group(service: str) -> str:
    """A service's consumer group (ServiceSettings.group_id); its principal may join this group only."""
    return f"rcm.{service}"


def password_file(directory: Path | str, principal: str) -> Path:
    return Path(directory) / CREDENTIALS_DIR / f"{principal}.password"


def ensure_password(directory: Path | str, principal: str) -> str:
    """The principal's password in the stack's files, made (random, 0600) the first time and kept after."""
    path = password_file(directory, principal)
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    password = secrets.token_urlsafe(32)  # [A-Za-z0-9_-]: safe in the broker's JAAS and --add-scram syntax
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(password + "\n")
    return password


def stack_access(principal: str = ADMIN, *, directory: Path | str | None = None,
                 bootstrap: str | None = None) -> KafkaAccess:
    """A principal's access to the local stack's broker (RCM_KAFKA_PORT), SASL_SSL with the stack's CA."""
    d = Path(directory) if directory else stack_dir()
    path = password_file(d, principal)
    try:
        password = path.read_text().strip()
    except FileNotFoundError:
        raise RuntimeError(f"no Kafka password for {principal} in {path.parent}: run deploy/stack.sh infra-up "
                           "(a new tenant's integrator: deploy/stack.sh kafka-add-integrator TENANT)") from None
    return KafkaAccess(bootstrap=bootstrap or f"127.0.0.1:{os.environ.get('RCM_KAFKA_PORT', '19092')}",
                       security_protocol="SASL_SSL", username=principal, password=password,
                       ca_file=str(d / TLS_DIR / "ca.pem"))
