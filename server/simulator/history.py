"""The venue's full per-account history, for test oracles (the chaos suite): every order it ever
accepted, every trade, every client_order_id submission (accepted or not), and the positions.

Kill safety: the venue records all of this synchronously inside the operation (place, cancel, fill),
before the operation returns its pushes and before any handler awaits; only then are pushes written
and the answer sent. A client killed mid-call therefore never leaves the history disagreeing with what
the venue did: whatever it acted on is in the history, whether or not the answer or a push arrived.

The same dataclasses serialise the history on the /sim/history route and parse it in
`SimulatorControl.history`, so the wire shape has one definition.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from server.simulator.accounts import Account
from server.simulator.orders import Fill, Order


@dataclass(frozen=True)
class Submission:
    """One order request the venue processed that carried a client_order_id, whatever its outcome.

    `error_code` is None when the venue accepted it (then `order_id` is the new order's), else the
    Orderly code it answered (-1007 for a client_order_id already open)."""

    account_id: str
    client_order_id: str
    symbol: str
    side: str
    timestamp_ms: int
    order_id: int | None
    error_code: int | None

    @property
    def accepted(self) -> bool:
        return self.error_code is None

    @property
    def duplicate(self) -> bool:
        return self.error_code == -1007

    def to_json(self) -> dict[str, Any]:
        return {
            "client_order_id": self.client_order_id,
            "symbol": self.symbol,
            "side": self.side,
            "ts": self.timestamp_ms,
            "order_id": self.order_id,
            "error_code": self.error_code,
        }

    @classmethod
    def from_json(cls, account_id: str, row: dict[str, Any]) -> Submission:
        return cls(
            account_id=account_id,
            client_order_id=str(row["client_order_id"]),
            symbol=str(row["symbol"]),
            side=str(row["side"]),
            timestamp_ms=int(row["ts"]),
            order_id=None if row.get("order_id") is None else int(row["order_id"]),
            error_code=None if row.get("error_code") is None else int(row["error_code"]),
        )


@dataclass(frozen=True)
class OrderRecord:
    """An order the venue accepted, as it stands now."""

    account_id: str
    order_id: int
    client_order_id: str | None
    symbol: str
    side: str
    order_type: str
    price: Decimal | None
    quantity: Decimal
    reduce_only: bool
    status: str
    executed_quantity: Decimal
    created_ms: int
    updated_ms: int

    @property
    def is_open(self) -> bool:
        return self.status in ("NEW", "PARTIAL_FILLED")

    @classmethod
    def of(cls, order: Order) -> OrderRecord:
        return cls(
            account_id=order.account_id,
            order_id=order.order_id,
            client_order_id=order.client_order_id,
            symbol=order.symbol,
            side=order.side,
            order_type=order.order_type,
            price=order.price,
            quantity=order.quantity,
            reduce_only=order.reduce_only,
            status=order.status,
            executed_quantity=order.executed_quantity,
            created_ms=order.created_ms,
            updated_ms=order.updated_ms,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "order_id": self.order_id,
            "client_order_id": self.client_order_id,
            "symbol": self.symbol,
            "side": self.side,
            "type": self.order_type,
            "price": self.price,
            "quantity": self.quantity,
            "reduce_only": self.reduce_only,
            "status": self.status,
            "executed_quantity": self.executed_quantity,
            "created_ms": self.created_ms,
            "updated_ms": self.updated_ms,
        }

    @classmethod
    def from_json(cls, account_id: str, row: dict[str, Any]) -> OrderRecord:
        return cls(
            account_id=account_id,
            order_id=int(row["order_id"]),
            client_order_id=row.get("client_order_id"),
            symbol=str(row["symbol"]),
            side=str(row["side"]),
            order_type=str(row["type"]),
            price=None if row.get("price") is None else Decimal(str(row["price"])),
            quantity=Decimal(str(row["quantity"])),
            reduce_only=bool(row["reduce_only"]),
            status=str(row["status"]),
            executed_quantity=Decimal(str(row["executed_quantity"])),
            created_ms=int(row["created_ms"]),
            updated_ms=int(row["updated_ms"]),
        )


@dataclass(frozen=True)
class TradeRecord:
    """One fill of one order (a trade, in Orderly's words)."""

    account_id: str
    trade_id: int
    order_id: int
    client_order_id: str | None
    symbol: str
    side: str
    price: Decimal
    quantity: Decimal
    fee: Decimal
    is_maker: bool
    timestamp_ms: int

    @classmethod
    def of(cls, fill: Fill, client_order_id: str | None) -> TradeRecord:
        return cls(
            account_id=fill.account_id,
            trade_id=fill.trade_id,
            order_id=fill.order_id,
            client_order_id=client_order_id,
            symbol=fill.symbol,
            side=fill.side,
            price=fill.price,
            quantity=fill.quantity,
            fee=fill.fee,
            is_maker=fill.is_maker,
            timestamp_ms=fill.timestamp_ms,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "trade_id": self.trade_id,
            "order_id": self.order_id,
            "client_order_id": self.client_order_id,
            "symbol": self.symbol,
            "side": self.side,
            "price": self.price,
            "quantity": self.quantity,
            "fee": self.fee,
            "is_maker": self.is_maker,
            "ts": self.timestamp_ms,
        }

    @classmethod
    def from_json(cls, account_id: str, row: dict[str, Any]) -> TradeRecord:
        return cls(
            account_id=account_id,
            trade_id=int(row["trade_id"]),
            order_id=int(row["order_id"]),
            client_order_id=row.get("client_order_id"),
            symbol=str(row["symbol"]),
            side=str(row["side"]),
            price=Decimal(str(row["price"])),
            quantity=Decimal(str(row["quantity"])),
            fee=Decimal(str(row["fee"])),
            is_maker=bool(row["is_maker"]),
            timestamp_ms=int(row["ts"]),
        )


@dataclass(frozen=True)
class PositionRecord:
    symbol: str
    quantity: Decimal
    average_open_price: Decimal
    fees: Decimal
    realized_pnl: Decimal
    funding: Decimal

    def to_json(self) -> dict[str, Any]:
        return {
            "symbol": self.symbol,
            "position_qty": self.quantity,
            "average_open_price": self.average_open_price,
            "fees": self.fees,
            "realized_pnl": self.realized_pnl,
            "funding": self.funding,
        }

    @classmethod
    def from_json(cls, row: dict[str, Any]) -> PositionRecord:
        return cls(
            symbol=str(row["symbol"]),
            quantity=Decimal(str(row["position_qty"])),
            average_open_price=Decimal(str(row["average_open_price"])),
            fees=Decimal(str(row["fees"])),
            realized_pnl=Decimal(str(row["realized_pnl"])),
            funding=Decimal(str(row["funding"])),
        )


@dataclass(frozen=True)
class AccountHistory:
    account_id: str
    orders: tuple[OrderRecord, ...]
    trades: tuple[TradeRecord, ...]
    submissions: tuple[Submission, ...]
    positions: tuple[PositionRecord, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "account_id": self.account_id,
            "orders": [o.to_json() for o in self.orders],
            "trades": [t.to_json() for t in self.trades],
            "submissions": [s.to_json() for s in self.submissions],
            "positions": [p.to_json() for p in self.positions],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AccountHistory:
        account_id = str(data["account_id"])
        return cls(
            account_id=account_id,
            orders=tuple(OrderRecord.from_json(account_id, row) for row in data["orders"]),
            trades=tuple(TradeRecord.from_json(account_id, row) for row in data["trades"]),
            submissions=tuple(Submission.from_json(account_id, row) for row in data["submissions"]),
            positions=tuple(PositionRecord.from_json(row) for row in data["positions"]),
        )

    def position(self, symbol: str) -> Decimal:
        """The account's signed position on `symbol` (0 when it never traded it)."""
        return next((p.quantity for p in self.positions if p.symbol == symbol), Decimal(0))


def account_history(
    account: Account,
    orders: list[Order],
    fills: list[Fill],
    submissions: list[Submission],
    symbol: str | None = None,
) -> AccountHistory:
    """The history of `account` (on `symbol` only, when given), in the order things happened."""
    by_id = {order.order_id: order for order in orders}

    def wanted(row_symbol: str) -> bool:
        return symbol is None or row_symbol == symbol

    return AccountHistory(
        account_id=account.account_id,
        orders=tuple(OrderRecord.of(o) for o in sorted(orders, key=lambda o: o.order_id) if wanted(o.symbol)),
        trades=tuple(
            TradeRecord.of(f, by_id[f.order_id].client_order_id if f.order_id in by_id else None)
            for f in fills
            if wanted(f.symbol)
        ),
        submissions=tuple(s for s in submissions if wanted(s.symbol)),
        positions=tuple(
            PositionRecord(
                p.symbol, p.quantity, p.average_open_price, p.fee_total, p.realized_pnl, p.funding_total
            )
            for p in sorted(account.positions.values(), key=lambda p: p.symbol)
            if wanted(p.symbol)
        ),
    )
