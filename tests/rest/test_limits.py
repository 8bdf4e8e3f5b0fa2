"""Issue 11, findings 6 and 8, at the REST shim over real loopback sockets: the address the shim
forwards is the one it saw connect, whatever the client sends; a request head must arrive within
the header timeout (slowloris), a body within the body timeout; a body over the size limit is
refused with 413 before it is read when Content-Length says so, and cut off by a streaming cap
when there is none. Raw sockets, so that the client can misbehave exactly as an attacker would."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from orderly_grid.v1 import grid_service_pb2_grpc

from server.grpc_server import GrpcServer
from server.health import HealthService
from server.metrics import ServiceMetrics
from tests.rest.backend import KNOWN_SESSION, EchoGridService
from tests.rest.stack import rest_in_front_of
from tests.rest.test_grid_routes import AUTH_QUERY

HEADER_TIMEOUT_S = 0.5
BODY_TIMEOUT_S = 0.5
MAX_BODY_BYTES = 4096
# Long enough for the limits above to act, far shorter than aiohttp's own defaults (an hour of
# keep-alive, ten seconds of lingering).
PROMPTLY_S = 3.0
PREVIEW_HEAD = (
    "POST /api/grid/preview HTTP/1.1\r\nHost: shim\r\nContent-Type: application/json\r\n{extra}\r\n"
)


@dataclass
class Limited:
    backend: EchoGridService
    host: str
    port: int
    http: aiohttp.ClientSession

    def url(self, path: str) -> str:
        return f"http://{self.host}:{self.port}{path}"


@pytest.fixture
async def limited() -> AsyncIterator[Limited]:
    backend, metrics = EchoGridService(), ServiceMetrics()
    server = GrpcServer(
        [(backend, grid_service_pb2_grpc.add_GridServiceServicer_to_server)],
        metrics=metrics,
        health=HealthService(metrics),
        readiness_interval_s=None,
    )
    async with rest_in_front_of(
        server,
        header_timeout_s=HEADER_TIMEOUT_S,
        body_timeout_s=BODY_TIMEOUT_S,
        max_body_bytes=MAX_BODY_BYTES,
        proxy_token="the-shim-secret",
    ) as (base_url, http):
        host, port = base_url.removeprefix("http://").split(":")
        yield Limited(backend, host, int(port), http)


@contextlib.asynccontextmanager
async def raw_connection(
    limited: Limited,
) -> AsyncIterator[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    reader, writer = await asyncio.open_connection(limited.host, limited.port)
    try:
        yield reader, writer
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


async def read_until_closed(reader: asyncio.StreamReader, timeout_s: float = PROMPTLY_S) -> bytes:
    """Everything the server sends until it closes the connection; fails if it keeps it open."""
    received = b""
    async with asyncio.timeout(timeout_s):
        while True:
            try:
                chunk = await reader.read(65536)
            except ConnectionResetError:
                return received
            if not chunk:
                return received
            received += chunk


def parse_response(raw: bytes) -> tuple[int, dict[str, str], dict[str, Any]]:
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode().split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in header_lines)}
    return int(status_line.split()[1]), headers, json.loads(body) if body else {}


async def assert_still_serving(limited: Limited) -> None:
    async with limited.http.get(limited.url("/health")) as response:
        assert response.status == 200


# --- finding 6: the forwarded address -------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Forwarded-For": "1.1.1.1\t2", "Grpc-Metadata-X-Forwarded-For": "9.9.9.9"},
        {"X-Forwarded-For": "1.1.1.1, é", "Grpc-Metadata-X-Forwarded-For": "9.9.9.9"},
        {"X-Forwarded-For": "8.8.8.8", "Grpc-Metadata-X-Forwarded-For": "9.9.9.9"},
        {"Grpc-Metadata-X-Orderly-Grid-Proxy": "guess", "Grpc-Metadata-X-Forwarded-For": "9.9.9.9"},
    ],
)
async def test_the_shim_forwards_the_address_it_saw_and_nothing_the_client_claims(
    limited: Limited, headers: dict[str, str]
) -> None:
    url = limited.url(f"/api/grid/status/{KNOWN_SESSION}")
    async with limited.http.get(url, params=AUTH_QUERY, headers=headers) as response:
        assert response.status == 200, await response.text()
    items = limited.backend.metadata_items
    assert [v for k, v in items if k == "x-forwarded-for"] == ["127.0.0.1"]
    assert [v for k, v in items if k == "x-orderly-grid-proxy"] == ["the-shim-secret"]


# --- finding 8: slow clients ----------------------------------------------------------------------


async def test_connections_that_do_not_finish_their_request_head_in_time_are_closed(
    limited: Limited,
) -> None:
    async def slowloris() -> float:
        async with raw_connection(limited) as (reader, writer):
            started = time.monotonic()
            writer.write(b"GET /health HTTP/1.1\r\nHost: shim\r\n")

            async def trickle() -> None:
                with contextlib.suppress(ConnectionError):
                    for i in range(100):
                        await asyncio.sleep(0.05)
                        writer.write(f"X-Slow-{i}: y\r\n".encode())
                        await writer.drain()

            trickling = asyncio.create_task(trickle())
            try:
                assert await read_until_closed(reader) == b""  # closed, nothing answered
            finally:
                trickling.cancel()
            return time.monotonic() - started

    async def silent() -> float:
        async with raw_connection(limited) as (reader, _):
            started = time.monotonic()
            assert await read_until_closed(reader) == b""
            return time.monotonic() - started

    held = [asyncio.create_task(slowloris()) for _ in range(4)] + [asyncio.create_task(silent())]
    await asyncio.sleep(0.1)
    await assert_still_serving(limited)  # a well-behaved client is served meanwhile
    for seconds in await asyncio.gather(*held):
        assert HEADER_TIMEOUT_S * 0.8 <= seconds < PROMPTLY_S


async def test_the_header_timeout_does_not_cut_a_running_stream_or_a_prompt_keep_alive(
    limited: Limited,
) -> None:
    response = await limited.http.get(limited.url("/api/grid/fills/hold"), params=AUTH_QUERY)
    try:
        first = json.loads(await asyncio.wait_for(response.content.readline(), PROMPTLY_S))
        assert first["fill"]["seq"] == "1"
        await asyncio.sleep(HEADER_TIMEOUT_S * 3)
        assert not limited.backend.stream_cancelled.is_set()
    finally:
        response.close()
    for _ in range(3):  # requests on one kept-alive connection, each well within the timeout
        await assert_still_serving(limited)
        await asyncio.sleep(HEADER_TIMEOUT_S / 4)


async def test_a_body_that_does_not_arrive_in_time_is_408(limited: Limited) -> None:
    async with raw_connection(limited) as (reader, writer):
        writer.write(PREVIEW_HEAD.format(extra="Content-Length: 100\r\n").encode() + b'{"ticker":')
        started = time.monotonic()
        status, headers, body = parse_response(await read_until_closed(reader))
        assert BODY_TIMEOUT_S * 0.8 <= time.monotonic() - started < PROMPTLY_S
    assert status == 408
    assert headers["connection"].lower() == "close"
    assert body["success"] is False
    assert body["error_code"] == "REQUEST_TIMEOUT"
    assert "0.5 s" in body["message"]
    assert "PreviewGrid" not in limited.backend.requests
    await assert_still_serving(limited)


# --- finding 8: large bodies ----------------------------------------------------------------------


async def test_a_declared_content_length_over_the_limit_is_413_before_any_body_is_read(
    limited: Limited,
) -> None:
    async with raw_connection(limited) as (reader, writer):
        # 200 MB announced and none of it sent: only a refusal that reads nothing can answer.
        writer.write(PREVIEW_HEAD.format(extra="Content-Length: 200000000\r\n").encode())
        status, headers, body = parse_response(await read_until_closed(reader))
    assert status == 413
    assert headers["connection"].lower() == "close"
    assert body["error_code"] == "PAYLOAD_TOO_LARGE"
    assert body["details"] == {"max_body_bytes": MAX_BODY_BYTES, "content_length": 200_000_000}
    assert f"at most {MAX_BODY_BYTES} bytes" in body["message"]
    assert "PreviewGrid" not in limited.backend.requests
    await assert_still_serving(limited)


async def test_expect_100_continue_is_answered_413_when_the_body_would_be_too_large(
    limited: Limited,
) -> None:
    async with raw_connection(limited) as (reader, writer):
        head = "Content-Length: 200000000\r\nExpect: 100-continue\r\n"
        writer.write(PREVIEW_HEAD.format(extra=head).encode())
        raw = await read_until_closed(reader)
    assert not raw.startswith(b"HTTP/1.1 100"), "the client must not be invited to send the body"
    status, headers, body = parse_response(raw)
    assert (status, headers["connection"].lower(), body["error_code"]) == (413, "close", "PAYLOAD_TOO_LARGE")


async def test_expect_100_continue_within_the_limit_continues(limited: Limited) -> None:
    data = json.dumps({"ticker": "BTCUSDT", "lower_bound": "1"}).encode()
    async with raw_connection(limited) as (reader, writer):
        head = f"Content-Length: {len(data)}\r\nExpect: 100-continue\r\nConnection: close\r\n"
        writer.write(PREVIEW_HEAD.format(extra=head).encode())
        assert (
            await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), PROMPTLY_S)
            == b"HTTP/1.1 100 Continue\r\n\r\n"
        )
        writer.write(data)
        status, _, body = parse_response(await read_until_closed(reader))
    assert status == 200, body
    assert limited.backend.requests["PreviewGrid"].config.ticker == "BTCUSDT"


async def test_a_chunked_body_over_the_limit_is_cut_off_with_413_and_the_connection_closed(
    limited: Limited,
) -> None:
    async with raw_connection(limited) as (reader, writer):
        writer.write(PREVIEW_HEAD.format(extra="Transfer-Encoding: chunked\r\n").encode())
        chunk = b" " * MAX_BODY_BYTES
        writer.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
        writer.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
        # ... and no final chunk: the server must not wait for (or read) the rest.
        status, headers, body = parse_response(await read_until_closed(reader))
    assert status == 413
    assert headers["connection"].lower() == "close"
    assert body["error_code"] == "PAYLOAD_TOO_LARGE"
    assert body["details"] == {"max_body_bytes": MAX_BODY_BYTES}
    assert "PreviewGrid" not in limited.backend.requests
    await assert_still_serving(limited)


async def test_a_body_within_the_limit_is_served(limited: Limited) -> None:
    data = json.dumps({"ticker": "BTCUSDT", "lower_bound": "1"}).encode()
    data += b" " * (MAX_BODY_BYTES - len(data))  # exactly at the limit
    async with limited.http.post(
        limited.url("/api/grid/preview"), data=data, headers={"Content-Type": "application/json"}
    ) as response:
        assert response.status == 200, await response.text()
    assert limited.backend.requests["PreviewGrid"].config.ticker == "BTCUSDT"
