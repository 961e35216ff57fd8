"""The MLLP listener (HL7 v2 over TCP): an asyncio server started in charges' lifespan when RCM_MLLP_PORT is set.

Each connection is read frame by frame (rcm_charges.domain.mllp_frame); each message gets its ACK from the HL7
interface (rcm_charges.hl7_interface), in order, once what it did has committed. Nothing a peer sends stops the
listener: bytes outside a frame are dropped, an oversized frame is answered AR and skipped, a connection closed
mid-frame loses only that half message (the sender never got an ACK for it, so it sends it again), an idle
connection is closed after RCM_MLLP_IDLE_TIMEOUT_S, and beyond RCM_MLLP_MAX_CONNECTIONS a new one is closed at once.
A database outage closes the connection without an ACK: the interface engine resends, which is idempotent.

Tenant and authentication (MLLP has no bearer token):
- TLS (RCM_HTTP_TLS_CERT_FILE/KEY_FILE set, as on the local stack): the client must present a certificate signed
  by RCM_MLLP_CLIENT_CA_FILE (default RCM_TLS_CA_FILE) and the certificate names the tenant: a subject alternative
  name URI `urn:openrcm:tenant:<tenant>`, else a common name `integrator-<tenant>`. A certificate naming no tenant
  gets AR for every message. `python -m rcm_runtime.dev_ca mllp-client DIR --tenant T` issues one locally.
- Without TLS (development only): every message belongs to RCM_MLLP_TENANT; without it the listener refuses to
  start, and outside development plain MLLP refuses to start at all.
"""

from __future__ import annotations

import asyncio
import logging
import re
import ssl
from dataclasses import dataclass

from rcm_charges.domain.mllp_frame import Frame, FrameDecoder, Junk, Oversized, encode
from rcm_charges.hl7_interface import TOO_LARGE, Client, Hl7Interface
from rcm_charges.settings import Settings

log = logging.getLogger("rcm.charges.mllp")

TENANT_URI = "urn:openrcm:tenant:"
TENANT_CN_PREFIX = "integrator-"
_TENANT = re.compile(r"^[A-Za-z0-9_-]{1,200}$")
READ_CHUNK = 64 * 1024


class MllpConfigError(RuntimeError):
    """The listener's settings cannot work (e.g. plain TCP without RCM_MLLP_TENANT): the service does not start."""


def tenant_of_certificate(cert: dict | None) -> tuple[str | None, str]:
    """(tenant, the certificate's CN) from ssl's getpeercert() dict: SAN URI urn:openrcm:tenant:<t> first, else
    CN integrator-<t>; tenant None when it names none."""
    if not cert:
        return None, ""
    cn = next((value for rdn in cert.get("subject", ()) for key, value in rdn if key == "commonName"), "")
    for kind, value in cert.get("subjectAltName", ()):
        if kind == "URI" and value.startswith(TENANT_URI) and _TENANT.match(value[len(TENANT_URI):]):
            return value[len(TENANT_URI):], cn
    if cn.startswith(TENANT_CN_PREFIX) and _TENANT.match(cn[len(TENANT_CN_PREFIX):]):
        return cn[len(TENANT_CN_PREFIX):], cn
    return None, cn


def server_context(settings: Settings) -> ssl.SSLContext | None:
    """TLS with required client certificates when the service has a certificate, else None (plain: dev only)."""
    cert, key = settings.http_tls_cert_file, settings.http_tls_key_file
    if not cert and not key:
        if settings.env != "development":
            raise MllpConfigError("MLLP without TLS is for development only: set RCM_HTTP_TLS_CERT_FILE/_KEY_FILE")
        if not settings.mllp_tenant:
            raise MllpConfigError("MLLP without TLS needs RCM_MLLP_TENANT (the one tenant every message belongs to)")
        return None
    if not cert or not key:
        raise MllpConfigError("RCM_HTTP_TLS_CERT_FILE and RCM_HTTP_TLS_KEY_FILE are set together or not at all")
    ca = settings.mllp_client_ca_file or settings.tls_ca_file
    if not ca:
        raise MllpConfigError("MLLP over TLS needs RCM_MLLP_CLIENT_CA_FILE (or RCM_TLS_CA_FILE) to verify clients")
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=ca)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_cert_chain(cert, key)
    return ctx


@dataclass
class MllpListener:
    interface: Hl7Interface
    settings: Settings
    server: asyncio.AbstractServer | None = None
    connections: int = 0

    @property
    def port(self) -> int:
        assert self.server is not None and self.server.sockets
        return self.server.sockets[0].getsockname()[1]

    @property
    def max_frame(self) -> int:
        return self.settings.mllp_max_message_bytes or self.settings.max_file_body_bytes

    async def start(self) -> None:
        ctx = server_context(self.settings)
        self.server = await asyncio.start_server(
            self._connection, host=self.settings.mllp_host, port=self.settings.mllp_port, ssl=ctx,
            ssl_handshake_timeout=self.settings.mllp_idle_timeout_s if ctx else None, limit=READ_CHUNK)
        log.info("mllp listening", extra={"status": "started", "count": self.port,
                                                "reason": "tls" if ctx else "plain"})

    async def serve(self) -> None:
        """Runs until cancelled (the app's shutdown), then closes the server."""
        assert self.server is not None
        try:
            await self.server.serve_forever()
        finally:
            self.server.close()

    def _client(self, writer: asyncio.StreamWriter) -> Client:
        peer = writer.get_extra_info("peername")
        source = f"mllp:{peer[0]}" if peer else "mllp:unknown"
        if writer.get_extra_info("ssl_object") is None:
            return Client(self.settings.mllp_tenant, f"mllp:{self.settings.mllp_tenant}", source)
        tenant, cn = tenant_of_certificate(writer.get_extra_info("peercert"))
        return Client(tenant, f"mllp:{cn or 'unknown'}", source)

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            if self.connections > self.settings.mllp_max_connections:
                log.warning("mllp connection refused: too many", extra={"reason": "max_connections"})
                return
            await self._serve_connection(reader, writer, self._client(writer))
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
            pass  # the peer went away or spoke bad TLS: only this connection ends
        except Exception as exc:  # noqa: BLE001 - an outage or a bug: this connection ends, the listener goes on
            log.warning("mllp connection closed without an ACK", extra={"reason": type(exc).__name__})
        finally:
            self.connections -= 1
            writer.close()
            try:
                await asyncio.wait_for(writer.wait_closed(), 5)
            except Exception:  # noqa: BLE001 - already gone
                pass

    async def _serve_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                                client: Client) -> None:
        decoder = FrameDecoder(self.max_frame)
        while True:
            try:
                chunk = await asyncio.wait_for(reader.read(READ_CHUNK), self.settings.mllp_idle_timeout_s)
            except asyncio.TimeoutError:
                log.info("mllp connection idle: closed", extra={"reason": "idle_timeout"})
                return
            if not chunk:
                if decoder.pending():
                    log.warning("mllp connection closed mid-frame", extra={"reason": "half_frame",
                                                                           "count": decoder.pending()})
                return
            for event in decoder.feed(chunk):
                if isinstance(event, Frame):
                    answer = await self.interface.handle(client, event.payload)
                elif isinstance(event, Oversized):
                    answer = self.interface.refuse(TOO_LARGE, event.head)
                else:
                    assert isinstance(event, Junk)
                    log.info("mllp bytes outside a frame dropped", extra={"count": event.size})
                    continue
                writer.write(encode(answer))
                await writer.drain()
