"""One session's runtime: a single ordered loop over a bounded queue that drives its Session.

Everything that touches the session goes through its queue (venue events from the router, the
opening placement, resume, stop), so the engine sees one event at a time in arrival order. Producers
await `put` when the queue is full (backpressure, never a drop). Venue events that queue up are
applied in batches of up to MAX_BATCH per round. A stop finishes when the venue confirmed it, or at
the stop deadline, whichever comes first; `close()` leaves the loop WITHOUT stopping the session.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

import structlog

from engine import Command, Event, SessionState
from engine.stops import mark_matters
from server.api.errors import DomainError, ErrorReason
from server.service.account_resume import AccountResume
from server.service.equity_points import DEFAULT_EQUITY_INTERVAL_MS
from server.service.session import Session, SessionDeps
from server.service.session_doc import Runtime
from server.store import SessionRecord, VersionConflict

log = structlog.get_logger(__name__)

MAX_BATCH = 64  # venue events applied per round when they queue up


@dataclass(frozen=True, slots=True)
class RunnerSettings:
    queue_size: int = 10_000
    # How long a stop waits for cancels and the close to be confirmed: longer than a placement takes
    # to settle (server.service.executor.PLACEMENT_SETTLE_MS), so a close of unknown outcome is known.
    stop_timeout_ms: int = 12_000
    # How often a running session records a point of its PnL history (besides one per fill).
    equity_interval_ms: int = DEFAULT_EQUITY_INTERVAL_MS


@dataclass(frozen=True, slots=True)
class _Inbound:
    event: Event
    received_ns: int


@dataclass(frozen=True, slots=True)
class _Open:
    commands: tuple[Command, ...]
    done: asyncio.Future[None]


@dataclass(frozen=True, slots=True)
class _Resume:
    done: asyncio.Future[None]
    reads: AccountResume | None = None


@dataclass(frozen=True, slots=True)
class _Stop:
    close_position: bool | None
    done: asyncio.Future[None]


class _Finish:
    """The stop deadline passed: finish with whatever the venue confirmed."""


class _Close:
    """Leave the loop without stopping the session (shutdown)."""


class _Tick:
    """Time for the periodic point of the PnL history."""


_Item = _Inbound | _Open | _Resume | _Stop | _Finish | _Close | _Tick


class SessionRunner:
    def __init__(
        self,
        record: SessionRecord,
        state: SessionState,
        runtime: Runtime,
        deps: SessionDeps,
        settings: RunnerSettings,
    ) -> None:
        self.session = Session(record, state, runtime, deps)
        self._settings = settings
        self._queue: asyncio.Queue[_Item] = asyncio.Queue(settings.queue_size)
        self._held: _Item | None = None
        self._stop_waiters: list[asyncio.Future[None]] = []
        self._deadline: asyncio.Task[None] | None = None
        self._ticker: asyncio.Task[None] | None = None
        self._task: asyncio.Task[None] | None = None
        self.finished = asyncio.Event()  # the session reached STOPPED/FAILED, or the loop ended
        self.on_exit: Callable[[SessionRunner], None] | None = None

    # --- what the service reads -------------------------------------------------------------------

    @property
    def session_id(self) -> str:
        return self.session.session_id

    @property
    def symbol(self) -> str:
        return self.session.symbol

    @property
    def prefix(self) -> str:
        return self.session.state.prefix

    @property
    def record(self) -> SessionRecord:
        return self.session.record

    @property
    def state(self) -> SessionState:
        return self.session.state

    @property
    def runtime(self) -> Runtime:
        return self.session.runtime

    @property
    def last_mark(self) -> Decimal | None:
        return self.session.last_mark

    # --- public API (any task) --------------------------------------------------------------------

    def start(self) -> None:
        # A fresh context: the loop outlives the RPC that started it and must not carry its log fields.
        self._task = asyncio.create_task(
            self._run(), name=f"session-{self.session_id}", context=contextvars.Context()
        )
        self._ticker = asyncio.create_task(self._tick_every_interval(), context=contextvars.Context())

    def wants_mark(self, price: Decimal) -> bool:
        """A mark the session must see: one it could act on (engine.stops.mark_matters), and every
        mark while it stops (each wakes it to check whether the venue confirmed the stop yet)."""
        return self.session.stopping or mark_matters(self.session.state, price)

    def note_mark(self, price: Decimal) -> None:
        """The latest mark, for valuations, without waking the session (see router)."""
        self.session.last_mark = price

    async def submit(self, event: Event, received_ns: int) -> None:
        await self._queue.put(_Inbound(event, received_ns))

    def enqueue_open(self, commands: tuple[Command, ...]) -> asyncio.Future[None]:
        """Queue the opening placement as the runner's FIRST item (call before the runner is routed
        any event). The future resolves once the venue accepted every order, or fails with
        DomainError ORDER_CREATION_FAILED after what was placed is cancelled (the session is FAILED)."""
        return self._enqueue_first(lambda done: _Open(commands, done))

    def enqueue_resume(self, reads: AccountResume | None = None) -> asyncio.Future[None]:
        """Queue the catch-up after a restart as the FIRST item: the venue's trades since the last
        fill, then its snapshot."""
        return self._enqueue_first(lambda done: _Resume(done, reads))

    def _enqueue_first(self, make: Callable[[asyncio.Future[None]], _Item]) -> asyncio.Future[None]:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(make(done))
        return done

    async def stop(self, close_position: bool | None) -> None:
        """Stop the session; returns once it is STOPPED (cancels confirmed, position closed if asked,
        summary written) or the stop deadline passed."""
        await self._call(lambda done: _Stop(close_position, done))

    async def close(self, timeout_s: float = 5.0) -> None:
        """Leave the loop, leaving the session as it is in the store (it resumes on the next start)."""
        if self._task is None or self._task.done():
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._queue.put(_Close()), timeout_s)
        try:
            await asyncio.wait_for(asyncio.shield(self._task), timeout_s)
        except TimeoutError:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def abandon(self) -> None:
        """Leave at once WITHOUT writing anything more, as a crash would (or as an instance must when
        it lost the session to another): what the store holds is what the next owner resumes from."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _call(self, make: Callable[[asyncio.Future[None]], _Item]) -> None:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        item = make(done)
        if self.finished.is_set():  # the loop is over: answer as it would have
            self._held = item
            self._answer_leftovers()
        else:
            await self._queue.put(item)
        await done

    # --- the loop ---------------------------------------------------------------------------------

    async def _run(self) -> None:
        structlog.contextvars.bind_contextvars(session_id=self.session_id, symbol=self.symbol)
        try:
            while not self.finished.is_set():
                item = self._held or await self._queue.get()
                self._held = None
                if isinstance(item, _Close):
                    await self.session.flush()
                    break
                try:
                    await self._handle(item)
                    if self.session.stopping and not self.finished.is_set():
                        self._start_deadline()
                        if await self.session.finish_if_done(force=isinstance(item, _Finish)):
                            self._finished_stopping()
                except Exception as exc:
                    log.exception("session_item_failed", item=type(item).__name__)
                    _fail(item, exc)
                    if isinstance(exc, VersionConflict):  # another instance owns the session now
                        break
        finally:
            if self._deadline is not None:
                self._deadline.cancel()
            if self._ticker is not None:
                self._ticker.cancel()
            self.finished.set()
            self._answer_leftovers()
            if self.on_exit is not None:
                self.on_exit(self)

    async def _handle(self, item: _Item) -> None:
        if isinstance(item, _Inbound):
            events, received_ns = self._drain(item)
            await self.session.process(events, [], received_ns)
        elif isinstance(item, _Open):
            failure = await self.session.open(item.commands)
            if failure is None:
                item.done.set_result(None)
            else:
                self.finished.set()
                item.done.set_exception(
                    DomainError(
                        ErrorReason.ORDER_CREATION_FAILED,
                        f"the exchange did not accept the grid's orders: {failure}",
                    )
                )
        elif isinstance(item, _Resume):
            await self.session.catch_up(item.reads)
            item.done.set_result(None)
        elif isinstance(item, _Stop):
            self._stop_waiters.append(item.done)
            await self.session.request_stop(item.close_position)
        elif isinstance(item, _Tick):
            await self.session.record_periodic_point()

    def _drain(self, first: _Inbound) -> tuple[list[Event], int]:
        events, received_ns = [first.event], first.received_ns
        while len(events) < MAX_BATCH:
            try:
                item = self._queue.get_nowait()
            except asyncio.QueueEmpty:
                break
            if not isinstance(item, _Inbound):
                self._held = item
                break
            events.append(item.event)
        return events, received_ns

    def _start_deadline(self) -> None:
        if self._deadline is None:
            self._deadline = asyncio.create_task(self._finish_later())

    async def _finish_later(self) -> None:
        await asyncio.sleep(self._settings.stop_timeout_ms / 1000)  # a deadline, not synchronisation
        await self._queue.put(_Finish())

    async def _tick_every_interval(self) -> None:
        while True:
            await asyncio.sleep(self._settings.equity_interval_ms / 1000)  # a period, not synchronisation
            with contextlib.suppress(asyncio.QueueFull):  # a full queue is busy: the fills record points
                self._queue.put_nowait(_Tick())

    def _answer_leftovers(self) -> None:
        """The loop is over: answer every caller still waiting, so none hangs. A stop of a session
        that did finish has succeeded; anything else meets a server that is going away."""
        stops = list(self._stop_waiters)
        others: list[asyncio.Future[None]] = []
        self._stop_waiters.clear()
        held, self._held = self._held, None
        for item in (held, *self._queued()):
            if isinstance(item, _Stop):
                stops.append(item.done)
            elif isinstance(item, _Open | _Resume):
                others.append(item.done)
        if self.record.status.is_finished:
            for done in stops:
                if not done.done():
                    done.set_result(None)
        else:
            others += stops
        for done in others:
            if not done.done():
                done.set_exception(DomainError(ErrorReason.SHUTTING_DOWN, "the server is shutting down"))

    def _queued(self) -> list[_Item]:
        items: list[_Item] = []
        while True:
            try:
                items.append(self._queue.get_nowait())
            except asyncio.QueueEmpty:
                return items

    def _finished_stopping(self) -> None:
        for waiter in self._stop_waiters:
            if not waiter.done():
                waiter.set_result(None)
        self._stop_waiters.clear()
        self.finished.set()


def _fail(item: _Item, exc: Exception) -> None:
    done = getattr(item, "done", None)
    if isinstance(done, asyncio.Future) and not done.done():
        if isinstance(exc, DomainError):
            done.set_exception(exc)
        else:
            done.set_exception(DomainError(ErrorReason.INTERNAL, "internal error"))
