"""An HL7 interface engine's side of MLLP for tests and the benchmark: connect (TLS with a client certificate, or
plain), send a message, read its ACK."""

from __future__ import annotations

import asyncio
import os
import ssl
from pathlib import Path

from rcm_runtime.dev_ca import Issued, ensure_cert

VT, FS, CR = b"\x0b", b"\x1c", b"\r"


def client_context(ca: Path | str, cert: Issued | None) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(ca))
    if cert is not None:
        ctx.load_cert_chain(str(cert.cert), str(cert.key))
    return ctx


def stack_port() -> int:
    """The running stack's MLLP port: deploy/stack.sh gives charges RCM_MLLP_PORT 2575 plus RCM_PORT_OFFSET."""
    return 2575 + int(os.environ.get("RCM_PORT_OFFSET", "0"))


def stack_context(tenant: str) -> ssl.SSLContext | None:
    """How an interface engine of `tenant` reaches the running stack's listener: TLS with the tenant's client
    certificate (issued into the stack's CA directory when missing), or None when the stack runs without TLS."""
    from tests.support.client import STACK_DIR, TLS

    return client_context(STACK_DIR / "tls" / "ca.pem", tenant_cert(STACK_DIR / "tls", tenant)) if TLS else None


def tenant_cert(tls_dir: Path | str, tenant: str) -> Issued:
    """What `python -m rcm_runtime.dev_ca mllp-client DIR --tenant T` issues."""
    return ensure_cert(tls_dir, f"integrator-{tenant}", client=True, uris=[f"urn:openrcm:tenant:{tenant}"])


class MllpClient:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def connect(cls, port: int, ssl_ctx: ssl.SSLContext | None = None, host: str = "127.0.0.1") -> "MllpClient":
        reader, writer = await asyncio.open_connection(host, port, ssl=ssl_ctx,
                                                       server_hostname=host if ssl_ctx else None)
        return cls(reader, writer)

    async def send_raw(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def ack(self, timeout: float = 30) -> str:
        """The next framed answer, framing removed."""
        data = await asyncio.wait_for(self.reader.readuntil(FS + CR), timeout)
        start = data.find(VT)
        return data[start + 1:-2].decode("utf-8")

    async def send(self, message: str | bytes, timeout: float = 30) -> str:
        payload = message.encode("utf-8") if isinstance(message, str) else message
        await self.send_raw(VT + payload + FS + CR)
        return await self.ack(timeout)

    async def close(self) -> None:
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except (ConnectionError, ssl.SSLError):
            pass


def ack_fields(ack: str) -> dict[str, list[list[str]]]:
    """Segments of an ACK by name: {"MSH": [fields], "MSA": [...], "ERR": [[...], ...]} (fields[n] is SEG-n, for
    MSH too)."""
    out: dict[str, list[list[str]]] = {}
    for line in ack.strip("\r").split("\r"):
        sep = line[3] if len(line) > 3 else "|"
        fields = line.split(sep)
        if fields[0] == "MSH":
            fields = ["MSH", sep, *fields[1:]]
        out.setdefault(fields[0], []).append(fields)
    return out
