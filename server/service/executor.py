"""Carrying out the engine's venue commands through the Exchange protocol, and turning every outcome
into the engine event that reports it (the engine learns what happened only through events).

- PlaceOrder: accepted -> OrderAccepted; a venue rejection -> OrderRejected (with the venue's code, so
  a duplicate client_order_id (-1007) is recognised as "already live"); OutcomeUnknown -> no event,
  the session reconciles from a snapshot instead (a timeout does not prove a rejection).
- CancelOrder: done or UnknownOrder (not open) -> the order's own history at the venue (its trades,
  then how it ended) is fed back: a cancelled order may have traded first, unseen.
- ClosePosition: a reduce-only MARKET order clamped to the venue's position, then its own history.
- QueryOrder: the order's history at the venue (by client_order_id, with its trades), as events; an
  order the venue never saw is a rejection with code -1006. Nothing is inferred from positions or
  from an order's absence, and no look-up failure is taken as an answer.
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
    OrderFilled,
    OrderRejected,
    OrderType,
    PlaceOrder,
    QueryOrder,
    Side,
)
from engine.order_events import ORDER_NOT_FOUND_CODE
from server.exchange import (
    Exchange,
    ExchangeError,
    MinNotional,
    OutcomeUnknown,
    PlacementAck,
    UnknownOrder,
)
from server.metrics import ServiceMetrics

log = structlog.get_logger(__name__)

VenueCommand = PlaceOrder | CancelOrder | ClosePosition | QueryOrder
# How long after its placement was sent an order the venue cannot find may still land (a request in
# flight, or queued at the venue); only after this is "not found" taken as "never placed".
PLACEMENT_SETTLE_MS = 10_000
SENT_IDS_KEPT = 10_000
RESTART_SETTLE_MS = 2_000  # the same for ids of a process that died: counted from this one's start
# How far before the last seen fill to ask the venue for trades again (venue clocks and pushes race).
FILL_LOOKBACK_MS = 60_000


@dataclass
class RoundOutcome:
    """What one batch of venue commands produced: events to feed back, and facts for the caller."""

    events: list[Event] = field(default_factory=list)
    needs_reconcile: bool = False
    cancelled: int = 0
    close_blocked: bool = False  # the venue holds nothing a reduce-only close could reduce
    pending_close: str | None = None  # a closing order whose outcome is not known yet
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
        # When each recent placement was sent (insertion order = time order): a look-up that cannot
        # find one of these may simply have overtaken it.
        self._sent_ms: dict[str, int] = {}
        # Every id this process sent lately (bounded): a round replayed after a failed state write
        # derives the same placements again, and these must not go out a second time.
        self._sent_ids: dict[str, None] = {}
        self._started_ms = now_ms()

    def was_sent(self, client_order_id: str) -> bool:
        return client_order_id in self._sent_ids

    def _sent(self, client_order_id: str) -> None:
        now = self._now_ms()
        self._sent_ms[client_order_id] = now
        self._sent_ids[client_order_id] = None
        if len(self._sent_ids) > SENT_IDS_KEPT:
            del self._sent_ids[next(iter(self._sent_ids))]
        while self._sent_ms:
            oldest = next(iter(self._sent_ms))
            if now - self._sent_ms[oldest] < PLACEMENT_SETTLE_MS:
                break
            del self._sent_ms[oldest]

    def _may_still_land(self, client_order_id: str) -> bool:
        now, sent = self._now_ms(), self._sent_ms.get(client_order_id)
        if sent is None:  # sent by an earlier process, if at all: it died at least a restart ago
            return now - self._started_ms < RESTART_SETTLE_MS
        return now - sent < PLACEMENT_SETTLE_MS

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
            await self._query(queries, outcome)
        return outcome

    async def _query(self, queries: list[QueryOrder], outcome: RoundOutcome) -> None:
        """What became of orders the engine cannot account for, from the venue's history of each one
        (the order by its id, then its trades): acceptance while it is open, every trade, its end;
        an order the venue never saw comes back as a rejection with code -1006. A look-up that fails
        resolves nothing: the order stays as it is until a later reconciliation asks again."""
        for query in queries:
            await self._look_up_into(outcome, query.client_order_id, query.order_id, query.reason)

    async def _look_up_into(
        self, outcome: RoundOutcome, client_order_id: str, order_id: str | None, reason: str
    ) -> None:
        events = await self.look_up(client_order_id, order_id, reason)
        if events is not None:  # unanswered: the order stays as it is; a later look-up asks again
            outcome.events.extend(events)

    async def look_up(
        self, client_order_id: str, order_id: str | None = None, reason: str = ""
    ) -> tuple[Event, ...] | None:
        """The venue's history of one order as events, or None when the venue could not be asked."""
        bound = log.bind(client_order_id=client_order_id)
        try:
            events = await self._exchange.query_order(self._symbol, client_order_id, order_id)
        except ExchangeError as exc:
            bound.warning("order_lookup_failed", error=str(exc), reason=reason)
            return None
        never_seen = any(isinstance(e, OrderRejected) and e.code == ORDER_NOT_FOUND_CODE for e in events)
        if never_seen and self._may_still_land(client_order_id):
            # Not found proves "never placed" only once the request cannot be on its way any more.
            bound.info("order_not_found_yet", reason=reason)
            return None
        bound.info("order_looked_up", reason=reason, events=[type(event).__name__ for event in events])
        return events

    async def session_fills(self) -> list[Event]:
        """The venue's recent trades of this session, oldest first."""
        since = max(0, self._fills_since_ms() - FILL_LOOKBACK_MS)
        try:
            fills = await self._exchange.recent_fills(self._symbol, since)
        except ExchangeError as exc:
            log.warning("recent_fills_failed", error=str(exc))
            return []
        prefix_dash = self._prefix() + "-"
        return [fill for fill in fills if fill.client_order_id.startswith(prefix_dash)]

    async def _place(self, orders: list[PlaceOrder], outcome: RoundOutcome, received_ns: int | None) -> None:
        for order in orders:
            self._sent(order.client_order_id)
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
            # Not open (filled, cancelled, or never placed): its own history says which, and books
            # whatever it traded; a guess here could end a cell whose order filled.
            await self._look_up_into(outcome, command.client_order_id, command.order_id, "cancel: not open")
            return
        except ExchangeError as exc:
            bound.warning("cancel_failed", error=str(exc))
            outcome.needs_reconcile = True
            return
        outcome.cancelled += 1
        bound.debug("order_cancelled")
        # A cancelled order may have traded first, and the push of that trade may be lost: its own
        # history (trades, then the end) is what ends the cell, never a bare "cancelled".
        await self._look_up_into(outcome, command.client_order_id, command.order_id, "cancelled")

    async def _close(self, command: ClosePosition, outcome: RoundOutcome) -> None:
        """A reduce-only MARKET order for the session's inventory, clamped to what the venue holds on
        the account (an earlier run's leftover or the user's own trades may have reduced it); then
        the close's own history (its trades) is read and fed back, so the residual the caller checks
        next already counts this close's fills."""
        bound = log.bind(client_order_id=command.client_order_id)
        try:
            held = await self._exchange.position_quantity(self._symbol)
        except ExchangeError as exc:
            bound.warning("close_position_deferred", error=str(exc), quantity=str(command.quantity))
            return
        reducible = held if command.side is Side.SELL else -held
        quantity = min(command.quantity, max(reducible, Decimal(0)))
        if quantity <= 0:
            bound.warning(
                "close_position_nothing_to_reduce", wanted=str(command.quantity), venue_position=str(held)
            )
            outcome.close_blocked = True
            return
        order = PlaceOrder(
            command.client_order_id, command.side, OrderType.MARKET, quantity, None, reduce_only=True
        )
        self._sent(command.client_order_id)
        order_id: str | None = None
        try:
            ack = await self._exchange.place_order(self._symbol, order)
        except OutcomeUnknown as exc:
            bound.warning("close_position_outcome_unknown", error=str(exc))
        except MinNotional as exc:
            # Dust: the venue takes no order this small, reduce-only or not, and never will; the
            # residual stays with the account (the stop's detail says so).
            bound.warning("close_position_below_venue_minimum", error=str(exc), quantity=str(quantity))
            outcome.close_blocked = True
            return
        except ExchangeError as exc:
            bound.error("close_position_failed", error=str(exc), quantity=str(quantity))
            self._metrics.orders_failed.labels(self._symbol, type(exc).__name__).inc()
            return
        else:
            self._metrics.orders_placed.labels(self._symbol, command.side.value).inc()
            bound.info("position_close_placed", order_id=ack.order_id, quantity=str(quantity))
            order_id = ack.order_id
        await self.settle_close(command.client_order_id, outcome, order_id)

    async def settle_close(
        self, client_order_id: str, outcome: RoundOutcome, order_id: str | None = None
    ) -> None:
        """Feed back what a closing order did; while its end is not known, name it pending (the
        session makes no further close until it is: a second one could reduce more than the
        session's own inventory)."""
        events = await self.look_up(client_order_id, order_id, "closing order")
        if events is None:
            outcome.pending_close = client_order_id
            return
        outcome.events.extend(events)
        if not any(isinstance(event, OrderFilled | OrderCancelled | OrderRejected) for event in events):
            outcome.pending_close = client_order_id  # still working on the venue
