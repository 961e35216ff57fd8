"""Payer connections behind one interface: an X12 270 out, the payer's 271 back."""

from __future__ import annotations

from typing import Protocol

import httpx

from rcm_runtime.errors import TransientError


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
        resp.raise_for_status()
        return resp.text
