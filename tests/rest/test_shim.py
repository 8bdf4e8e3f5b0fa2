"""RestShim as its own process would run it: its own channel to a gRPC target, and shutdown."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest
from orderly_grid.v1 import grid_service_pb2_grpc

from server.grpc_server import GrpcServer
from server.health import HealthService
from server.metrics import ServiceMetrics
from server.rest import RestShim
from tests.rest.backend import EchoGridService
from tests.rest.test_grid_routes import AUTH_QUERY


@pytest.fixture
async def grpc_server() -> AsyncIterator[tuple[GrpcServer, EchoGridService]]:
    metrics = ServiceMetrics()
    backend = EchoGridService()
    server = GrpcServer(
        [(backend, grid_service_pb2_grpc.add_GridServiceServicer_to_server)],
        metrics=metrics,
        health=HealthService(metrics),
        readiness_interval_s=None,
    )
    await server.start()
    try:
        yield server, backend
    finally:
        await server.stop(None)


async def test_shim_with_its_own_channel_reaches_the_grpc_target(
    grpc_server: tuple[GrpcServer, EchoGridService],
) -> None:
    server, _ = grpc_server
    shim = RestShim(grpc_target=f"127.0.0.1:{server.port}")
    port = await shim.start()
    try:
        async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/health") as response:
            assert response.status == 200
            assert (await response.json())["data"]["status"] == "ok"
    finally:
        await shim.stop()


async def test_unreachable_grpc_target_is_503_unavailable() -> None:
    shim = RestShim(grpc_target="127.0.0.1:1", deadline_s=5.0)
    port = await shim.start()
    try:
        async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/health") as response:
            assert response.status == 503
            assert (await response.json())["error_code"] == "UNAVAILABLE"
    finally:
        await shim.stop()


async def test_stopping_the_shim_ends_open_streams_and_their_grpc_calls(
    grpc_server: tuple[GrpcServer, EchoGridService],
) -> None:
    server, backend = grpc_server
    shim = RestShim(grpc_target=f"127.0.0.1:{server.port}", shutdown_timeout_s=30.0)
    port = await shim.start()
    async with aiohttp.ClientSession() as http:
        response = await http.get(f"http://127.0.0.1:{port}/api/grid/fills/hold", params=AUTH_QUERY)
        await asyncio.wait_for(backend.stream_held.wait(), timeout=10)
        # Well under the 30 s shutdown timeout: the open stream is cancelled, not waited for.
        await asyncio.wait_for(shim.stop(), timeout=10)
        await asyncio.wait_for(backend.stream_cancelled.wait(), timeout=10)
        response.close()


def test_shim_needs_exactly_one_of_channel_and_target() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        RestShim()
