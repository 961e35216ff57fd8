"""Clearinghouse adapters behind one interface. HTTP API today; file-drop (SFTP-style) joins it."""

from __future__ import annotations

from typing import Protocol

import httpx

from rcm_contracts.wire import Interchange, InterchangeAck


class ClearinghouseUnavailable(Exception):
    pass


class ClearinghouseAdapter(Protocol):
    name: str

    async def submit(self, interchange: Interchange) -> InterchangeAck: ...


class HttpClearinghouse:
    def __init__(self, name: str, base_url: str, api_key: str, client: httpx.AsyncClient) -> None:
        self.name = name
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.client = client

    async def submit(self, interchange: Interchange) -> InterchangeAck:
        try:
            resp = await self.client.post(f"{self.base_url}/v1/interchanges", content=interchange.model_dump_json(),
                                          headers={"content-type": "application/json", "x-api-key": self.api_key})
        except httpx.HTTPError as exc:
            raise ClearinghouseUnavailable(type(exc).__name__) from None
        if resp.status_code >= 500:
            raise ClearinghouseUnavailable(f"HTTP {resp.status_code}")
        resp.raise_for_status()
        return InterchangeAck.model_validate_json(resp.content)
