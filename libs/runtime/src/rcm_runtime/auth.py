"""API-key authentication: each key belongs to exactly one tenant, and every query filters on it."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request


def require_tenant(request: Request) -> str:
    keys: dict[str, str] = request.app.state.runtime.api_keys
    token = request.headers.get("x-api-key")
    auth = request.headers.get("authorization", "")
    if not token and auth.lower().startswith("bearer "):
        token = auth[7:].strip()
    if not token:
        raise HTTPException(401, detail={"code": "unauthenticated", "description": "missing API key (X-API-Key or Authorization: Bearer)"})
    tenant = keys.get(token)
    if tenant is None:
        raise HTTPException(401, detail={"code": "unauthenticated", "description": "unknown API key"})
    return tenant


TenantId = Annotated[str, Depends(require_tenant)]
