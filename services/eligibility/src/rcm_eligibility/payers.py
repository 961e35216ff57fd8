"""Payer connections behind one interface: an X12 270 out, the payer's 271 back."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Protocol

import httpx

from rcm_runtime.errors import DomainError, TransientError


class PayerRefused(DomainError):
    """The payer answered our inquiry with a client error: the claim goes to the front desk."""


class PayerConnection(Protocol):
    async def inquire(self, x12_270: str) -> str: ...


class HttpPayerConnection:
    """Real-time (CORE-style) HTTP exchange."""

    def __init__(self, url: str, api_key: str, client: httpx.AsyncClient) -> None:
        self.url = url.rstrip("/")
        self.api_key = api_key
        self.client = client

    async def inquire(self, x12_270: str) -> str:
        try:
            resp = await self.client.post(f"{self.url}/v1/eligibility", content=x12_270.encode(),
                                          headers={"content-type": "application/edi-x12", "x-api-key": self.api_key})
        except httpx.HTTPError as exc:
            raise TransientError(f"payer unreachable ({type(exc).__name__})") from None
        if resp.status_code >= 500 or resp.status_code == 429:
            raise TransientError(f"payer unavailable (HTTP {resp.status_code})")
        if resp.status_code >= 400:
            raise PayerRefused(f"the payer refused the inquiry (HTTP {resp.status_code})")
        return resp.text


class FileDropPayerConnection:
    """Batch exchange through directories (an SFTP-style mailbox): the 270 is written to `outbox` as
    <ISA13>.270; the payer (or clearinghouse) answers with <ISA13>.271 in `inbox`. Files are written
    under a temporary name and renamed, so neither side reads half a file."""

    def __init__(self, outbox: str | Path, inbox: str | Path, *, timeout_s: float = 60.0, poll_s: float = 0.2) -> None:
        self.outbox = Path(outbox)
        self.inbox = Path(inbox)
        self.timeout_s = timeout_s
        self.poll_s = poll_s

    async def inquire(self, x12_270: str) -> str:
        control = interchange_control_number(x12_270)
        self.outbox.mkdir(parents=True, exist_ok=True)
        tmp = self.outbox / f".{control}.270.part"
        tmp.write_text(x12_270)
        tmp.rename(self.outbox / f"{control}.270")
        answer = self.inbox / f"{control}.271"
        deadline = asyncio.get_running_loop().time() + self.timeout_s
        while not answer.exists():
            if asyncio.get_running_loop().time() > deadline:
                raise TransientError(f"no 271 for interchange {control} within {self.timeout_s:.0f}s")
            await asyncio.sleep(self.poll_s)
        text = answer.read_text()
        done = self.inbox / "processed"
        done.mkdir(exist_ok=True)
        answer.rename(done / answer.name)
        return text


def interchange_control_number(x12: str) -> str:
    """ISA13 of an interchange (fixed-width ISA: elements split by the character after 'ISA')."""
    text = x12.lstrip("\ufeff \r\n")
    if not text.startswith("ISA") or len(text) < 106:
        raise ValueError("not an X12 interchange")
    return text.split(text[3])[13].strip()
