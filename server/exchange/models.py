"""Value types the adapter returns besides the engine's own events."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from engine.events import Event, VenueOrder
from engine.market import MarketRules
from engine.types import Side


@dataclass(frozen=True, slots=True)
class SymbolInfo:
    """One row of `/v1/public/info`: the engine's rules plus what only the adapter needs."""

    rules: MarketRules
    status: str = "ACTIVE"
    price_range: Decimal = Decimal("0.03")
    price_scope: Decimal = Decimal("0.4")
    broker_id: str | None = None

    @property
    def symbol(self) -> str:
        return self.rules.symbol


@dataclass(frozen=True, slots=True)
class OrderReport:
    """One order as the venue reports it over REST (Nautilus calls this an order status report)."""

    symbol: str
    order_id: str
    client_order_id: str
    side: Side
    order_type: str
    price: Decimal
    quantity: Decimal
    executed_quantity: Decimal
    average_price: Decimal
    status: str
    updated_time_ms: int

    def to_venue_order(self) -> VenueOrder:
        return VenueOrder(
            client_order_id=self.client_order_id,
            order_id=self.order_id,
            side=self.side,
            price=self.price,
            quantity=self.quantity,
            executed_quantity=self.executed_quantity,
        )


@dataclass(frozen=True, slots=True)
class TradeReport:
    """One fill as `/v1/trades` reports it: no client_order_id and no cumulative quantity."""

    symbol: str
    trade_id: str
    order_id: str
    side: Side
    price: Decimal
    quantity: Decimal
    fee: Decimal
    fee_asset: str
    is_maker: bool
    timestamp_ms: int


@dataclass(frozen=True, slots=True)
class PlacementAck:
    """The venue accepted the placement request (the order's fate arrives as events)."""

    client_order_id: str
    order_id: str


@dataclass(frozen=True, slots=True)
class PlacementFailure:
    client_order_id: str
    error: Exception


PlacementResult = PlacementAck | PlacementFailure


@dataclass(frozen=True, slots=True)
class PositionUpdate:
    symbol: str
    quantity: Decimal
    timestamp_ms: int


@dataclass(frozen=True, slots=True)
class PositionReport:
    """One row of REST /v1/positions: the signed size and the funding accrued on it (paid > 0)."""

    symbol: str
    quantity: Decimal
    accrued_funding: Decimal
    updated_ms: int


@dataclass(frozen=True, slots=True)
class VenueEvent:
    """An engine event with the symbol it belongs to, as the adapter's event stream yields it."""

    symbol: str
    event: Event
