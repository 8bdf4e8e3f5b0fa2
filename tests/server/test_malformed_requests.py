"""Issue 11, finding 5: bytes that are not the method's protobuf message answer INVALID_ARGUMENT with
nothing of the server's internals in the text, log one JSON line (no traceback) and are counted."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2
from orderly_grid.v1 import grid_service_pb2 as grid_pb
from orderly_grid.v1 import grid_service_pb2_grpc as grid_grpc

from server.api.errors import ErrorReason
from server.api.status import error_from_rpc_error
from server.grpc_server import GrpcServer
from server.health import HealthService
from server.metrics import ServiceMetrics
from tests.log_capture import captured_logs

# A length-delimited field whose length runs past the end, and a truncated varint: never a message.
MALFORMED = [b"\x0a\xff\xff\xff\x0f", b"\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", b"\x0a\x02\xff\xfe"]


class EchoGridService(grid_grpc.GridServiceServicer):
    async def GetGrid(self, request: grid_pb.GetGridRequest, context: Any) -> grid_pb.GetGridResponse:
        return grid_pb.GetGridResponse()

    async def WatchFills(
        self, request: grid_pb.WatchFillsRequest, context: Any
    ) -> AsyncIterator[grid_pb.WatchFillsResponse]:
        yield grid_pb.WatchFillsResponse(replay_complete=grid_pb.ReplayComplete(last_seq=1))


@pytest.fixture
async def served() -> AsyncIterator[tuple[grpc.aio.Channel, ServiceMetrics]]:
    metrics = ServiceMetrics()
    server = GrpcServer(
        [(EchoGridService(), grid_grpc.add_GridServiceServicer_to_server)],  # type: ignore[abstract]
        metrics=metrics,
        health=HealthService(metrics),
        readiness_interval_s=None,
    )
    port = await server.start("127.0.0.1", 0)
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    try:
        yield channel, metrics
    finally:
        await channel.close(None)
        await server.stop(None)


def _metric(metrics: ServiceMetrics, method: str) -> float:
    value = metrics.registry.get_sample_value("orderly_grid_malformed_requests_total", {"method": method})
    return value or 0.0


def _assert_invalid_argument(raised: grpc.aio.AioRpcError) -> None:
    assert raised.code() == grpc.StatusCode.INVALID_ARGUMENT, raised
    details = raised.details() or ""
    for internal in ("DecodeError", "class", "Error parsing", "orderly_grid.v1"):
        assert internal not in details
    assert error_from_rpc_error(raised).reason == ErrorReason.INVALID_ARGUMENT


@pytest.mark.parametrize("raw", MALFORMED)
async def test_a_malformed_unary_request_is_invalid_argument_logged_once_and_counted(
    served: tuple[grpc.aio.Channel, ServiceMetrics], raw: bytes
) -> None:
    channel, metrics = served
    method = "/orderly_grid.v1.GridService/GetGrid"
    call = channel.unary_unary(method)  # no serializer: the bytes go out as they are
    with captured_logs("INFO") as logs:
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await call(raw)
        _assert_invalid_argument(raised.value)
    lines = [line for line in logs.getvalue().splitlines() if line.strip()]
    assert len(lines) == 1, lines
    event = json.loads(lines[0])
    assert event["event"] == "rpc_request_malformed"
    assert event["rpc"] == method
    assert "Traceback" not in logs.getvalue()
    assert _metric(metrics, method) == 1.0
    body, _ = metrics.render()
    assert f'code="INVALID_ARGUMENT",method="{method}"}} 1.0'.encode() in body
    # The server goes on answering well-formed requests.
    assert (
        await grid_grpc.GridServiceStub(channel).GetGrid(grid_pb.GetGridRequest())
        == grid_pb.GetGridResponse()
    )


async def test_malformed_requests_of_streams_and_of_the_standard_services_are_invalid_argument(
    served: tuple[grpc.aio.Channel, ServiceMetrics],
) -> None:
    channel, metrics = served
    raw = MALFORMED[0]
    stream_method = "/orderly_grid.v1.GridService/WatchFills"
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        async for _ in channel.unary_stream(stream_method)(raw):
            pass
    _assert_invalid_argument(raised.value)
    assert _metric(metrics, stream_method) == 1.0

    for method in (
        "/grpc.health.v1.Health/Check",
        "/orderly_grid.v1.HealthService/GetLiveness",
    ):
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await channel.unary_unary(method)(raw)
        _assert_invalid_argument(raised.value)
        assert _metric(metrics, method) == 1.0

    reflection = "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"

    async def requests() -> AsyncIterator[bytes]:
        yield raw

    with pytest.raises(grpc.aio.AioRpcError) as raised:
        async for _ in channel.stream_stream(reflection)(requests()):
            pass
    _assert_invalid_argument(raised.value)
    assert _metric(metrics, reflection) == 1.0
    reply = await channel.unary_unary(
        "/grpc.health.v1.Health/Check",
        request_serializer=health_pb2.HealthCheckRequest.SerializeToString,
        response_deserializer=health_pb2.HealthCheckResponse.FromString,
    )(health_pb2.HealthCheckRequest())
    assert reply.status == health_pb2.HealthCheckResponse.SERVING


async def test_a_flood_of_malformed_requests_writes_a_bounded_number_of_log_lines(
    served: tuple[grpc.aio.Channel, ServiceMetrics],
) -> None:
    """Unauthenticated and unlimited: each call is counted, but the log does not grow per call."""
    channel, metrics = served
    method = "/orderly_grid.v1.GridService/GetGrid"
    call = channel.unary_unary(method)
    with captured_logs("INFO") as logs:
        for _ in range(50):
            with pytest.raises(grpc.aio.AioRpcError):
                await call(MALFORMED[0])
    lines = [line for line in logs.getvalue().splitlines() if line.strip()]
    assert 1 <= len(lines) <= 5, len(lines)
    assert _metric(metrics, method) == 50.0
