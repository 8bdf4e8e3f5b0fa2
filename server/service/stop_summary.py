"""What a finished run leaves behind: its summary record and the one-line account of the stop."""

from __future__ import annotations

from decimal import Decimal

from engine import PnlReport, SessionState, StopReason
from server.service.session_doc import Runtime
from server.store import SessionRecord, SessionStatus, SummaryRecord


def final_status(reason: StopReason) -> SessionStatus:
    return SessionStatus.FAILED if reason is StopReason.ERROR else SessionStatus.STOPPED


def stop_detail(state: SessionState, runtime: Runtime) -> str:
    """What the stop did, as StopGrid reports it: why, how many orders it cancelled, what it closed."""
    detail = (
        f"{state.stop_detail}; cancelled {runtime.cancelled_orders} open orders;"
        f" closed {runtime.closed_quantity} of the position"
    )
    position = state.ledger.position
    if state.close_requested and position != 0:
        # The venue would take no reduce-only order for it: the account holds less of it (or the
        # other side), or it is below the smallest order the venue accepts.
        detail += f"; {position} left with the account: the venue would not reduce it further"
    return detail


def summary_record(
    record: SessionRecord,
    state: SessionState,
    runtime: Runtime,
    report: PnlReport,
    mark: Decimal,
    now_ms: int,
) -> SummaryRecord:
    reason = state.stop_reason or StopReason.MANUAL
    return SummaryRecord(
        session_id=record.session_id,
        user_id=record.user_id,
        symbol=record.symbol,
        status=final_status(reason),
        created_at_ms=record.created_at_ms,
        stopped_at_ms=now_ms,
        realized_profit=report.realized,
        fees=report.fees,
        funding=report.funding,
        unrealized=report.unrealized,
        total_pnl=report.total,
        round_trips=report.round_trips,
        grid_apr=report.grid_apr,
        total_apr=report.total_apr,
        stop_reason=reason.value,
        details={
            "mark_price": str(mark),
            "position": str(report.position),
            "average_entry_price": str(report.average_entry_price),
            "grid_profit": str(report.grid_profit),
            "run_id": state.prefix,
            "cancelled_orders": runtime.cancelled_orders,
            "closed_quantity": str(runtime.closed_quantity),
            "stop_detail": runtime.stop_detail,
            "config": record.config,
            "open_order_count": sum(1 for cell in state.cells if cell.is_live),
        },
    )
