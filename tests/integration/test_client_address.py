"""Issue 11, finding 6: the address a call is counted against for the per-address limits is never
the client's choice.

The REST shim always sends the address it saw connect and never forwards a client's own
x-forwarded-for; the gRPC server believes a forwarded address only from the shim of its own process
(recognised by a per-process secret) and from the proxies listed in GRID_TRUSTED_PROXIES, never
from any loopback client. The clients here connect from distinct loopback addresses (127.0.0.2,
127.0.0.3) so that who is counted as whom is visible."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
import grpc

from server.rest import RestShim
from server.settings import Settings
from server.simulator import RunningSimulator
from tests.integration.harness import rpc_error, running_app, start_request, venue_orders
from tests.integration.rest_signing import start_body

# Three StartGrid calls per address and minute; the wallet limit is out of the way.
THREE_PER_ADDRESS = replace(Settings(), peer_rate_limit_per_min=3, user_rate_limit_per_min=1000)
SPOOFED_HEADERS = [
    {"X-Forwarded-For": "1.1.1.1\t2", "Grpc-Metadata-X-Forwarded-For": "9.9.9.9"},
    {"X-Forwarded-For": "1.1.1.1, é", "Grpc-Metadata-X-Forwarded-For": "9.9.9.9"},
    {"X-Forwarded-For": "8.8.8.8", "Grpc-Metadata-X-Forwarded-For": "9.9.9.9"},
    {"Grpc-Metadata-X-Forwarded-For": "9.9.9.9", "Grpc-Metadata-X-Orderly-Grid-Proxy": "guess"},
]


def pinned_clock() -> Callable[[], int]:
    """The limits use fixed one-minute windows: pin the service's auth clock so that no test
    straddles a window boundary."""
    start_ms = int(time.time() * 1000)
    return lambda: start_ms


@contextlib.asynccontextmanager
async def http_from(address: str) -> AsyncIterator[aiohttp.ClientSession]:
    """An HTTP client whose connections come from `address` (any 127.x.y.z is loopback on Linux)."""
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(local_addr=(address, 0))) as http:
        yield http


async def post_start(
    http: aiohttp.ClientSession, rest_url: str, headers: dict[str, str] | None = None, **overrides: Any
) -> int:
    async with http.post(f"{rest_url}/api/grid/start", json=start_body(**overrides), headers=headers) as r:
        await r.read()
        return r.status


async def exhaust(http: aiohttp.ClientSession, rest_url: str) -> None:
    """Spend the address's three StartGrid calls (refused for their parameters, but counted)."""
    for _ in range(3):
        assert await post_start(http, rest_url, grid_levels=1) == 400
    assert await post_start(http, rest_url) == 429


async def test_a_rest_client_cannot_choose_the_address_it_is_counted_as(
    sim: RunningSimulator, tmp_path: Path
) -> None:
    async with running_app(
        sim, tmp_path, with_rest=True, settings=THREE_PER_ADDRESS, auth_clock_ms=pinned_clock()
    ) as server:
        rest_url = server.app.rest_url
        async with http_from("127.0.0.2") as http:
            await exhaust(http, rest_url)
            for headers in SPOOFED_HEADERS:
                assert await post_start(http, rest_url, headers) == 429, headers
        assert venue_orders(sim) == []
        # The in-process shim still tells its clients apart: another address has its own budget,
        # and so does the gRPC client on 127.0.0.1.
        async with http_from("127.0.0.3") as http:
            assert await post_start(http, rest_url, grid_levels=1) == 400
        code, _ = await rpc_error(server.stub.StartGrid(start_request(grid_levels=1)))
        assert code == grpc.StatusCode.INVALID_ARGUMENT


async def test_a_loopback_grpc_client_is_not_believed_about_its_address(
    sim: RunningSimulator, tmp_path: Path
) -> None:
    async with running_app(sim, tmp_path, settings=THREE_PER_ADDRESS, auth_clock_ms=pinned_clock()) as server:
        for i in range(3):
            metadata = (("x-forwarded-for", f"9.9.9.{i}"),)
            code, _ = await rpc_error(server.stub.StartGrid(start_request(grid_levels=1), metadata=metadata))
            assert code == grpc.StatusCode.INVALID_ARGUMENT
        for metadata in ((("x-forwarded-for", "8.8.8.8"),), (("x-orderly-grid-proxy", "guess"),)):
            code, error = await rpc_error(server.stub.StartGrid(start_request(), metadata=metadata))
            assert (code, error.reason) == (grpc.StatusCode.RESOURCE_EXHAUSTED, "RATE_LIMIT_EXCEEDED")
        assert venue_orders(sim) == []


@contextlib.asynccontextmanager
async def separate_shim(grpc_target: str) -> AsyncIterator[str]:
    """The REST shim as `orderly-grid rest --grpc-target` runs it: its own channel, no secret."""
    shim = RestShim(grpc_target=grpc_target)
    port = await shim.start("127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await shim.stop()


async def test_a_separately_run_shim_is_believed_only_when_listed_as_a_trusted_proxy(
    sim: RunningSimulator, tmp_path: Path
) -> None:
    trusted = replace(THREE_PER_ADDRESS, trusted_proxies=("127.0.0.1",))
    async with (
        running_app(sim, tmp_path, settings=trusted, auth_clock_ms=pinned_clock()) as server,
        separate_shim(server.app.grpc_target) as rest_url,
    ):
        async with http_from("127.0.0.2") as http:
            await exhaust(http, rest_url)
            for headers in SPOOFED_HEADERS:
                assert await post_start(http, rest_url, headers) == 429, headers
        async with http_from("127.0.0.3") as http:  # counted as itself: its own budget
            assert await post_start(http, rest_url, grid_levels=1) == 400


async def test_an_unlisted_separate_shim_is_counted_as_itself(sim: RunningSimulator, tmp_path: Path) -> None:
    async with (
        running_app(sim, tmp_path, settings=THREE_PER_ADDRESS, auth_clock_ms=pinned_clock()) as server,
        separate_shim(server.app.grpc_target) as rest_url,
    ):
        async with http_from("127.0.0.2") as http:
            await exhaust(http, rest_url)
        # Not a trusted proxy: its forwarded address is ignored, every client shares its budget.
        async with http_from("127.0.0.3") as http:
            assert await post_start(http, rest_url, grid_levels=1) == 429
