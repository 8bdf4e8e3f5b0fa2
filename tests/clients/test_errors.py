"""google.rpc.Status (as the server sends it in grpc-status-details-bin) -> typed exceptions."""

from __future__ import annotations

import grpc
from google.protobuf import duration_pb2
from google.rpc import error_details_pb2, status_pb2
from orderly_grid.errors import (
    ERROR_DOMAIN,
    DuplicateGridSession,
    FieldViolation,
    GridError,
    InvalidArgument,
    InvalidMarketParams,
    RateLimited,
    ServiceUnavailable,
    from_status,
)


def _status(code: grpc.StatusCode, message: str, *details: object) -> status_pb2.Status:
    status = status_pb2.Status(code=code.value[0], message=message)
    for detail in details:
        status.details.add().Pack(detail)  # type: ignore[arg-type]
    return status


def test_error_info_reason_picks_the_class_and_bad_request_names_the_fields() -> None:
    error = from_status(
        _status(
            grpc.StatusCode.INVALID_ARGUMENT,
            "grid_levels: must be >= 2",
            error_details_pb2.ErrorInfo(
                reason="INVALID_MARKET_PARAMS", domain=ERROR_DOMAIN, metadata={"a": "b"}
            ),
            error_details_pb2.BadRequest(
                field_violations=[
                    error_details_pb2.BadRequest.FieldViolation(
                        field="grid_levels", description="must be >= 2"
                    )
                ]
            ),
        )
    )
    assert isinstance(error, InvalidMarketParams)
    assert isinstance(error, InvalidArgument)
    assert error.reason == "INVALID_MARKET_PARAMS"
    assert error.metadata == {"a": "b"}
    assert error.field_violations == (FieldViolation("grid_levels", "must be >= 2"),)
    assert str(error) == "INVALID_MARKET_PARAMS: grid_levels: must be >= 2 (grid_levels: must be >= 2)"


def test_retry_info_becomes_retry_after_seconds() -> None:
    error = from_status(
        _status(
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            "slow down",
            error_details_pb2.ErrorInfo(reason="RATE_LIMIT_EXCEEDED", domain=ERROR_DOMAIN),
            error_details_pb2.RetryInfo(retry_delay=duration_pb2.Duration(seconds=1, nanos=500_000_000)),
        )
    )
    assert isinstance(error, RateLimited)
    assert error.retry_after_s == 1.5


def test_unknown_reason_or_foreign_domain_falls_back_to_the_code() -> None:
    newer = from_status(
        _status(
            grpc.StatusCode.UNAVAILABLE,
            "x",
            error_details_pb2.ErrorInfo(reason="SOMETHING_NEW", domain=ERROR_DOMAIN),
        )
    )
    assert type(newer) is ServiceUnavailable
    assert newer.reason == "SOMETHING_NEW"

    foreign = from_status(
        _status(
            grpc.StatusCode.ALREADY_EXISTS,
            "x",
            error_details_pb2.ErrorInfo(reason="DUPLICATE_GRID_SESSION", domain="proxy.example"),
        )
    )
    assert not isinstance(foreign, DuplicateGridSession)
    assert type(foreign) is GridError
    assert foreign.reason == "ALREADY_EXISTS"
