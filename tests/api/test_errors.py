"""The error table: every reason has a gRPC code, and every code the HTTP status grpc-gateway gives."""

from __future__ import annotations

import grpc
import pytest

from server.api.errors import (
    HTTP_STATUS_BY_CODE,
    REASON_CODES,
    DomainError,
    ErrorReason,
    FieldViolation,
    code_from_number,
    http_status_for_code,
)

# grpc-gateway v2, runtime/errors.go HTTPStatusFromCode, transcribed independently of the module.
GATEWAY_TABLE = {
    "OK": 200,
    "CANCELLED": 499,
    "UNKNOWN": 500,
    "INVALID_ARGUMENT": 400,
    "DEADLINE_EXCEEDED": 504,
    "NOT_FOUND": 404,
    "ALREADY_EXISTS": 409,
    "PERMISSION_DENIED": 403,
    "UNAUTHENTICATED": 401,
    "RESOURCE_EXHAUSTED": 429,
    "FAILED_PRECONDITION": 400,
    "ABORTED": 409,
    "OUT_OF_RANGE": 400,
    "UNIMPLEMENTED": 501,
    "INTERNAL": 500,
    "UNAVAILABLE": 503,
    "DATA_LOSS": 500,
}


def test_http_table_matches_grpc_gateway_for_every_grpc_code() -> None:
    assert {code.name: status for code, status in HTTP_STATUS_BY_CODE.items()} == GATEWAY_TABLE
    assert set(HTTP_STATUS_BY_CODE) == set(grpc.StatusCode)


def test_every_reason_has_a_code_and_no_reason_maps_to_ok() -> None:
    assert set(REASON_CODES) == set(ErrorReason)
    assert grpc.StatusCode.OK not in REASON_CODES.values()


@pytest.mark.parametrize(
    ("reason", "http_status"),
    [
        (ErrorReason.SESSION_NOT_FOUND, 404),
        (ErrorReason.DUPLICATE_GRID_SESSION, 409),
        (ErrorReason.INVALID_MARKET_PARAMS, 400),
        (ErrorReason.ORDER_CREATION_FAILED, 400),
        (ErrorReason.RATE_LIMIT_EXCEEDED, 429),
        (ErrorReason.INVALID_SIGNATURE, 401),
        (ErrorReason.NONCE_REPLAYED, 401),
        (ErrorReason.PERMISSION_DENIED, 403),
        (ErrorReason.EXCHANGE_UNAVAILABLE, 503),
        (ErrorReason.INTERNAL, 500),
    ],
)
def test_domain_errors_get_the_http_status_of_their_reason(reason: ErrorReason, http_status: int) -> None:
    assert DomainError(reason, "x").http_status == http_status


def test_invalid_field_names_the_field_and_the_rule_in_message_and_violation() -> None:
    error = DomainError.invalid_field("grid_levels", "must be at least 2, got 1")
    assert error.reason is ErrorReason.INVALID_ARGUMENT
    assert error.code is grpc.StatusCode.INVALID_ARGUMENT
    assert str(error) == "grid_levels: must be at least 2, got 1"
    assert error.field_violations == (FieldViolation("grid_levels", "must be at least 2, got 1"),)


def test_an_unknown_reason_needs_an_explicit_code() -> None:
    with pytest.raises(ValueError, match="'FUTURE_REASON' needs an explicit code"):
        DomainError("FUTURE_REASON", "from a newer server")
    error = DomainError("FUTURE_REASON", "from a newer server", code=grpc.StatusCode.ABORTED)
    assert error.reason == "FUTURE_REASON"
    assert error.http_status == 409


def test_a_known_reason_given_as_text_becomes_the_enum_member() -> None:
    assert DomainError("SESSION_NOT_FOUND", "gone").reason is ErrorReason.SESSION_NOT_FOUND


def test_wire_numbers_map_back_to_codes_and_unknown_numbers_to_unknown() -> None:
    assert code_from_number(5) is grpc.StatusCode.NOT_FOUND
    assert code_from_number(99) is grpc.StatusCode.UNKNOWN
    assert http_status_for_code(grpc.StatusCode.UNKNOWN) == 500
