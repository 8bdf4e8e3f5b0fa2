"""Equity points: a run's PnL history (GetGridHistory), as both backends store it.

A point is keyed by (session_id, run_id, point_id), so recording one again (a fill replayed after a
restart) replaces nothing and duplicates nothing; points list in (timestamp_ms, point_id) order.
Decimals are decimal strings, as everywhere in the store.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

from engine.types import Side
from server.store.errors import InvalidRecord
from server.store.records import check_ms, check_text, parse_side

MAX_POINT_LIMIT = 5000
EQUITY_DECIMAL_FIELDS = (
    "realized",
    "unrealized",
    "funding",
    "total",
    "grid_profit",
    "position",
    "mark_price",
)


class EquityPointKind(StrEnum):
    START = "START"
    FILL = "FILL"
    PERIODIC = "PERIODIC"
    STOP = "STOP"
    SHIFT = "SHIFT"  # a trailing grid shifted one cell


@dataclass(frozen=True, slots=True)
class EquityPointRecord:
    session_id: str
    run_id: str
    point_id: str  # unique within the run: "start", "stop", "p<ms>", "f<order_id>:<trade_id>"
    timestamp_ms: int
    kind: EquityPointKind
    realized: Decimal
    unrealized: Decimal
    funding: Decimal
    total: Decimal
    grid_profit: Decimal
    position: Decimal
    mark_price: Decimal
    fill_side: Side | None = None
    fill_price: Decimal | None = None
    fill_quantity: Decimal | None = None

    def __post_init__(self) -> None:
        for name in ("session_id", "run_id", "point_id"):
            check_text(name, getattr(self, name))
        check_ms("timestamp_ms", self.timestamp_ms)
        if not isinstance(self.kind, EquityPointKind):
            raise InvalidRecord("kind", f"must be an EquityPointKind, got {self.kind!r}")
        for name in EQUITY_DECIMAL_FIELDS:
            value = getattr(self, name)
            if not isinstance(value, Decimal) or not value.is_finite():
                raise InvalidRecord(name, "must be a finite Decimal")


def point_to_row(record: EquityPointRecord) -> dict[str, Any]:
    row: dict[str, Any] = {
        "session_id": record.session_id,
        "run_id": record.run_id,
        "point_id": record.point_id,
        "timestamp_ms": record.timestamp_ms,
        "kind": record.kind.value,
        "fill_side": None if record.fill_side is None else record.fill_side.value,
        "fill_price": None if record.fill_price is None else str(record.fill_price),
        "fill_quantity": None if record.fill_quantity is None else str(record.fill_quantity),
    }
    for name in EQUITY_DECIMAL_FIELDS:
        row[name] = str(getattr(record, name))
    return row


def point_from_row(row: dict[str, Any]) -> EquityPointRecord:
    side, price, quantity = row.get("fill_side"), row.get("fill_price"), row.get("fill_quantity")
    return EquityPointRecord(
        session_id=row["session_id"],
        run_id=row["run_id"],
        point_id=row["point_id"],
        timestamp_ms=int(row["timestamp_ms"]),
        kind=EquityPointKind(row["kind"]),
        fill_side=None if side is None else parse_side(side),
        fill_price=None if price is None else Decimal(price),
        fill_quantity=None if quantity is None else Decimal(quantity),
        **{name: Decimal(row[name]) for name in EQUITY_DECIMAL_FIELDS},
    )


def check_point_window(
    session_id: str, run_id: str, start_ms: int, end_ms: int | None, after: tuple[int, str] | None, limit: int
) -> None:
    check_text("session_id", session_id)
    check_text("run_id", run_id)
    check_ms("start_ms", start_ms)
    if end_ms is not None:
        check_ms("end_ms", end_ms)
    if after is not None:
        check_ms("after.timestamp_ms", after[0])
        check_text("after.point_id", after[1])
    if not isinstance(limit, int) or not 1 <= limit <= MAX_POINT_LIMIT:
        raise InvalidRecord("limit", f"must be an integer from 1 to {MAX_POINT_LIMIT}")
