"""BacktestGrid's service layer: the cap on backtests at once, an abandoned run stopping, the real
run's outcome, and the input bounds (the gRPC and REST edges: tests/integration/test_backtest_grid.py)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from decimal import Decimal

import pytest

from engine import Direction, MarketRules
from server.api.errors import DomainError, ErrorReason
from server.backtest.result import BacktestResult
from server.backtest.run import BacktestOptions
from server.backtest.service import (
    MAX_CSV_ROWS,
    BacktestInput,
    BacktestOutcome,
    BacktestProgress,
    BacktestService,
)
from server.service.grid_input import GridConfigInput
from tests.backtest.support import RULES
from tests.integration.parity_path import parity_csv

Fees = tuple[Decimal | None, Decimal | None]


class Venue:
    async def resolve_symbol(self, ticker: str) -> str:
        return "PERP_BTC_USDC"

    async def get_market_rules(self, symbol: str) -> MarketRules:
        return RULES


def _input(**overrides: object) -> BacktestInput:
    config = GridConfigInput(
        ticker="BTCUSDT",
        direction=Direction.BOTH,
        current_price="",
        upper_bound="45000",
        lower_bound="40000",
        grid_levels=6,
        total_margin="1000",
    )
    fields: dict[str, object] = {"config": config, "prices_csv": parity_csv()}
    fields.update(overrides)
    return BacktestInput(**fields)  # type: ignore[arg-type]


class Gate:
    """A run that reports once, then waits for the test to let it go (in the worker thread)."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.ended = threading.Event()
        self.abandoned = False

    def __call__(
        self,
        request: BacktestInput,
        symbol: str,
        rules: MarketRules,
        options: BacktestOptions,
        fees: Fees,
        progress: Callable[[int, int], None],
    ) -> BacktestResult:
        try:
            progress(0, 10)
            assert self.release.wait(5)
            try:
                progress(10, 10)
            except Exception:
                self.abandoned = True
                raise
            raise RuntimeError("the gate's run has no result")
        finally:
            self.ended.set()


async def test_past_the_cap_a_backtest_is_refused_until_a_running_one_ends() -> None:
    gate = Gate()
    service = BacktestService(Venue(), max_concurrent=1, run=gate)
    first = service.backtest(_input())
    assert await first.__anext__() == BacktestProgress(0, 10)
    with pytest.raises(DomainError) as refused:
        await service.backtest(_input()).__anext__()
    assert refused.value.reason is ErrorReason.RATE_LIMIT_EXCEEDED
    assert refused.value.retry_after_ms is not None
    gate.release.set()
    assert await first.__anext__() == BacktestProgress(10, 10)
    with pytest.raises(RuntimeError, match="no result"):
        await first.__anext__()
    assert service.running == 0


async def test_a_caller_that_leaves_stops_the_run_at_its_next_progress() -> None:
    gate = Gate()
    service = BacktestService(Venue(), max_concurrent=1, run=gate)
    stream = service.backtest(_input())
    await stream.__anext__()
    await stream.aclose()  # type: ignore[attr-defined]
    gate.release.set()
    assert await asyncio.to_thread(gate.ended.wait, 5)
    assert gate.abandoned
    assert service.running == 0


async def test_the_real_run_reports_progress_then_the_outcome() -> None:
    items = [item async for item in BacktestService(Venue()).backtest(_input(resolution=5))]
    assert all(isinstance(item, BacktestProgress) for item in items[:-1])
    assert len(items) >= 3
    outcome = items[-1]
    assert isinstance(outcome, BacktestOutcome)
    assert outcome.symbol == "PERP_BTC_USDC"
    assert outcome.result.pnl.round_trips > 0
    assert len(outcome.result.equity_curve) <= 5


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"prices_csv": ""}, "prices_csv"),
        ({"prices_csv": "timestamp,price\n" + "0,42500\n" * (MAX_CSV_ROWS + 1)}, "prices_csv"),
        ({"taker_fee_rate": "-0.1"}, "taker_fee_rate"),
        ({"funding_rate": "nan"}, "funding_rate"),
        ({"resolution": 1}, "resolution"),
    ],
)
async def test_input_past_its_bounds_names_the_field(overrides: dict[str, object], field: str) -> None:
    with pytest.raises(DomainError) as caught:
        async for _ in BacktestService(Venue()).backtest(_input(**overrides)):
            pass
    assert caught.value.reason is ErrorReason.INVALID_ARGUMENT
    assert [violation.field for violation in caught.value.field_violations] == [field]
