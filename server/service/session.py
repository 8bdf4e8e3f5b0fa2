"""One session's durable state machine: engine state, stored record and what the runtime keeps.

Per round of events: step the engine; append the fills it records to the store's ledger (idempotent
on (order_id, trade_id)) and publish them; persist the new state (optimistic version) -- all before
anything reaches the venue; then execute the venue commands and feed their outcomes back as the next
round. A crash between any two steps is repaired on resume: re-fed fills are recognised by the
engine, and an already stored fill is neither stored nor published twice.

Only the session's runner (server.service.runner) calls this, from its one loop, so nothing here
needs a lock except the per-user one that keeps fills in seq order across a user's sessions.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal

import structlog

from engine import (
    CancelOrder,
    CellStatus,
    ClosePosition,
    Command,
    Event,
    GridShifted,
    MarkPriceUpdated,
    OrderAccepted,
    OrderFilled,
    OrderPartiallyFilled,
    PlaceOrder,
    QueryOrder,
    RecordFill,
    RecordRoundTrip,
    ReportAnomaly,
    SessionState,
    SessionStopped,
    Side,
    StopReason,
    StopRequested,
    VenueSnapshot,
    pnl,
    step,
)
from engine import SessionStatus as EngineStatus
from engine.order_ids import close_order_id
from engine.stops import stop as engine_stop
from server.exchange import Exchange, ExchangeError
from server.metrics import ServiceMetrics
from server.service.account_resume import AccountResume
from server.service.equity_points import equity_point, fill_point
from server.service.executor import CommandExecutor, RoundOutcome, VenueCommand
from server.service.fill_broker import FillBroker
from server.service.session_doc import Runtime, to_document
from server.service.stop_summary import final_status, stop_detail, summary_record
from server.service.views import FillView
from server.store import (
    EquityPointKind,
    EquityPointRecord,
    FillRecord,
    RoundTripRecord,
    SessionRecord,
    SessionStatus,
    Store,
    StoreError,
)

log = structlog.get_logger(__name__)

MAX_RECONCILES_PER_ITEM = 3
MAX_FLATTENS = 2
LEDGER_PAGE = 500
# What a round may hold besides fills and still put its counter orders on the wire first: events that
# only move prices or acknowledge orders (a replay without them reaches the same orders, or leaves
# cells the reconciliation resolves).
_HOT_PATH_EVENTS = (OrderFilled, OrderPartiallyFilled, MarkPriceUpdated, OrderAccepted)
EXPECTED_ANOMALIES = frozenset({"position_mismatch", "unknown_order_cancelled", "unknown_order_accepted"})


@dataclass(frozen=True, slots=True)
class SessionDeps:
    store: Store
    exchange: Exchange
    broker: FillBroker
    metrics: ServiceMetrics
    now_ms: Callable[[], int]
    user_lock: Callable[[str], asyncio.Lock]


@dataclass
class _Round:
    venue: list[VenueCommand] = field(default_factory=list)
    # Each fill with the round trip it completed: the engine emits RecordRoundTrip right after the
    # RecordFill that completed it, in the same step.
    fills: list[tuple[RecordFill, RecordRoundTrip | None]] = field(default_factory=list)
    had_fill: bool = False


class Session:
    def __init__(
        self, record: SessionRecord, state: SessionState, runtime: Runtime, deps: SessionDeps
    ) -> None:
        self.record = record
        self.state = state
        self.runtime = runtime
        self.last_mark: Decimal | None = None
        self.stopping = record.status is SessionStatus.STOPPING
        self._deps = deps
        self._saved: tuple[SessionState, Runtime] = (state, runtime)
        self._saved_stopping = self.stopping
        self._ledger_ahead = False  # a failed round left fills in the ledger the state does not hold
        self._fill_events: dict[tuple[str, str], OrderFilled | OrderPartiallyFilled] = {}
        # (order_id, trade_id) of every fill the engine state holds: a fill seen again (a restart's
        # catch-up, a look-up, a replayed push) is dropped here, whatever its cell has done since.
        # Loaded from the store's ledger on resume (load_ledger).
        self._applied: set[tuple[str, str]] = set()
        self._applied_unsaved: list[tuple[str, str]] = []  # added since the state was last saved
        self._replay: list[FillRecord] = []  # ledger fills the saved state has not applied yet
        self._replaying = False  # applying those (catch_up)
        self._flattens = 0
        self._pending_close: str | None = None
        # The position at which the venue refused (or could not take) a close: a residual of exactly
        # this stays with the account; fills that change the position make it worth another close.
        self._close_blocked_at: Decimal | None = None
        self._must_persist = False
        self._points: list[EquityPointRecord] = []  # PnL history not written yet (see _write_points)
        self._executor = CommandExecutor(
            deps.exchange,
            record.symbol,
            lambda: self.state.prefix,
            lambda: self.runtime.last_fill_ms or self.record.created_at_ms,
            deps.metrics,
            deps.now_ms,
        )

    @property
    def session_id(self) -> str:
        return self.record.session_id

    @property
    def symbol(self) -> str:
        return self.record.symbol

    # --- what the runner asks for -----------------------------------------------------------------

    async def open(self, commands: Sequence[Command]) -> str | None:
        """Place the opening orders. None when the venue accepted them all (the session is RUNNING);
        otherwise what went wrong, after cancelling whatever was placed (the session is FAILED)."""
        venue = _venue_commands(commands)
        outcome = await self.process([], venue, None)
        unplaced = [cell.client_order_id for cell in self.state.cells if cell.status is CellStatus.PLACING]
        if not outcome.rejections and not unplaced:
            await self._persist(status=SessionStatus.RUNNING)
            self._add_point(EquityPointKind.START, "start", self.record.created_at_ms)
            await self._write_points()
            log.info("session_started", orders=len(venue))
            return None
        detail = (
            "; ".join(outcome.rejections) or f"no answer from the venue for {', '.join(map(str, unplaced))}"
        )
        log.warning("session_open_failed", detail=detail)
        self.state, stop_commands = engine_stop(self.state, StopReason.ERROR, False, detail)
        self.stopping = True
        # Saved before the cancels go out: a crash now must resume this as a stop, not as a grid.
        self._must_persist = True
        await self.process([], _venue_commands(stop_commands), None)
        await self.finish()
        return detail

    async def catch_up(self, reads: AccountResume | None = None) -> None:
        """After a restart: first the fills the ledger holds but the saved state has not applied (a
        crash between the two writes); then the venue's trades since the last fill (and their counter
        orders); then, for a stopping session, what its closing orders did; THEN the venue's snapshot
        -- one taken before the counter orders were placed would only look them up again. `reads`:
        the account's bulk reads, shared with the other sessions resuming on it."""
        try:
            await self._catch_up(reads)
        finally:
            if reads is not None:
                reads.finished(self.session_id)

    async def _catch_up(self, reads: AccountResume | None) -> None:
        await self.load_ledger()
        replay, self._replay = self._replay, []
        if replay:
            log.info("replaying_unapplied_fills", fills=len(replay))
            self._replaying = True  # their counter orders may be out already: see _still_wanted
            try:
                await self.process([_fill_event(record) for record in replay], [], None)
            finally:
                self._replaying = False
        fills = await reads.fills(self.symbol, self.state.prefix) if reads is not None else None
        await self.process(
            list(fills) if fills is not None else await self._executor.session_fills(), [], None
        )
        if self.state.status is EngineStatus.STOPPED:
            for client_order_id in self.runtime.close_order_ids:
                await self._settle_close(client_order_id)
        snapshot = await reads.snapshot(self.session_id, self.symbol) if reads is not None else None
        if snapshot is None:
            snapshot = await self._snapshot()
        await self.process([snapshot] if snapshot is not None else [], [], None)
        if self.record.status is SessionStatus.PENDING:
            await self._persist(status=SessionStatus.RUNNING)
        if self.state.status is EngineStatus.STOPPED:
            self.stopping = True

    async def load_ledger(self) -> None:
        """Read the session's fill ledger: every stored fill's key, and the fills after the saved
        state's last_fill_seq (appended, then a crash before the state was saved) to apply first."""
        applied_through = self.runtime.last_fill_seq
        async for record in self._own_ledger(0):
            if applied_through is not None and record.seq > applied_through:
                self._replay.append(record)
            else:
                self._applied.add((record.order_id, record.trade_id))

    async def _own_ledger(self, after_seq: int) -> AsyncIterator[FillRecord]:
        """This run's fills in the ledger after `after_seq` (the ledger of a session id also holds
        its earlier runs' fills)."""
        prefix_dash = self.state.prefix_dash
        while True:
            page = await self._deps.store.list_fills(self.session_id, after_seq=after_seq, limit=LEDGER_PAGE)
            for record in page:
                if record.client_order_id.startswith(prefix_dash):
                    yield record
            if len(page) < LEDGER_PAGE:
                return
            after_seq = page[-1].seq

    async def _unapplied_ledger_fills(self) -> list[Event]:
        """After a failed round: the fills it appended to the ledger but the state went back on."""
        return [
            _fill_event(record)
            async for record in self._own_ledger(self.runtime.last_fill_seq or 0)
            if (record.order_id, record.trade_id) not in self._applied
        ]

    async def request_stop(self, close_position: bool | None) -> None:
        await self.process([StopRequested(close_position)], [], None)
        self.stopping = True  # also when the engine had stopped already (a stop-loss in progress)

    async def finish_if_done(self, *, force: bool) -> bool:
        """Finish a stopping session once the venue confirmed the cancels and, when a close was asked,
        the session's inventory is closed (or the venue holds nothing more a reduce-only order could
        reduce). A residual left by fills that raced the cancels is flattened, but never while an
        earlier closing order's outcome is unknown. With `force` (the stop deadline) finish with
        what was confirmed. True when finished."""
        if not force:
            if any(cell.is_live for cell in self.state.cells):
                return False
            if self._pending_close is not None:
                await self._settle_close(self._pending_close)
            while self._residual and self._pending_close is None and self._flattens < MAX_FLATTENS:
                await self._flatten()
            if self._residual:
                return False
        else:
            await self._last_look()
        live = any(cell.is_live for cell in self.state.cells)
        if live or self._residual:
            log.warning(
                "stop_finished_unconfirmed",
                live_orders=live,
                position=str(self.state.ledger.position),
                pending_close=self._pending_close,
            )
        await self.finish()
        return True

    async def _last_look(self) -> None:
        """At the stop's deadline: ask the venue once more about every order not confirmed ended
        (a lost push, an asynchronous cancel), so what they traded is booked before the end."""
        if self._pending_close is not None:
            await self._settle_close(self._pending_close)
        queries: list[VenueCommand] = [
            QueryOrder(cell.client_order_id, cell.order_id, "stop deadline")
            for cell in self.state.cells
            if cell.is_live and cell.client_order_id is not None
        ]
        if queries:
            await self.process([], queries, None)

    @property
    def _residual(self) -> bool:
        state = self.state
        position = state.ledger.position
        return state.close_requested and position != 0 and position != self._close_blocked_at

    async def _settle_close(self, client_order_id: str) -> None:
        outcome = RoundOutcome()
        await self._executor.settle_close(client_order_id, outcome)
        self._after_close(outcome)
        if outcome.events:
            await self.process(outcome.events, [], None)

    def _after_close(self, outcome: RoundOutcome) -> None:
        self._pending_close = outcome.pending_close
        if outcome.close_blocked:
            self._close_blocked_at = self.state.ledger.position

    async def finish(self) -> None:
        """Write the summary and the final status (STOPPED, or FAILED for an error)."""
        state, now_ms = self.state, self._deps.now_ms()
        mark = self.last_mark
        if mark is None:
            try:
                mark = await self._deps.exchange.get_mark_price(self.symbol)
            except ExchangeError:
                mark = state.config.current_price
        report = pnl(state, mark, max(0, now_ms - self.record.created_at_ms))
        self.runtime = replace(
            self.runtime, stop_detail=stop_detail(state, self.runtime), mark_price=str(mark)
        )
        await self._deps.store.write_summary(
            summary_record(self.record, state, self.runtime, report, mark, now_ms)
        )
        reason = state.stop_reason or StopReason.MANUAL
        status = final_status(reason)
        await self._persist(status=status, stopped_at_ms=now_ms, stop_reason=reason.value)
        self.last_mark = mark
        self._add_point(EquityPointKind.STOP, "stop", now_ms)
        await self._write_points()
        log.info("session_stopped", status=status.value, reason=reason.value, total_pnl=str(report.total))

    async def record_periodic_point(self) -> None:
        """The periodic valuation of the PnL history, at the last mark (none known yet: skipped)."""
        if self.last_mark is None or self.record.status.is_finished:
            return
        now_ms = self._deps.now_ms()
        self._add_point(EquityPointKind.PERIODIC, f"p{now_ms}", now_ms)
        await self._write_points()

    def _add_point(self, kind: EquityPointKind, point_id: str, timestamp_ms: int) -> None:
        mark = self.last_mark if self.last_mark is not None else self.state.config.current_price
        self._points.append(equity_point(self.session_id, self.state, kind, point_id, timestamp_ms, mark))

    async def _write_points(self) -> None:
        """The history is derived from the ledger and the state, never the truth: a store that
        fails to take it costs some points, never a round (fills and state are written first)."""
        points, self._points = self._points, []
        if not points:
            return
        try:
            await self._deps.store.append_equity_points(points)
        except StoreError as exc:
            log.warning("equity_points_not_recorded", points=len(points), error=str(exc))

    async def _flatten(self) -> None:
        """Fills that raced the stop's cancels left a position after the engine's close: flatten it
        with another reduce-only market order under a new id (clamped to the venue's position)."""
        self._flattens += 1
        state = self.state
        position = state.ledger.position
        side = Side.SELL if position > 0 else Side.BUY
        client_order_id = close_order_id(state.prefix, side, state.close_sequence)
        self.state = state._replace(close_sequence=state.close_sequence + 1)
        # Saved before it is sent, as the engine's own close is: never sent twice, looked up after a crash.
        self.runtime = self.runtime.with_close_order(client_order_id)
        await self._persist()
        log.info("flattening_residual_position", position=str(position), client_order_id=client_order_id)
        await self.process([], [ClosePosition(client_order_id, side, abs(position))], None)

    async def _snapshot(self) -> VenueSnapshot | None:
        try:
            return await self._deps.exchange.snapshot(self.symbol)
        except ExchangeError as exc:
            log.warning("snapshot_failed", error=str(exc))
            return None

    # --- rounds -----------------------------------------------------------------------------------

    async def process(
        self, events: list[Event], commands: list[VenueCommand], received_ns: int | None
    ) -> RoundOutcome:
        """Apply events (and execute commands) until nothing more comes back; returns the totals.
        `received_ns` (when the first event arrived) times fill -> counter order."""
        try:
            if self._ledger_ahead:
                events = [*await self._unapplied_ledger_fills(), *events]
                self._ledger_ahead = False
            return await self._process(events, commands, received_ns)
        except BaseException:
            self._revert()
            raise

    def _revert(self) -> None:
        """A round failed part-way (the store, a bug): go back to the state last saved. What the lost
        round applied comes again from the venue (a reconciliation, a restart) and is applied then."""
        self.state, self.runtime = self._saved
        self.stopping = self._saved_stopping or self.state.status is EngineStatus.STOPPED
        # Fills the failed round appended stay in the ledger: they are applied again first thing
        # in the next round, or on resume (load_ledger), whichever comes first.
        self._ledger_ahead = True
        for key in self._applied_unsaved:
            self._applied.discard(key)
        self._applied_unsaved.clear()
        self._fill_events.clear()
        self._points.clear()
        self._must_persist = False

    async def _process(
        self, events: list[Event], commands: list[VenueCommand], received_ns: int | None
    ) -> RoundOutcome:
        total = RoundOutcome()
        reconciles = 0
        replayed = bool(events) and self._replaying
        while events or commands:
            batch = self._step_all(events)
            if self._counter_first(batch, events, commands) and not replayed:
                await self._append_fills(batch)
            else:
                batch.venue[:0] = commands
                await self._make_durable(batch)
            venue = self._still_wanted(batch.venue, replayed)
            replayed = False
            outcome = await self._executor.execute(venue, received_ns if batch.had_fill else None)
            await self._write_points()  # after the counter orders are on the wire: off their path
            if any(isinstance(command, ClosePosition) for command in venue):
                self._after_close(outcome)
            total.cancelled += outcome.cancelled
            total.rejections += outcome.rejections
            if outcome.cancelled:
                self._must_persist = True
                self.runtime = replace(
                    self.runtime, cancelled_orders=self.runtime.cancelled_orders + outcome.cancelled
                )
            events, commands, received_ns = outcome.events, [], None
            if outcome.needs_reconcile and reconciles < MAX_RECONCILES_PER_ITEM:
                reconciles += 1
                snapshot = await self._snapshot()
                if snapshot is not None:
                    events.append(snapshot)
        if self._unsaved and self._must_persist:
            await self._persist()
        return total

    async def flush(self) -> None:
        """Persist what was deferred (see `_step_all`); the runner calls it before leaving."""
        if self._unsaved:
            await self._persist()

    def _still_wanted(self, commands: list[VenueCommand], replayed: bool) -> list[VenueCommand]:
        """Drop placements a later event of the same round superseded: when a cell's order and its
        successor's fill are both in one batch (catch-up after a restart), the engine already moved
        the cell past the first order, which must not reach the venue. Drop too every placement that
        may have gone out before: counter orders go out before the state that holds them is saved
        (`_counter_first`), so fills replayed from the ledger (`replayed`: after a crash, or a failed
        state write) derive placements again that an earlier process -- or this one -- may have
        sent. Their cells stay PLACING, and the reconciliation resolves them from the venue (adopted
        if it has them, looked up otherwise; one it never saw is re-placed under a new id)."""
        # By id, not by cell_index: a trailing grid's cell numbers are not positions in `cells`.
        current = {cell.client_order_id for cell in self.state.cells}

        def unwanted(command: VenueCommand) -> bool:
            if not isinstance(command, PlaceOrder) or command.cell_index is None:
                return False
            order_id = command.client_order_id
            return order_id not in current or replayed or self._executor.was_sent(order_id)

        return [command for command in commands if not unwanted(command)]

    def _counter_first(self, batch: _Round, events: list[Event], commands: list[VenueCommand]) -> bool:
        """The hot path: a round of fills (with the mark pushes and acknowledgements that came with
        them), whose only venue commands are placements of cell orders (their counter orders).
        Their ids are deterministic and the fills are in the ledger first, so the orders go out
        before the session state is saved (it follows, grouped, at the end of `process`); a crash in
        between is what resume covers (the ledger's fills are applied again, the orders resolved
        from the venue, never sent again)."""
        return (
            bool(batch.fills)
            and not commands
            and not self.stopping
            and all(isinstance(event, _HOT_PATH_EVENTS) for event in events)
            and all(isinstance(c, PlaceOrder) and c.cell_index is not None for c in batch.venue)
        )

    def _step_all(self, events: list[Event]) -> _Round:
        batch = _Round()
        for event in events:
            if isinstance(event, MarkPriceUpdated):
                self.last_mark = event.price
            elif isinstance(event, VenueSnapshot):
                event = _own_share(event, self.runtime.baseline_position)
            elif isinstance(event, OrderFilled | OrderPartiallyFilled):
                if (event.order_id, event.trade_id) in self._applied:
                    # Normal after a restart or a look-up: counted, not a warning.
                    self._deps.metrics.fills_seen_again.labels(self.symbol).inc()
                    log.debug("fill_seen_again", order_id=event.order_id, trade_id=event.trade_id)
                    continue
                batch.had_fill = True
                self._fill_events[(event.order_id, event.trade_id)] = event
                self.runtime = self.runtime.with_fill(event.timestamp_ms)
            before = self.state
            self.state, commands = step(self.state, event)
            # An acknowledgement only moves a cell from PLACING to OPEN: losing that to a crash costs
            # nothing (reconciliation adopts the order from the venue), so it is written with the next
            # change instead of on its own -- a write less per order on the hot path.
            if self.state is not before and not isinstance(event, OrderAccepted):
                self._must_persist = True
            previous: Command | None = None
            for command in commands:
                self._collect(command, previous, batch)
                previous = command
        return batch

    def _collect(self, command: Command, previous: Command | None, batch: _Round) -> None:
        """`previous` is the command before `command` in the same engine step."""
        if isinstance(command, RecordFill):
            key = (command.order_id, command.trade_id)
            self._applied.add(key)
            self._applied_unsaved.append(key)
            batch.fills.append((command, None))
            self._points.append(fill_point(self.session_id, self.state, command))
            if command.cell_index is None:  # a trade of a closing order: what the stop closed
                closed = self.runtime.closed_quantity + command.quantity
                self.runtime = replace(self.runtime, closed_quantity=closed)
        elif isinstance(command, RecordRoundTrip):
            self._deps.metrics.round_trips.labels(self.symbol).inc()
            if isinstance(previous, RecordFill) and previous.cell_index == command.cell_index:
                batch.fills[-1] = (previous, command)
            else:
                # Booked without a fill of its own (a cancel after a partial exit): the engine's
                # ledger counts it in PnL; no fill carries it.
                log.info("round_trip_without_fill", cell_index=command.cell_index, profit=str(command.profit))
        elif isinstance(command, ReportAnomaly):
            # A snapshot read a moment before or after a burst of fills shows a position or an old
            # order's end the session has moved past: expected, not for a person to look at.
            level = log.info if command.kind in EXPECTED_ANOMALIES else log.warning
            level("engine_anomaly", kind=command.kind, detail=command.detail)
        elif isinstance(command, SessionStopped):
            log.info("session_stopping", reason=command.reason.value, detail=command.detail)
            self.stopping = True
        elif isinstance(command, GridShifted):
            self._shifted(command)
        else:
            if isinstance(command, ClosePosition):  # saved before it is sent: looked up after a crash
                self.runtime = self.runtime.with_close_order(command.client_order_id)
            batch.venue.append(command)

    def _shifted(self, shift: GridShifted) -> None:
        """A trailing shift: in the log and, as its own point, in the history (persisted with the
        round's state, before the shift's orders go out: see `_make_durable`)."""
        log.info(
            "grid_shifted",
            direction=shift.direction.value,
            dropped_cell=shift.dropped_cell,
            added_cell=shift.added_cell,
            lower=str(shift.lower_price),
            upper=str(shift.upper_price),
        )
        point_id = f"s{shift.timestamp_ms}:{shift.dropped_cell}:{shift.added_cell}"
        self._points.append(
            equity_point(
                self.session_id,
                self.state,
                EquityPointKind.SHIFT,
                point_id,
                shift.timestamp_ms,
                shift.mark_price,
            )
        )

    async def _make_durable(self, batch: _Round) -> None:
        await self._append_fills(batch)
        if (self._unsaved and self._must_persist) or (
            self.stopping and self.record.status is SessionStatus.RUNNING
        ):
            await self._persist()

    async def _append_fills(self, batch: _Round) -> None:
        if batch.fills:
            # Append and publish under the user's lock: fills reach subscribers in seq order even
            # when several sessions of one user fill at once. A fill is durable once appended, so it
            # may be published before the session state is (a crash re-feeds it, and the store
            # answers inserted=False, so it is never published twice).
            async with self._deps.user_lock(self.record.user_id):
                for fill, round_trip in batch.fills:
                    await self._append(fill, round_trip)
        self._fill_events.clear()

    async def _append(self, fill: RecordFill, round_trip: RecordRoundTrip | None) -> None:
        event = self._fill_events.get((fill.order_id, fill.trade_id))
        record = FillRecord(
            session_id=self.session_id,
            user_id=self.record.user_id,
            order_id=fill.order_id,
            trade_id=fill.trade_id,
            client_order_id=fill.client_order_id,
            side=fill.side,
            price=fill.price,
            quantity=fill.quantity,
            fee=fill.fee,
            timestamp_ms=fill.timestamp_ms,
            fee_asset=event.fee_asset if event is not None else "USDC",
            is_maker=event.is_maker if event is not None else True,
            cell_index=fill.cell_index,
            round_trip=RoundTripRecord(**dataclasses.asdict(round_trip)) if round_trip is not None else None,
        )
        stored, inserted = await self._deps.store.append_fill(record)
        if stored.seq > (self.runtime.last_fill_seq or 0):
            self.runtime = replace(self.runtime, last_fill_seq=stored.seq)
        if not inserted:
            return
        self._deps.metrics.fills.labels(self.symbol).inc()
        self._deps.broker.publish(FillView(stored, self.record.user_id, self.symbol))

    async def _persist(
        self,
        status: SessionStatus | None = None,
        stopped_at_ms: int | None = None,
        stop_reason: str | None = None,
    ) -> None:
        if status is None and self.stopping and self.record.status is SessionStatus.RUNNING:
            status = SessionStatus.STOPPING
        self.record = await self._deps.store.update_session(
            self.session_id,
            self.record.version,
            updated_at_ms=self._deps.now_ms(),
            status=status,
            engine_state=to_document(self.state, self.runtime),
            stopped_at_ms=stopped_at_ms,
            stop_reason=stop_reason,
        )
        self._saved = (self.state, self.runtime)
        self._saved_stopping = self.stopping
        self._applied_unsaved.clear()
        self._must_persist = False

    @property
    def _unsaved(self) -> bool:
        return self.state is not self._saved[0] or self.runtime is not self._saved[1]


def _own_share(snapshot: VenueSnapshot, baseline: Decimal) -> VenueSnapshot:
    """The session's inventory as the venue sees it: the account's position less what the account
    held on the symbol when the session started."""
    if not baseline:
        return snapshot
    return dataclasses.replace(snapshot, position_quantity=snapshot.position_quantity - baseline)


def _fill_event(record: FillRecord) -> OrderPartiallyFilled:
    """A stored fill as the event that applies it again. Cumulative 0: the ledger row does not keep
    the venue's cumulative, and 0 makes the engine trust the trades it has (no gap look-up)."""
    return OrderPartiallyFilled(
        client_order_id=record.client_order_id,
        order_id=record.order_id,
        trade_id=record.trade_id,
        side=record.side,
        price=record.price,
        quantity=record.quantity,
        fee=record.fee,
        cumulative_quantity=Decimal(0),
        timestamp_ms=record.timestamp_ms,
        is_maker=record.is_maker,
        fee_asset=record.fee_asset,
    )


def _venue_commands(commands: Sequence[Command]) -> list[VenueCommand]:
    return [c for c in commands if isinstance(c, PlaceOrder | CancelOrder | ClosePosition | QueryOrder)]
