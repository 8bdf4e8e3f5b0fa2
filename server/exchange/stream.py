"""The adapter's event stream: one queue, with fills deduplicated by (order_id, trade_id).

The WebSocket and the REST reconciliation both feed it, so the same fill commonly arrives twice; the
consumer sees it once. Order acceptance and terminal events are deduplicated per order for the same
reason. Memory is bounded: the oldest keys are forgotten first.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import AsyncIterator, Hashable
from decimal import Decimal

from engine.events import (
    Event,
    OrderAccepted,
    OrderCancelled,
    OrderFilled,
    OrderPartiallyFilled,
    OrderRejected,
)
from server.exchange.models import VenueEvent


class _BoundedSet:
    def __init__(self, capacity: int) -> None:
        self._items: OrderedDict[Hashable, None] = OrderedDict()
        self._capacity = capacity

    def __contains__(self, key: Hashable) -> bool:
        return key in self._items

    def add(self, key: Hashable) -> bool:
        """True when the key is new."""
        if key in self._items:
            return False
        self._items[key] = None
        if len(self._items) > self._capacity:
            self._items.popitem(last=False)
        return True


class EventStream:
    def __init__(self, capacity: int = 200_000) -> None:
        self._queue: asyncio.Queue[VenueEvent] = asyncio.Queue()
        self._seen = _BoundedSet(capacity)
        self._filled_quantity: dict[str, Decimal] = {}
        self.duplicates_dropped = 0

    def _key(self, event: Event) -> Hashable | None:
        if isinstance(event, OrderPartiallyFilled | OrderFilled):
            return ("fill", event.order_id, event.trade_id)
        if isinstance(event, OrderAccepted):
            return ("accepted", event.order_id)
        if isinstance(event, OrderCancelled):
            return ("cancelled", event.order_id)
        if isinstance(event, OrderRejected):
            return ("rejected", event.client_order_id)
        return None

    def publish(self, symbol: str, event: Event) -> bool:
        """Queue the event unless it is a duplicate; True when queued."""
        key = self._key(event)
        if key is not None and not self._seen.add(key):
            self.duplicates_dropped += 1
            return False
        if isinstance(event, OrderPartiallyFilled | OrderFilled):
            self._filled_quantity[event.order_id] = self.filled_quantity(event.order_id) + event.quantity
        self._queue.put_nowait(VenueEvent(symbol, event))
        return True

    def mark_seen(self, event: Event) -> None:
        """Record an event the consumer got another way, so the stream never delivers it again."""
        key = self._key(event)
        if key is not None and self._seen.add(key) and isinstance(event, OrderPartiallyFilled | OrderFilled):
            self._filled_quantity[event.order_id] = self.filled_quantity(event.order_id) + event.quantity

    def has_fill(self, order_id: str, trade_id: str) -> bool:
        return ("fill", order_id, trade_id) in self._seen

    def filled_quantity(self, order_id: str) -> Decimal:
        """Sum of the distinct fills published for the order: less than the venue's cumulative
        quantity means a fill push was lost."""
        return self._filled_quantity.get(order_id, Decimal(0))

    async def __aiter__(self) -> AsyncIterator[VenueEvent]:
        while True:
            yield await self._queue.get()

    def get_nowait(self) -> VenueEvent | None:
        try:
            return self._queue.get_nowait()
        except asyncio.QueueEmpty:
            return None
