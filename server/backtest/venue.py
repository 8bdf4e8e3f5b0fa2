"""The venue as a backtest models it: the exchange simulator's matching rules (server.simulator.matching)
on the engine's commands, answered with the events the live service would receive.

- A resting limit order fills in full when the price touches it (buy: price <= limit, sell: price >=
  limit), at its limit price, with the maker fee; crossed orders fill best price first, then oldest.
- A post-only order that would take at the current price is accepted then cancelled (the engine parks
  its cell until the price lets it rest).
- An order outside the venue's price window (price_scope, quote_min/quote_max) is rejected.
- A close is a market order filled at the current price with the taker fee.
Fees are quantity * price * rate, unrounded, as the simulator books them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from engine import (
    CancelOrder,
    ClosePosition,
    Event,
    MarketRules,
    OrderAccepted,
    OrderCancelled,
    OrderFilled,
    OrderRejected,
    PlaceOrder,
    Side,
)
from engine.commands import OrderType


@dataclass(slots=True)
class RestingOrder:
    client_order_id: str
    order_id: str
    side: Side
    price: Decimal
    units: int  # price in the series' 10^-scale units, for exact comparison with the path
    quantity: Decimal
    sequence: int


@dataclass
class BacktestVenue:
    rules: MarketRules
    maker_fee_rate: Decimal
    taker_fee_rate: Decimal
    scale: int
    resting: dict[str, RestingOrder] = field(default_factory=dict)
    rejected: int = 0
    post_only_cancels: int = 0
    _sequence: int = 0
    _trade: int = 0
    # The highest resting buy and lowest resting sell, in units: a point between them touches nothing.
    best_buy: int = -1
    best_sell: int = 2**63

    def _next_ids(self) -> tuple[str, int]:
        self._sequence += 1
        return str(1_000_000 + self._sequence), self._sequence

    def _trade_id(self) -> str:
        self._trade += 1
        return str(5_000_000 + self._trade)

    def _refresh_best(self) -> None:
        buys = [o.units for o in self.resting.values() if o.side is Side.BUY]
        sells = [o.units for o in self.resting.values() if o.side is Side.SELL]
        self.best_buy = max(buys, default=-1)
        self.best_sell = min(sells, default=2**63)

    def place(self, order: PlaceOrder, mark: Decimal, mark_units: int) -> list[Event]:
        order_id, sequence = self._next_ids()
        if order.order_type is OrderType.MARKET or order.price is None:
            raise ValueError(f"a grid order must be a limit order: {order}")
        low, high = self.rules.order_price_window(mark)
        if order.price < low or (high > 0 and order.price > high):
            self.rejected += 1
            reason = f"order_price {order.price} outside the venue's window [{low}, {high}] at mark {mark}"
            return [OrderRejected(order.client_order_id, reason, -1103)]
        units = int(order.price.scaleb(self.scale))
        accepted = OrderAccepted(order.client_order_id, order_id)
        crosses = mark_units <= units if order.side is Side.BUY else mark_units >= units
        if crosses:  # grid orders are post-only: the venue cancels one that would take
            self.post_only_cancels += 1
            return [accepted, OrderCancelled(order.client_order_id, order_id, "POST_ONLY would take")]
        self.resting[order.client_order_id] = RestingOrder(
            order.client_order_id, order_id, order.side, order.price, units, order.quantity, sequence
        )
        if order.side is Side.BUY:
            self.best_buy = max(self.best_buy, units)
        else:
            self.best_sell = min(self.best_sell, units)
        return [accepted]

    def cancel(self, command: CancelOrder, timestamp_ms: int) -> list[Event]:
        order = self.resting.pop(command.client_order_id, None)
        if order is None:  # already filled or never rested: the venue has nothing to cancel
            return []
        self._refresh_best()
        return [OrderCancelled(order.client_order_id, order.order_id, "cancelled", timestamp_ms)]

    def close(self, command: ClosePosition, mark: Decimal, timestamp_ms: int) -> list[Event]:
        order_id, _ = self._next_ids()
        fee = command.quantity * mark * self.taker_fee_rate
        return [
            OrderAccepted(command.client_order_id, order_id),
            OrderFilled(
                command.client_order_id,
                order_id,
                self._trade_id(),
                command.side,
                mark,
                command.quantity,
                fee,
                command.quantity,
                timestamp_ms,
                is_maker=False,
            ),
        ]

    def touches(self, units: int) -> bool:
        return units <= self.best_buy or units >= self.best_sell

    def match(self, units: int, timestamp_ms: int) -> list[Event]:
        """Fill every resting order the price `units` touches, at its limit, maker fee."""
        crossed = [
            o for o in self.resting.values() if (units <= o.units if o.side is Side.BUY else units >= o.units)
        ]
        buys = sorted((o for o in crossed if o.side is Side.BUY), key=lambda o: (-o.units, o.sequence))
        sells = sorted((o for o in crossed if o.side is Side.SELL), key=lambda o: (o.units, o.sequence))
        events: list[Event] = []
        for order in buys + sells:
            del self.resting[order.client_order_id]
            fee = order.quantity * order.price * self.maker_fee_rate
            events.append(
                OrderFilled(
                    order.client_order_id,
                    order.order_id,
                    self._trade_id(),
                    order.side,
                    order.price,
                    order.quantity,
                    fee,
                    order.quantity,
                    timestamp_ms,
                )
            )
        self._refresh_best()
        return events
