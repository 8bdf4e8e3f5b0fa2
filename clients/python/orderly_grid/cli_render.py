"""Plain-text rendering of grids, previews, summaries and fills for `gridctl` (no dependencies)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import Message

from orderly_grid.errors import ExchangeUnavailable, GridError, ServiceUnavailable
from orderly_grid.params import enum_name
from orderly_grid.v1 import grid_pb2, grid_service_pb2


def _as_dict(message: Message) -> dict[str, Any]:
    """Proto3 JSON with the proto field names, as the REST shim writes it."""
    return json_format.MessageToDict(message, preserving_proto_field_name=True)


def as_json(message: Message) -> str:
    return json.dumps(_as_dict(message), indent=2)


def as_json_line(message: Message) -> str:
    return json.dumps(_as_dict(message))


def json_list(key: str, messages: Iterable[Message]) -> str:
    return json.dumps({key: [_as_dict(m) for m in messages]}, indent=2)


def table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """Left-aligned text columns, numbers right-aligned."""
    body = [list(row) for row in rows]
    widths = [len(h) for h in headers]
    for row in body:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]

    def line(cells: Sequence[str]) -> str:
        out = [
            cell.rjust(w) if _is_number(cell) else cell.ljust(w)
            for cell, w in zip(cells, widths, strict=True)
        ]
        return "  ".join(out).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(r) for r in body)])


def _is_number(text: str) -> bool:
    try:
        Decimal(text)
    except InvalidOperation:
        return False
    return bool(text)


def money(text: str) -> str:
    """A decimal string shown with at most 4 decimals ("" when unset)."""
    if not text:
        return "-"
    try:
        value = Decimal(text)
    except InvalidOperation:
        return text
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -4:
        value = value.quantize(Decimal("0.0001"))
    return f"{(value + 0).normalize():f}"  # + 0 turns -0 into 0


def percent(text: str) -> str:
    """A fraction ("0.0218") as a percentage with two decimals ("2.18%")."""
    try:
        return f"{(Decimal(text) * 100).quantize(Decimal('0.01'))}%"
    except InvalidOperation:
        return text or "-"


def count(n: int, noun: str) -> str:
    """ "1 session", "2 sessions"."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


VENUE_NOTES = {"simulator": "SIMULATED: the built-in exchange simulator, nothing is real"}


def venue(name: str) -> str:
    """Where trading happens, said so nobody mistakes the simulator for Orderly."""
    if not name:
        return "-"
    note = VENUE_NOTES.get(name)
    return f"{name} ({note})" if note else name


def when(ms: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ms / 1000)) if ms else "-"


def side(value: int) -> str:
    return enum_name("Side", value)


def status(value: int) -> str:
    return enum_name("GridStatus", value)


def pnl_line(pnl: grid_pb2.Pnl) -> str:
    line = (
        f"grid profit {money(pnl.grid_profit)}  realized {money(pnl.realized)}  "
        f"unrealized {money(pnl.unrealized)}  fees {money(pnl.fees)}  funding {money(pnl.funding)}  "
        f"total {money(pnl.total)}  round trips {pnl.round_trips}"
    )
    if pnl.valued_at_ms:
        line += f"\n          valued at {pnl.valued_at_price or '-'} at {when(pnl.valued_at_ms)}"
    if pnl.position_handed_back:
        line += "; the position was handed back to the account at the stop"
    return line


def orders_table(orders: Iterable[grid_pb2.GridOrder]) -> str:
    rows = [
        (
            str(o.cell_index) if o.HasField("cell_index") else "-",
            side(o.side),
            o.price,
            o.quantity,
            o.executed_quantity or "0",
            enum_name("OrderStatus", o.status),
            o.client_order_id,
        )
        for o in sorted(orders, key=lambda o: Decimal(o.price or "0"))
    ]
    return table(("cell", "side", "price", "quantity", "executed", "status", "client_order_id"), rows)


def grid_text(grid: grid_pb2.Grid) -> str:
    config = grid.config
    lines = [
        f"session   {grid.session_id}",
        f"symbol    {grid.symbol}   status {status(grid.status)}   "
        f"direction {enum_name('Direction', config.direction)}   "
        f"type {enum_name('GridType', config.grid_type)}",
        f"range     {config.lower_bound} .. {config.upper_bound}   {len(grid.lines)} lines   "
        f"margin {config.total_margin}   leverage {config.leverage or 1}",
        f"position  {grid.position.quantity or '0'} @ {grid.position.average_entry_price or '-'}"
        f"   mark {grid.position.mark_price or '-'}",
        f"pnl       {pnl_line(grid.pnl)}",
        f"created   {when(grid.created_ms)}",
        f"venue     {venue(grid.venue)}",
    ]
    if grid.stopped_ms:
        reason = enum_name("StopReason", grid.stop_reason)
        lines.append(f"stopped   {when(grid.stopped_ms)}   {reason}   {grid.stop_detail}".rstrip())
    lines.append("")
    lines.append(f"open orders ({len(grid.open_orders)})")
    lines.append(orders_table(grid.open_orders))
    return "\n".join(lines)


def preview_text(preview: grid_service_pb2.PreviewGridResponse) -> str:
    # Each order's own quantity (the margin of a cell divided by its own price): no single
    # "quantity per cell" figure, which would be wrong for every order but the first.
    rows = [
        (
            str(o.cell_index),
            side(o.side),
            o.price,
            o.quantity,
            money(str(Decimal(o.price) * Decimal(o.quantity))),
        )
        for o in preview.orders
    ]
    return "\n".join(
        [
            f"venue              {venue(preview.venue)}",
            f"symbol             {preview.symbol}   mark {preview.mark_price or '-'}",
            f"lines              {', '.join(preview.lines)}",
            f"order notional     {money(preview.order_notional)}",
            f"required margin    {money(preview.required_margin)}",
            f"profit per grid    {money(preview.min_profit_per_grid)} .. {money(preview.max_profit_per_grid)}"
            f"  ({percent(preview.min_profit_rate_per_grid)} .. {percent(preview.max_profit_rate_per_grid)})",
            f"fee rate           {percent(preview.fee_rate)}",
            "",
            f"orders a start would place ({len(preview.orders)})",
            table(("cell", "side", "price", "quantity", "notional"), rows),
        ]
    )


def grids_table(grids: Iterable[grid_pb2.Grid]) -> str:
    rows = [
        (
            g.session_id,
            g.symbol,
            status(g.status),
            f"{g.config.lower_bound}..{g.config.upper_bound}",
            str(len(g.open_orders)),
            money(g.pnl.realized),
            money(g.pnl.total),
            when(g.created_ms),
        )
        for g in grids
    ]
    return table(("session", "symbol", "status", "range", "orders", "realized", "total", "created"), rows)


def summaries_text(response: grid_service_pb2.ListGridSummariesResponse) -> str:
    rows = [
        (
            s.session_id,
            s.symbol,
            status(s.status),
            str(s.open_order_count),
            str(s.pnl.round_trips),
            money(s.pnl.realized),
            money(s.pnl.total),
            when(s.created_ms),
        )
        for s in response.summaries
    ]
    t = response.totals
    return "\n".join(
        [
            table(("session", "symbol", "status", "orders", "trips", "realized", "total", "created"), rows),
            "",
            f"{count(t.session_count, 'session')} ({t.active_session_count} active)   "
            f"margin {money(t.total_margin)}   realized {money(t.realized)}   "
            f"unrealized {money(t.unrealized)}   total {money(t.total)}   "
            f"round trips {t.round_trips}",
        ]
    )


def fill_line(fill: grid_pb2.Fill) -> str:
    text = (
        f"#{fill.seq} {when(fill.timestamp_ms)} {fill.session_id} {side(fill.side)} "
        f"{fill.quantity} @ {fill.price} fee {fill.fee}"
    )
    if fill.HasField("round_trip"):
        text += f"  round trip {money(fill.round_trip.profit)}"
    return text


def fills_table(fills: Iterable[grid_pb2.Fill]) -> str:
    rows = [
        (
            str(f.seq),
            when(f.timestamp_ms)[11:],
            f.symbol,
            str(f.cell_index) if f.HasField("cell_index") else "-",
            side(f.side),
            f.price,
            f.quantity,
            f.fee,
            money(f.round_trip.profit) if f.HasField("round_trip") else "",
        )
        for f in fills
    ]
    return table(("seq", "time", "symbol", "cell", "side", "price", "quantity", "fee", "round trip"), rows)


def is_unreachable(error: GridError) -> bool:
    """The service did not answer at all (nothing listens at the target), as opposed to a service
    that answered it is shutting down or that its exchange is down."""
    return (
        isinstance(error, ServiceUnavailable)
        and not isinstance(error, ExchangeUnavailable)
        and error.reason == "UNAVAILABLE"
    )


def how_to_start(target: str) -> str:
    return (
        f"  no orderly-grid service answers at {target}. Start one from the repository folder with "
        "`make run` (or `.venv/bin/orderly-grid serve`), or point --target / GRIDCTL_TARGET at yours."
    )


def error_text(error: GridError) -> str:
    lines = [f"error: {error.reason}: {error.message}"]
    lines.extend(
        f"  {v.field}: {v.description}"
        for v in error.field_violations
        if f"{v.field}: {v.description}" not in error.message
    )
    if error.retry_after_s is not None:
        lines.append(f"  retry after {error.retry_after_s:.1f} s")
    return "\n".join(lines)
