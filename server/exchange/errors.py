"""Typed exchange errors, mapped from Orderly's envelope by `code` (never by message text).

`retryable` says whether the same request may simply be sent again. OutcomeUnknown is different: a
side-effecting call got no answer, so the effect must be looked up (by client_order_id), not retried.
"""

from __future__ import annotations

from typing import ClassVar

from server.exchange import constants as c


class ExchangeError(Exception):
    retryable: ClassVar[bool] = False

    def __init__(self, message: str, *, code: int | None = None, http_status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.http_status = http_status

    def __str__(self) -> str:
        return f"{self.message} (code={self.code}, http_status={self.http_status})"


class RateLimited(ExchangeError):
    retryable = True


class AuthError(ExchangeError):
    pass


class InvalidRequest(ExchangeError):
    """-1004/-1005: a parameter the venue does not accept."""


class InsufficientMargin(ExchangeError):
    pass


class MinNotional(ExchangeError):
    pass


class PriceOutOfRange(ExchangeError):
    """-1103 price filter (tick, quote_min/max, range/scope) and -1105 too far from mid."""


class QuantityFilter(ExchangeError):
    """-1104 size filter: below base_min, above base_max or off the base tick."""


PriceFilter = PriceOutOfRange
QuantityTooSmall = QuantityFilter


class UnknownOrder(ExchangeError):
    """-1006: no such order (or it has already finished, e.g. a second cancel)."""


class DuplicateOrder(ExchangeError):
    """-1007: e.g. a client_order_id already used by an open order."""


class ServerError(ExchangeError):
    """5xx, or -1011/-1012 ("retry in a few seconds")."""

    retryable = True


class NetworkError(ExchangeError):
    """No usable answer to an idempotent call (timeout, connection reset): safe to retry."""

    retryable = True


class OutcomeUnknown(ExchangeError):
    """A side-effecting call got no answer: it may or may not have taken effect."""

    def __init__(self, message: str, *, client_order_id: str | None = None, cause: str = "") -> None:
        super().__init__(message)
        self.client_order_id = client_order_id
        self.cause = cause


class ProtocolError(ExchangeError):
    """The venue answered with something this adapter cannot read."""


_BY_CODE: dict[int, type[ExchangeError]] = {
    c.CODE_INVALID_SIGNATURE: AuthError,
    c.CODE_UNAUTHORIZED: AuthError,
    c.CODE_TOO_MANY_REQUESTS: RateLimited,
    c.CODE_UNKNOWN_PARAM: InvalidRequest,
    c.CODE_INVALID_PARAM: InvalidRequest,
    c.CODE_RESOURCE_NOT_FOUND: UnknownOrder,
    c.CODE_DUPLICATE_REQUEST: DuplicateOrder,
    c.CODE_RPC_NOT_CONNECT: ServerError,
    c.CODE_RPC_REJECT: ServerError,
    c.CODE_RISK_TOO_HIGH: InsufficientMargin,
    c.CODE_MIN_NOTIONAL: MinNotional,
    c.CODE_PRICE_FILTER: PriceOutOfRange,
    c.CODE_SIZE_FILTER: QuantityFilter,
    c.CODE_PERCENTAGE_FILTER: PriceOutOfRange,
}


def parse_code(raw: object) -> int | None:
    """Codes arrive as ints and (seen once) as strings like "-1011"."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw
    if isinstance(raw, str):
        try:
            return int(raw.strip())
        except ValueError:
            return None
    return None


def error_from_response(http_status: int, code: object, message: str) -> ExchangeError:
    """Map a failed response to the most specific error class: the code decides, then the status."""
    parsed = parse_code(code)
    cls = _BY_CODE.get(parsed) if parsed is not None else None
    if cls is None:
        if http_status == 429:
            cls = RateLimited
        elif http_status >= 500:
            cls = ServerError
        elif http_status in (401, 403):
            cls = AuthError
        else:
            cls = ExchangeError
    return cls(message or "no message", code=parsed, http_status=http_status)
