"""The one exchange interface the session runtime depends on.

The Orderly adapter implements it; the conformance suite holds any implementation to it. Symbols are
native Orderly symbols (`PERP_BTC_USDC`); `resolve_symbol` maps a user's ticker first.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from decimal import Decimal
from typing import Protocol, runtime_checkable

from engine.commands import PlaceOrder
from engine.events import Event, Fill, VenueOrder, VenueSnapshot
from engine.market import MarketRules
from server.exchange.models import PlacementAck, PlacementResult, VenueEvent


@runtime_checkable
class Exchange(Protocol):
    async def start(self) -> None:
        """Connect; returns once the private stream is authenticated and subscribed."""

    async def close(self) -> None: ...

    async def resolve_symbol(self, ticker: str) -> str:
        """`BTCUSDT` or `PERP_BTC_USDC` -> `PERP_BTC_USDC`, checked against the venue's catalog."""

    async def get_market_rules(self, symbol: str) -> MarketRules: ...

    async def get_mark_price(self, symbol: str) -> Decimal: ...

    async def subscribe(self, symbol: str) -> None:
        """Stream the symbol's mark price and include it in every reconciliation."""

    async def place_order(self, symbol: str, order: PlaceOrder) -> PlacementAck:
        """Raise an ExchangeError subclass on rejection; OutcomeUnknown only when even a look-up by
        client_order_id cannot tell whether the venue has the order."""

    async def place_orders(self, symbol: str, orders: Sequence[PlaceOrder]) -> list[PlacementResult]:
        """One result per order, in order; batches of at most 10 go out under the rate limits."""

    async def cancel_order(self, symbol: str, client_order_id: str) -> None:
        """Raise UnknownOrder when the venue has no open order with that id."""

    async def cancel_all(self, symbol: str) -> None: ...

    async def open_orders(self, symbol: str) -> list[VenueOrder]: ...

    async def position_quantity(self, symbol: str) -> Decimal:
        """Signed position size (negative = short); 0 when flat."""

    async def snapshot(self, symbol: str) -> VenueSnapshot: ...

    async def query_order(
        self, symbol: str, client_order_id: str, order_id: str | None = None
    ) -> tuple[Event, ...]:
        """What became of one order, as events (acceptance if open, every trade, its end); an order
        the venue never saw comes back as OrderRejected with code -1006. The events are returned,
        not streamed, and the stream will not deliver them afterwards."""

    async def recent_fills(self, symbol: str, since_ms: int) -> list[Fill]:
        """Every fill of the account on `symbol` at or after `since_ms` (venue time), oldest first."""

    async def account_snapshots(self, symbols: Iterable[str]) -> dict[str, VenueSnapshot]:
        """`snapshot` of each symbol, from reads of the whole account (a resume's bulk read)."""

    async def account_fills(self, symbols: Iterable[str], since_ms: int) -> dict[str, list[Fill]]:
        """`recent_fills` of each symbol, from reads of the whole account (a resume's bulk read)."""

    def events(self) -> AsyncIterator[VenueEvent]:
        """For ONE consumer (the session runtime's router): order updates, fills (each (order_id,
        trade_id) exactly once), mark prices, and a VenueSnapshot per tracked symbol after every
        reconnect."""
