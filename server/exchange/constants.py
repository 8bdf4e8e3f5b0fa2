"""Orderly wire constants as data: hosts, paths, rate limits, status names, error codes.

Everything a reader needs to compare this adapter with Orderly's documentation lives here, so the
other modules hold behaviour only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

# Hosts (testnet is the default: a misconfigured bot must not trade real money).
MAINNET_REST_URL: Final = "https://api.orderly.org"
TESTNET_REST_URL: Final = "https://testnet-api.orderly.org"
MAINNET_PUBLIC_WS_URL: Final = "wss://ws-evm.orderly.org/ws/stream"
TESTNET_PUBLIC_WS_URL: Final = "wss://testnet-ws-evm.orderly.org/ws/stream"
MAINNET_PRIVATE_WS_URL: Final = "wss://ws-private-evm.orderly.org/v2/ws/private/stream"
TESTNET_PRIVATE_WS_URL: Final = "wss://testnet-ws-private-evm.orderly.org/v2/ws/private/stream"

# The public stream's path segment the official SDKs use when they have no account id.
PUBLIC_WS_ID: Final = "OqdphuyCtYWxwzhxyLLjOWNdFP7sQt8RPWzmb5xY"

# REST paths.
PUBLIC_INFO_PATH: Final = "/v1/public/info"
PUBLIC_FUTURES_PATH: Final = "/v1/public/futures"
ORDER_PATH: Final = "/v1/order"
BATCH_ORDER_PATH: Final = "/v1/batch-order"
CLIENT_ORDER_PATH: Final = "/v1/client/order"
ORDERS_PATH: Final = "/v1/orders"
TRADES_PATH: Final = "/v1/trades"
POSITIONS_PATH: Final = "/v1/positions"

MAX_BATCH_ORDERS: Final = 10
MAX_PAGE_SIZE: Final = 500
MAX_CLIENT_ORDER_ID_LENGTH: Final = 36


@dataclass(frozen=True, slots=True)
class RateLimit:
    """At most `limit` requests (or orders) in any window of `window_ms`."""

    limit: int
    window_ms: int


# Rate-limit groups, per orderly key (wire reference section 5). A batch create spends one request of
# BATCH_CREATE and one unit of ORDER_CREATE per order it carries.
ORDER_CREATE: Final = "order_create"
BATCH_CREATE: Final = "batch_create"
ORDER_CANCEL: Final = "order_cancel"
ORDER_READ: Final = "order_read"
TRADE_READ: Final = "trade_read"
POSITION_READ: Final = "position_read"
PUBLIC_READ: Final = "public_read"

RATE_LIMITS: Final[dict[str, RateLimit]] = {
    ORDER_CREATE: RateLimit(10, 1000),
    BATCH_CREATE: RateLimit(1, 1000),
    ORDER_CANCEL: RateLimit(10, 1000),
    ORDER_READ: RateLimit(10, 1000),
    TRADE_READ: RateLimit(10, 1000),
    POSITION_READ: RateLimit(30, 10_000),
    PUBLIC_READ: RateLimit(10, 1000),
}

# Order statuses on the wire.
STATUS_NEW: Final = "NEW"
STATUS_PARTIAL_FILLED: Final = "PARTIAL_FILLED"
STATUS_FILLED: Final = "FILLED"
STATUS_CANCELLED: Final = "CANCELLED"
STATUS_REJECTED: Final = "REJECTED"
OPEN_STATUSES: Final = frozenset({STATUS_NEW, STATUS_PARTIAL_FILLED})
TERMINAL_STATUSES: Final = frozenset({STATUS_FILLED, STATUS_CANCELLED, STATUS_REJECTED})
STATUS_INCOMPLETE: Final = "INCOMPLETE"  # query bundle: NEW + PARTIAL_FILLED

# Error codes (wire reference section 3). Keyed on code, never on message.
CODE_UNKNOWN: Final = -1000
CODE_INVALID_SIGNATURE: Final = -1001
CODE_UNAUTHORIZED: Final = -1002
CODE_TOO_MANY_REQUESTS: Final = -1003
CODE_UNKNOWN_PARAM: Final = -1004
CODE_INVALID_PARAM: Final = -1005
CODE_RESOURCE_NOT_FOUND: Final = -1006
CODE_DUPLICATE_REQUEST: Final = -1007
CODE_RPC_NOT_CONNECT: Final = -1011
CODE_RPC_REJECT: Final = -1012
CODE_RISK_TOO_HIGH: Final = -1101
CODE_MIN_NOTIONAL: Final = -1102
CODE_PRICE_FILTER: Final = -1103
CODE_SIZE_FILTER: Final = -1104
CODE_PERCENTAGE_FILTER: Final = -1105

# WebSocket topics.
TOPIC_EXECUTION_REPORT: Final = "executionreport"
TOPIC_POSITION: Final = "position"
MARK_PRICE_TOPIC_SUFFIX: Final = "@markprice"
