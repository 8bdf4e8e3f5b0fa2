"""BacktestGrid's service layer: one backtest of a request's grid on its inline CSV, as a stream of
progress values then the result (plain values; protobuf stays in server.backtest.proto).

The input is bounded before anything runs (CSV bytes and rows, resolution, fee rates), so one call's
CPU time is bounded (a year of minute bars takes about 0.4 s; the row cap is a fifth of that). The
work runs in a thread (asyncio.to_thread) so the event loop keeps serving; a process-wide cap on the
backtests running at once keeps a burst from taking every core, and a slot is given back only when
its thread ends (a client that leaves early sets a flag the run checks at each progress call, so an
abandoned run stops soon, but it still holds its slot until it does).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation
from typing import Protocol

from engine import GridConfig, GridConfigError, MarketRules
from engine.lines import round_to_tick
from server.api.errors import DomainError, ErrorReason
from server.backtest.prices import BarOrder, PriceInputError, parse_csv
from server.backtest.result import BacktestResult
from server.backtest.run import BacktestOptions, path_for, run_backtest
from server.exchange import ExchangeError, SymbolError
from server.service.errors import exchange_error
from server.service.grid_input import GridConfigInput, check_ticker, market_params_error, to_engine_config

# Stated in the proto (BacktestGridRequest): 3 MB fits gRPC's default 4 MiB message limit.
MAX_CSV_BYTES = 3_000_000
MAX_CSV_ROWS = 100_000
DEFAULT_RESOLUTION = 500
MAX_RESOLUTION = 5_000
MAX_FEE_RATE = Decimal("0.01")
MAX_FUNDING_RATE = Decimal("0.01")
MAX_DECIMAL_TEXT = 40
DEFAULT_MAX_CONCURRENT = 2  # one per core of the machine this ships on


@dataclass(frozen=True, slots=True)
class BacktestInput:
    config: GridConfigInput
    prices_csv: str
    bar_order: BarOrder = BarOrder.NEAREST
    maker_fee_rate: str = ""
    taker_fee_rate: str = ""
    funding_rate: str = ""
    resolution: int = 0


@dataclass(frozen=True, slots=True)
class BacktestProgress:
    points_done: int
    points_total: int


@dataclass(frozen=True, slots=True)
class BacktestOutcome:
    symbol: str
    result: BacktestResult


class SymbolRulesSource(Protocol):
    """What a backtest needs of the venue (server.exchange.Exchange has it)."""

    async def resolve_symbol(self, ticker: str) -> str: ...

    async def get_market_rules(self, symbol: str) -> MarketRules: ...


class _Abandoned(Exception):
    """The caller left: the run stops at its next progress call."""


def _rate(name: str, text: str, low: Decimal, high: Decimal) -> Decimal | None:
    """An optional decimal fraction in [low, high], or INVALID_ARGUMENT naming `name`."""
    if not text:
        return None
    if len(text) > MAX_DECIMAL_TEXT:
        raise DomainError.invalid_field(name, f"at most {MAX_DECIMAL_TEXT} characters")
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise DomainError.invalid_field(name, f"expected a decimal fraction, got {text!r}") from None
    if not value.is_finite() or not low <= value <= high:
        raise DomainError.invalid_field(name, f"must be a fraction in [{low}, {high}], got {text!r}")
    return value


def _checked(request: BacktestInput) -> tuple[str, BacktestOptions, Decimal | None, Decimal | None]:
    """The cheap checks, before a slot is taken or the venue asked: (ticker, options, fees)."""
    ticker = check_ticker(request.config.ticker)
    if not request.prices_csv.strip():
        raise DomainError.invalid_field(
            "prices_csv", "is required: timestamp,price or timestamp,o,h,l,c rows"
        )
    if len(request.prices_csv) > MAX_CSV_BYTES:  # characters <= bytes: a cheap, safe first bound
        raise DomainError.invalid_field("prices_csv", f"at most {MAX_CSV_BYTES:,} bytes")
    if len(request.prices_csv.encode()) > MAX_CSV_BYTES:
        raise DomainError.invalid_field("prices_csv", f"at most {MAX_CSV_BYTES:,} bytes")
    resolution = request.resolution or DEFAULT_RESOLUTION
    if not 2 <= resolution <= MAX_RESOLUTION:
        raise DomainError.invalid_field("resolution", f"must be 0 (500) or in [2, {MAX_RESOLUTION}]")
    maker = _rate("maker_fee_rate", request.maker_fee_rate, Decimal(0), MAX_FEE_RATE)
    taker = _rate("taker_fee_rate", request.taker_fee_rate, Decimal(0), MAX_FEE_RATE)
    funding = _rate("funding_rate", request.funding_rate, -MAX_FUNDING_RATE, MAX_FUNDING_RATE)
    options = BacktestOptions(
        bar_order=request.bar_order, resolution=resolution, funding_rate=funding or Decimal(0)
    )
    return ticker, options, maker, taker


def backtest_sync(
    request: BacktestInput,
    symbol: str,
    rules: MarketRules,
    options: BacktestOptions,
    fees: tuple[Decimal | None, Decimal | None],
    progress: Callable[[int, int], None] | None = None,
) -> BacktestResult:
    """Parse, check and run (CPU only; the caller puts it off the event loop). DomainError for input
    the API refuses, naming the field."""
    try:
        series, is_bars = parse_csv(request.prices_csv.splitlines(), max_rows=MAX_CSV_ROWS)
    except PriceInputError as exc:
        raise DomainError.invalid_field("prices_csv", str(exc)) from None
    start = round_to_tick(series.price(0), rules.quote_tick)
    config = to_engine_config(request.config, "backtest", symbol, start)
    config = _with_fees(config, *fees)
    path = path_for(series, is_bars, config, options.bar_order)
    try:
        return run_backtest(config, rules, path, options, progress)
    except GridConfigError as exc:
        raise market_params_error(exc) from None
    except PriceInputError as exc:  # a line finer than the data and too many digits to hold both
        raise DomainError.invalid_field("prices_csv", str(exc)) from None


def _with_fees(config: GridConfig, maker: Decimal | None, taker: Decimal | None) -> GridConfig:
    if maker is not None:
        config = replace(config, maker_fee_rate=maker)
    if taker is not None:
        config = replace(config, taker_fee_rate=taker)
    return config


Runner = Callable[
    [
        BacktestInput,
        str,
        MarketRules,
        BacktestOptions,
        tuple[Decimal | None, Decimal | None],
        Callable[[int, int], None],
    ],
    BacktestResult,
]


def _retrieve(work: asyncio.Future[BacktestResult]) -> None:
    if not work.cancelled():
        work.exception()  # retrieved: an abandoned run's _Abandoned is expected, not logged


class BacktestService:
    """Runs BacktestGrid calls; `exchange` gives the symbols and their rules (the venue's). `run` is
    the work done in the thread (a test seam: `backtest_sync`)."""

    def __init__(
        self,
        exchange: SymbolRulesSource,
        *,
        max_concurrent: int = DEFAULT_MAX_CONCURRENT,
        run: Runner = backtest_sync,
    ) -> None:
        if max_concurrent < 1:
            raise ValueError("max_concurrent must be >= 1")
        self._exchange = exchange
        self._run = run
        self._max_concurrent = max_concurrent
        self._running = 0  # backtests whose thread has not ended; changed under _lock
        self._lock = threading.Lock()

    @property
    def running(self) -> int:
        return self._running

    async def backtest(self, request: BacktestInput) -> AsyncIterator[BacktestProgress | BacktestOutcome]:
        """Progress values (at least two: the start and the end), then one outcome."""
        ticker, options, maker, taker = _checked(request)
        symbol, rules = await self._symbol_rules(ticker)
        if self._running >= self._max_concurrent:
            raise DomainError(
                ErrorReason.RATE_LIMIT_EXCEEDED,
                f"BacktestGrid: the server runs at most {self._max_concurrent} backtests at once; "
                "retry when one has finished",
                metadata={"action": "BacktestGrid", "limit": str(self._max_concurrent)},
                retry_after_ms=1_000,
            )
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[BacktestProgress] = asyncio.Queue()
        abandoned = threading.Event()

        def report(done: int, total: int) -> None:  # in the worker thread
            if abandoned.is_set():
                raise _Abandoned
            loop.call_soon_threadsafe(queue.put_nowait, BacktestProgress(done, total))

        with self._lock:
            self._running += 1

        def work_in_thread() -> BacktestResult:
            try:
                return self._run(request, symbol, rules, options, (maker, taker), report)
            finally:  # before the result reaches the loop: a caller that saw it sees the slot free
                with self._lock:
                    self._running -= 1

        work = asyncio.ensure_future(asyncio.to_thread(work_in_thread))
        work.add_done_callback(_retrieve)
        try:
            while True:
                getter = asyncio.ensure_future(queue.get())
                await asyncio.wait((getter, work), return_when=asyncio.FIRST_COMPLETED)
                if getter.done():
                    yield getter.result()
                    continue
                getter.cancel()
                # The thread's progress callbacks were queued on the loop before its result, so
                # every one of them is in the queue by now.
                while not queue.empty():
                    yield queue.get_nowait()
                yield BacktestOutcome(symbol, work.result())
                return
        finally:
            abandoned.set()

    async def _symbol_rules(self, ticker: str) -> tuple[str, MarketRules]:
        try:
            symbol = await self._exchange.resolve_symbol(ticker)
            return symbol, await self._exchange.get_market_rules(symbol)
        except (ExchangeError, SymbolError) as exc:
            raise exchange_error(exc) from exc
