"""The equity points a session records for its PnL history (GetGridHistory): one at the start, one
per applied fill (valued at the fill's price, the market's price at that instant), one at least every
`interval` while it runs (at the last mark), and the final one at the stop (at the stop's mark)."""

from __future__ import annotations

from decimal import Decimal

from engine import SessionState, pnl
from engine.commands import RecordFill
from server.store import EquityPointKind, EquityPointRecord

DEFAULT_EQUITY_INTERVAL_MS = 60_000


def equity_point(
    session_id: str,
    state: SessionState,
    kind: EquityPointKind,
    point_id: str,
    timestamp_ms: int,
    mark: Decimal,
    fill: RecordFill | None = None,
) -> EquityPointRecord:
    report = pnl(state, mark, 0)
    return EquityPointRecord(
        session_id=session_id,
        run_id=state.prefix,
        point_id=point_id,
        timestamp_ms=timestamp_ms,
        kind=kind,
        realized=report.realized,
        unrealized=report.unrealized,
        funding=report.funding,
        total=report.total,
        grid_profit=report.grid_profit,
        position=report.position,
        mark_price=mark,
        fill_side=None if fill is None else fill.side,
        fill_price=None if fill is None else fill.price,
        fill_quantity=None if fill is None else fill.quantity,
    )


def fill_point(session_id: str, state: SessionState, fill: RecordFill) -> EquityPointRecord:
    point_id = f"f{fill.order_id}:{fill.trade_id}"
    return equity_point(
        session_id, state, EquityPointKind.FILL, point_id, fill.timestamp_ms, fill.price, fill
    )
