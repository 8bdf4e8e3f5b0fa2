"""Domain errors survive the trip through google.rpc.Status, a real gRPC call, and the REST envelope."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import grpc.aio
import pytest
from google.api.httpbody_pb2 import HttpBody
from google.rpc import error_details_pb2, status_pb2
from orderly_grid.v1 import health_service_pb2, health_service_pb2_grpc

from server.api.errors import ERROR_DOMAIN, DomainError, ErrorReason, FieldViolation
from server.api.status import (
    CLIP_MARK,
    INTERNAL_MESSAGE,
    MAX_DETAIL_TEXT_BYTES,
    MAX_MESSAGE_BYTES,
    MAX_STATUS_BYTES,
    clip_text,
    error_from_rpc_error,
    from_status,
    rest_error_envelope,
    status_for_exception,
    to_status,
    trailing_metadata,
)


def _bad_config() -> DomainError:
    return DomainError(
        ErrorReason.INVALID_MARKET_PARAMS,
        "grid config breaks PERP_BTC_USDC rules",
        metadata={"symbol": "PERP_BTC_USDC"},
        field_violations=[
            FieldViolation("total_margin", "cell quantity 0.00001 is below base_min 0.0001"),
            FieldViolation("upper_bound", "must be greater than lower_bound"),
        ],
    )


def test_status_carries_code_message_error_info_and_bad_request() -> None:
    status = to_status(_bad_config())
    assert status.code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    assert status.message == "grid config breaks PERP_BTC_USDC rules"
    info = error_details_pb2.ErrorInfo()
    assert status.details[0].Unpack(info)
    assert (info.domain, info.reason, dict(info.metadata)) == (
        ERROR_DOMAIN,
        "INVALID_MARKET_PARAMS",
        {"symbol": "PERP_BTC_USDC"},
    )
    bad_request = error_details_pb2.BadRequest()
    assert status.details[1].Unpack(bad_request)
    assert [v.field for v in bad_request.field_violations] == ["total_margin", "upper_bound"]


def test_an_error_without_field_violations_has_no_bad_request_detail() -> None:
    status = to_status(DomainError(ErrorReason.SESSION_NOT_FOUND, "no session 0xab_PERP_BTC_USDC"))
    assert len(status.details) == 1


def test_status_parses_back_to_an_equal_domain_error() -> None:
    original = _bad_config()
    parsed = from_status(to_status(original))
    assert parsed.reason is ErrorReason.INVALID_MARKET_PARAMS
    assert parsed.code is original.code
    assert parsed.message == original.message
    assert parsed.metadata == original.metadata
    assert parsed.field_violations == original.field_violations


def test_a_status_without_our_error_info_takes_the_code_name_as_reason() -> None:
    foreign = error_details_pb2.ErrorInfo(reason="QUOTA", domain="googleapis.com")
    status = status_pb2.Status(code=grpc.StatusCode.UNAVAILABLE.value[0], message="upstream down")
    status.details.add().Pack(foreign)
    parsed = from_status(status)
    assert parsed.reason == "UNAVAILABLE"
    assert parsed.code is grpc.StatusCode.UNAVAILABLE


def test_unexpected_exceptions_become_internal_without_leaking_their_text() -> None:
    status = status_for_exception(RuntimeError("password=hunter2 in a traceback"))
    assert status.code == grpc.StatusCode.INTERNAL.value[0]
    assert status.message == INTERNAL_MESSAGE
    assert b"hunter2" not in status.SerializeToString()


def test_rest_envelope_has_reason_message_field_violations_and_gateway_status() -> None:
    http_status, body = rest_error_envelope(to_status(_bad_config()))
    assert http_status == 400
    assert body == {
        "success": False,
        "error_code": "INVALID_MARKET_PARAMS",
        "code": "INVALID_ARGUMENT",
        "message": "grid config breaks PERP_BTC_USDC rules",
        "details": {
            "symbol": "PERP_BTC_USDC",
            "field_violations": [
                {"field": "total_margin", "description": "cell quantity 0.00001 is below base_min 0.0001"},
                {"field": "upper_bound", "description": "must be greater than lower_bound"},
            ],
        },
    }


def test_rest_envelope_of_a_missing_session_is_404() -> None:
    http_status, body = rest_error_envelope(to_status(DomainError(ErrorReason.SESSION_NOT_FOUND, "gone")))
    assert (http_status, body["error_code"], body["details"]) == (404, "SESSION_NOT_FOUND", {})


_Context = grpc.aio.ServicerContext[object, object]


class _FailingHealth(health_service_pb2_grpc.HealthServiceServicer):
    """Aborts every liveness call with the rich status of the error it was given."""

    def __init__(self, error: DomainError) -> None:
        self._error = error

    async def GetLiveness(
        self, request: health_service_pb2.GetLivenessRequest, context: _Context
    ) -> health_service_pb2.GetLivenessResponse:
        status = to_status(self._error)
        await context.abort(self._error.code, status.message, trailing_metadata(status))

    async def GetReadiness(
        self, request: health_service_pb2.GetReadinessRequest, context: _Context
    ) -> health_service_pb2.GetReadinessResponse:
        # A plain abort, as grpc itself or a proxy would fail a call: no rich status trailer.
        await context.abort(grpc.StatusCode.UNAVAILABLE, "store down")

    async def GetMetrics(self, request: health_service_pb2.GetMetricsRequest, context: _Context) -> HttpBody:
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, "not in this test")


@pytest.fixture
async def failing_server_target() -> AsyncIterator[str]:
    server = grpc.aio.server()
    health_service_pb2_grpc.add_HealthServiceServicer_to_server(_FailingHealth(_bad_config()), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        await server.stop(grace=None)


async def test_a_domain_error_raised_in_a_real_grpc_server_reaches_the_client_intact(
    failing_server_target: str,
) -> None:
    async with grpc.aio.insecure_channel(failing_server_target) as channel:
        stub = health_service_pb2_grpc.HealthServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await stub.GetLiveness(health_service_pb2.GetLivenessRequest(), timeout=10)
    assert raised.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    error = error_from_rpc_error(raised.value)
    expected = _bad_config()
    assert error.reason is ErrorReason.INVALID_MARKET_PARAMS
    assert (error.message, error.metadata, error.field_violations) == (
        expected.message,
        expected.metadata,
        expected.field_violations,
    )


async def test_a_plain_grpc_error_without_details_is_read_by_its_code(failing_server_target: str) -> None:
    async with grpc.aio.insecure_channel(failing_server_target) as channel:
        stub = health_service_pb2_grpc.HealthServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await stub.GetReadiness(health_service_pb2.GetReadinessRequest(), timeout=10)
    error = error_from_rpc_error(raised.value)
    assert error.reason == "UNAVAILABLE"
    assert error.code is grpc.StatusCode.UNAVAILABLE
    assert (error.message, error.metadata, error.field_violations) == ("store down", {}, ())


def _huge_error(text: str) -> DomainError:
    """An error that echoes a huge input everywhere one can: message, metadata, violations."""
    return DomainError(
        ErrorReason.SESSION_NOT_FOUND,
        f"session {text} not found",
        metadata={f"key{i}": text for i in range(20)},
        field_violations=[FieldViolation(f"field_{i}_{text}", f"bad {text}") for i in range(20)],
        retry_after_ms=1_500,
    )


@pytest.mark.parametrize("text", ["x" * 20_000, "€" * 20_000, "\ud800" * 5_000])
def test_a_status_that_echoes_a_huge_input_stays_within_the_wire_bounds(text: str) -> None:
    status = to_status(_huge_error(text))
    assert status.ByteSize() <= MAX_STATUS_BYTES
    assert len(status.message.encode()) <= MAX_MESSAGE_BYTES
    assert status.message.startswith("session ")
    assert status.message.endswith(CLIP_MARK)
    error = from_status(status)
    assert error.reason is ErrorReason.SESSION_NOT_FOUND
    assert error.retry_after_ms == 1_500
    assert error.field_violations, "at least the first field violation is kept"
    for value in [*error.metadata.values(), *(v.description for v in error.field_violations)]:
        assert len(value.encode()) <= MAX_DETAIL_TEXT_BYTES


def test_short_texts_are_not_clipped() -> None:
    assert clip_text("session 0xab_PERP_BTC_USDC not found", 64) == "session 0xab_PERP_BTC_USDC not found"
    assert clip_text("€€€€", 12) == "€€€€"


def test_clipping_keeps_whole_characters_and_marks_the_cut() -> None:
    clipped = clip_text("€" * 10, 10)
    assert clipped == "€€" + CLIP_MARK
    assert len(clipped.encode()) <= 10


@pytest.fixture
async def huge_error_server_target() -> AsyncIterator[str]:
    server = grpc.aio.server()
    servicer = _FailingHealth(_huge_error("€" * 20_000))
    health_service_pb2_grpc.add_HealthServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        await server.stop(grace=None)


async def test_an_error_echoing_a_huge_input_reaches_the_client_with_its_own_code(
    huge_error_server_target: str,
) -> None:
    """It came back as RESOURCE_EXHAUSTED "metadata size exceeds hard limit" (a 429 over REST)."""
    async with grpc.aio.insecure_channel(huge_error_server_target) as channel:
        stub = health_service_pb2_grpc.HealthServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await stub.GetLiveness(health_service_pb2.GetLivenessRequest(), timeout=10)
    assert raised.value.code() is grpc.StatusCode.NOT_FOUND, raised.value.details()
    error = error_from_rpc_error(raised.value)
    assert error.reason is ErrorReason.SESSION_NOT_FOUND
    assert error.message.endswith(CLIP_MARK)
