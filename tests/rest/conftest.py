from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import grpc
import pytest
from orderly_grid.v1 import grid_service_pb2_grpc

from server.grpc_server import GrpcServer
from server.health import HealthService
from server.metrics import ServiceMetrics
from server.rest import RestShim
from tests.rest.backend import EchoGridService


@dataclass
class StoreCheck:
    ok: bool = True

    async def __call__(self) -> tuple[bool, str]:
        return (True, "sqlite data/grid.db") if self.ok else (False, "store unreachable")


@dataclass
class Stack:
    """The real gRPC server with the test backend, and the real REST shim in front of it."""

    backend: EchoGridService
    store_check: StoreCheck
    metrics: ServiceMetrics
    base_url: str
    http: aiohttp.ClientSession

    def url(self, path: str) -> str:
        return self.base_url + path


@pytest.fixture
async def stack() -> AsyncIterator[Stack]:
    metrics = ServiceMetrics()
    backend = EchoGridService()
    health = HealthService(metrics, version="0.1.0-test")
    store_check = StoreCheck()
    health.add_check("store", store_check)
    server = GrpcServer(
        [(backend, grid_service_pb2_grpc.add_GridServiceServicer_to_server)],
        metrics=metrics,
        health=health,
        readiness_interval_s=None,
    )
    grpc_port = await server.start("127.0.0.1", 0)
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{grpc_port}")
    shim = RestShim(channel)
    rest_port = await shim.start("127.0.0.1", 0)
    http = aiohttp.ClientSession()
    try:
        yield Stack(backend, store_check, metrics, f"http://127.0.0.1:{rest_port}", http)
    finally:
        await http.close()
        await shim.stop()
        await channel.close(None)
        await server.stop(None)
