"""Pure functions from Orderly payloads to engine events and adapter reports.

Numbers may arrive as JSON numbers (Decimal when parsed with parse_float=Decimal, or int) or as
numeric strings; ids as int or string. Nothing here does I/O, so every rule is tested from fixtures.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from engine.events import (
    Event,
    MarkPriceUpdated,
    OrderAccepted,
    OrderCancelled,
    OrderFilled,
    OrderPartiallyFilled,
    OrderRejected,
)
from engine.market import MarketRules
from engine.types import Side
from server.exchange import constants as c
from server.exchange.errors import ProtocolError
from server.exchange.models import OrderReport, PositionReport, PositionUpdate, SymbolInfo, TradeReport

Payload = Mapping[str, Any]

_AVERAGE_PRICE_KEYS = ("avgPrice", "averageExecutedPrice", "avgExecutedPrice")


def to_decimal(value: object, field: str, default: Decimal | None = None) -> Decimal:
    if value is None or value == "":
        if default is not None:
            return default
        raise ProtocolError(f"{field}: missing number")
    if isinstance(value, bool):
        raise ProtocolError(f"{field}: expected a number, got a boolean")
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int | str):
        try:
            result = Decimal(value)
        except InvalidOperation:
            raise ProtocolError(f"{field}: {value!r} is not a number") from None
        if not result.is_finite():
            raise ProtocolError(f"{field}: {value!r} is not a finite number")
        return result
    if isinstance(value, float):  # only if a caller parsed without parse_float=Decimal
        return Decimal(repr(value))
    raise ProtocolError(f"{field}: expected a number, got {type(value).__name__}")


def to_id(value: object) -> str:
    """Ids (orderId, tradeId, clientOrderId) as strings; absent, empty, 0 and "0" become ""."""
    if value is None or isinstance(value, bool):
        return ""
    if isinstance(value, Decimal):
        value = int(value)
    text = str(value).strip()
    return "" if text in ("", "0") else text


def to_int(value: object, field: str, default: int = 0) -> int:
    if value is None or value == "":
        return default
    return int(to_decimal(value, field))


def to_side(value: object, field: str = "side") -> Side:
    try:
        return Side(str(value).upper())
    except ValueError:
        raise ProtocolError(f"{field}: expected BUY or SELL, got {value!r}") from None


def to_bool(value: object) -> bool:
    """Booleans arrive as true/false and as 0/1 (REST `is_maker`)."""
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true")
    return bool(value)


def _decimal_or_zero(payload: Payload, key: str) -> Decimal:
    return to_decimal(payload.get(key), key, Decimal(0))


def average_price(payload: Payload) -> Decimal:
    for key in (*_AVERAGE_PRICE_KEYS, "average_executed_price"):
        if payload.get(key) not in (None, ""):
            return to_decimal(payload[key], key)
    return Decimal(0)


# --- public market data ---------------------------------------------------------------------------


def parse_symbol_info(row: Payload) -> SymbolInfo:
    symbol = str(row.get("symbol") or "")
    if not symbol:
        raise ProtocolError("symbol: missing in /v1/public/info row")
    price_scope = to_decimal(row.get("price_scope"), "price_scope", Decimal("0.4"))
    rules = MarketRules(
        symbol=symbol,
        quote_tick=to_decimal(row.get("quote_tick"), "quote_tick"),
        base_tick=to_decimal(row.get("base_tick"), "base_tick"),
        base_min=to_decimal(row.get("base_min"), "base_min", Decimal(0)),
        base_max=to_decimal(row.get("base_max"), "base_max", Decimal(0)),
        min_notional=to_decimal(row.get("min_notional"), "min_notional", Decimal(0)),
        quote_min=to_decimal(row.get("quote_min"), "quote_min", Decimal(0)),
        quote_max=to_decimal(row.get("quote_max"), "quote_max", Decimal(0)),
        price_scope=price_scope,
    )
    broker_id = row.get("broker_id")
    return SymbolInfo(
        rules=rules,
        status=str(row.get("status") or "ACTIVE"),
        price_range=to_decimal(row.get("price_range"), "price_range", Decimal("0.03")),
        price_scope=price_scope,
        broker_id=str(broker_id) if broker_id else None,
    )


def parse_symbol_catalog(data: Payload) -> dict[str, SymbolInfo]:
    rows = data.get("rows")
    if not isinstance(rows, list):
        raise ProtocolError("rows: /v1/public/info must carry a list of rows")
    return {info.symbol: info for info in map(parse_symbol_info, rows)}


def parse_futures_mark_price(data: object, symbol: str) -> Decimal:
    """`/v1/public/futures/{symbol}` data is one object (live) or `{"rows": [...]}` (OpenAPI)."""
    rows: Sequence[Any]
    if isinstance(data, Mapping) and isinstance(data.get("rows"), list):
        rows = data["rows"]
    elif isinstance(data, Mapping):
        rows = [data]
    else:
        raise ProtocolError(f"mark_price: no futures data for {symbol}")
    for row in rows:
        if isinstance(row, Mapping) and row.get("symbol") in (symbol, None):
            return to_decimal(row.get("mark_price"), "mark_price")
    raise ProtocolError(f"mark_price: no futures data for {symbol}")


def parse_mark_price_push(frame: Payload) -> tuple[str, MarkPriceUpdated]:
    data = frame.get("data")
    if not isinstance(data, Mapping):
        raise ProtocolError("data: markprice push without an object")
    ts = to_int(frame.get("ts"), "ts")
    return str(data.get("symbol")), MarkPriceUpdated(
        price=to_decimal(data.get("price"), "price"), timestamp_ms=ts
    )


# --- private stream --------------------------------------------------------------------------------


def parse_execution_report(data: Payload) -> tuple[str, tuple[Event, ...]]:
    """One executionreport `data` object -> (symbol, engine events).

    A report with a non-zero tradeId is a fill (its executedPrice/Quantity and fee are that trade's);
    a CANCELLED report may also carry the last trade of an IOC/market order, so both are emitted.
    """
    symbol = str(data.get("symbol") or "")
    status = str(data.get("status") or "").upper()
    client_order_id = to_id(data.get("clientOrderId"))
    order_id = to_id(data.get("orderId"))
    if not order_id:
        raise ProtocolError("orderId: missing in executionreport")
    events: list[Event] = []
    trade_id = to_id(data.get("tradeId"))
    if trade_id:
        side = to_side(data.get("side"))
        cumulative = _decimal_or_zero(data, "totalExecutedQuantity")
        quantity = _decimal_or_zero(data, "quantity")
        filled = status == c.STATUS_FILLED or (quantity > 0 and cumulative >= quantity)
        fill_type = OrderFilled if filled else OrderPartiallyFilled
        events.append(
            fill_type(
                client_order_id=client_order_id,
                order_id=order_id,
                trade_id=trade_id,
                side=side,
                price=to_decimal(data.get("executedPrice"), "executedPrice"),
                quantity=to_decimal(data.get("executedQuantity"), "executedQuantity"),
                fee=_decimal_or_zero(data, "fee"),
                cumulative_quantity=cumulative,
                timestamp_ms=to_int(data.get("timestamp"), "timestamp"),
                is_maker=to_bool(data.get("maker", True)),
                fee_asset=str(data.get("feeAsset") or "USDC"),
            )
        )
    elif status == c.STATUS_NEW:
        events.append(OrderAccepted(client_order_id=client_order_id, order_id=order_id))
    if status == c.STATUS_CANCELLED:
        timestamp_ms = to_int(data.get("timestamp"), "timestamp")
        events.append(OrderCancelled(client_order_id, order_id, str(data.get("reason") or ""), timestamp_ms))
    elif status == c.STATUS_REJECTED:
        events.append(OrderRejected(client_order_id, str(data.get("reason") or "rejected")))
    return symbol, tuple(events)


def parse_position_push(data: Payload, ts: int) -> list[PositionUpdate]:
    positions = data.get("positions")
    if not isinstance(positions, list):
        return []
    return [
        PositionUpdate(
            symbol=str(row.get("symbol")),
            quantity=_decimal_or_zero(row, "positionQty"),
            timestamp_ms=to_int(row.get("updated_time") or row.get("timestamp"), "timestamp", ts),
        )
        for row in positions
        if isinstance(row, Mapping)
    ]


# --- REST reports ---------------------------------------------------------------------------------


def parse_order_row(row: Payload) -> OrderReport:
    return OrderReport(
        symbol=str(row.get("symbol") or ""),
        order_id=to_id(row.get("order_id")),
        client_order_id=to_id(row.get("client_order_id")),
        side=to_side(row.get("side")),
        order_type=str(row.get("type") or row.get("order_type") or ""),
        price=_decimal_or_zero(row, "price"),
        quantity=_decimal_or_zero(row, "quantity"),
        executed_quantity=to_decimal(
            row.get("total_executed_quantity", row.get("executed_quantity")),
            "total_executed_quantity",
            Decimal(0),
        ),
        average_price=average_price(row),
        status=str(row.get("status") or "").upper(),
        updated_time_ms=to_int(row.get("updated_time") or row.get("created_time"), "updated_time"),
    )


def parse_trade_row(row: Payload) -> TradeReport:
    return TradeReport(
        symbol=str(row.get("symbol") or ""),
        trade_id=to_id(row.get("id")),
        order_id=to_id(row.get("order_id")),
        side=to_side(row.get("side")),
        price=to_decimal(row.get("executed_price"), "executed_price"),
        quantity=to_decimal(row.get("executed_quantity"), "executed_quantity"),
        fee=_decimal_or_zero(row, "fee"),
        fee_asset=str(row.get("fee_asset") or "USDC"),
        is_maker=to_bool(row.get("is_maker")),
        timestamp_ms=to_int(row.get("executed_timestamp"), "executed_timestamp"),
    )


def fills_from_trades(
    order: OrderReport, trades: Sequence[TradeReport]
) -> list[OrderPartiallyFilled | OrderFilled]:
    """Engine fill events for one order's trades.

    REST trades carry neither the client_order_id nor the cumulative quantity; both come from the
    order. The cumulative at each trade is the order's total minus the trades that came after it,
    which is exact as long as `trades` holds every trade since the earliest one given.
    """
    ordered = sorted(trades, key=lambda t: (t.timestamp_ms, t.trade_id))
    remaining_after = sum((t.quantity for t in ordered), Decimal(0))
    total = max(order.executed_quantity, remaining_after)
    fills: list[OrderPartiallyFilled | OrderFilled] = []
    cumulative_before = total - remaining_after
    for trade in ordered:
        cumulative = cumulative_before + trade.quantity
        cumulative_before = cumulative
        complete = order.status == c.STATUS_FILLED and cumulative >= total and order.quantity <= cumulative
        fill_type = OrderFilled if complete else OrderPartiallyFilled
        fills.append(
            fill_type(
                client_order_id=order.client_order_id,
                order_id=order.order_id,
                trade_id=trade.trade_id,
                side=trade.side,
                price=trade.price,
                quantity=trade.quantity,
                fee=trade.fee,
                cumulative_quantity=cumulative,
                timestamp_ms=trade.timestamp_ms,
                is_maker=trade.is_maker,
                fee_asset=trade.fee_asset,
            )
        )
    return fills


def order_state_events(order: OrderReport, trades: Sequence[TradeReport]) -> tuple[Event, ...]:
    """Everything the venue knows about one order, as engine events: its acceptance while it is open,
    every trade (with exact cumulative quantities when `trades` is the order's full list), and its end."""
    events: list[Event] = []
    if order.status in c.OPEN_STATUSES:
        events.append(OrderAccepted(order.client_order_id, order.order_id))
    events.extend(fills_from_trades(order, trades))
    if order.status == c.STATUS_CANCELLED:
        events.append(OrderCancelled(order.client_order_id, order.order_id, "", order.updated_time_ms))
    elif order.status == c.STATUS_REJECTED:
        events.append(OrderRejected(order.client_order_id, "rejected"))
    return tuple(events)


def parse_position_reports(data: Payload) -> list[PositionReport]:
    rows = data.get("rows")
    if not isinstance(rows, list):
        raise ProtocolError("rows: /v1/positions must carry a list of rows")
    return [
        PositionReport(
            symbol=str(row.get("symbol")),
            quantity=_decimal_or_zero(row, "position_qty"),
            accrued_funding=_decimal_or_zero(row, "accrued_funding_fee"),
            updated_ms=to_int(row.get("updated_time") or row.get("timestamp"), "updated_time"),
        )
        for row in rows
        if isinstance(row, Mapping)
    ]


def parse_position_rows(data: Payload) -> dict[str, Decimal]:
    return {report.symbol: report.quantity for report in parse_position_reports(data)}
