"""Clearinghouse adapters behind one interface: X12 files out (837P), X12 files back (999, 277CA).

Clearinghouses exchange files, whatever the transport: an SFTP-style mailbox (file drop) or an HTTP
API. Both adapters speak the same three verbs, so the dispatcher and the acknowledgment poller never
know which one they use:

- send(file): hand an interchange over (idempotent on the file name = the ISA13 control number);
- receive(limit): the response files waiting for us, oldest first;
- done(file): we processed (or quarantined) it: the clearinghouse may forget it.

A transport failure raises ClearinghouseUnavailable: the caller keeps the claims queued and retries.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import httpx


class ClearinghouseUnavailable(Exception):
    """The clearinghouse cannot be reached now; nothing was lost, try again later."""


@dataclass(frozen=True)
class OutboundFile:
    name: str  # "<ISA13>.837": unique, so a re-send overwrites instead of duplicating
    content: str


@dataclass(frozen=True)
class InboundFile:
    name: str
    content: str
    handle: str  # what done() needs: a path or a server-side id


class ClearinghouseAdapter(Protocol):
    name: str

    async def send(self, file: OutboundFile) -> None: ...

    async def receive(self, limit: int = 100) -> list[InboundFile]: ...

    async def done(self, file: InboundFile) -> None: ...


class FileDropClearinghouse:
    """SFTP-style mailbox: we write to <root>/to-clearinghouse, read from <root>/from-clearinghouse and
    move what we processed to <root>/archive. Writes are atomic (temp file + rename) so the other side
    never picks up half a file; files whose name starts with '.' are in flight and skipped."""

    def __init__(self, name: str, root: str | Path) -> None:
        self.name = name
        self.root = Path(root)
        self.outbox = self.root / "to-clearinghouse"
        self.inbox = self.root / "from-clearinghouse"
        self.archive = self.root / "archive"
        for d in (self.outbox, self.inbox, self.archive):
            d.mkdir(parents=True, exist_ok=True)

    async def send(self, file: OutboundFile) -> None:
        await asyncio.to_thread(_atomic_write, self.outbox / _safe_name(file.name), file.content)

    async def receive(self, limit: int = 100) -> list[InboundFile]:
        return await asyncio.to_thread(self._receive, limit)

    def _receive(self, limit: int) -> list[InboundFile]:
        try:
            paths = sorted((p for p in self.inbox.iterdir() if p.is_file() and not p.name.startswith(".")),
                           key=lambda p: (p.stat().st_mtime, p.name))[:limit]
        except OSError as exc:
            raise ClearinghouseUnavailable(type(exc).__name__) from None
        files = []
        for p in paths:
            try:
                files.append(InboundFile(p.name, p.read_text(encoding="utf-8", errors="replace"), str(p)))
            except FileNotFoundError:
                continue  # another replica took it
        return files

    async def done(self, file: InboundFile) -> None:
        def move() -> None:
            try:
                os.replace(file.handle, self.archive / Path(file.handle).name)
            except FileNotFoundError:
                pass  # another replica archived it first
        await asyncio.to_thread(move)


class HttpClearinghouse:
    """A clearinghouse's REST API: POST /v1/x12/inbound (our 837s), GET /v1/x12/outbound (their
    responses), DELETE /v1/x12/outbound/{id} (acknowledge a response)."""

    def __init__(self, name: str, base_url: str, api_key: str, client: httpx.AsyncClient) -> None:
        self.name = name
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.client = client

    def _headers(self, **extra: str) -> dict[str, str]:
        return {"x-api-key": self.api_key, **extra}

    async def _call(self, method: str, path: str, **kwargs) -> httpx.Response:
        try:
            resp = await self.client.request(method, f"{self.base_url}{path}", **kwargs)
        except httpx.HTTPError as exc:
            raise ClearinghouseUnavailable(type(exc).__name__) from None
        if resp.status_code >= 500 or resp.status_code == 429:
            raise ClearinghouseUnavailable(f"HTTP {resp.status_code}")
        return resp

    async def send(self, file: OutboundFile) -> None:
        resp = await self._call("POST", "/v1/x12/inbound", content=file.content.encode("utf-8"),
                                params={"name": file.name},
                                headers=self._headers(**{"content-type": "application/edi-x12"}))
        if resp.status_code not in (200, 201, 202):
            # a 4xx means the clearinghouse refused the file itself (auth, size): retrying will not help
            raise ClearinghouseRefused(f"HTTP {resp.status_code}")

    async def receive(self, limit: int = 100) -> list[InboundFile]:
        resp = await self._call("GET", "/v1/x12/outbound", params={"limit": limit}, headers=self._headers())
        if resp.status_code != 200:
            raise ClearinghouseUnavailable(f"HTTP {resp.status_code}")
        return [InboundFile(f["name"], f["content"], str(f["id"])) for f in resp.json()["files"]]

    async def done(self, file: InboundFile) -> None:
        resp = await self._call("DELETE", f"/v1/x12/outbound/{file.handle}", headers=self._headers())
        if resp.status_code not in (200, 204, 404):  # 404: already acknowledged
            raise ClearinghouseUnavailable(f"HTTP {resp.status_code}")


class ClearinghouseRefused(ClearinghouseUnavailable):
    """The clearinghouse refused the file (4xx): an operator must look; the claims stay queued."""


def _safe_name(name: str) -> str:
    base = Path(name).name
    if not base or base.startswith("."):
        raise ValueError("file name must be a plain, visible name")
    return base


def _atomic_write(path: Path, content: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(content, encoding="utf-8")
    os.replace(tmp, path)
