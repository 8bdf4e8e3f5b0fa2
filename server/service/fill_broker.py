"""Live fills fanned out to WatchFills subscribers, without ever blocking the session loops.

Each subscription has a bounded queue. `publish` never waits: a subscriber whose queue is full is
marked overflowed and ends its stream with RESOURCE_EXHAUSTED (it resumes from the last seq it saw),
so one slow client cannot stall a session. A subscription filters by user, and by session if given.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from server.service.views import FillView

DEFAULT_SUBSCRIBER_QUEUE = 1024


class SubscriptionEnded(Exception):
    """The subscription ended: `overflowed` (too slow) or the broker closed (shutdown)."""

    def __init__(self, overflowed: bool) -> None:
        super().__init__("subscriber too slow" if overflowed else "fill broker closed")
        self.overflowed = overflowed


@dataclass(eq=False)
class Subscription:
    user_id: str
    session_id: str | None
    queue: asyncio.Queue[FillView | None]
    overflowed: bool = False
    closed: bool = False
    _broker: FillBroker | None = field(default=None, repr=False)

    def wants(self, fill: FillView) -> bool:
        if self.session_id is not None:
            return fill.session_id == self.session_id
        return fill.user_id == self.user_id

    async def get(self) -> FillView:
        """The next live fill; SubscriptionEnded when the stream must end."""
        if self.overflowed:
            raise SubscriptionEnded(True)
        item = await self.queue.get()
        if item is None or self.overflowed:
            raise SubscriptionEnded(self.overflowed)
        return item

    def close(self) -> None:
        if self._broker is not None:
            self._broker.unsubscribe(self)


class FillBroker:
    def __init__(self, queue_size: int = DEFAULT_SUBSCRIBER_QUEUE) -> None:
        self._queue_size = queue_size
        self._subscriptions: set[Subscription] = set()
        self._closed = False

    @property
    def subscriber_count(self) -> int:
        return len(self._subscriptions)

    def subscribe(self, user_id: str, session_id: str | None) -> Subscription:
        subscription = Subscription(user_id, session_id, asyncio.Queue(self._queue_size + 1), _broker=self)
        if self._closed:
            subscription.closed = True
            subscription.queue.put_nowait(None)
        else:
            self._subscriptions.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        self._subscriptions.discard(subscription)

    def publish(self, fill: FillView) -> None:
        for subscription in tuple(self._subscriptions):
            if not subscription.wants(fill):
                continue
            # One slot is kept for the end marker, so an overflowed stream still wakes up.
            if subscription.queue.qsize() >= self._queue_size:
                subscription.overflowed = True
                self._subscriptions.discard(subscription)
                subscription.queue.put_nowait(None)
                continue
            subscription.queue.put_nowait(fill)

    def close(self) -> None:
        """End every stream (shutdown)."""
        self._closed = True
        for subscription in self._subscriptions:
            subscription.closed = True
            subscription.queue.put_nowait(None)
        self._subscriptions.clear()
