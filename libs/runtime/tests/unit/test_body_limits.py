"""rcm_runtime.body_limits on a small app (no database): a declared length over the limit is refused unread, a
streamed body is cut at the limit (the test process never holds it), and routes declare their own limit."""

from __future__ import annotations

import tracemalloc

import httpx
import pytest
from fastapi import FastAPI, Request
from pydantic import BaseModel

from rcm_runtime.body_limits import BodyLimitMiddleware, body_limit
from rcm_runtime.settings import ServiceSettings

MiB = 1 << 20
CHUNK = 64 * 1024


class Item(BaseModel):
    text: str


def small_app(**limits: int) -> tuple[FastAPI, list[int]]:
    """An app with a JSON endpoint (FastAPI reads the body), a raw one (the endpoint reads it) and a file route;
    `reads` records how many bytes the raw endpoints got."""
    settings = ServiceSettings(service_name="t", db_schema="t", **limits)
    app = FastAPI()
    reads: list[int] = []

    @app.post("/json")
    async def json_body(item: Item) -> dict:
        return {"length": len(item.text)}

    @app.post("/raw")
    async def raw(request: Request) -> dict:
        body = await request.body()
        reads.append(len(body))
        return {"length": len(body)}

    @app.post("/files/{name}")
    @body_limit("max_file_body_bytes")
    async def file(name: str, request: Request) -> dict:
        body = await request.body()
        reads.append(len(body))
        return {"name": name, "length": len(body)}

    app.add_middleware(BodyLimitMiddleware, settings=settings)
    return app, reads


def client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
                             base_url="http://limits.test")


async def stream(total: int, produced: list[int] | None = None):
    """`total` bytes in 64 KiB chunks, made as they are sent (no Content-Length: chunked)."""
    sent = 0
    while sent < total:
        n = min(CHUNK, total - sent)
        sent += n
        if produced is not None:
            produced.append(n)
        yield b"x" * n


def assert_413(resp: httpx.Response, limit: int) -> None:
    assert resp.status_code == 413, resp.text
    body = resp.json()
    assert body["code"] == "payload_too_large"
    assert f"{limit} bytes" in body["description"]


async def test_a_declared_length_over_the_limit_is_refused_before_a_byte_is_read():
    app, reads = small_app(max_body_bytes=MiB)
    produced: list[int] = []
    async with client(app) as c:
        resp = await c.post("/raw", content=stream(50 * MiB, produced), headers={"content-length": str(50 * MiB)})
    assert_413(resp, MiB)
    assert reads == [] and produced == []  # the endpoint never ran; the client's stream was never pulled


@pytest.mark.parametrize("path", ["/raw", "/json"])
async def test_a_chunked_body_is_cut_at_the_limit_and_never_held_whole(path):
    app, reads = small_app(max_body_bytes=MiB)
    produced: list[int] = []
    tracemalloc.start()
    try:
        async with client(app) as c:
            resp = await c.post(path, content=stream(50 * MiB, produced), headers={"content-type": "application/json"})
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert_413(resp, MiB)
    assert reads == []  # the endpoint never got a body
    # reading stopped at the limit: a little over 1 MiB of the 50 pulled from the client, and the process's peak
    # stays a few MiB (the body, once, plus the app's own allocations), nowhere near 50
    assert MiB < sum(produced) <= MiB + CHUNK
    assert peak < 8 * MiB, f"peak {peak / MiB:.1f} MiB"


async def test_bodies_within_the_limit_reach_the_endpoint_whole():
    app, reads = small_app(max_body_bytes=MiB)
    async with client(app) as c:
        exact = await c.post("/raw", content=stream(MiB))  # chunked, exactly the limit
        declared = await c.post("/raw", content=b"y" * 1000)
        parsed = await c.post("/json", json={"text": "z" * 1000})
    assert exact.json() == {"length": MiB} and declared.json() == {"length": 1000}
    assert parsed.status_code == 200 and parsed.json() == {"length": 1000}
    assert reads == [MiB, 1000]


async def test_a_route_declares_its_own_limit_by_the_setting_that_holds_it():
    app, reads = small_app(max_body_bytes=1024, max_file_body_bytes=4 * MiB)
    async with client(app) as c:
        file_ok = await c.post("/files/era.835", content=stream(3 * MiB))
        file_big = await c.post("/files/era.835", content=stream(5 * MiB))
        file_declared_big = await c.post("/files/era.835", content=b"x" * (4 * MiB + 1))
        other = await c.post("/raw", content=b"x" * 2048)
    assert file_ok.status_code == 200 and file_ok.json() == {"name": "era.835", "length": 3 * MiB}
    assert_413(file_big, 4 * MiB)
    assert_413(file_declared_big, 4 * MiB)
    assert_413(other, 1024)
    assert reads == [3 * MiB]


async def test_requests_without_a_body_and_other_scopes_pass():
    app, _ = small_app(max_body_bytes=16)

    @app.get("/ping")
    async def ping() -> dict:
        return {"ok": True}

    async with client(app) as c:
        assert (await c.get("/ping")).json() == {"ok": True}
        assert (await c.get("/missing")).status_code == 404


async def _chunks(*parts: bytes):
    for part in parts:
        yield part


@pytest.mark.parametrize("path,content,content_type", [
    ("/json", '{"text": "Smi\\u0000th"}'.encode(), "application/json"),  # JSON's escape: a real NUL for the endpoint
    ("/raw", b'{"text": "Smi\x00th"}', "application/fhir+json; charset=utf-8"),  # a raw NUL, a FHIR Bundle
])
async def test_a_json_body_holding_a_nul_character_is_refused_422_without_echoing_it(path, content, content_type):
    app, reads = small_app()
    async with client(app) as c:
        r = await c.post(path, content=content, headers={"content-type": content_type})
    assert r.status_code == 422 and r.json()["code"] == "invalid_value"
    assert "Smi" not in r.text and reads == []


async def test_an_escaped_nul_split_between_two_chunks_is_found():
    app, reads = small_app()
    async with client(app) as c:
        r = await c.post("/raw", content=_chunks(b'{"text": "Smi\\u0', b'000th"}'),
                         headers={"content-type": "application/json"})
    assert r.status_code == 422 and reads == []
    async with client(app) as c:  # a backslash-u followed by other digits is an ordinary escape
        ok = await c.post("/json", content=_chunks(b'{"text": "Smi\\u0', b'041th"}'),
                          headers={"content-type": "application/json"})
    assert ok.status_code == 200 and ok.json() == {"length": len("SmiAth")}


@pytest.mark.parametrize("content_type", ["application/edi-x12", "text/csv", "x-application/hl7-v2+er7"])
async def test_a_text_file_body_is_left_to_its_reader_which_names_the_line_and_keeps_the_file(content_type):
    app, reads = small_app()
    async with client(app) as c:
        r = await c.post("/raw", content=b"ISA*00*~IEA*1*000000001~\x00", headers={"content-type": content_type})
    assert r.status_code == 200 and reads == [len(b"ISA*00*~IEA*1*000000001~") + 1]
