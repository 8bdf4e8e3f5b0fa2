"""Routes the exchange's account-wide event stream to the sessions it concerns.

Order events and fills go to the one session whose client_order_id prefix they carry; venue
snapshots go to every session on their symbol, mark prices only to those they could move (every
session keeps the latest for its valuations); a funding settlement (per account and
symbol) is split between the sessions on the symbol in proportion to their positions. Events of no
running session (another instance's, the user's own manual orders, a stopped run's late reports)
are dropped. Delivery awaits each session queue's `put`, so a full queue slows the stream down
instead of losing events.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from decimal import Decimal

import structlog

from engine import FundingSettled, MarkPriceUpdated, StopRequested, VenueSnapshot, parse_client_order_id
from server.exchange import Exchange, VenueEvent
from server.service.runner import SessionRunner

log = structlog.get_logger(__name__)

FUNDING_QUANTUM = Decimal("1e-12")  # a session's share of a settlement, in the quote currency


class EventRouter:
    def __init__(self, exchange: Exchange) -> None:
        self._exchange = exchange
        self._by_prefix: dict[str, SessionRunner] = {}
        self._by_symbol: dict[str, dict[str, SessionRunner]] = {}
        self._task: asyncio.Task[None] | None = None
        self.routed = 0
        self.dropped = 0

    def add(self, runner: SessionRunner) -> None:
        self._by_prefix[runner.prefix] = runner
        self._by_symbol.setdefault(runner.symbol, {})[runner.prefix] = runner

    def remove(self, runner: SessionRunner) -> None:
        if self._by_prefix.get(runner.prefix) is runner:
            del self._by_prefix[runner.prefix]
        on_symbol = self._by_symbol.get(runner.symbol, {})
        if on_symbol.get(runner.prefix) is runner:
            del on_symbol[runner.prefix]

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="event-router")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        try:
            async for venue_event in self._exchange.events():
                await self.route(venue_event)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("event_router_failed")
            raise

    async def route(self, venue_event: VenueEvent) -> None:
        received_ns = time.monotonic_ns()
        event = venue_event.event
        if isinstance(event, MarkPriceUpdated):
            # Every session keeps the mark for its valuations; only those it could move (a stop,
            # a trigger, parked cells) or that are stopping are woken with it (SessionRunner.wants_mark).
            for runner in tuple(self._by_symbol.get(venue_event.symbol, {}).values()):
                runner.note_mark(event.price)
                if runner.wants_mark(event.price):
                    await runner.submit(event, received_ns)
            self.routed += 1
            return
        if isinstance(event, VenueSnapshot):
            for runner in tuple(self._by_symbol.get(venue_event.symbol, {}).values()):
                await runner.submit(event, received_ns)
            self.routed += 1
            return
        if isinstance(event, FundingSettled):
            await self._split_funding(venue_event.symbol, event, received_ns)
            return
        if isinstance(event, StopRequested):  # never from a venue
            self.dropped += 1
            return
        parsed = parse_client_order_id(event.client_order_id)
        target = self._by_prefix.get(parsed.prefix) if parsed is not None else None
        if target is None:
            self.dropped += 1
            log.debug(
                "event_without_session", client_order_id=event.client_order_id, kind=type(event).__name__
            )
            return
        self.routed += 1
        await target.submit(event, received_ns)

    async def _split_funding(self, symbol: str, settled: FundingSettled, received_ns: int) -> None:
        """Each session's share of the account's funding is its share of the account's position on
        the symbol (funding is proportional to position size, sign included): its inventory over the
        account's position, which also holds what the account had before the session started."""
        runners = tuple(self._by_symbol.get(symbol, {}).values())
        holders = [
            (runner, runner.state.ledger.position) for runner in runners if runner.state.ledger.position
        ]
        baseline = sum((runner.runtime.baseline_position for runner in runners), Decimal(0))
        total = baseline + sum((position for _, position in holders), Decimal(0))
        if total == 0:
            self.dropped += 1
            return
        for runner, position in holders:
            share = (settled.amount * position / total).quantize(FUNDING_QUANTUM)
            await runner.submit(FundingSettled(share, settled.timestamp_ms), received_ns)
        self.routed += 1
