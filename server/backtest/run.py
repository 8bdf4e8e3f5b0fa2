"""Running one backtest: the live engine (engine.start / engine.step) driven by a modelled venue
(server.backtest.venue) at the points the pre-scan (server.backtest.scan) says can matter.

At each stepped point, in this order: funding settles when a funding boundary passed; resting orders the
price touches fill (best price first); then the mark moves to the point's price (stops, the trigger,
parked cells). Every command the engine returns is carried out against the venue at that price and the
venue's answers are stepped in turn, until nothing is left, before the next point -- the live service
on the simulator does the same (tests/integration/test_backtest_parity.py holds the two equal). The
run ends at the end of the path, or where the session stopped (its figures are final there).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from decimal import Decimal

import numpy as np

from engine import (
    CancelOrder,
    ClosePosition,
    Command,
    Event,
    FundingSettled,
    GridConfig,
    MarketRules,
    MarkPriceUpdated,
    PlaceOrder,
    RecordFill,
    ReportAnomaly,
    SessionState,
    SessionStatus,
    pnl,
    start,
    step,
)
from engine.lines import round_to_tick
from engine.trailing import shift_targets, trails
from server.backtest.metrics import curve_stats, downsample, drawdowns_of, equity_at_points
from server.backtest.prices import BarOrder, Int64Array, PriceSeries, bar_path, decimals_needed, scaled
from server.backtest.result import FILL_MODEL, BacktestFill, BacktestResult, bar_model
from server.backtest.scan import candidate_points, period_starts
from server.backtest.trailing_scan import trailing_points
from server.backtest.venue import BacktestVenue

FUNDING_PERIOD_MS = 8 * 3_600_000
Progress = Callable[[int, int], None]  # (points done, points in all)
_PROGRESS_EVERY = 4096  # stepped points between progress calls


@dataclass(frozen=True)
class BacktestOptions:
    bar_order: BarOrder = BarOrder.NEAREST
    resolution: int = 500  # equity curve points returned
    funding_rate: Decimal = Decimal(0)  # per funding period, paid by longs when positive
    funding_period_ms: int = FUNDING_PERIOD_MS
    # False steps the engine at every point: slow, for checking that the pre-scan skips nothing.
    prescan: bool = True


def path_for(series: PriceSeries, is_bars: bool, config: GridConfig, order: BarOrder) -> PriceSeries:
    """The price path: ticks as they are, bars through `bar_path` for this grid's direction."""
    if not is_bars:
        return series
    return bar_path(series, order, high_first_if_pessimistic=config.direction.value != "SHORT")


def config_at_start(config: GridConfig, series: PriceSeries, rules: MarketRules) -> GridConfig:
    """The config laid out around the path's first price on the symbol's tick, as StartGrid lays it
    out around the venue's mark."""
    return replace(config, current_price=round_to_tick(series.price(0), rules.quote_tick))


def _levels(state: SessionState) -> list[Decimal]:
    config = state.config
    extra = (config.stop_loss_price, config.take_profit_price, config.trigger_price, *shift_targets(state))
    return list(state.plan.lines) + [value for value in extra if value is not None]


class _Run:
    def __init__(self, state: SessionState, venue: BacktestVenue) -> None:
        self.state = state
        self.venue = venue
        self.fills: list[BacktestFill] = []
        self.anomalies = 0

    def drain(self, events: list[Event], mark: Decimal, units: int, timestamp_ms: int) -> None:
        """Step every event and carry out every command, breadth first, until nothing is left."""
        queue: deque[Event] = deque(events)
        venue = self.venue
        while queue:
            self.state, commands = step(self.state, queue.popleft())
            for command in commands:
                kind = type(command)
                if kind is RecordFill:
                    assert isinstance(command, RecordFill)
                    self.fills.append(
                        BacktestFill(
                            command.timestamp_ms,
                            command.side,
                            command.price,
                            command.quantity,
                            command.fee,
                            command.cell_index,
                        )
                    )
                elif kind is PlaceOrder:
                    assert isinstance(command, PlaceOrder)
                    queue.extend(venue.place(command, mark, units))
                elif kind is CancelOrder:
                    assert isinstance(command, CancelOrder)
                    queue.extend(venue.cancel(command, timestamp_ms))
                elif kind is ClosePosition:
                    assert isinstance(command, ClosePosition)
                    queue.extend(venue.close(command, mark, timestamp_ms))
                elif kind is ReportAnomaly:
                    self.anomalies += 1
                # RecordRoundTrip and SessionStopped are in the state; QueryOrder cannot arise here.


def run_backtest(
    config: GridConfig,
    rules: MarketRules,
    path: PriceSeries,
    options: BacktestOptions | None = None,
    progress: Progress | None = None,
) -> BacktestResult:
    """Backtest `config` (laid out around the path's first price: see `config_at_start`) on `path`.
    Raises GridConfigError for a config StartGrid would refuse."""
    options = options or BacktestOptions()
    state, commands = start(config, rules)
    levels = _levels(state)
    # A trailing grid's later lines are on the quote tick too, whatever the first ones needed.
    tick = [decimals_needed(rules.quote_tick)] if trails(config) else []
    scale = max([path.scale, *tick] + [decimals_needed(level) for level in levels])
    path = path.scaled_to(scale)
    level_units = np.array(sorted({scaled(level, scale) for level in levels}), dtype=np.int64)
    funding = options.funding_rate != 0
    if options.prescan:
        period = options.funding_period_ms if funding else None
        points = candidate_points(path.prices, level_units, path.timestamps_ms, period)
    else:
        points = np.arange(len(path), dtype=np.int64)
    funding_points = (
        set(period_starts(path.timestamps_ms, options.funding_period_ms).tolist()) if funding else set()
    )
    venue = BacktestVenue(rules, config.maker_fee_rate, config.taker_fee_rate, scale)
    run = _Run(state, venue)
    prices, stamps = path.prices, path.timestamps_ms
    first, first_units, first_ms = path.price(0), int(prices[0]), int(stamps[0])
    run.drain(_placed_events(commands, run.venue, first, first_units), first, first_units, first_ms)
    record_points, positions, costs, funding_totals = [0], [0.0], [0.0], [0.0]
    ledger = run.state.ledger
    end = len(path) - 1
    stop_price: Decimal | None = None
    stepped: list[int] = []
    if options.prescan and trails(config):  # the levels move with the grid: scanned as it goes
        period = options.funding_period_ms if funding else None
        steps = trailing_points(
            path.prices, path.timestamps_ms, scale, period, lambda: run.state, _levels, stepped
        )
    else:
        steps = iter(points.tolist())
    for count, index in enumerate(steps):
        units, timestamp_ms = int(prices[index]), int(stamps[index])
        price = Decimal(units).scaleb(-scale)
        events: list[Event] = []
        if index in funding_points and run.state.ledger.position != 0:
            amount = -run.state.ledger.position * price * options.funding_rate
            events.append(FundingSettled(amount, timestamp_ms))
        if venue.touches(units):
            events.extend(venue.match(units, timestamp_ms))
        events.append(MarkPriceUpdated(price, timestamp_ms))
        run.drain(events, price, units, timestamp_ms)
        if run.state.ledger is not ledger:
            ledger = run.state.ledger
            record_points.append(index)
            positions.append(float(ledger.position))
            costs.append(float(ledger.cost))
            funding_totals.append(float(ledger.funding))
        if progress is not None and count % _PROGRESS_EVERY == 0:
            progress(index, len(path))
        if run.state.status is SessionStatus.STOPPED:
            end, stop_price = index, price  # the session's figures are final at its stop
            break
    if progress is not None:
        progress(len(path), len(path))
    if stepped:
        points = np.array(stepped, dtype=np.int64)
    return _result(
        run, path, end, stop_price, options, points, record_points, positions, costs, funding_totals
    )


def _placed_events(
    commands: tuple[Command, ...], venue: BacktestVenue, mark: Decimal, units: int
) -> list[Event]:
    """The venue's answers to the opening orders (start returns nothing else)."""
    events: list[Event] = []
    for command in commands:
        if isinstance(command, PlaceOrder):
            events.extend(venue.place(command, mark, units))
    return events


def _result(
    run: _Run,
    path: PriceSeries,
    end: int,
    stop_price: Decimal | None,
    options: BacktestOptions,
    points: Int64Array,
    record_points: list[int],
    positions: list[float],
    costs: list[float],
    funding_totals: list[float],
) -> BacktestResult:
    state = run.state
    config = state.config
    stamps = path.timestamps_ms[: end + 1]
    prices = path.as_float()[: end + 1]
    margin = float(config.total_margin)
    equity = equity_at_points(
        prices,
        np.array(record_points, dtype=np.int64),
        np.array(positions),
        np.array(costs),
        np.array(funding_totals),
        margin,
    )
    final_price = stop_price if stop_price is not None else path.price(end)
    start_ms, end_ms = int(stamps[0]), int(stamps[-1])
    drawdowns = drawdowns_of(equity)
    stats = curve_stats(
        stamps,
        prices,
        equity,
        drawdowns,
        float(config.lower_price),
        float(config.upper_price),
        len(run.fills),
    )
    return BacktestResult(
        config=config,
        lines=state.plan.lines,
        pnl=pnl(state, final_price, end_ms - start_ms),
        final_price=final_price,
        start_ms=start_ms,
        end_ms=end_ms,
        status=state.status.value,
        stop_reason=None if state.stop_reason is None else state.stop_reason.value,
        stats=stats,
        fills=tuple(run.fills),
        open_orders=tuple(sorted((o.side, o.price, o.quantity) for o in run.venue.resting.values())),
        equity_curve=downsample(stamps, prices, equity, drawdowns, options.resolution),
        fill_model=(*FILL_MODEL, bar_model(options.bar_order.value) if path.bars else "Ticks: as given."),
        points=end + 1,
        steps=int(np.searchsorted(points, end, "right")),
        rejected_orders=run.venue.rejected,
        post_only_cancels=run.venue.post_only_cancels,
        anomalies=run.anomalies,
    )
