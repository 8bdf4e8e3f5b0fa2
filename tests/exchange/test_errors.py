"""Error envelope mapping: the code decides the class, the HTTP status only when the code is unknown."""

from __future__ import annotations

import pytest

from server.exchange.errors import (
    AuthError,
    DuplicateOrder,
    ExchangeError,
    InsufficientMargin,
    InvalidRequest,
    MinNotional,
    PriceOutOfRange,
    QuantityTooSmall,
    RateLimited,
    ServerError,
    UnknownOrder,
    error_from_response,
)


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        (401, -1001, AuthError),
        (401, -1002, AuthError),
        (429, -1003, RateLimited),
        (400, -1004, InvalidRequest),
        (400, -1005, InvalidRequest),
        (400, -1006, UnknownOrder),
        (409, -1007, DuplicateOrder),
        (400, -1011, ServerError),
        (400, -1012, ServerError),
        (400, -1101, InsufficientMargin),
        (400, -1102, MinNotional),
        (400, -1103, PriceOutOfRange),
        (400, -1104, QuantityTooSmall),
        (400, -1105, PriceOutOfRange),
    ],
)
def test_each_documented_code_maps_to_its_class(
    status: int, code: int, expected: type[ExchangeError]
) -> None:
    error = error_from_response(status, code, "whatever the venue says")
    assert type(error) is expected
    assert error.code == code
    assert error.http_status == status


def test_code_as_string_is_read_like_an_int() -> None:
    error = error_from_response(400, "-1011", "The system is under maintenance.")
    assert isinstance(error, ServerError)
    assert error.code == -1011


def test_message_text_does_not_change_the_class() -> None:
    assert type(error_from_response(400, -1101, "rate limit exceeded")) is InsufficientMargin


@pytest.mark.parametrize(
    ("status", "expected"),
    [(429, RateLimited), (500, ServerError), (503, ServerError), (401, AuthError), (418, ExchangeError)],
)
def test_unknown_or_missing_code_falls_back_to_http_status(
    status: int, expected: type[ExchangeError]
) -> None:
    assert type(error_from_response(status, None, "")) is expected


def test_retryable_only_for_rate_limit_and_server_errors() -> None:
    assert error_from_response(429, -1003, "").retryable
    assert error_from_response(500, -1000, "").retryable
    assert error_from_response(400, -1012, "").retryable
    assert not error_from_response(400, -1101, "").retryable
    assert not error_from_response(400, -1006, "").retryable


def test_unknown_code_on_a_500_is_a_retryable_server_error() -> None:
    error = error_from_response(500, -1000, "unknown")
    assert isinstance(error, ServerError)
    assert "code=-1000" in str(error)
