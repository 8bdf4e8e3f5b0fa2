"""Pure parsing of Orderly payloads into engine events and adapter reports."""

from __future__ import annotations

from decimal import Decimal

import pytest

from engine.events import (
    MarkPriceUpdated,
    OrderAccepted,
    OrderCancelled,
    OrderFilled,
    OrderPartiallyFilled,
    OrderRejected,
)
from engine.types import Side
from server.exchange.errors import ProtocolError
from server.exchange.models import OrderReport, TradeReport
from server.exchange.parsing import (
    average_price,
    fills_from_trades,
    order_state_events,
    parse_execution_report,
    parse_futures_mark_price,
    parse_mark_price_push,
    parse_order_row,
    parse_position_push,
    parse_position_rows,
    parse_symbol_info,
    parse_trade_row,
    to_decimal,
    to_id,
)
from tests.exchange import payloads as p


def _report(**changes: object) -> dict[str, object]:
    data = dict(p.load(p.DOCS_NEW_REPORT)["data"])
    data.update(changes)
    return data


def test_docs_new_report_is_an_acceptance_with_empty_client_order_id() -> None:
    symbol, events = parse_execution_report(p.load(p.DOCS_NEW_REPORT)["data"])
    assert symbol == "PERP_MATIC_USDC"
    assert events == (OrderAccepted(client_order_id="", order_id="292820969"),)


def test_ccxt_market_fill_with_string_trade_id_is_a_complete_fill() -> None:
    symbol, events = parse_execution_report(p.load(p.CCXT_MARKET_FILL))
    assert symbol == "PERP_XRP_USDC"
    assert events == (
        OrderFilled(
            client_order_id="",
            order_id="1167632251",
            trade_id="1715179456664012",
            side=Side.BUY,
            price=Decimal("0.5276"),
            quantity=Decimal(20),
            fee=Decimal("0.006332"),
            cumulative_quantity=Decimal(20),
            timestamp_ms=1715179456660,
            is_maker=False,
            fee_asset="USDC",
        ),
    )


def test_partial_fill_report_carries_this_trade_and_the_cumulative_quantity() -> None:
    data = _report(
        clientOrderId="g1-c3-BUY-0",
        tradeId=1870568,
        status="PARTIAL_FILLED",
        executedPrice=Decimal("0.7699"),
        executedQuantity=Decimal("1000"),
        totalExecutedQuantity=Decimal("3000"),
        fee=Decimal("0.15"),
        maker=True,
    )
    _, events = parse_execution_report(data)
    (fill,) = events
    assert isinstance(fill, OrderPartiallyFilled)
    assert (fill.client_order_id, fill.trade_id) == ("g1-c3-BUY-0", "1870568")
    assert (fill.quantity, fill.cumulative_quantity, fill.fee) == (
        Decimal(1000),
        Decimal(3000),
        Decimal("0.15"),
    )
    assert fill.is_maker


def test_numbers_as_strings_parse_exactly() -> None:
    data = _report(
        tradeId="77",
        status="FILLED",
        executedPrice="0.76990",
        executedQuantity="7029",
        totalExecutedQuantity="7029",
        quantity="7029",
    )
    _, (fill,) = parse_execution_report(data)
    assert isinstance(fill, OrderFilled)
    assert fill.price == Decimal("0.76990")


def test_cancel_and_reject_reports() -> None:
    _, cancelled = parse_execution_report(
        _report(status="CANCELLED", reason="user cancel", clientOrderId="a1")
    )
    assert cancelled == (OrderCancelled("a1", "292820969", "user cancel", 1704679472448),)
    _, rejected = parse_execution_report(_report(status="REJECTED", reason="", clientOrderId=0))
    assert rejected == (OrderRejected("", "rejected"),)


def test_cancelled_report_with_a_last_trade_yields_the_fill_then_the_cancel() -> None:
    data = _report(
        status="CANCELLED",
        tradeId=5,
        executedPrice=Decimal("0.77"),
        executedQuantity=Decimal(10),
        totalExecutedQuantity=Decimal(10),
    )
    _, events = parse_execution_report(data)
    assert [type(e) for e in events] == [OrderPartiallyFilled, OrderCancelled]


def test_report_without_order_id_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError, match="orderId"):
        parse_execution_report(_report(orderId=None))


@pytest.mark.parametrize(
    "key", ["avgPrice", "averageExecutedPrice", "avgExecutedPrice", "average_executed_price"]
)
def test_every_average_price_spelling_is_read(key: str) -> None:
    assert average_price({key: Decimal("1.5")}) == Decimal("1.5")
    assert average_price({key: "1.5"}) == Decimal("1.5")


def test_ids_normalise_to_strings_and_zero_means_none() -> None:
    assert [to_id(v) for v in (292820969, "292820969", 0, "0", "", None, Decimal(7))] == [
        "292820969",
        "292820969",
        "",
        "",
        "",
        "",
        "7",
    ]


def test_to_decimal_rejects_booleans_and_garbage_naming_the_field() -> None:
    with pytest.raises(ProtocolError, match="price"):
        to_decimal(True, "price")
    with pytest.raises(ProtocolError, match="price"):
        to_decimal("abc", "price")
    with pytest.raises(ProtocolError, match="price"):
        to_decimal("NaN", "price")


def test_position_push_gives_signed_quantity_per_symbol() -> None:
    frame = p.load(p.POSITION_PUSH)
    (update,) = parse_position_push(frame["data"], frame["ts"])
    assert (update.symbol, update.quantity, update.timestamp_ms) == (
        "PERP_ETH_USDC",
        Decimal("3.1408"),
        1685429350571,
    )


def test_mark_price_push() -> None:
    assert parse_mark_price_push(p.load(p.MARK_PRICE_PUSH)) == (
        "PERP_BTC_USDC",
        MarkPriceUpdated(price=Decimal("87109.2"), timestamp_ms=1790139274000),
    )


def test_symbol_info_from_openapi_row_and_trimmed_live_row() -> None:
    info = parse_symbol_info(p.load(p.INFO_ROW))
    assert info.rules.quote_tick == Decimal("0.1")
    assert info.rules.base_min == Decimal("0.00001")
    assert (info.rules.quote_max, info.price_range, info.status) == (
        Decimal(100000),
        Decimal("0.02"),
        "ACTIVE",
    )
    trimmed = parse_symbol_info(p.load(p.LIVE_INFO_ROW_TRIMMED))
    assert (trimmed.rules.base_max, trimmed.price_range, trimmed.broker_id) == (
        Decimal(0),
        Decimal("0.03"),
        "mythos",
    )
    assert trimmed.status == "REDUCE_ONLY"


def test_futures_mark_price_accepts_object_and_rows() -> None:
    row = p.load(p.FUTURES_ROW)
    assert parse_futures_mark_price(row, "PERP_BTC_USDC") == Decimal("64171.0")
    assert parse_futures_mark_price({"rows": [row]}, "PERP_BTC_USDC") == Decimal("64171.0")
    with pytest.raises(ProtocolError, match="PERP_NOPE_USDC"):
        parse_futures_mark_price(None, "PERP_NOPE_USDC")


def test_rest_order_row_becomes_a_venue_order_with_numeric_client_order_id_as_string() -> None:
    report = parse_order_row(p.load(p.OPEN_ORDER_ROW))
    assert (report.order_id, report.client_order_id, report.status) == ("78151", "1", "NEW")
    venue = report.to_venue_order()
    assert (venue.side, venue.price, venue.quantity, venue.executed_quantity) == (
        Side.BUY,
        Decimal("0.67772"),
        Decimal(20),
        Decimal(0),
    )


def test_positions_rows() -> None:
    assert parse_position_rows(p.load(p.POSITIONS_DATA)) == {"PERP_BTC_USDC": Decimal(-5)}


def _order(quantity: str, executed: str, status: str) -> OrderReport:
    return OrderReport(
        "PERP_BTC_USDC", "9", "cid-9", Side.SELL, "LIMIT", Decimal(100), Decimal(quantity),
        Decimal(executed), Decimal(100), status, 0,
    )  # fmt: skip


def _trade(trade_id: str, quantity: str, ts: int) -> TradeReport:
    row = {
        "id": trade_id, "symbol": "PERP_BTC_USDC", "side": "SELL", "order_id": 9, "executed_price": "100",
        "executed_quantity": quantity, "fee": "0.01", "fee_asset": "USDC", "is_maker": 1,
        "executed_timestamp": ts,
    }  # fmt: skip
    return parse_trade_row(row)


def test_trade_row_reads_is_maker_as_zero_or_one() -> None:
    assert _trade("1", "0.5", 10).is_maker
    assert not parse_trade_row({**_row_base(), "is_maker": 0}).is_maker


def _row_base() -> dict[str, object]:
    return {"id": 1, "symbol": "S", "side": "BUY", "order_id": 2, "executed_price": 1, "executed_quantity": 1}


def test_fills_from_trades_rebuild_cumulative_quantity_and_the_completing_fill() -> None:
    order = _order("3", "3", "FILLED")
    fills = fills_from_trades(order, [_trade("t2", "1", 20), _trade("t1", "1", 10), _trade("t3", "1", 30)])
    assert [(f.trade_id, f.cumulative_quantity, type(f)) for f in fills] == [
        ("t1", Decimal(1), OrderPartiallyFilled),
        ("t2", Decimal(2), OrderPartiallyFilled),
        ("t3", Decimal(3), OrderFilled),
    ]
    assert all(f.client_order_id == "cid-9" for f in fills)


def test_fills_from_a_window_that_misses_early_trades_start_from_the_order_total() -> None:
    order = _order("5", "4", "PARTIAL_FILLED")
    fills = fills_from_trades(order, [_trade("t4", "1", 40)])
    assert [(f.trade_id, f.cumulative_quantity) for f in fills] == [("t4", Decimal(4))]
    assert isinstance(fills[0], OrderPartiallyFilled)


def test_order_state_events_for_open_cancelled_and_rejected_orders() -> None:
    partial = _order("5", "1", "PARTIAL_FILLED")
    events = order_state_events(partial, [_trade("t1", "1", 10)])
    assert [type(e) for e in events] == [OrderAccepted, OrderPartiallyFilled]
    cancelled = OrderReport(
        "PERP_BTC_USDC", "9", "cid-9", Side.SELL, "LIMIT", Decimal(100), Decimal(5), Decimal(0), Decimal(0),
        "CANCELLED", 77,
    )  # fmt: skip
    assert order_state_events(cancelled, []) == (OrderCancelled("cid-9", "9", "", 77),)
    rejected = OrderReport(
        "PERP_BTC_USDC", "9", "cid-9", Side.SELL, "LIMIT", Decimal(100), Decimal(5), Decimal(0), Decimal(0),
        "REJECTED", 77,
    )  # fmt: skip
    assert order_state_events(rejected, []) == (OrderRejected("cid-9", "rejected"),)
