"""Protobuf <-> service-layer values, for the GridService servicer. The only place in the service
path that knows the generated message types (protobuf stops at the API edge)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from orderly_grid.v1 import grid_pb2, grid_service_pb2

from engine import Direction, GridType, PnlReport, Side
from server.auth import AccountView
from server.service.grid_input import GridConfigInput
from server.service.summaries import SummaryTotals, SummaryView
from server.service.views import FillView, GridView, PreviewView
from server.store import EquityPointRecord, RoundTripRecord, SessionStatus

_DIRECTIONS = {
    grid_pb2.DIRECTION_LONG: Direction.LONG,
    grid_pb2.DIRECTION_SHORT: Direction.SHORT,
    grid_pb2.DIRECTION_BOTH: Direction.BOTH,
}
_GRID_TYPES = {
    grid_pb2.GRID_TYPE_ARITHMETIC: GridType.ARITHMETIC,
    grid_pb2.GRID_TYPE_GEOMETRIC: GridType.GEOMETRIC,
}
_SIDES = {Side.BUY: grid_pb2.SIDE_BUY, Side.SELL: grid_pb2.SIDE_SELL}
_STATUS_FILTER: dict[int, SessionStatus] = {
    grid_pb2.GRID_STATUS_STARTING: SessionStatus.PENDING,
    grid_pb2.GRID_STATUS_WAITING_TRIGGER: SessionStatus.RUNNING,
    grid_pb2.GRID_STATUS_RUNNING: SessionStatus.RUNNING,
    grid_pb2.GRID_STATUS_STOPPING: SessionStatus.STOPPING,
    grid_pb2.GRID_STATUS_STOPPED: SessionStatus.STOPPED,
    grid_pb2.GRID_STATUS_FAILED: SessionStatus.FAILED,
}


def _text(value: Decimal | None) -> str:
    return "" if value is None else str(value)


def config_input(message: grid_pb2.GridConfig | grid_service_pb2.StartGridRequest) -> GridConfigInput:
    return GridConfigInput(
        ticker=message.ticker,
        direction=_DIRECTIONS.get(message.direction),
        current_price=message.current_price,
        upper_bound=message.upper_bound,
        lower_bound=message.lower_bound,
        grid_levels=message.grid_levels,
        total_margin=message.total_margin,
        grid_type=_GRID_TYPES.get(message.grid_type),
        grid_ratio=message.grid_ratio,
        leverage=message.leverage,
        trigger_price=message.trigger_price,
        stop_loss_price=message.stop_loss_price,
        take_profit_price=message.take_profit_price,
        close_position_on_stop=message.close_position_on_stop,
        price_tolerance=message.price_tolerance,
        trailing_up=message.trailing_up,
        trailing_down=message.trailing_down,
        trailing_up_limit=message.trailing_up_limit,
        trailing_down_limit=message.trailing_down_limit,
        trailing_close=message.trailing_close,
    )


def status_filter(value: int) -> SessionStatus | None:
    return _STATUS_FILTER.get(value)


def grid_config(config: dict[str, Any]) -> grid_pb2.GridConfig:
    message = grid_pb2.GridConfig(
        ticker=str(config.get("ticker", "")),
        current_price=str(config.get("current_price", "")),
        upper_bound=str(config.get("upper_bound", "")),
        lower_bound=str(config.get("lower_bound", "")),
        grid_levels=int(config.get("grid_levels", 0)),
        total_margin=str(config.get("total_margin", "")),
        grid_ratio=str(config.get("grid_ratio", "")),
        leverage=int(config.get("leverage", 0)),
        trigger_price=str(config.get("trigger_price", "")),
        stop_loss_price=str(config.get("stop_loss_price", "")),
        take_profit_price=str(config.get("take_profit_price", "")),
        close_position_on_stop=bool(config.get("close_position_on_stop", False)),
        price_tolerance=str(config.get("price_tolerance", "")),
        trailing_up=bool(config.get("trailing_up", False)),
        trailing_down=bool(config.get("trailing_down", False)),
        trailing_up_limit=str(config.get("trailing_up_limit", "")),
        trailing_down_limit=str(config.get("trailing_down_limit", "")),
        trailing_close=bool(config.get("trailing_close", False)),
    )
    direction = str(config.get("direction", ""))
    if direction:
        message.direction = grid_pb2.Direction.Value(f"DIRECTION_{direction}")
    message.grid_type = grid_pb2.GridType.Value(f"GRID_TYPE_{config.get('grid_type') or 'ARITHMETIC'}")
    return message


def pnl(
    report: PnlReport, valued_at_price: Decimal, valued_at_ms: int, position_handed_back: bool
) -> grid_pb2.Pnl:
    return grid_pb2.Pnl(
        grid_profit=str(report.grid_profit),
        valued_at_price=str(valued_at_price),
        valued_at_ms=valued_at_ms,
        position_handed_back=position_handed_back,
        realized=str(report.realized),
        fees=str(report.fees),
        unrealized=str(report.unrealized),
        funding=str(report.funding),
        total=str(report.total),
        round_trips=report.round_trips,
        grid_apr=str(report.grid_apr),
        total_apr=str(report.total_apr),
    )


def _stop_reason(value: str | None) -> grid_pb2.StopReason.ValueType:
    if not value:
        return grid_pb2.STOP_REASON_UNSPECIFIED
    return grid_pb2.StopReason.Value(f"STOP_REASON_{value}")


def grid(view: GridView) -> grid_pb2.Grid:
    record, state = view.record, view.state
    orders = [
        grid_pb2.GridOrder(
            cell_index=order.cell_index,
            side=_SIDES[order.side],
            price=str(order.price),
            quantity=str(order.quantity),
            executed_quantity=str(order.executed_quantity),
            client_order_id=order.client_order_id,
            order_id=order.order_id,
            status=grid_pb2.OrderStatus.Value(f"ORDER_STATUS_{order.status}"),
        )
        for order in view.open_orders
    ]
    runtime_detail = str(record.engine_state.get("runtime", {}).get("stop_detail", ""))
    active = state.plan.active_lines()
    return grid_pb2.Grid(
        session_id=record.session_id,
        user_id=record.user_id,
        symbol=record.symbol,
        status=grid_pb2.GridStatus.Value(f"GRID_STATUS_{view.phase}"),
        config=grid_config(view.config),
        lines=[str(line) for line in state.plan.lines],
        open_orders=orders,
        position=grid_pb2.Position(
            quantity=str(state.ledger.position),
            average_entry_price=_text(view.average_entry_price),
            mark_price=str(view.mark_price),
        ),
        pnl=pnl(view.pnl, view.mark_price, view.valued_at_ms, view.position_handed_back),
        created_ms=record.created_at_ms,
        updated_ms=record.updated_at_ms,
        stopped_ms=record.stopped_at_ms or 0,
        stop_reason=_stop_reason(record.stop_reason),
        stop_detail=runtime_detail or state.stop_detail,
        run_id=view.run_id,
        venue=view.venue,
        shift_count=state.plan.shifts,
        active_lower_bound=str(active[0]),
        active_upper_bound=str(active[-1]),
    )


def summary(view: SummaryView) -> grid_pb2.GridSummary:
    config = grid_config(view.config)
    return grid_pb2.GridSummary(
        session_id=view.session_id,
        user_id=view.user_id,
        symbol=view.symbol,
        status=grid_pb2.GridStatus.Value(f"GRID_STATUS_{view.status}"),
        direction=config.direction,
        grid_type=config.grid_type,
        upper_bound=config.upper_bound,
        lower_bound=config.lower_bound,
        grid_levels=config.grid_levels,
        total_margin=config.total_margin,
        leverage=config.leverage,
        pnl=pnl(view.pnl, view.valued_at_price, view.valued_at_ms, view.position_handed_back),
        open_order_count=view.open_order_count,
        created_ms=view.created_ms,
        stopped_ms=view.stopped_ms,
        stop_reason=_stop_reason(view.stop_reason),
        run_id=view.run_id,
    )


def totals(value: SummaryTotals) -> grid_pb2.SummaryTotals:
    return grid_pb2.SummaryTotals(
        session_count=value.session_count,
        active_session_count=value.active_session_count,
        total_margin=str(value.total_margin),
        grid_profit=str(value.grid_profit),
        realized=str(value.realized),
        fees=str(value.fees),
        unrealized=str(value.unrealized),
        funding=str(value.funding),
        total=str(value.total),
        round_trips=value.round_trips,
    )


def _round_trip(value: RoundTripRecord) -> grid_pb2.RoundTrip:
    return grid_pb2.RoundTrip(
        cell_index=value.cell_index,
        quantity=str(value.quantity),
        entry_price=str(value.entry_price),
        exit_price=str(value.exit_price),
        fees=str(value.fees),
        profit=str(value.profit),
    )


def fill(view: FillView) -> grid_pb2.Fill:
    record = view.record
    message = grid_pb2.Fill(
        seq=record.seq,
        session_id=record.session_id,
        user_id=view.user_id,
        symbol=view.symbol,
        client_order_id=record.client_order_id,
        order_id=record.order_id,
        trade_id=record.trade_id,
        cell_index=view.cell_index,
        side=_SIDES[record.side],
        price=str(record.price),
        quantity=str(record.quantity),
        fee=str(record.fee),
        fee_asset=record.fee_asset,
        is_maker=record.is_maker,
        timestamp_ms=record.timestamp_ms,
        run_id=view.run_id,
    )
    if view.round_trip is not None:
        message.round_trip.CopyFrom(_round_trip(view.round_trip))
    return message


def equity_point(point: EquityPointRecord) -> grid_pb2.EquityPoint:
    message = grid_pb2.EquityPoint(
        timestamp_ms=point.timestamp_ms,
        kind=grid_pb2.EquityPointKind.Value(f"EQUITY_POINT_KIND_{point.kind.value}"),
        realized=str(point.realized),
        unrealized=str(point.unrealized),
        funding=str(point.funding),
        total=str(point.total),
        grid_profit=str(point.grid_profit),
        position=str(point.position),
        mark_price=str(point.mark_price),
    )
    if point.fill_side is not None:
        message.fill_side = _SIDES[point.fill_side]
        message.fill_price = _text(point.fill_price)
        message.fill_quantity = _text(point.fill_quantity)
    return message


def preview(view: PreviewView) -> grid_service_pb2.PreviewGridResponse:
    result = view.preview
    return grid_service_pb2.PreviewGridResponse(
        symbol=view.symbol,
        lines=[str(line) for line in result.lines],
        orders=[
            grid_pb2.PlannedOrder(
                cell_index=order.cell_index,
                side=_SIDES[order.side],
                price=str(order.price),
                quantity=str(order.quantity),
            )
            for order in result.orders
        ],
        quantity_per_cell=str(result.orders[0].quantity) if result.orders else "0",
        order_notional=str(view.order_notional),
        required_margin=str(view.required_margin),
        min_profit_per_grid=str(result.profit_per_grid_min),
        max_profit_per_grid=str(result.profit_per_grid_max),
        min_profit_rate_per_grid=str(result.profit_rate_min),
        max_profit_rate_per_grid=str(result.profit_rate_max),
        fee_rate=str(view.fee_rate),
        mark_price=str(view.mark_price),
        min_order_price=str(view.min_order_price),
        max_order_price=str(view.max_order_price),
        venue=view.venue,
    )


def account(view: AccountView) -> grid_service_pb2.Account:
    """RegisterAccount's answer: the account WITHOUT its secret."""
    return grid_service_pb2.Account(
        user_id=view.user_id,
        account_id=view.account_id,
        orderly_key=view.orderly_key,
        created_ms=view.created_ms,
        updated_ms=view.updated_ms,
    )
