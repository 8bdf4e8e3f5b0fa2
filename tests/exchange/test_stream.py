"""The adapter's event stream deduplicates what the WebSocket and the REST reconciliation both deliver."""

from __future__ import annotations

from decimal import Decimal

from engine.events import (
    Event,
    MarkPriceUpdated,
    OrderAccepted,
    OrderCancelled,
    OrderFilled,
    OrderPartiallyFilled,
)
from engine.types import Side
from server.exchange.stream import EventStream


def _fill(
    trade_id: str, quantity: str = "1", kind: type[OrderFilled] | type[OrderPartiallyFilled] = OrderFilled
) -> OrderFilled | OrderPartiallyFilled:
    return kind(
        "c1", "o1", trade_id, Side.BUY, Decimal(100), Decimal(quantity), Decimal("0.01"), Decimal(1), 1
    )


def _drain(stream: EventStream) -> list[Event]:
    out: list[Event] = []
    while (item := stream.get_nowait()) is not None:
        out.append(item.event)
    return out


def test_same_order_and_trade_id_is_published_once() -> None:
    stream = EventStream()
    assert stream.publish("S", _fill("t1"))
    assert not stream.publish("S", _fill("t1"))
    assert stream.publish("S", _fill("t2"))
    assert [getattr(e, "trade_id", None) for e in _drain(stream)] == ["t1", "t2"]
    assert stream.duplicates_dropped == 1


def test_same_trade_id_on_another_order_is_a_different_fill() -> None:
    stream = EventStream()
    first = _fill("t1")
    other = OrderFilled("c2", "o2", "t1", Side.SELL, Decimal(1), Decimal(1), Decimal(0), Decimal(1), 1)
    assert stream.publish("S", first)
    assert stream.publish("S", other)


def test_filled_quantity_counts_distinct_fills_only() -> None:
    stream = EventStream()
    stream.publish("S", _fill("t1", "0.5", OrderPartiallyFilled))
    stream.publish("S", _fill("t1", "0.5", OrderPartiallyFilled))
    stream.publish("S", _fill("t2", "0.25", OrderPartiallyFilled))
    assert stream.filled_quantity("o1") == Decimal("0.75")
    assert stream.filled_quantity("unknown") == 0


def test_acceptance_and_cancel_are_deduplicated_per_order_but_mark_prices_are_not() -> None:
    stream = EventStream()
    assert stream.publish("S", OrderAccepted("c1", "o1"))
    assert not stream.publish("S", OrderAccepted("c1", "o1"))
    assert stream.publish("S", OrderCancelled("c1", "o1"))
    assert not stream.publish("S", OrderCancelled("c1", "o1", "again"))
    assert stream.publish("S", MarkPriceUpdated(Decimal(1), 1))
    assert stream.publish("S", MarkPriceUpdated(Decimal(1), 1))


def test_memory_is_bounded_by_forgetting_the_oldest_keys() -> None:
    stream = EventStream(capacity=2)
    for trade_id in ("t1", "t2", "t3"):
        stream.publish("S", _fill(trade_id))
    assert stream.publish("S", _fill("t1"))  # forgotten, so accepted again
    assert not stream.publish("S", _fill("t3"))
