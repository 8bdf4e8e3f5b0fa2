"""Orders and fills held by the simulated venue, and their wire shapes (REST rows, executionreport)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

OPEN_STATUSES = frozenset({"NEW", "PARTIAL_FILLED"})
ZERO = Decimal(0)


class VenueError(Exception):
    """An Orderly business error: `code` and HTTP status as Orderly answers them."""

    def __init__(self, code: int, message: str, http_status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.http_status = http_status


@dataclass
class Fill:
    trade_id: int
    order_id: int
    account_id: str
    symbol: str
    side: str
    price: Decimal
    quantity: Decimal
    fee: Decimal
    is_maker: bool
    realized_pnl: Decimal
    timestamp_ms: int
    match_id: str

    def to_row(self) -> dict[str, Any]:
        return {
            "id": self.trade_id,
            "symbol": self.symbol,
            "fee": self.fee,
            "fee_asset": "USDC",
            "side": self.side,
            "order_id": self.order_id,
            "executed_price": self.price,
            "executed_quantity": self.quantity,
            "executed_timestamp": self.timestamp_ms,
            "is_maker": 1 if self.is_maker else 0,
            "realized_pnl": self.realized_pnl,
            "match_id": self.match_id,
            "margin_token": "USDC",
            "margin_change_qty": ZERO,
            "margin_mode": "CROSS",
            "order_tag": "default",
            "order_enum_fee": None,
            "order_enum_fee_rate": None,
        }


@dataclass
class Order:
    order_id: int
    account_id: str
    symbol: str
    side: str  # BUY | SELL
    order_type: str  # LIMIT | MARKET | IOC | FOK | POST_ONLY
    price: Decimal | None  # None for MARKET
    quantity: Decimal
    client_order_id: str | None
    reduce_only: bool
    created_ms: int
    order_tag: str | None = None
    amount: Decimal | None = None
    status: str = "NEW"
    executed_quantity: Decimal = ZERO
    executed_notional: Decimal = ZERO
    total_fee: Decimal = ZERO
    realized_pnl: Decimal = ZERO
    updated_ms: int = 0
    reason: str = ""
    fills: list[Fill] = field(default_factory=list)

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def remaining(self) -> Decimal:
        return self.quantity - self.executed_quantity

    @property
    def average_price(self) -> Decimal:
        if self.executed_quantity == 0:
            return ZERO
        return (self.executed_notional / self.executed_quantity).quantize(Decimal("0.00000001")).normalize()

    def to_row(self) -> dict[str, Any]:
        """The REST Order object (GET /v1/orders, /v1/order/{id})."""
        return {
            "order_id": self.order_id,
            "user_id": _user_id(self.account_id),
            "price": self.price,
            "type": self.order_type,
            "quantity": self.quantity,
            "amount": self.amount,
            "executed": self.executed_quantity,
            "executed_quantity": self.executed_quantity,
            "total_executed_quantity": self.executed_quantity,
            "visible_quantity": self.quantity,
            "visible": self.quantity,
            "symbol": self.symbol,
            "side": self.side,
            "status": self.status,
            "total_fee": self.total_fee,
            "fee_asset": "USDC",
            "client_order_id": self.client_order_id,
            "average_executed_price": self.average_price,
            "created_time": self.created_ms,
            "updated_time": self.updated_ms,
            "realized_pnl": self.realized_pnl,
            "reduce_only": self.reduce_only,
            "order_tag": self.order_tag,
            "margin_mode": "CROSS",
        }

    def execution_report(self, fill: Fill | None, timestamp_ms: int) -> dict[str, Any]:
        """`executionreport` push data; a fill report has a non-zero tradeId and that fill's figures."""
        average = self.average_price
        return {
            "symbol": self.symbol,
            "clientOrderId": self.client_order_id or "",
            "orderId": self.order_id,
            "type": self.order_type,
            "side": self.side,
            "quantity": self.quantity,
            "price": self.price if self.price is not None else ZERO,
            "tradeId": fill.trade_id if fill else 0,
            "executedPrice": fill.price if fill else ZERO,
            "executedQuantity": fill.quantity if fill else ZERO,
            "fee": fill.fee if fill else ZERO,
            "feeAsset": "USDC",
            "totalExecutedQuantity": self.executed_quantity,
            # The average price has been spelled three ways on the wire; emit all of them.
            "avgPrice": average,
            "averageExecutedPrice": average,
            "avgExecutedPrice": average,
            "status": self.status,
            "reason": self.reason,
            "totalFee": self.total_fee,
            "visible": self.quantity,
            "visibleQuantity": self.quantity,
            "timestamp": timestamp_ms,
            "createdTime": self.created_ms,
            "reduceOnly": self.reduce_only,
            "orderTag": self.order_tag or "default",
            "marginMode": "CROSS",
            "maker": fill.is_maker if fill else False,
            "match_id": fill.match_id if fill else "",
        }


def _user_id(account_id: str) -> int:
    # A stable small number per account; Orderly's user_id is an internal integer.
    return int(account_id[-6:], 16) if account_id.startswith("0x") else 0
