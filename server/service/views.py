"""What the service layer hands to the API edge: plain values, no protobuf."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from engine import (
    CellStatus,
    GridPreview,
    MarketRules,
    PnlReport,
    SessionState,
    Side,
    parse_client_order_id,
)
from engine import SessionStatus as EngineStatus
from server.store import FillRecord, RoundTripRecord, SessionRecord, SessionStatus


@dataclass(frozen=True, slots=True)
class FillView:
    """One fill of the ledger as WatchFills streams it."""

    record: FillRecord
    user_id: str
    symbol: str

    @property
    def cell_index(self) -> int | None:
        return self.record.cell_index

    @property
    def round_trip(self) -> RoundTripRecord | None:
        """The round trip this fill completed in its cell (stored with the fill, so a replay carries
        what the live message did)."""
        return self.record.round_trip

    @property
    def seq(self) -> int:
        return self.record.seq

    @property
    def session_id(self) -> str:
        return self.record.session_id

    @property
    def run_id(self) -> str:
        """The run the fill belongs to: the prefix of its client_order_id."""
        parsed = parse_client_order_id(self.record.client_order_id)
        return "" if parsed is None else parsed.prefix


@dataclass(frozen=True, slots=True)
class OrderView:
    cell_index: int | None
    side: Side
    price: Decimal
    quantity: Decimal
    executed_quantity: Decimal
    client_order_id: str
    order_id: str
    status: str  # PENDING_NEW | NEW | PARTIALLY_FILLED (the API's OrderStatus names)


class GridPhase:
    """The API's GridStatus names (without prefix)."""

    STARTING = "STARTING"
    WAITING_TRIGGER = "WAITING_TRIGGER"
    RUNNING = "RUNNING"
    STOPPING = "STOPPING"
    STOPPED = "STOPPED"
    FAILED = "FAILED"


@dataclass(frozen=True, slots=True)
class GridView:
    """A session: its stored record, its engine state (live if the session runs here) and PnL."""

    record: SessionRecord
    state: SessionState
    pnl: PnlReport
    mark_price: Decimal  # the price the PnL is valued at (the stop's mark once finished)
    config: dict[str, object]  # the request's config as the API received it (GridConfigInput fields)
    valued_at_ms: int = 0
    venue: str = ""  # "simulator" or "orderly"

    @property
    def run_id(self) -> str:
        """This start of the session id: the prefix of every client_order_id of the run."""
        return self.state.prefix

    @property
    def position_handed_back(self) -> bool:
        """Finished holding a position: it now belongs to the account, outside the grid."""
        return self.record.status.is_finished and self.state.ledger.position != 0

    @property
    def phase(self) -> str:
        status = self.record.status
        if status is SessionStatus.PENDING:
            return GridPhase.STARTING
        if status is SessionStatus.RUNNING:
            if self.state.status is EngineStatus.PENDING_TRIGGER:
                return GridPhase.WAITING_TRIGGER
            return GridPhase.RUNNING
        return str(status.value)

    @property
    def open_orders(self) -> list[OrderView]:
        orders: list[OrderView] = []
        if self.record.status is SessionStatus.FAILED:  # it no longer manages any order
            return orders
        for index, cell in enumerate(self.state.cells):
            if not cell.is_live or cell.client_order_id is None or cell.side is None:
                continue
            if cell.status is CellStatus.PLACING:
                status = "PENDING_NEW"
            elif cell.order_filled > 0:
                status = "PARTIALLY_FILLED"
            else:
                status = "NEW"
            orders.append(
                OrderView(
                    cell_index=index,
                    side=cell.side,
                    price=self.state.plan.order_price(index, cell.side),
                    quantity=cell.order_quantity,
                    executed_quantity=cell.order_filled,
                    client_order_id=cell.client_order_id,
                    order_id=cell.order_id or "",
                    status=status,
                )
            )
        return orders

    @property
    def average_entry_price(self) -> Decimal | None:
        """Average entry price of the open position (fees excluded), as `unrealized` uses it."""
        ledger = self.state.ledger
        if ledger.position == 0:
            return None
        return ledger.average_entry_price.quantize(self.state.rules.quote_tick / 100)


@dataclass(frozen=True, slots=True)
class PreviewView:
    """What PreviewGrid shows: the engine's preview on the symbol's live rules."""

    symbol: str
    preview: GridPreview
    rules: MarketRules
    leverage: int
    fee_rate: Decimal
    mark_price: Decimal
    venue: str = ""  # "simulator" or "orderly" (server.service.grid_service)

    @property
    def min_order_price(self) -> Decimal:
        return self.rules.order_price_window(self.mark_price)[0]

    @property
    def max_order_price(self) -> Decimal:
        return self.rules.order_price_window(self.mark_price)[1]

    @property
    def order_notional(self) -> Decimal:
        return sum((order.price * order.quantity for order in self.preview.orders), Decimal(0))

    @property
    def required_margin(self) -> Decimal:
        return self.order_notional / self.leverage
