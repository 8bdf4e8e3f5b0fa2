"""OrderlyExchange: the Exchange protocol over Orderly's REST API and WebSockets.

Composition: a REST client (signing, limiter, retries), a placer (never doubles an order), a private
stream (executionreport, position) and a public stream (mark prices), caches for symbol rules and
mark prices, and one deduplicated event stream. After every private (re)connect, periodically, and
whenever a report reveals a fill we never saw, the adapter reconciles over REST: open orders, position
and recent trades; recovered fills join the stream and are deduplicated there.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

import aiohttp
import structlog

from engine.commands import PlaceOrder
from engine.events import (
    Event,
    Fill,
    OrderFilled,
    OrderPartiallyFilled,
    OrderRejected,
    VenueOrder,
    VenueSnapshot,
)
from engine.market import MarketRules
from server.exchange import constants as c
from server.exchange.auth import OrderlySigner
from server.exchange.config import OrderlyConfig
from server.exchange.errors import AuthError, ExchangeError
from server.exchange.funding import AccruedFunding
from server.exchange.market_data import MarketData
from server.exchange.models import (
    OrderReport,
    PlacementAck,
    PlacementResult,
    TradeReport,
    VenueEvent,
)
from server.exchange.parsing import (
    fills_from_trades,
    order_state_events,
    parse_execution_report,
    parse_mark_price_push,
    parse_position_push,
    to_decimal,
    to_id,
    to_int,
)
from server.exchange.placement import Placer
from server.exchange.ratelimit import RateLimiter
from server.exchange.rest import OrderlyRestClient
from server.exchange.stream import EventStream
from server.exchange.ws import Frame, WsStream

log = structlog.get_logger(__name__)

FUNDING_CHECK_INTERVAL_S = 1.0


class OrderlyExchange:
    def __init__(self, config: OrderlyConfig, *, session: aiohttp.ClientSession | None = None) -> None:
        if config.credentials is None:
            raise AuthError(
                "credentials: OrderlyExchange needs ORDERLY_ACCOUNT_ID, ORDERLY_KEY and ORDERLY_SECRET"
            )
        self.config = config
        self._own_session = session is None
        self._session = session
        self._signer = OrderlySigner(config.credentials)
        self.limiter = RateLimiter(config.rate_limits, margin_ms=config.rate_limit_margin_ms)
        self._rest: OrderlyRestClient | None = None
        self._placer: Placer | None = None
        self._rng = random.Random(config.seed)
        self._stream = EventStream()
        self._market_data: MarketData | None = None
        self._positions: dict[str, Decimal] = {}
        self._funding = AccruedFunding()
        self._funding_task: asyncio.Task[None] | None = None
        self._funding_read_s = 0.0  # monotonic time of the last push-triggered funding read
        self._symbols: set[str] = set()
        self._trades_since_ms: dict[str, int] = {}
        self._client_ids: dict[str, str] = {}  # order_id -> client_order_id
        self._finished_orders: dict[str, OrderReport] = {}  # terminal reports never change
        self._reconcile_requested = False
        self._reconcile_lock = asyncio.Lock()
        self._reconcile_task: asyncio.Task[None] | None = None
        self._periodic_task: asyncio.Task[None] | None = None
        self._private: WsStream | None = None
        self._public: WsStream | None = None
        self.reconcile_count = 0
        self.recovered_fills = 0  # fills that reached the stream through REST, not the WebSocket

    # --- lifecycle --------------------------------------------------------------------------------

    @property
    def rest(self) -> OrderlyRestClient:
        if self._rest is None:
            raise RuntimeError("OrderlyExchange.start() has not been called")
        return self._rest

    @property
    def placer(self) -> Placer:
        if self._placer is None:
            raise RuntimeError("OrderlyExchange.start() has not been called")
        return self._placer

    async def start(self) -> None:
        try:
            await self._start()
        except BaseException:
            await self.close()
            raise

    async def _start(self) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        self._rest = OrderlyRestClient(self.config, self._session, self.limiter, self._signer)
        self._placer = Placer(self._rest, self.config)
        self._market_data = MarketData(self._rest, self.config)
        await self._market_data.refresh_catalog()
        ws_options: dict[str, Any] = {
            "ping_interval_ms": self.config.ws_ping_interval_ms,
            "silence_timeout_ms": self.config.ws_silence_timeout_ms,
            "reconnect_base_ms": self.config.ws_reconnect_base_ms,
            "reconnect_max_ms": self.config.ws_reconnect_max_ms,
            "handshake_timeout_ms": self.config.ws_handshake_timeout_ms,
            "rng": self._rng,
        }
        account_id = self._signer.credentials.account_id
        self._private = WsStream(
            "private",
            f"{self.config.private_ws_url}/{account_id}",
            self._session,
            self._on_private_frame,
            auth_params=self._signer.ws_auth_params,
            on_connected=self._on_private_connected,
            **ws_options,
        )
        await self._private.subscribe(c.TOPIC_EXECUTION_REPORT)
        await self._private.subscribe(c.TOPIC_POSITION)
        self._public = WsStream(
            "public",
            f"{self.config.public_ws_url}/{c.PUBLIC_WS_ID}",
            self._session,
            self._on_public_frame,
            **ws_options,
        )
        self._private.start()
        self._public.start()
        await self._wait_until_connected(self._private)
        await self._check_funding()  # the baseline of the accrued funding (server.exchange.funding)
        if self.config.reconcile_interval_ms > 0:
            self._periodic_task = asyncio.create_task(
                self._reconcile_periodically(), name="orderly-reconcile"
            )

    async def _wait_until_connected(self, stream: WsStream) -> None:
        """Wait for the first handshake; a refused auth fails at once instead of at the timeout."""
        timeout_ms = self.config.connect_timeout_ms or self.config.request_timeout_ms * 3
        timeout_s = timeout_ms / 1000
        waiters = [
            asyncio.create_task(stream.connected.wait()),
            asyncio.create_task(stream.auth_failed.wait()),
        ]
        try:
            await asyncio.wait(waiters, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
            await asyncio.gather(*waiters, return_exceptions=True)
        if stream.connected.is_set():
            return
        if stream.auth_failed.is_set():
            raise AuthError(f"the venue refused the private stream's auth: {stream.last_error}")
        raise ExchangeError(f"private stream did not connect within {timeout_s} s: {stream.last_error}")

    async def close(self) -> None:
        for task in (self._periodic_task, self._reconcile_task, self._funding_task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        for stream in (self._private, self._public):
            if stream is not None:
                await stream.close()
        if self._own_session and self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def private_stream(self) -> WsStream | None:
        return self._private

    @property
    def http_429_count(self) -> int:
        return self._rest.http_429_count if self._rest is not None else 0

    # --- market data ------------------------------------------------------------------------------

    @property
    def market_data(self) -> MarketData:
        if self._market_data is None:
            raise RuntimeError("OrderlyExchange.start() has not been called")
        return self._market_data

    async def resolve_symbol(self, ticker: str) -> str:
        return await self.market_data.resolve_symbol(ticker)

    async def get_market_rules(self, symbol: str) -> MarketRules:
        return await self.market_data.market_rules(symbol)

    async def get_mark_price(self, symbol: str) -> Decimal:
        return await self.market_data.mark_price(symbol)

    async def subscribe(self, symbol: str) -> None:
        self._track(symbol)
        if self._public is not None:
            await self._public.subscribe(f"{symbol}{c.MARK_PRICE_TOPIC_SUFFIX}")

    def _track(self, symbol: str) -> None:
        if symbol not in self._symbols:
            self._symbols.add(symbol)
            since = self.rest.server_now_ms() - self.config.reconcile_overlap_ms
            self._trades_since_ms.setdefault(symbol, since)

    # --- trading ----------------------------------------------------------------------------------

    async def place_order(self, symbol: str, order: PlaceOrder) -> PlacementAck:
        self._track(symbol)
        ack = await self.placer.place_one(symbol, order)
        self._client_ids[ack.order_id] = ack.client_order_id
        return ack

    async def place_orders(self, symbol: str, orders: Sequence[PlaceOrder]) -> list[PlacementResult]:
        ids = [order.client_order_id for order in orders]
        if len(set(ids)) != len(ids):
            raise ValueError("orders: client_order_id values must be unique within one call")
        self._track(symbol)
        results = await self.placer.place_many(symbol, orders)
        for result in results:
            if isinstance(result, PlacementAck):
                self._client_ids[result.order_id] = result.client_order_id
        return results

    async def cancel_order(self, symbol: str, client_order_id: str) -> None:
        self._track(symbol)
        await self.rest.cancel_by_client_order_id(symbol, client_order_id)

    async def cancel_all(self, symbol: str) -> None:
        self._track(symbol)
        await self.rest.cancel_all(symbol)

    async def open_orders(self, symbol: str) -> list[VenueOrder]:
        return [report.to_venue_order() for report in await self._open_order_reports(symbol)]

    async def _open_order_reports(self, symbol: str) -> list[OrderReport]:
        reports = await self.rest.open_orders(symbol)
        for report in reports:
            if report.client_order_id:
                self._client_ids[report.order_id] = report.client_order_id
        return reports

    async def position_quantity(self, symbol: str) -> Decimal:
        positions = await self._read_positions()
        return positions.get(symbol, Decimal(0))

    async def _read_positions(self) -> dict[str, Decimal]:
        """Every position of the account; funding settled since the last read goes to the stream."""
        reports = await self.rest.position_reports()
        positions = {report.symbol: report.quantity for report in reports}
        self._positions.update(positions)
        for symbol, settled in self._funding.observe(reports):
            log.info("funding_settled", symbol=symbol, amount=str(settled.amount))
            self._stream.publish(symbol, settled)
        return positions

    def _schedule_funding_check(self) -> None:
        """A position push that changed no size (a funding settlement touches the position): read
        the accrued funding. One read at a time; pushes meanwhile are covered by it."""
        if self._funding_task is None or self._funding_task.done():
            self._funding_task = asyncio.create_task(self._check_funding(), name="orderly-funding")

    async def _check_funding(self) -> None:
        # At most one push-triggered read per FUNDING_CHECK_INTERVAL_S, however often the venue pushes.
        delay = self._funding_read_s + FUNDING_CHECK_INTERVAL_S - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        self._funding_read_s = time.monotonic()
        try:
            await self._read_positions()
        except ExchangeError as exc:  # the periodic reconcile reads again
            log.warning("funding_check_failed", error=str(exc))

    async def snapshot(self, symbol: str) -> VenueSnapshot:
        orders = await self._open_order_reports(symbol)
        position = await self.position_quantity(symbol)
        return VenueSnapshot(
            open_orders=tuple(report.to_venue_order() for report in orders),
            position_quantity=position,
            timestamp_ms=self.rest.server_now_ms(),
        )

    async def account_snapshots(self, symbols: Iterable[str]) -> dict[str, VenueSnapshot]:
        """`snapshot` of every symbol in two reads for the whole account (open orders of all
        symbols, paged, and the positions), for a resume of many sessions at once."""
        reports = await self.rest.account_open_orders()
        for report in reports:
            if report.client_order_id:
                self._client_ids[report.order_id] = report.client_order_id
        positions = await self._read_positions()
        now_ms = self.rest.server_now_ms()
        return {
            symbol: VenueSnapshot(
                open_orders=tuple(r.to_venue_order() for r in reports if r.symbol == symbol),
                position_quantity=positions.get(symbol, Decimal(0)),
                timestamp_ms=now_ms,
            )
            for symbol in symbols
        }

    async def account_fills(self, symbols: Iterable[str], since_ms: int) -> dict[str, list[Fill]]:
        """`recent_fills` of every symbol from one read of the account's trades and one of its
        orders created since `since_ms` (for the client_order_ids); an order of a trade that read
        does not cover (created earlier) is looked up on its own."""
        trades = await self.rest.account_trades(since_ms)
        known = {report.order_id: report for report in await self.rest.account_orders_since(since_ms)}
        return {
            symbol: await self._fills_for_trades(symbol, [t for t in trades if t.symbol == symbol], known)
            for symbol in symbols
        }

    async def query_order(
        self, symbol: str, client_order_id: str, order_id: str | None = None
    ) -> tuple[Event, ...]:
        self._track(symbol)
        if order_id:
            report: OrderReport | None = await self.rest.order_by_id(order_id)
        else:
            report = await self.rest.order_by_client_order_id(client_order_id)
        if report is None:
            reason = "the venue has no order with this client_order_id"
            return (OrderRejected(client_order_id, reason, code=c.CODE_RESOURCE_NOT_FOUND),)
        events = order_state_events(report, await self.rest.order_trades(report.order_id))
        for event in events:
            self._stream.mark_seen(event)
        return events

    async def recent_fills(self, symbol: str, since_ms: int) -> list[Fill]:
        trades = await self.rest.trades(symbol, since_ms)
        return await self._fills_for_trades(symbol, trades, {})

    async def _fills_for_trades(
        self,
        symbol: str,
        trades: Sequence[TradeReport],
        known: Mapping[str, OrderReport],
        *,
        only_unseen: bool = False,
    ) -> list[Fill]:
        by_order: dict[str, list[TradeReport]] = {}
        for trade in trades:
            if trade.symbol in (symbol, ""):
                by_order.setdefault(trade.order_id, []).append(trade)
        fills: list[Fill] = []
        for order_id, order_trades in by_order.items():
            if only_unseen and all(self._stream.has_fill(order_id, t.trade_id) for t in order_trades):
                continue  # nothing new: spare the order look-up
            order = known.get(order_id) or self._finished_orders.get(order_id)
            if order is None:
                order = await self.rest.order_by_id(order_id)
                if order.status in c.TERMINAL_STATUSES:
                    self._finished_orders[order_id] = order
                    if len(self._finished_orders) > 10_000:
                        self._finished_orders.pop(next(iter(self._finished_orders)))
            if order.client_order_id:
                self._client_ids[order_id] = order.client_order_id
            fills.extend(fills_from_trades(order, order_trades))
        fills.sort(key=lambda fill: (fill.timestamp_ms, fill.order_id, fill.trade_id))
        return fills

    # --- event stream -----------------------------------------------------------------------------

    async def events(self) -> AsyncIterator[VenueEvent]:
        async for event in self._stream:
            yield event

    def _on_private_frame(self, frame: Frame) -> None:
        topic = frame.get("topic")
        data = frame.get("data")
        if not isinstance(data, Mapping):
            return
        if topic == c.TOPIC_EXECUTION_REPORT:
            self._on_execution_report(data)
        elif topic == c.TOPIC_POSITION:
            unchanged = False
            for update in parse_position_push(data, to_int(frame.get("ts"), "ts")):
                unchanged |= self._positions.get(update.symbol) == update.quantity
                self._positions[update.symbol] = update.quantity
            if unchanged:
                self._schedule_funding_check()

    def _on_execution_report(self, data: Mapping[str, Any]) -> None:
        symbol, events = parse_execution_report(data)
        order_id = to_id(data.get("orderId"))
        cumulative = to_decimal(data.get("totalExecutedQuantity"), "totalExecutedQuantity", Decimal(0))
        for event in events:
            if isinstance(event, OrderPartiallyFilled | OrderFilled) and event.client_order_id:
                self._client_ids[event.order_id] = event.client_order_id
            self._stream.publish(symbol, event)
        if symbol and cumulative > self._stream.filled_quantity(order_id):
            # The venue has executed more than we have seen: a fill push was lost.
            log.info("fill_gap_detected", symbol=symbol, order_id=order_id)
            self._track(symbol)
            self._schedule_reconcile()

    def _on_public_frame(self, frame: Frame) -> None:
        topic = str(frame.get("topic") or "")
        if topic.endswith(c.MARK_PRICE_TOPIC_SUFFIX):
            symbol, update = parse_mark_price_push(frame)
            self.market_data.on_mark_price(symbol, update.price)
            self._stream.publish(symbol, update)

    # --- reconciliation ---------------------------------------------------------------------------

    async def _on_private_connected(self) -> None:
        try:
            await self.reconcile(emit_snapshots=True)
        except ExchangeError as exc:  # the periodic loop retries
            log.warning("reconcile_after_connect_failed", error=str(exc))

    def _schedule_reconcile(self) -> None:
        """Reconcile soon; a gap seen while one runs gets another pass (its trades may postdate it)."""
        self._reconcile_requested = True
        if self._reconcile_task is None or self._reconcile_task.done():
            self._reconcile_task = asyncio.create_task(self._reconcile_gaps(), name="orderly-reconcile-gap")

    async def _reconcile_gaps(self) -> None:
        while self._reconcile_requested:
            self._reconcile_requested = False
            await self._reconcile_quietly()

    async def _reconcile_quietly(self, *, emit_snapshots: bool = False) -> None:
        try:
            await self.reconcile(emit_snapshots=emit_snapshots)
        except ExchangeError as exc:
            log.warning("reconcile_failed", error=str(exc))

    async def _reconcile_periodically(self) -> None:
        while True:
            await asyncio.sleep(self.config.reconcile_interval_ms / 1000)
            # With snapshots: an order whose fate a session could not learn earlier (a look-up that
            # failed, a placement with no answer) is looked up again from the next one.
            await self._reconcile_quietly(emit_snapshots=True)
            if self._symbols:
                await self._check_funding()

    async def reconcile(self, *, emit_snapshots: bool = False) -> None:
        """Bring the event stream up to the venue's truth for every tracked symbol."""
        async with self._reconcile_lock:
            for symbol in sorted(self._symbols):
                await self._reconcile_symbol(symbol, emit_snapshots)
            self.reconcile_count += 1

    async def _reconcile_symbol(self, symbol: str, emit_snapshot: bool) -> None:
        started_ms = self.rest.server_now_ms()
        orders = await self._open_order_reports(symbol)
        position = await self.position_quantity(symbol) if emit_snapshot else Decimal(0)
        since = self._trades_since_ms.get(symbol, started_ms - self.config.reconcile_overlap_ms)
        trades = await self.rest.trades(symbol, since)
        known = {order.order_id: order for order in orders}
        fills = await self._fills_for_trades(symbol, trades, known, only_unseen=True)
        for fill in fills:
            if self._stream.publish(symbol, fill):
                self.recovered_fills += 1
        if emit_snapshot:
            snapshot = VenueSnapshot(
                open_orders=tuple(order.to_venue_order() for order in orders),
                position_quantity=position,
                timestamp_ms=started_ms,
            )
            self._stream.publish(symbol, snapshot)
        self._trades_since_ms[symbol] = max(since, started_ms - self.config.reconcile_overlap_ms)
