"""Protobuf <-> values for BacktestGrid (the API edge of server.backtest.service).

Money in the result is the engine's exact Decimal text; the curve statistics are floats (computed
from the equity curve with numpy) rendered as decimal text with 8 decimals, since the API carries no
binary floats (tests/api/test_proto_surface.py)."""

from __future__ import annotations

import math

from orderly_grid.v1 import grid_pb2, grid_service_pb2

from server import grpc_convert as convert
from server.backtest.prices import BarOrder
from server.backtest.result import BacktestResult
from server.backtest.service import BacktestInput, BacktestOutcome, BacktestProgress

# Stated in the proto: keeps a result inside gRPC's default 4 MiB message limit (a fill is ~60 bytes),
# for every client, the REST shim's own channel included.
MAX_RESULT_FILLS = 20_000
_BAR_ORDERS = {grid_service_pb2.BAR_ORDER_PESSIMISTIC: BarOrder.PESSIMISTIC}
_SIDES = {"BUY": grid_pb2.SIDE_BUY, "SELL": grid_pb2.SIDE_SELL}
_STATUSES = {
    "RUNNING": grid_pb2.GRID_STATUS_RUNNING,
    "PENDING_TRIGGER": grid_pb2.GRID_STATUS_WAITING_TRIGGER,
    "STOPPED": grid_pb2.GRID_STATUS_STOPPED,
}


def backtest_input(request: grid_service_pb2.BacktestGridRequest) -> BacktestInput:
    return BacktestInput(
        config=convert.config_input(request.config),
        prices_csv=request.prices_csv,
        bar_order=_BAR_ORDERS.get(request.bar_order, BarOrder.NEAREST),
        maker_fee_rate=request.maker_fee_rate,
        taker_fee_rate=request.taker_fee_rate,
        funding_rate=request.funding_rate,
        resolution=request.resolution,
    )


def float_text(value: float) -> str:
    """Plain decimal text with at most 8 decimals ("0" for a non-finite value: none arises from a
    finite path, and the API has no way to say NaN in a decimal string)."""
    if not math.isfinite(value):
        return "0"
    text = f"{value:.8f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def progress(value: BacktestProgress) -> grid_service_pb2.BacktestGridResponse:
    return grid_service_pb2.BacktestGridResponse(
        progress=grid_service_pb2.BacktestProgress(
            points_done=value.points_done, points_total=value.points_total
        )
    )


def outcome(value: BacktestOutcome, *, omit_fills: bool) -> grid_service_pb2.BacktestGridResponse:
    return grid_service_pb2.BacktestGridResponse(result=result(value.symbol, value.result, omit_fills))


def _config(symbol: str, value: BacktestResult) -> grid_pb2.GridConfig:
    """The config as laid out: current_price is the path's first price on the symbol's tick."""
    config = value.config
    return grid_pb2.GridConfig(
        ticker=symbol,
        direction=grid_pb2.Direction.Value(f"DIRECTION_{config.direction.value}"),
        current_price=str(config.current_price),
        upper_bound=str(config.upper_price),
        lower_bound=str(config.lower_price),
        grid_levels=config.grid_levels,
        total_margin=str(config.total_margin),
        grid_type=grid_pb2.GridType.Value(f"GRID_TYPE_{config.grid_type.value}"),
        grid_ratio="" if config.grid_ratio is None else str(config.grid_ratio),
        leverage=config.leverage,
        trigger_price="" if config.trigger_price is None else str(config.trigger_price),
        stop_loss_price="" if config.stop_loss_price is None else str(config.stop_loss_price),
        take_profit_price="" if config.take_profit_price is None else str(config.take_profit_price),
        close_position_on_stop=config.close_position_on_stop,
    )


def result(symbol: str, value: BacktestResult, omit_fills: bool = False) -> grid_service_pb2.BacktestResult:
    report, stats = value.pnl, value.stats
    message = grid_service_pb2.BacktestResult(
        symbol=symbol,
        config=_config(symbol, value),
        lines=[str(line) for line in value.lines],
        pnl=convert.pnl(report, value.final_price, value.end_ms, False),
        position=grid_pb2.Position(
            quantity=str(report.position),
            average_entry_price=str(report.average_entry_price),
            mark_price=str(value.final_price),
        ),
        status=_STATUSES.get(value.status, grid_pb2.GRID_STATUS_UNSPECIFIED),
        stop_reason=(
            grid_pb2.StopReason.Value(f"STOP_REASON_{value.stop_reason}")
            if value.stop_reason
            else grid_pb2.STOP_REASON_UNSPECIFIED
        ),
        start_ms=value.start_ms,
        end_ms=value.end_ms,
        max_drawdown=float_text(stats.max_drawdown),
        max_drawdown_fraction=float_text(stats.max_drawdown_fraction),
        sharpe=float_text(stats.sharpe),
        sortino=float_text(stats.sortino),
        in_range_fraction=float_text(stats.time_in_range),
        fills_per_day=float_text(stats.fills_per_day),
        fill_count=len(value.fills),
        open_orders=[
            grid_service_pb2.BacktestOrder(side=_SIDES[side.value], price=str(price), quantity=str(quantity))
            for side, price, quantity in value.open_orders
        ],
        equity_curve=[
            grid_service_pb2.BacktestEquityPoint(
                timestamp_ms=point.timestamp_ms,
                price=float_text(point.price),
                equity=float_text(point.equity),
                drawdown=float_text(point.drawdown),
            )
            for point in value.equity_curve
        ],
        fill_model=list(value.fill_model),
        points=value.points,
        steps=value.steps,
        rejected_orders=value.rejected_orders,
        post_only_cancels=value.post_only_cancels,
    )
    if not omit_fills:
        message.fills.extend(
            grid_service_pb2.BacktestFill(
                timestamp_ms=fill.timestamp_ms,
                side=_SIDES[fill.side.value],
                price=str(fill.price),
                quantity=str(fill.quantity),
                fee=str(fill.fee),
                cell_index=fill.cell_index,
            )
            for fill in value.fills[:MAX_RESULT_FILLS]
        )
    return message
