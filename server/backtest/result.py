"""What a backtest returns: one typed value. Money is Decimal from the engine's own ledger
(engine.pnl, as GetGrid reports it); the curve statistics are floats computed from the equity curve.
Plotting (server.backtest.plot) and rendering take this value; nothing here depends on them."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from engine import GridConfig, PnlReport, Side

# The fill model, stated in every result so a reader knows where its assumptions lie.
FILL_MODEL: tuple[str, ...] = (
    "Same engine as the live service: engine.start/step on the events the venue would send.",
    "A resting limit order fills in full when the price touches it (buy: price <= limit, sell: price >= "
    "limit), at its limit price, with the maker fee; crossed orders fill best price first.",
    "Grid orders are post-only: one that would take at the current price is cancelled and its cell "
    "waits until the price lets it rest (as the venue and the live engine do).",
    "Closes (stop with close) are market orders filled at the path's price with the taker fee.",
    "Fees are quantity * price * rate, unrounded; the venue's tick, minimum quantity and notional rules "
    "are applied by the engine's plan as live; orders outside the venue's price window are rejected "
    "(the live service's periodic reconciliation re-placing them is not modelled).",
    "Funding (if a rate is given) is settled on every funding boundary as -position * price * rate.",
    "Not modelled: latency, queue position, partial fills, slippage on closes, margin limits.",
)


def bar_model(order: str) -> str:
    if order == "PESSIMISTIC":
        return (
            "Bars: open -> high -> low -> close for LONG and BOTH grids, open -> low -> high -> close for "
            "SHORT ones (the inventory-building leg last)."
        )
    return "Bars: open -> the extreme nearer the open -> the other extreme -> close (a tie: low first)."


@dataclass(frozen=True, slots=True)
class BacktestFill:
    timestamp_ms: int
    side: Side
    price: Decimal
    quantity: Decimal
    fee: Decimal
    cell_index: int | None  # None: a closing order


@dataclass(frozen=True, slots=True)
class EquityPoint:
    timestamp_ms: int
    price: float
    equity: float  # total_margin + total PnL (realized + unrealized + funding)
    drawdown: float  # peak equity so far - equity, >= 0


@dataclass(frozen=True, slots=True)
class CurveStats:
    max_drawdown: float  # in quote currency
    max_drawdown_fraction: float  # of the peak equity
    sharpe: float  # annualised, from the returns between curve points; 0 when undefined
    sortino: float
    time_in_range: float  # fraction of the time the price was within [lower, upper]
    fills_per_day: float


@dataclass(frozen=True, slots=True)
class BacktestResult:
    config: GridConfig
    lines: tuple[Decimal, ...]
    pnl: PnlReport
    final_price: Decimal
    start_ms: int
    end_ms: int
    status: str  # RUNNING, PENDING_TRIGGER or STOPPED
    stop_reason: str | None
    stats: CurveStats
    fills: tuple[BacktestFill, ...]
    open_orders: tuple[tuple[Side, Decimal, Decimal], ...]  # (side, price, quantity) resting at the end
    equity_curve: tuple[EquityPoint, ...]
    fill_model: tuple[str, ...]
    points: int  # price points in the path
    steps: int  # points the engine was stepped at (the pre-scan's candidates)
    rejected_orders: int
    post_only_cancels: int
    anomalies: int

    @property
    def run_time_ms(self) -> int:
        return self.end_ms - self.start_ms

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: Decimals as strings (exact), floats as numbers."""
        config = self.config
        return {
            "config": {
                "symbol": config.symbol,
                "direction": config.direction.value,
                "grid_type": config.grid_type.value,
                "lower_price": str(config.lower_price),
                "upper_price": str(config.upper_price),
                "grid_levels": config.grid_levels,
                "grid_ratio": None if config.grid_ratio is None else str(config.grid_ratio),
                "total_margin": str(config.total_margin),
                "leverage": config.leverage,
                "start_price": str(config.current_price),
            },
            "lines": [str(line) for line in self.lines],
            "pnl": {
                name: value if isinstance(value, int) else str(value)
                for name, value in self.pnl._asdict().items()
            },
            "final_price": str(self.final_price),
            "start_ms": self.start_ms,
            "end_ms": self.end_ms,
            "status": self.status,
            "stop_reason": self.stop_reason,
            "stats": {name: getattr(self.stats, name) for name in CurveStats.__slots__},
            "fills": [
                {
                    "timestamp_ms": f.timestamp_ms,
                    "side": f.side.value,
                    "price": str(f.price),
                    "quantity": str(f.quantity),
                    "fee": str(f.fee),
                    "cell_index": f.cell_index,
                }
                for f in self.fills
            ],
            "open_orders": [
                {"side": side.value, "price": str(price), "quantity": str(quantity)}
                for side, price, quantity in self.open_orders
            ],
            "equity_curve": [
                {"timestamp_ms": p.timestamp_ms, "price": p.price, "equity": p.equity, "drawdown": p.drawdown}
                for p in self.equity_curve
            ],
            "fill_model": list(self.fill_model),
            "points": self.points,
            "steps": self.steps,
            "rejected_orders": self.rejected_orders,
            "post_only_cancels": self.post_only_cancels,
            "anomalies": self.anomalies,
        }
