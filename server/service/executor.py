"""Carrying out the engine's venue commands through the Exchange protocol, and turning every outcome
into the engine event that reports it (the engine learns what happened only through events).

- PlaceOrder: accepted -> OrderAccepted; a venue rejection -> OrderRejected (with the venue's code, so
  a duplicate client_order_id (-1007) is recognised as "already live"); OutcomeUnknown -> no event,
  the session reconciles from a snapshot instead (a timeout does not prove a rejection).
- CancelOrder: done -> OrderCancelled; UnknownOrder (already filled or cancelled) -> the order's
  trades are fetched and fed first (idempotent), then OrderCancelled ends it.
- ClosePosition: a reduce-only MARKET order; its fills arrive on the event stream.
- QueryOrder: the session's recent trades are fetched and fed (idempotent by (order_id, trade_id)),
  then an order the venue no longer has open is ended with OrderCancelled.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

import structlog

from engine import (
    CancelOrder,
    ClosePosition,
    Event,
    OrderAccepted,
    OrderCancelled,
    OrderRejected,
    OrderType,
    PlaceOrder,
    QueryOrder,
)
from server.exchange import Exchange, ExchangeError, OutcomeUnknown, PlacementAck, UnknownOrder
from server.metrics import ServiceMetrics

log = structlog.get_logger(__name__)

VenueCommand = PlaceOrder | CancelOrder | ClosePosition | QueryOrder
# How far before the last seen fill to ask the venue for trades again (venue clocks and pushes race).
FILL_LOOKBACK_MS = 60_000


@dataclass
class RoundOutcome:
    """What one batch of venue commands produced: events to feed back, and facts for the caller."""

    events: list[Event] = field(default_factory=list)
    needs_reconcile: bool = False
    cancelled: int = 0
    closed_quantity: Decimal = Decimal(0)
    rejections: list[str] = field(default_factory=list)


class CommandExecutor:
    def __init__(
        self,
        exchange: Exchange,
        symbol: str,
        prefix: Callable[[], str],
        fills_since_ms: Callable[[], int],
        metrics: ServiceMetrics,
        now_ms: Callable[[], int],
    ) -> None:
        self._exchange = exchange
        self._symbol = symbol
        self._prefix = prefix
        self._fills_since_ms = fills_since_ms
        self._metrics = metrics
        self._now_ms = now_ms

    async def execute(self, commands: Sequence[VenueCommand], received_ns: int | None = None) -> RoundOutcome:
        outcome = RoundOutcome()
        # One placement per client_order_id per round (reconciliation may repeat an order just placed).
        places: list[PlaceOrder] = []
        seen: set[str] = set()
        for command in commands:
            if isinstance(command, PlaceOrder) and command.client_order_id not in seen:
                seen.add(command.client_order_id)
                places.append(command)
        if places:
            await self._place(places, outcome, received_ns)
        for command in commands:
            if isinstance(command, CancelOrder):
                await self._cancel(command, outcome)
            elif isinstance(command, ClosePosition):
                await self._close(command, outcome)
        queries = [c for c in commands if isinstance(c, QueryOrder)]
        if queries:
            outcome.events.extend(await self._query(queries))
        return outcome

    async def _query(self, queries: list[QueryOrder]) -> list[Event]:
        """What became of orders the engine cannot account for: their trades (one look-up answers
        every query of the round), then, for each order the venue no longer has open, an
        OrderCancelled -- applied after the trades, it ends only an order they did not complete
        (cancelled or expired unseen); for one they did, it is a stale repeat the engine ignores.
        Open orders are read BEFORE the trades: an order that is not open by then has made all its
        trades, so the trades read afterwards hold every one of them."""
        try:
            still_open = {order.client_order_id for order in await self._exchange.open_orders(self._symbol)}
        except ExchangeError as exc:
            log.warning("open_orders_failed", error=str(exc))
            return list(await self.session_fills())
        events: list[Event] = list(await self.session_fills())
        for query in queries:
            if query.client_order_id not in still_open:
                log.info("order_gone_from_venue", client_order_id=query.client_order_id, reason=query.reason)
                events.append(
                    OrderCancelled(
                        query.client_order_id, query.order_id or "", "not open on the venue", self._now_ms()
                    )
                )
        return events

    async def session_fills(self, client_order_id: str | None = None) -> list[Event]:
        """The venue's recent trades of this session (or of one order), oldest first."""
        since = max(0, self._fills_since_ms() - FILL_LOOKBACK_MS)
        try:
            fills = await self._exchange.recent_fills(self._symbol, since)
        except ExchangeError as exc:
            log.warning("recent_fills_failed", error=str(exc))
            return []
        prefix_dash = self._prefix() + "-"
        return [
            fill
            for fill in fills
            if fill.client_order_id.startswith(prefix_dash)
            and (client_order_id is None or fill.client_order_id == client_order_id)
        ]

    async def _place(self, orders: list[PlaceOrder], outcome: RoundOutcome, received_ns: int | None) -> None:
        if len(orders) == 1:
            try:
                results: list[PlacementAck | ExchangeError | Exception] = [
                    await self._exchange.place_order(self._symbol, orders[0])
                ]
            except ExchangeError as exc:
                results = [exc]
        else:
            try:
                batch = await self._exchange.place_orders(self._symbol, orders)
            except ExchangeError as exc:
                results = [exc] * len(orders)
            else:
                results = [r if isinstance(r, PlacementAck) else r.error for r in batch]
        for order, result in zip(orders, results, strict=True):
            self._on_placed(order, result, outcome, received_ns)

    def _on_placed(
        self,
        order: PlaceOrder,
        result: PlacementAck | Exception,
        outcome: RoundOutcome,
        received_ns: int | None,
    ) -> None:
        bound = log.bind(client_order_id=order.client_order_id)
        if isinstance(result, PlacementAck):
            self._metrics.orders_placed.labels(self._symbol, order.side.value).inc()
            if received_ns is not None:
                self._metrics.fill_to_counter_latency.observe((time.monotonic_ns() - received_ns) / 1e9)
            bound.debug(
                "order_placed", order_id=result.order_id, side=order.side.value, price=str(order.price)
            )
            outcome.events.append(OrderAccepted(order.client_order_id, result.order_id))
            return
        reason = type(result).__name__
        self._metrics.orders_failed.labels(self._symbol, reason).inc()
        if isinstance(result, OutcomeUnknown) or not isinstance(result, ExchangeError):
            bound.warning("order_outcome_unknown", error=str(result))
            outcome.needs_reconcile = True
            return
        bound.warning("order_rejected", error=str(result), code=result.code)
        outcome.rejections.append(f"{order.client_order_id}: {result}")
        outcome.events.append(OrderRejected(order.client_order_id, str(result), result.code))

    async def _cancel(self, command: CancelOrder, outcome: RoundOutcome) -> None:
        bound = log.bind(client_order_id=command.client_order_id)
        try:
            await self._exchange.cancel_order(self._symbol, command.client_order_id)
        except UnknownOrder:
            # Already gone (filled or cancelled): book whatever it traded, then end it.
            outcome.events.extend(await self.session_fills(command.client_order_id))
        except ExchangeError as exc:
            bound.warning("cancel_failed", error=str(exc))
            outcome.needs_reconcile = True
            return
        else:
            outcome.cancelled += 1
        bound.debug("order_cancelled")
        outcome.events.append(
            OrderCancelled(
                command.client_order_id, command.order_id or "", "cancelled by the grid", self._now_ms()
            )
        )

    async def _close(self, command: ClosePosition, outcome: RoundOutcome) -> None:
        order = PlaceOrder(
            command.client_order_id, command.side, OrderType.MARKET, command.quantity, None, reduce_only=True
        )
        bound = log.bind(client_order_id=command.client_order_id)
        try:
            ack = await self._exchange.place_order(self._symbol, order)
        except ExchangeError as exc:
            bound.error("close_position_failed", error=str(exc), quantity=str(command.quantity))
            self._metrics.orders_failed.labels(self._symbol, type(exc).__name__).inc()
            return
        self._metrics.orders_placed.labels(self._symbol, command.side.value).inc()
        outcome.closed_quantity += command.quantity
        bound.info("position_close_placed", order_id=ack.order_id, quantity=str(command.quantity))
