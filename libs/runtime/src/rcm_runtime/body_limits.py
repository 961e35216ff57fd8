"""Request body limits per endpoint: a pure ASGI middleware (installed by rcm_runtime.app for every service) that
answers 413 {code: payload_too_large} when a body is larger than its endpoint takes, before it is read whole, and
422 {code: invalid_value} when a JSON body holds a NUL character.

Every endpoint takes up to RCM_MAX_BODY_BYTES; a route that takes files says so next to itself:

    @router.post("/remittances/x12", ...)
    @body_limit("max_file_body_bytes")      # the name of the setting that holds its limit
    async def post_x12_era(request: Request, ...): ...

A declared Content-Length over the limit is refused without reading a byte. A chunked (or undeclared) body is
counted as it streams: the read that passes the limit fails (the endpoint never gets the body) and the client gets
the 413, whatever the endpoint made of the failed read."""

from __future__ import annotations

import json
from typing import Any, Callable, TypeVar

from fastapi import HTTPException
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rcm_runtime.settings import ServiceSettings

LIMIT_ATTRIBUTE = "__rcm_body_limit_setting__"
F = TypeVar("F", bound=Callable[..., Any])


def body_limit(setting: str) -> Callable[[F], F]:
    """Mark an endpoint as taking bodies up to the value of `setting` (a field of the service's settings, so each
    limit is configurable by its RCM_* variable) instead of RCM_MAX_BODY_BYTES."""

    def mark(endpoint: F) -> F:
        setattr(endpoint, LIMIT_ATTRIBUTE, setting)
        return endpoint

    return mark


def document_limit(route: Any, settings: ServiceSettings) -> None:
    """The 413 in the OpenAPI of a route that takes a body, with its limit."""
    if route.methods & {"POST", "PUT", "PATCH"}:
        setting = getattr(route.endpoint, LIMIT_ATTRIBUTE, "max_body_bytes")
        limit = int(getattr(settings, setting))
        route.responses.setdefault(413, {"description": f"payload_too_large: the body is over {_size(limit)} "
                                                        f"(RCM_{setting.upper()})"})


class BodyRefused(HTTPException):
    """Raised from the endpoint's read of the body. An HTTPException, so FastAPI's body parsing lets it through
    (anything else becomes a 400) and no error is logged for it; the middleware answers it itself."""


class BodyTooLarge(BodyRefused):
    def __init__(self, limit: int) -> None:
        super().__init__(413, detail=too_large(limit))


class NulInBody(BodyRefused):
    """A NUL character, raw or as JSON's \\u0000: no text column, X12 or HL7 field can hold one, and a value sealed
    at rest (rcm_runtime.phi) would carry it on unseen. Refused whatever field it is in, never echoed."""

    def __init__(self) -> None:
        super().__init__(422, detail={"code": "invalid_value",
                                      "description": "the request body holds a NUL character, which no field takes"})


NUL_MARKS = (b"\x00", b"\\u0000")


def _json(content_type: bytes) -> bool:
    """JSON bodies are checked for NULs here: their values go straight into models and documents. Text file bodies
    (X12, HL7 v2, BAI2, CSV) are left to their readers, which name the line or segment and keep a rejected file
    with its reason (remittance's file record)."""
    media = content_type.split(b";", 1)[0].strip().lower()
    return media == b"application/json" or media.endswith(b"+json")


def too_large(limit: int) -> dict[str, str]:
    return {"code": "payload_too_large",
            "description": f"the request body is larger than this endpoint takes ({_size(limit)}, {limit} bytes)"}


def _size(n: int) -> str:
    return f"{n / (1 << 20):g} MiB" if n >= 1 << 20 else f"{n / 1024:g} KiB" if n >= 1024 else f"{n} bytes"


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, settings: ServiceSettings) -> None:
        self.app = app
        self.settings = settings
        self._overrides: list[tuple[Any, int]] | None = None  # (route, limit), built on the first request

    def limit_for(self, scope: Scope) -> int:
        if self._overrides is None:
            routes = getattr(scope.get("app"), "routes", [])
            self._overrides = [(r, int(getattr(self.settings, getattr(r.endpoint, LIMIT_ATTRIBUTE))))
                               for r in routes if hasattr(getattr(r, "endpoint", None), LIMIT_ATTRIBUTE)]
        for route, limit in self._overrides:
            if route.matches(scope)[0] == Match.FULL:
                return limit
        return self.settings.max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope)
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _send_refusal(send, BodyTooLarge(limit))
            return

        check_nul = _json(_header(scope, b"content-type"))
        received = 0
        refused: BodyRefused | None = None
        started = False
        tail = b""  # the last bytes of the previous chunk: a JSON-escaped NUL may be split between two

        async def counting_receive() -> Message:
            nonlocal received, refused, tail
            message = await receive()
            if message["type"] == "http.request":
                chunk = message.get("body", b"")
                received += len(chunk)
                if received > limit:
                    refused = BodyTooLarge(limit)
                    raise refused
                window = tail + chunk
                if check_nul and any(mark in window for mark in NUL_MARKS):
                    refused = NulInBody()
                    raise refused
                tail = window[-5:]
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if refused is not None and not started:
                return  # the endpoint's answer to the failed read is replaced by the refusal below
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if refused is None or started:
                raise
        if refused is not None and not started:
            await _send_refusal(send, refused)


def _header(scope: Scope, name: bytes) -> bytes:
    return next((value for key, value in scope.get("headers", ()) if key == name), b"")


def _content_length(scope: Scope) -> int | None:
    value = _header(scope, b"content-length")
    if not value:
        return None
    try:
        return int(value)
    except ValueError:
        return None  # the server rejects a malformed length; the streamed count still applies


async def _send_refusal(send: Send, refusal: BodyRefused) -> None:
    body = json.dumps(refusal.detail).encode()
    await send({"type": "http.response.start", "status": refusal.status_code,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})
