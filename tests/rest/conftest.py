from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import pytest
from orderly_grid.v1 import grid_service_pb2_grpc

from server.grpc_server import GrpcServer
from server.health import HealthService
from server.metrics import ServiceMetrics
from tests.rest.backend import EchoGridService
from tests.rest.stack import rest_in_front_of


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
    async with rest_in_front_of(server) as (base_url, http):
        yield Stack(backend, store_check, metrics, base_url, http)
