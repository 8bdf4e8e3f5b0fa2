"""Shared builders for the engine tests, and a small venue that executes the engine's commands.

The venue is a deliberately simple matching model (it is not the project's exchange simulator): it
rests LIMIT orders, fills every resting order the price reaches (nearest first, optionally split into
several trades), fills a LIMIT order placed across the price at once but cancels a POST_ONLY one (as
Orderly does: accepted, then cancelled), reports the mark after every move, and answers cancels.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import TypeVar

from engine import (
    CancelOrder,
    ClosePosition,
    Command,
    Direction,
    Event,
    GridConfig,
    MarketRules,
    MarkPriceUpdated,
    OrderAccepted,
    OrderCancelled,
    OrderFilled,
    OrderPartiallyFilled,
    OrderRejected,
    OrderType,
    PlaceOrder,
    SessionState,
    Side,
    step,
)

D = Decimal
T = TypeVar("T")
ZERO = Decimal(0)
DEFAULT_FEE_RATE = Decimal("0.0002")

RULES = MarketRules(
    symbol="PERP_BTC_USDC",
    quote_tick=D("0.1"),
    base_tick=D("0.00001"),
    base_min=D("0.00001"),
    base_max=D("100"),
    min_notional=D("10"),
)


def make_config(**overrides: object) -> GridConfig:
    values: dict[str, object] = {
        "session_key": "0xabc_BTCUSDT:1700000000000",
        "symbol": "PERP_BTC_USDC",
        "direction": Direction.BOTH,
        "lower_price": D("40000"),
        "upper_price": D("45000"),
        "grid_levels": 6,
        "current_price": D("42500"),
        "total_margin": D("1000"),
    }
    values.update(overrides)
    return GridConfig(**values)  # type: ignore[arg-type]


def orders_of(commands: tuple[Command, ...] | list[Command]) -> list[PlaceOrder]:
    return [command for command in commands if isinstance(command, PlaceOrder)]


def of_type(commands: tuple[Command, ...] | list[Command], kind: type[T]) -> list[T]:
    return [command for command in commands if isinstance(command, kind)]


def fill(
    order: PlaceOrder,
    trade_id: str,
    quantity: Decimal | None = None,
    cumulative: Decimal | None = None,
    order_id: str = "o1",
    price: Decimal | None = None,
    fee: Decimal = ZERO,
    complete: bool | None = None,
    timestamp_ms: int = 1,
) -> OrderFilled | OrderPartiallyFilled:
    """A trade against `order` (a whole fill unless `quantity` says otherwise)."""
    quantity = order.quantity if quantity is None else quantity
    cumulative = quantity if cumulative is None else cumulative
    complete = cumulative >= order.quantity if complete is None else complete
    kind = OrderFilled if complete else OrderPartiallyFilled
    assert order.price is not None
    return kind(
        client_order_id=order.client_order_id,
        order_id=order_id,
        trade_id=trade_id,
        side=order.side,
        price=order.price if price is None else price,
        quantity=quantity,
        fee=fee,
        cumulative_quantity=cumulative,
        timestamp_ms=timestamp_ms,
    )


@dataclass
class RestingOrder:
    order: PlaceOrder
    order_id: str
    filled: Decimal = ZERO


@dataclass
class Venue:
    price: Decimal
    fee_rate: Decimal = DEFAULT_FEE_RATE
    trade_parts: int = 1
    resting: dict[str, RestingOrder] = field(default_factory=dict)
    position: Decimal = ZERO
    counter: int = 0

    def _next_id(self) -> str:
        self.counter += 1
        return str(self.counter)

    def execute(self, commands: tuple[Command, ...] | list[Command]) -> list[Event]:
        events: list[Event] = []
        for command in commands:
            if isinstance(command, PlaceOrder):
                events.extend(self._place(command))
            elif isinstance(command, CancelOrder):
                resting = self.resting.pop(command.client_order_id, None)
                if resting is not None:
                    events.append(OrderCancelled(command.client_order_id, resting.order_id))
            elif isinstance(command, ClosePosition):
                order = PlaceOrder(
                    command.client_order_id, command.side, OrderType.MARKET, command.quantity, None
                )
                events.extend(self._trades(RestingOrder(order, self._next_id()), self.price))
        return events

    def _place(self, order: PlaceOrder) -> list[Event]:
        if order.client_order_id in self.resting:
            return [OrderRejected(order.client_order_id, "duplicate", -1007)]
        resting = RestingOrder(order, self._next_id())
        events: list[Event] = [OrderAccepted(order.client_order_id, resting.order_id)]
        assert order.price is not None
        if self._crossed(order) and order.order_type is OrderType.POST_ONLY:
            events.append(OrderCancelled(order.client_order_id, resting.order_id, "post-only would take"))
        elif self._crossed(order):
            events.extend(self._trades(resting, order.price))
        else:
            self.resting[order.client_order_id] = resting
        return events

    def _crossed(self, order: PlaceOrder) -> bool:
        assert order.price is not None
        return self.price <= order.price if order.side is Side.BUY else self.price >= order.price

    def _trades(self, resting: RestingOrder, price: Decimal) -> list[Event]:
        order = resting.order
        remaining = order.quantity - resting.filled
        parts = max(1, self.trade_parts)
        events: list[Event] = []
        for part in range(parts):
            last = part == parts - 1
            quantity = order.quantity - resting.filled if last else (remaining / parts).quantize(D("0.00001"))
            if quantity <= 0:
                continue
            resting.filled += quantity
            self.position += quantity if order.side is Side.BUY else -quantity
            kind = OrderFilled if resting.filled >= order.quantity else OrderPartiallyFilled
            events.append(
                kind(
                    client_order_id=order.client_order_id,
                    order_id=resting.order_id,
                    trade_id=self._next_id(),
                    side=order.side,
                    price=price,
                    quantity=quantity,
                    fee=(quantity * price * self.fee_rate).quantize(D("0.000001")),
                    cumulative_quantity=resting.filled,
                    timestamp_ms=self.counter,
                )
            )
        return events

    def move_to(self, price: Decimal) -> list[Event]:
        """Move the price and fill every resting order it reaches, nearest to the old price first."""
        going_down = price < self.price
        self.price = price
        crossed = [resting for resting in self.resting.values() if self._crossed(resting.order)]
        crossed.sort(key=lambda resting: resting.order.price or D(0), reverse=going_down)
        events: list[Event] = []
        for resting in crossed:
            del self.resting[resting.order.client_order_id]
            assert resting.order.price is not None
            events.extend(self._trades(resting, resting.order.price))
        events.append(MarkPriceUpdated(price, self.counter))
        return events


def drive(
    state: SessionState, venue: Venue, events: list[Event], log: list[Command] | None = None
) -> SessionState:
    """Feed events to the engine and the engine's commands to the venue until both are quiet."""
    queue = list(events)
    while queue:
        event = queue.pop(0)
        state, commands = step(state, event)
        if log is not None:
            log.extend(commands)
        queue.extend(venue.execute(commands))
    return state
