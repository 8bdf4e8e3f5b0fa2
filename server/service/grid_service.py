"""The service layer both API edges share: StartGrid, StopGrid, GetGrid, ListGrids, summaries,
PreviewGrid and WatchFills over the store, the exchange and the running sessions.

It owns the session runners (one per live session in this process), the event router that feeds
them, and the fill broker that fans fills out to subscribers. Protobuf stops at the edge: inputs and
outputs here are plain values (server.service.views), errors are DomainError.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from decimal import Decimal

import structlog

from engine import (
    Command,
    GridConfig,
    GridConfigError,
    MarketRules,
    SessionState,
    pnl,
    preview,
    start,
)
from engine.lines import round_to_tick
from server.api.errors import DomainError, ErrorReason
from server.exchange import Exchange, ExchangeError, SymbolError
from server.metrics import ServiceMetrics
from server.service import history, summaries
from server.service.account_resume import AccountResume, resume_since_ms
from server.service.errors import (
    duplicate_session,
    exchange_error,
    page_size_of,
    session_not_found,
    shutting_down,
    store_error,
)
from server.service.exchange_pool import AccountVenue, ExchangeFactory, ExchangePool
from server.service.fill_broker import FillBroker
from server.service.fill_stream import ReplayComplete, stream_fills
from server.service.grid_input import (
    GridConfigInput,
    check_ticker,
    input_to_dict,
    market_params_error,
    to_engine_config,
)
from server.service.held_sessions import HeldSessions
from server.service.price_guard import check_current_price, price_tolerance
from server.service.resume import (
    VENUE_INSTANCE_KEY,
    record_failed_resume,
    retire_sessions_of_reset_venue,
    unfinished_sessions,
)
from server.service.runner import RunnerSettings, SessionRunner
from server.service.session import SessionDeps
from server.service.session_accounts import (
    ACCOUNT_ID_KEY,
    ACCOUNT_SOURCE_KEY,
    AccountNotOnThisServer,
    AccountUnavailable,
    CredentialsLookup,
    SessionAccounts,
    account_of,
    no_registered_accounts,
)
from server.service.session_doc import Runtime, from_document, stored_mark, to_document
from server.service.session_ids import check_run_id, session_id_aliases
from server.service.views import FillView, GridView, PreviewView
from server.store import (
    DuplicateSession,
    InvalidRecord,
    SessionRecord,
    SessionStatus,
    Store,
    StoreError,
)
from server.store.args import MAX_SEQ

log = structlog.get_logger(__name__)


VENUE_SIMULATOR = "simulator"  # the built-in simulated exchange: nothing traded is real
VENUE_ORDERLY = "orderly"


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


class GridService:
    def __init__(
        self,
        store: Store,
        exchange: Exchange,
        metrics: ServiceMetrics,
        *,
        now_ms: Callable[[], int] = wall_clock_ms,
        runner_settings: RunnerSettings | None = None,
        subscriber_queue_size: int = 1024,
        default_account_id: str = "",
        exchange_factory: ExchangeFactory | None = None,
        credentials_for: CredentialsLookup = no_registered_accounts,
        venue_instance: str | None = None,
        resume_retry_base_ms: int = 1_000,
        resume_retry_max_ms: int = 60_000,
        venue_name: str = "orderly",
    ) -> None:
        """`exchange` trades for the default account (`default_account_id`); `exchange_factory`
        opens the exchange of a user's registered account (None: everyone trades on the default).
        `venue_instance` is set when the venue is a simulator that lives only as long as this
        process (see `start`). A session whose account fails to open at start-up is retried from
        `resume_retry_base_ms`, doubling up to `resume_retry_max_ms`."""
        self.store = store
        self.exchange = exchange
        self.venue_name = venue_name
        self.metrics = metrics
        self.now_ms = now_ms
        self.broker = FillBroker(subscriber_queue_size)
        self.pool = ExchangePool(exchange, default_account_id, exchange_factory)
        self.router = self.pool.default.router
        self._accounts = SessionAccounts(self.pool, credentials_for)
        self._user_locks: dict[str, asyncio.Lock] = {}
        self._runner_settings = runner_settings or RunnerSettings()
        self._deps: dict[str, SessionDeps] = {}
        self._runners: dict[str, SessionRunner] = {}
        self._account_of: dict[str, str] = {}  # session_id -> account id it trades on
        self._starting: set[tuple[str, str]] = set()  # (user_id, symbol) being started
        self._starting_accounts: set[tuple[str, str]] = set()  # (account_id, symbol) being started
        self._closing = False
        self._venue_instance = venue_instance
        self._resumes: dict[str, AccountResume] = {}  # the start-up resume, per account
        self.resume_complete = False  # every stored session resumed (or held, or failed)
        self._held = HeldSessions(
            self._accounts.of,
            self._resume_one,
            self._fail_resume,
            retry_base_ms=resume_retry_base_ms,
            retry_max_ms=resume_retry_max_ms,
        )

    def _user_lock(self, user_id: str) -> asyncio.Lock:
        lock = self._user_locks.get(user_id)
        if lock is None:
            lock = self._user_locks[user_id] = asyncio.Lock()
        return lock

    def _deps_for(self, venue: AccountVenue) -> SessionDeps:
        deps = self._deps.get(venue.account_id)
        if deps is None:
            deps = self._deps[venue.account_id] = SessionDeps(
                self.store, venue.exchange, self.broker, self.metrics, self.now_ms, self._user_lock
            )
        return deps

    # --- lifecycle --------------------------------------------------------------------------------

    async def start(self) -> None:
        """Start routing venue events, then resume every unfinished session from the store. A
        session whose owner replaced or removed its account's registration is marked FAILED, and so
        is one that traded on a simulated venue of an earlier process (its orders and position went
        with it). One whose account cannot be opened now is held, untouched in the store
        (server.service.held_sessions): retried in the background when the venue failed, left for a
        start with the right configuration when the account is not this process's. The others
        resume."""
        self.pool.start()
        records = await unfinished_sessions(self.store)
        if self._venue_instance is not None:
            records = await retire_sessions_of_reset_venue(
                self.store, records, self._venue_instance, self.pool.default.account_id, self.now_ms()
            )
        await self._resume_all(records)

    async def _resume_all(self, records: list[SessionRecord]) -> None:
        venues: list[tuple[SessionRecord, AccountVenue]] = []
        for record in records:
            try:
                venues.append((record, await self._accounts.of(record)))
            except AccountUnavailable as exc:
                await self._fail_resume(record, f"cannot resume: {exc}")
            except AccountNotOnThisServer as exc:
                self._held.hold(record, str(exc))
            except ExchangeError as exc:
                self._held.defer(record, exc)
        # The sessions of one account share its bulk venue reads (server.service.account_resume).
        by_account: dict[str, list[SessionRecord]] = {}
        for record, venue in venues:
            by_account.setdefault(venue.account_id, []).append(record)
        venue_of = {venue.account_id: venue for _, venue in venues}
        self._resumes = {
            account_id: AccountResume(
                account_id,
                venue_of[account_id].exchange,
                ((record.session_id, record.symbol) for record in records),
                min(resume_since_ms(record) for record in records),
            )
            for account_id, records in by_account.items()
        }
        # Every runner exists before any reconciles, so each sees the others' positions on its symbol.
        launched = [
            (self._launch(record, venue, reads=self._resumes[venue.account_id]), venue)
            for record, venue in venues
        ]
        try:
            await asyncio.gather(
                *(self._caught_up(runner, first, venue) for (runner, first), venue in launched)
            )
        finally:
            for resume in self._resumes.values():
                resume.close()
            self.resume_complete = True
        log.info("service_started", resumed=len(self._runners), held=len(self._held.session_ids))

    def resume_progress(self) -> list[tuple[str, int, int]]:
        """(account id, sessions resumed, sessions to resume) of the start-up resume, per account."""
        return [(a, len(r.resumed), r.total) for a, r in sorted(self._resumes.items())]

    def resume_detail(self) -> tuple[bool, str]:
        """The readiness of the sessions: `resuming k/n` per account until every one resumed."""
        if not self.resume_complete:
            progress = [(a, k, n) for a, k, n in self.resume_progress() if k < n]
            if not progress:
                return False, "reading the stored sessions"
            return False, "; ".join(
                f"resuming {k}/{n} on {account or 'the default account'}" for account, k, n in progress
            )
        held = len(self._held.session_ids)
        detail = f"{len(self._runners)} running" + (f", {held} held (account not reachable)" if held else "")
        return True, detail

    async def _caught_up(
        self, runner: SessionRunner, first: asyncio.Future[None], venue: AccountVenue
    ) -> None:
        try:
            await venue.exchange.subscribe(runner.symbol)
            await first
            log.info("session_resumed", session_id=runner.session_id, status=runner.record.status.value)
        except Exception:
            log.exception("session_resume_failed", session_id=runner.session_id)

    async def _resume_one(self, record: SessionRecord, venue: AccountVenue) -> None:
        """Resume a held session whose account opened at last (server.service.held_sessions)."""
        if self._closing:
            return
        runner, first = self._launch(record, venue)
        await self._caught_up(runner, first, venue)

    async def _fail_resume(self, record: SessionRecord, reason: str) -> None:
        await record_failed_resume(self.store, record, reason, self.now_ms())

    def begin_shutdown(self) -> None:
        """Refuse new calls and end every WatchFills stream, so the gRPC server can drain."""
        self._closing = True
        self.broker.close()

    async def close(self) -> None:
        """Stop the runners WITHOUT stopping their sessions (they resume on the next start), and end
        every WatchFills stream, and close the exchanges of users' accounts. The store and the
        default exchange are the caller's to close."""
        self.begin_shutdown()
        await self._held.close()
        for venue in self.pool.venues:
            await venue.router.close()
        await asyncio.gather(*(runner.close() for runner in tuple(self._runners.values())))
        self._runners.clear()
        self._account_of.clear()
        await self.pool.close()
        self.metrics.active_sessions.set(0)

    @property
    def held_session_ids(self) -> tuple[str, ...]:
        """The unfinished sessions this process holds without running (see `start`)."""
        return self._held.session_ids

    @property
    def runners(self) -> tuple[SessionRunner, ...]:
        """The sessions running in this process."""
        return tuple(self._runners.values())

    def _launch(
        self,
        record: SessionRecord,
        venue: AccountVenue,
        opening: tuple[Command, ...] | None = None,
        *,
        reads: AccountResume | None = None,
    ) -> tuple[SessionRunner, asyncio.Future[None]]:
        """A runner for the session on its account's venue, its first item queued (the opening
        placement, or the catch-up after a restart) BEFORE any venue event can be routed to it."""
        state, runtime = from_document(record.engine_state)
        runner = SessionRunner(record, state, runtime, self._deps_for(venue), self._runner_settings)
        first = runner.enqueue_open(opening) if opening is not None else runner.enqueue_resume(reads)
        runner.on_exit = self._on_runner_exit
        self._runners[record.session_id] = runner
        self._account_of[record.session_id] = venue.account_id
        venue.router.add(runner)
        runner.start()
        self.metrics.active_sessions.set(len(self._runners))
        return runner, first

    def _on_runner_exit(self, runner: SessionRunner) -> None:
        for venue in self.pool.venues:
            venue.router.remove(runner)
        if self._runners.get(runner.session_id) is runner:
            del self._runners[runner.session_id]
            self._account_of.pop(runner.session_id, None)
        self.metrics.active_sessions.set(len(self._runners))

    def _check_open(self) -> None:
        if self._closing:
            raise shutting_down()

    # --- StartGrid / StopGrid ---------------------------------------------------------------------

    async def start_grid(self, user_id: str, source: GridConfigInput) -> GridView:
        """Validate (bad fields first, then the duplicate check), record the session, place the
        opening orders; returns once the venue accepted them all. `user_id` is the authenticated
        caller (the API edge authenticates it: server.auth.AuthGate)."""
        self._check_open()
        ticker = check_ticker(source.ticker)
        session_id = f"{user_id}_{ticker}"
        symbol, rules = await self._symbol_rules(ticker)
        now_ms = self.now_ms()
        # The prefix of the client_order_ids hashes the session key: a new run of the same session id
        # gets ids that never collide with an old run's leftovers.
        config = await self._config_at_mark(source, f"{session_id}@{now_ms}", rules)
        try:
            state, commands = start(config, rules)
        except GridConfigError as exc:
            raise market_params_error(exc) from None
        # One live grid per user and symbol (the proto's rule), whichever ticker spelling names it;
        # the error names the running session's own id, which StopGrid takes.
        key = (user_id, symbol)
        running = next(
            (
                r.session_id
                for r in self._runners.values()
                if (r.record.user_id, r.symbol) == key or r.session_id == session_id
            ),
            None,
        )
        if running is not None or key in self._starting:
            raise duplicate_session(running or session_id)
        self._starting.add(key)
        try:
            try:
                venue, account_source = await self._accounts.for_new_session(user_id)
            except ExchangeError as exc:
                raise exchange_error(exc) from exc
            # One running grid per ACCOUNT and symbol too: the venue nets positions per account and
            # symbol, so two grids there could not each know their own position.
            account_key = (venue.account_id, symbol)
            self._check_account_symbol_free(account_key)
            self._starting_accounts.add(account_key)
            try:
                return await self._start_grid(
                    user_id, session_id, source, state, commands, now_ms, venue, account_source
                )
            finally:
                self._starting_accounts.discard(account_key)
        finally:
            self._starting.discard(key)

    def _check_account_symbol_free(self, account_key: tuple[str, str]) -> None:
        account_id, symbol = account_key
        running = next(
            (
                runner.session_id
                for runner in self._runners.values()
                if runner.symbol == symbol
                and self._account_of.get(runner.session_id) == account_id
                and not runner.finished.is_set()
            ),
            None,
        ) or next(  # held sessions still own their account and symbol: they resume later
            (
                record.session_id
                for record in self._held.records
                if record.symbol == symbol and account_of(record, self.pool.default.account_id) == account_id
            ),
            None,
        )
        if running is None and account_key not in self._starting_accounts:
            return
        who = f"session {running}" if running is not None else "another grid being started"
        raise DomainError(
            ErrorReason.ACCOUNT_SYMBOL_IN_USE,
            f"{who} already runs on this Orderly account and {symbol}; stop it first, or register a "
            "separate account for a second grid on the same symbol",
            metadata={"symbol": symbol, "running_session_id": running or ""},
        )

    async def _start_grid(
        self,
        user_id: str,
        session_id: str,
        source: GridConfigInput,
        state: SessionState,
        commands: tuple[Command, ...],
        now_ms: int,
        venue: AccountVenue,
        account_source: str,
    ) -> GridView:
        symbol = state.config.symbol
        try:  # what the account already holds on the symbol is not the session's inventory
            baseline = await venue.exchange.position_quantity(symbol)
        except ExchangeError as exc:
            raise exchange_error(exc) from exc
        runtime = Runtime(baseline_position=baseline)
        config = input_to_dict(source)
        config[ACCOUNT_ID_KEY] = venue.account_id  # a resume trades on this same account
        config[ACCOUNT_SOURCE_KEY] = account_source  # whose: decides a resume that cannot open it
        if self._venue_instance is not None:
            config[VENUE_INSTANCE_KEY] = self._venue_instance
        record = SessionRecord(
            session_id=session_id,
            user_id=user_id,
            symbol=symbol,
            status=SessionStatus.PENDING,
            config=config,
            engine_state=to_document(state, runtime),
            created_at_ms=now_ms,
            updated_at_ms=now_ms,
        )
        try:
            record = await self.store.create_session(record)
        except DuplicateSession:
            raise duplicate_session(session_id) from None
        except StoreError as exc:
            raise store_error(exc) from exc
        structlog.contextvars.bind_contextvars(session_id=session_id)
        runner, opened = self._launch(record, venue, commands)
        try:
            await venue.exchange.subscribe(symbol)
        except ExchangeError as exc:
            log.warning("mark_price_subscribe_failed", error=str(exc))
        await opened
        log.info("grid_started", symbol=symbol, orders=len(commands))
        return self._view(runner.record, runner)

    async def _config_at_mark(
        self, source: GridConfigInput, session_key: str, rules: MarketRules
    ) -> GridConfig:
        """The engine config laid out around the venue's live mark price, after the request's own
        checks and the check of its current_price against the mark (server.service.price_guard)."""
        tolerance = price_tolerance(source.price_tolerance)
        symbol = rules.symbol
        try:  # on the symbol's tick: the mark is the config's price and follows the config's rules
            mark = round_to_tick(await self.exchange.get_mark_price(symbol), rules.quote_tick)
        except ExchangeError as exc:
            raise exchange_error(exc) from exc
        config = to_engine_config(source, session_key, symbol, mark)  # every field's own checks
        check_current_price(source.current_price, mark, tolerance)
        return config

    async def _symbol_rules(self, ticker: str) -> tuple[str, MarketRules]:
        try:
            symbol = await self.exchange.resolve_symbol(ticker)
            return symbol, await self.exchange.get_market_rules(symbol)
        except (ExchangeError, SymbolError) as exc:
            raise exchange_error(exc, self.venue_name) from exc

    async def stop_grid(self, user_id: str, session_id: str, close_position: bool | None) -> GridView:
        self._check_open()
        record = await self._owned_session(session_id, user_id)
        if record.status.is_finished:
            raise DomainError(
                ErrorReason.SESSION_ALREADY_STOPPED,
                f"session {session_id} is already {record.status.value}",
                metadata={"session_id": session_id, "status": record.status.value},
            )
        session_id = record.session_id  # the stored id, whichever ticker spelling the caller used
        runner = self._runners.get(session_id)
        if runner is None:  # unfinished in the store but not running here: take it over first
            held = self._held.unavailable_error(session_id)
            if held is not None:  # its account is not reachable here: touch nothing
                raise held
            try:
                venue = await self._accounts.of(record)
            except AccountUnavailable as exc:
                raise DomainError(
                    ErrorReason.ACCOUNT_NOT_REGISTERED, f"session {session_id}: {exc}"
                ) from None
            except AccountNotOnThisServer as exc:
                raise DomainError(
                    ErrorReason.EXCHANGE_UNAVAILABLE,
                    f"session {session_id} is not running on this server: {exc}",
                    metadata={"session_id": session_id},
                ) from None
            except ExchangeError as exc:
                raise exchange_error(exc) from exc
            runner, caught_up = self._launch(record, venue)
            await caught_up
        structlog.contextvars.bind_contextvars(session_id=session_id)
        # None follows the session's close_position_on_stop (the engine decides); True/False override it.
        await runner.stop(close_position)
        log.info(
            "grid_stopped",
            cancelled=runner.runtime.cancelled_orders,
            closed=str(runner.runtime.closed_quantity),
        )
        return self._view(runner.record, runner)

    # --- reads ------------------------------------------------------------------------------------

    async def get_grid(self, user_id: str, session_id: str) -> GridView:
        for alias in session_id_aliases(session_id):
            runner = self._runners.get(alias)
            if runner is not None:  # a live session: its runner holds the latest record and state
                if runner.record.user_id != user_id:
                    raise session_not_found(session_id)
                return self._view(runner.record, runner)
        record = await self._owned_session(session_id, user_id)
        return self._view(record, None)

    async def grid_history(
        self,
        user_id: str,
        session_id: str,
        run_id: str,
        start_ms: int,
        end_ms: int,
        resolution_ms: int,
        page_size: int,
        page_token: str,
    ) -> tuple[SessionRecord, history.HistoryPage, str]:
        """One page of a run's PnL history (server.service.history); the run defaults to the
        session's latest. Returns the session, the page and the run it is of."""
        size = history.check_history_request(start_ms, end_ms, resolution_ms, page_size)
        check_run_id(run_id)
        record = await self._owned_session(session_id, user_id)
        run = run_id or self._view_of(record).run_id
        query = history.HistoryQuery(record.session_id, run, start_ms, end_ms or None, resolution_ms)
        try:
            page = await history.history_page(self.store, query, size, page_token)
        except InvalidRecord as exc:
            raise DomainError.invalid_field(exc.field, exc.rule) from None
        except StoreError as exc:
            raise store_error(exc) from exc
        return record, page, run

    async def list_grids(
        self,
        user_id: str | None,
        status: SessionStatus | None,
        page_size: int,
        page_token: str,
    ) -> tuple[list[GridView], str]:
        """The sessions of `user_id` (None: every user's, for the operator). The API edge decides
        which user the caller may list (server.auth.listing_user_filter)."""
        try:
            page = await self.store.list_sessions(
                user_id=user_id,
                status=status,
                page_size=page_size_of(page_size),
                page_token=page_token or None,
            )
        except InvalidRecord as exc:
            raise store_error(exc) from None
        except StoreError as exc:
            raise store_error(exc) from exc
        views = [self._view_of(record) for record in page.items]
        return views, page.next_page_token or ""

    async def list_summaries(
        self,
        user_id: str | None,
        status: SessionStatus | None,
        start_time_ms: int,
        end_time_ms: int,
        page_size: int,
        page_token: str,
    ) -> tuple[list[summaries.SummaryView], str, summaries.SummaryTotals]:
        if start_time_ms < 0 or end_time_ms < 0:
            raise DomainError.invalid_field("start_time", "must be >= 0 (ms since the epoch)")
        if end_time_ms and start_time_ms and end_time_ms < start_time_ms:
            raise DomainError.invalid_field("end_time", "must not be earlier than start_time")
        query = summaries.SummaryQuery(user_id, status, start_time_ms or None, end_time_ms or None)
        offset = summaries.decode_offset(page_token, query)
        size = page_size_of(page_size)
        try:
            views = await summaries.collect(self.store, query, self._view_of)
        except StoreError as exc:
            raise store_error(exc) from exc
        page = views[offset : offset + size]
        token = summaries.encode_offset(offset + size, query) if offset + size < len(views) else ""
        return page, token, summaries.totals(views)

    async def preview_grid(self, source: GridConfigInput) -> PreviewView:
        ticker = check_ticker(source.ticker)
        symbol, rules = await self._symbol_rules(ticker)
        config = await self._config_at_mark(source, "preview", rules)
        try:
            result = preview(config, rules)
        except GridConfigError as exc:
            raise market_params_error(exc) from None
        return PreviewView(
            symbol,
            result,
            rules,
            config.leverage,
            config.maker_fee_rate,
            config.current_price,
            venue=self.venue_name,
        )

    async def watch_fills(
        self, user_id: str, session_id: str, after_seq: int, run_id: str = ""
    ) -> AsyncIterator[FillView | ReplayComplete]:
        """The stream of WatchFills (see server.service.fill_stream): the checks run at once, the
        stream is what the returned iterator yields."""
        self._check_open()
        if not 0 <= after_seq <= MAX_SEQ:  # seqs are int64 in both stores (SQLite INTEGER, BSON long)
            raise DomainError.invalid_field("after_seq", f"must be from 0 to {MAX_SEQ}, got {after_seq}")
        check_run_id(run_id)
        if run_id and not session_id:
            raise DomainError.invalid_field("run_id", "needs session_id (a run is one start of a session)")
        symbols: dict[str, str] = {}
        if session_id:
            record = await self._owned_session(session_id, user_id)
            session_id = record.session_id  # the stored id, whichever ticker spelling named it
            symbols[session_id] = record.symbol
            run_id = run_id or self._view_of(record).run_id  # a session's watch is of one run
        subscription = self.broker.subscribe(user_id, session_id or None)  # BEFORE the replay is read
        return stream_fills(self.store, subscription, user_id, session_id or None, after_seq, symbols, run_id)

    # --- helpers ----------------------------------------------------------------------------------

    async def _owned_session(self, session_id: str, user_id: str) -> SessionRecord:
        if not session_id:
            raise DomainError.invalid_field("session_id", "is required")
        record: SessionRecord | None = None
        try:
            for alias in session_id_aliases(session_id):
                record = await self.store.get_session(alias)
                if record is not None:
                    break
        except StoreError as exc:
            raise store_error(exc) from exc
        if record is None or record.user_id != user_id:  # another user's session answers as a missing one
            raise session_not_found(session_id)
        return record

    def _view_of(self, record: SessionRecord) -> GridView:
        """The view of a stored session, live if it runs here."""
        return self._view(record, self._runners.get(record.session_id))

    def _view(self, record: SessionRecord, runner: SessionRunner | None) -> GridView:
        live = runner is not None and not runner.finished.is_set()
        if runner is not None:
            state, runtime = runner.state, runner.runtime
            record = runner.record if runner.record.version >= record.version else record
        else:
            state, runtime = from_document(record.engine_state)
        now_ms = self.now_ms()
        mark: Decimal | None = runner.last_mark if live and runner is not None else None
        valued_at_ms = now_ms
        if mark is None:  # finished (its stop's mark), or not running here (the last stored one)
            mark = stored_mark(state, runtime)
            valued_at_ms = record.stopped_at_ms or record.updated_at_ms
        end_ms = record.stopped_at_ms or now_ms
        report = pnl(state, mark, max(0, end_ms - record.created_at_ms))
        return GridView(
            record=record,
            state=state,
            pnl=report,
            mark_price=mark,
            config=dict(record.config),
            valued_at_ms=valued_at_ms,
            venue=self.venue_name,
        )
