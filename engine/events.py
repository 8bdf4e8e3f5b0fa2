"""Events the engine consumes: past-tense facts from the venue, the clock-free price feed and the user.

Every venue event names the order by its client_order_id (the engine's own id) and, where the venue
has assigned one, its order_id. Ids from the venue are strings whatever the wire type was.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from engine.types import Side


@dataclass(frozen=True, slots=True)
class OrderAccepted:
    client_order_id: str
    order_id: str


@dataclass(frozen=True, slots=True)
class OrderRejected:
    client_order_id: str
    reason: str
    code: int | None = None


@dataclass(frozen=True, slots=True)
class _Fill:
    """One trade against an order. `quantity`, `price` and `fee` are this trade's; the cumulative
    executed quantity lets the engine notice a trade it never saw (a lost push)."""

    client_order_id: str
    order_id: str
    trade_id: str
    side: Side
    price: Decimal
    quantity: Decimal
    fee: Decimal
    cumulative_quantity: Decimal
    timestamp_ms: int
    is_maker: bool = True
    fee_asset: str = "USDC"


@dataclass(frozen=True, slots=True)
class OrderPartiallyFilled(_Fill):
    """A trade that leaves part of the order resting."""


@dataclass(frozen=True, slots=True)
class OrderFilled(_Fill):
    """The trade that completes the order."""


@dataclass(frozen=True, slots=True)
class OrderCancelled:
    client_order_id: str
    order_id: str
    reason: str = ""
    timestamp_ms: int = 0


@dataclass(frozen=True, slots=True)
class MarkPriceUpdated:
    price: Decimal
    timestamp_ms: int


@dataclass(frozen=True, slots=True)
class FundingSettled:
    """Funding paid (negative) or received (positive) on the session's position, in quote currency."""

    amount: Decimal
    timestamp_ms: int


@dataclass(frozen=True, slots=True)
class StopRequested:
    """A manual stop from the user. `close_position` says whether to close the position with a
    reduce-only market order: None follows GridConfig.close_position_on_stop, an explicit True or False
    overrides it (so a user can stop without closing a grid configured to close)."""

    close_position: bool | None = None


@dataclass(frozen=True, slots=True)
class VenueOrder:
    """One open order as the venue reports it in a snapshot."""

    client_order_id: str
    order_id: str
    side: Side
    price: Decimal
    quantity: Decimal
    executed_quantity: Decimal = Decimal(0)


@dataclass(frozen=True, slots=True)
class VenueSnapshot:
    """The venue's truth for reconciliation: the open orders of the symbol and the position size
    (signed, negative = short). Orders not carrying this session's client_order_id are foreign."""

    open_orders: tuple[VenueOrder, ...]
    position_quantity: Decimal
    timestamp_ms: int


Fill = OrderPartiallyFilled | OrderFilled

Event = (
    OrderAccepted
    | OrderRejected
    | OrderPartiallyFilled
    | OrderFilled
    | OrderCancelled
    | MarkPriceUpdated
    | FundingSettled
    | StopRequested
    | VenueSnapshot
)
