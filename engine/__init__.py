"""The pure grid core: level math, market rules, per-cell state machine and PnL.

No I/O, no asyncio, no clock, no randomness: `step(state, event) -> (state, commands)`.

    state, commands = start(config, rules)      # validate; opening orders (or PENDING_TRIGGER)
    state, commands = step(state, event)        # every venue / price / user event
    report = pnl(state, mark_price, run_time_ms)
    data = state_to_dict(state); state = state_from_dict(data)   # for the store

What the shell does with the commands: PlaceOrder / CancelOrder / ClosePosition go to the venue (a
CancelOrder may lack an order_id: cancel by client_order_id); QueryOrder asks the venue for an order's
status and trades and feeds them back as events; RecordFill / RecordRoundTrip are appended to the
ledgers and published; SessionStopped records the reason; GridShifted (a trailing grid moved one cell,
engine/trailing.py) goes into the history; ReportAnomaly is logged for operators.
Anomaly kinds: unknown_order_fill, late_fill, illegal_fill, invalid_fill, fill_gap, filled_short,
overfill, order_rejected, duplicate_client_order_id, illegal_transition, unknown_order_accepted,
unknown_order_rejected, unknown_order_cancelled, position_mismatch, unknown_event.
Where each rule lives: lines.py (line math), plan.py (cell sides, quantities, validation with
config.py), cells.py (the cell's transition table), fills.py / order_events.py / cell_orders.py (the
order lifecycle), stops.py (trigger, stop-loss, take-profit, manual stop), reconcile.py, ledger.py.
"""

from engine.cells import CellState, CellStatus
from engine.commands import (
    CancelOrder,
    ClosePosition,
    Command,
    GridShifted,
    OrderType,
    PlaceOrder,
    QueryOrder,
    RecordFill,
    RecordRoundTrip,
    ReportAnomaly,
    SessionStopped,
    ShiftDirection,
)
from engine.config import GridConfig, GridConfigError, stops_from_bounds
from engine.events import (
    Event,
    Fill,
    FundingSettled,
    MarkPriceUpdated,
    OrderAccepted,
    OrderCancelled,
    OrderFilled,
    OrderPartiallyFilled,
    OrderRejected,
    StopRequested,
    VenueOrder,
    VenueSnapshot,
)
from engine.ledger import Ledger, PnlReport
from engine.market import MarketRules
from engine.order_ids import (
    MAX_CLIENT_ORDER_ID_LENGTH,
    ParsedClientOrderId,
    client_order_id_prefix,
    parse_client_order_id,
)
from engine.plan import GridPlan, build_plan
from engine.preview import GridPreview, PreviewOrder, preview
from engine.state import SessionState, SessionStatus, pnl, state_from_dict, state_to_dict
from engine.step import start, step
from engine.types import Direction, GridType, Side, StopReason

__all__ = [
    "MAX_CLIENT_ORDER_ID_LENGTH",
    "CancelOrder",
    "CellState",
    "CellStatus",
    "ClosePosition",
    "Command",
    "Direction",
    "Event",
    "Fill",
    "FundingSettled",
    "GridConfig",
    "GridConfigError",
    "GridPlan",
    "GridPreview",
    "GridShifted",
    "GridType",
    "Ledger",
    "MarkPriceUpdated",
    "MarketRules",
    "OrderAccepted",
    "OrderCancelled",
    "OrderFilled",
    "OrderPartiallyFilled",
    "OrderRejected",
    "OrderType",
    "ParsedClientOrderId",
    "PlaceOrder",
    "PnlReport",
    "PreviewOrder",
    "QueryOrder",
    "RecordFill",
    "RecordRoundTrip",
    "ReportAnomaly",
    "SessionState",
    "SessionStatus",
    "SessionStopped",
    "ShiftDirection",
    "Side",
    "StopReason",
    "StopRequested",
    "VenueOrder",
    "VenueSnapshot",
    "build_plan",
    "client_order_id_prefix",
    "parse_client_order_id",
    "pnl",
    "preview",
    "start",
    "state_from_dict",
    "state_to_dict",
    "step",
    "stops_from_bounds",
]
