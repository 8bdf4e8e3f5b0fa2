"""Throughput and latency of `engine.step` on the hot path: a fill that flips a cell and places its
counter order. Single core, pure Python; prints one table.

    .venv/bin/python bench/engine.py [--events N] [--lines N]

The event stream is produced once by driving the engine (every event fully fills a cell's live order),
then replayed from the same start state: `step` is pure, so the replay takes the identical path.
The garbage collector stays on; only the pre-built events are frozen out of its generations.
"""

from __future__ import annotations

import argparse
import gc
import platform
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path and its name would shadow the package.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != _HERE]

from engine import (  # noqa: E402
    Direction,
    GridConfig,
    MarketRules,
    OrderFilled,
    PlaceOrder,
    SessionState,
    start,
    step,
)

GOAL_EVENTS_PER_SECOND = 100_000
GOAL_P99_US = 50.0


def _setup(lines: int) -> SessionState:
    rules = MarketRules(
        "PERP_BTC_USDC", Decimal("0.1"), Decimal("0.00001"), Decimal("0.00001"), Decimal(100), Decimal(10)
    )
    config = GridConfig(
        session_key="bench:0",
        symbol="PERP_BTC_USDC",
        direction=Direction.BOTH,
        lower_price=Decimal(30000),
        upper_price=Decimal(50000),
        grid_levels=lines,
        current_price=Decimal("40050"),
        total_margin=Decimal(1_000_000),
        leverage=2,
    )
    state, _ = start(config, rules)
    return state


def _events(state: SessionState, count: int) -> list[OrderFilled]:
    """Fill the live order of cells in turn; each fill flips its cell and yields the next order."""
    events: list[OrderFilled] = []
    live = [index for index, cell in enumerate(state.cells) if cell.client_order_id is not None]
    for n in range(count):
        index = live[n % len(live)]
        cell = state.cells[index]
        assert cell.client_order_id is not None
        assert cell.side is not None
        price = state.plan.order_price(index, cell.side)
        fee = (cell.order_quantity * price * Decimal("0.0002")).quantize(Decimal("0.000001"))
        event = OrderFilled(
            client_order_id=cell.client_order_id,
            order_id=str(n),
            trade_id=str(n),
            side=cell.side,
            price=price,
            quantity=cell.order_quantity,
            fee=fee,
            cumulative_quantity=cell.order_quantity,
            timestamp_ms=n,
        )
        state, commands = step(state, event)
        assert any(isinstance(command, PlaceOrder) for command in commands), commands
        events.append(event)
    return events


def _throughput(state: SessionState, events: list[OrderFilled]) -> float:
    started = time.perf_counter_ns()
    for event in events:
        state, _ = step(state, event)
    return len(events) / ((time.perf_counter_ns() - started) / 1e9)


def _latencies_us(state: SessionState, events: list[OrderFilled]) -> list[float]:
    clock = time.perf_counter_ns
    samples: list[int] = []
    for event in events:
        before = clock()
        state, _ = step(state, event)
        samples.append(clock() - before)
    return [sample / 1000 for sample in samples]


def _measure(lines: int, count: int) -> tuple[str, ...]:
    state = _setup(lines)
    events = _events(state, count)
    # The pre-built event list is an artifact of the bench (a live shell holds one event at a time):
    # move it out of the collector's generations so collections do not walk it on every pass.
    gc.collect()
    gc.freeze()
    rates = [_throughput(state, events) for _ in range(5)]
    latencies = sorted(_latencies_us(state, events))
    gc.unfreeze()
    p99 = latencies[int(len(latencies) * 0.99) - 1]
    met = max(rates) >= GOAL_EVENTS_PER_SECOND and p99 <= GOAL_P99_US
    return (
        str(lines),
        f"{max(rates):,.0f}",
        f"{statistics.median(rates):,.0f}",
        f"{statistics.median(latencies):.1f}",
        f"{p99:.1f}",
        f"{latencies[-1]:.0f}",
        "yes" if met else "NO",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=200_000, help="fill events per grid size")
    parser.add_argument("--lines", default="20,200", help="comma-separated grid sizes (lines)")
    args = parser.parse_args()
    sizes = [int(size) for size in args.lines.split(",")]
    print(
        f"engine.step: fill -> counter order, {args.events:,} events per row, BOTH grid, "
        f"{platform.python_implementation()} {platform.python_version()}, one core. "
        f"Goal: >= {GOAL_EVENTS_PER_SECOND:,} events/s (best of 5 runs) and p99 <= {GOAL_P99_US:.0f} us"
    )
    header = ("lines", "events/s best", "events/s median", "p50 us", "p99 us", "max us", "goal met")
    rows = [header] + [_measure(size, args.events) for size in sizes]
    widths = [max(len(row[column]) for row in rows) for column in range(len(header))]
    for row in rows:
        print("  ".join(cell.rjust(width) for cell, width in zip(row, widths, strict=True)))


if __name__ == "__main__":
    main()
