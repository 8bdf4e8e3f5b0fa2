"""One conformance suite for the Exchange protocol: runs on the simulator over real sockets, and on
Orderly testnet when ORDERLY_* credentials are set. Tests that need to move the price are
simulator-only (a real venue's price cannot be steered)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from engine.commands import OrderType, PlaceOrder
from engine.events import (
    Event,
    MarkPriceUpdated,
    OrderAccepted,
    OrderCancelled,
    OrderFilled,
    OrderPartiallyFilled,
    OrderRejected,
    VenueSnapshot,
)
from engine.types import Side
from server.exchange import (
    DuplicateOrder,
    Exchange,
    InvalidRequest,
    PlacementAck,
    PlacementFailure,
    PriceOutOfRange,
    QuantityFilter,
    SymbolError,
    UnknownOrder,
)
from server.simulator import FaultConfig
from tests.exchange.venues import Venue, simulator_venue


def _buy(cid: str, price: Decimal, quantity: Decimal) -> PlaceOrder:
    return PlaceOrder(cid, Side.BUY, OrderType.LIMIT, quantity, price)


def _is(kind: type[Event], cid: str) -> object:
    return lambda e: isinstance(e, kind) and getattr(e, "client_order_id", None) == cid


async def test_adapter_satisfies_the_exchange_protocol(venue: Venue) -> None:
    assert isinstance(venue.exchange, Exchange)


async def test_market_rules_and_mark_price_come_from_public_endpoints(venue: Venue) -> None:
    rules = await venue.exchange.get_market_rules(venue.symbol)
    assert rules.symbol == venue.symbol
    assert rules.quote_tick > 0
    assert rules.base_tick > 0
    assert rules.base_min > 0
    assert await venue.exchange.get_mark_price(venue.symbol) > 0


async def test_binance_style_ticker_resolves_against_the_catalog(venue: Venue) -> None:
    assert await venue.exchange.resolve_symbol("BTCUSDT") == "PERP_BTC_USDC"
    assert await venue.exchange.resolve_symbol("PERP_BTC_USDC") == "PERP_BTC_USDC"
    with pytest.raises(SymbolError):
        await venue.exchange.resolve_symbol("NOSUCHCOINUSDT")


async def test_resting_limit_order_is_acked_accepted_listed_and_cancelled(venue: Venue) -> None:
    exchange, cid = venue.exchange, venue.cid("r")
    price = await venue.resting_buy_price()
    quantity = await venue.small_quantity(price)
    ack = await exchange.place_order(venue.symbol, _buy(cid, price, quantity))
    assert ack.client_order_id == cid
    assert ack.order_id
    accepted = await venue.events.wait_for(_is(OrderAccepted, cid), what="OrderAccepted")  # type: ignore[arg-type]
    assert isinstance(accepted, OrderAccepted)
    assert accepted.order_id == ack.order_id
    listed = {o.client_order_id: o for o in await exchange.open_orders(venue.symbol)}
    assert listed[cid].order_id == ack.order_id
    assert (listed[cid].side, listed[cid].price, listed[cid].quantity) == (Side.BUY, price, quantity)
    await exchange.cancel_order(venue.symbol, cid)
    await venue.events.wait_for(_is(OrderCancelled, cid), what="OrderCancelled")  # type: ignore[arg-type]
    assert cid not in {o.client_order_id for o in await exchange.open_orders(venue.symbol)}


async def test_placing_the_same_client_order_id_twice_never_doubles_the_order(venue: Venue) -> None:
    cid = venue.cid("d")
    price = await venue.resting_buy_price()
    order = _buy(cid, price, await venue.small_quantity(price))
    first = await venue.exchange.place_order(venue.symbol, order)
    second = await venue.exchange.place_order(venue.symbol, order)
    assert second == first
    rules = await venue.exchange.get_market_rules(venue.symbol)
    with pytest.raises((DuplicateOrder, InvalidRequest)):  # same id, different order: refused, not acked
        await venue.exchange.place_order(venue.symbol, _buy(cid, price - rules.quote_tick, order.quantity))
    assert [o.client_order_id for o in await venue.exchange.open_orders(venue.symbol)].count(cid) == 1
    await venue.exchange.cancel_order(venue.symbol, cid)


async def test_batch_of_twelve_is_chunked_and_cancel_all_clears_the_book(venue: Venue) -> None:
    exchange = venue.exchange
    rules = await exchange.get_market_rules(venue.symbol)
    top = await venue.resting_buy_price()
    quantity = await venue.small_quantity(top)
    orders = [_buy(venue.cid(f"b{i}"), top - i * rules.quote_tick * 10, quantity) for i in range(12)]
    results = await exchange.place_orders(venue.symbol, orders)
    assert [r.client_order_id for r in results] == [o.client_order_id for o in orders]
    assert all(isinstance(r, PlacementAck) for r in results), results
    open_ids = {o.client_order_id for o in await exchange.open_orders(venue.symbol)}
    assert {o.client_order_id for o in orders} <= open_ids
    await exchange.cancel_all(venue.symbol)
    await venue.events.wait_until(
        lambda: (
            {o.client_order_id for o in orders}
            <= {
                e.client_order_id
                for e in venue.events.of_type(OrderCancelled)
                if isinstance(e, OrderCancelled)
            }
        ),
        what="12 cancellations",
    )
    assert not {o.client_order_id for o in await exchange.open_orders(venue.symbol)} & open_ids


async def test_batch_reports_a_bad_order_without_failing_the_good_ones(venue: Venue) -> None:
    price = await venue.resting_buy_price()
    quantity = await venue.small_quantity(price)
    rules = await venue.exchange.get_market_rules(venue.symbol)
    good, bad = venue.cid("g"), venue.cid("x")
    results = await venue.exchange.place_orders(
        venue.symbol, [_buy(good, price, quantity), _buy(bad, price + rules.quote_tick / 2, quantity)]
    )
    assert isinstance(results[0], PlacementAck)
    assert isinstance(results[1], PlacementFailure)
    assert isinstance(results[1].error, PriceOutOfRange)
    await venue.exchange.cancel_all(venue.symbol)


async def test_rejections_map_to_typed_errors(venue: Venue) -> None:
    exchange = venue.exchange
    rules = await exchange.get_market_rules(venue.symbol)
    price = await venue.resting_buy_price()
    quantity = await venue.small_quantity(price)
    with pytest.raises(QuantityFilter):  # off the base step (the notional is fine)
        await exchange.place_order(venue.symbol, _buy(venue.cid(), price, quantity + rules.base_tick / 2))
    with pytest.raises(PriceOutOfRange):
        await exchange.place_order(venue.symbol, _buy(venue.cid(), price + rules.quote_tick / 2, quantity))
    with pytest.raises(PriceOutOfRange):  # beyond price_range above the mark
        await exchange.place_order(
            venue.symbol, _buy(venue.cid(), (price * 2).quantize(rules.quote_tick), quantity)
        )
    with pytest.raises(UnknownOrder):
        await exchange.cancel_order(venue.symbol, venue.cid("none"))


async def test_snapshot_lists_open_orders_and_position(venue: Venue) -> None:
    cid = venue.cid("s")
    price = await venue.resting_buy_price()
    await venue.exchange.place_order(venue.symbol, _buy(cid, price, await venue.small_quantity(price)))
    snapshot = await venue.exchange.snapshot(venue.symbol)
    assert cid in {o.client_order_id for o in snapshot.open_orders}
    assert snapshot.position_quantity == await venue.exchange.position_quantity(venue.symbol)
    await venue.exchange.cancel_all(venue.symbol)


async def test_reconnect_emits_a_snapshot_for_tracked_symbols(sim_venue: Venue) -> None:
    cid = sim_venue.cid("n")
    price = await sim_venue.resting_buy_price()
    await sim_venue.exchange.place_order(
        sim_venue.symbol, _buy(cid, price, await sim_venue.small_quantity(price))
    )
    assert not sim_venue.events.of_type(VenueSnapshot)
    assert sim_venue.control is not None
    await sim_venue.control.drop_websockets()
    snapshot = await sim_venue.events.wait_for(lambda e: isinstance(e, VenueSnapshot), what="VenueSnapshot")
    stream = sim_venue.exchange.private_stream
    assert stream is not None
    assert stream.connect_count == 2
    assert isinstance(snapshot, VenueSnapshot)
    assert [o.client_order_id for o in snapshot.open_orders] == [cid]
    assert snapshot.position_quantity == 0


async def test_mark_price_streams_after_subscribe(sim_venue: Venue) -> None:
    await sim_venue.exchange.subscribe("PERP_ETH_USDC")
    assert sim_venue.control is not None
    await sim_venue.control.set_price("PERP_ETH_USDC", "2510.5")
    await sim_venue.events.wait_for(
        lambda e: isinstance(e, MarkPriceUpdated) and e.price == Decimal("2510.5"), what="mark price push"
    )
    assert await sim_venue.exchange.get_mark_price("PERP_ETH_USDC") == Decimal("2510.5")


async def test_fill_reaches_the_stream_once_and_moves_the_position(sim_venue: Venue) -> None:
    venue, control = sim_venue, sim_venue.control
    assert control is not None
    cid = venue.cid("f")
    price = await venue.resting_buy_price()
    quantity = await venue.small_quantity(price)
    ack = await venue.exchange.place_order(venue.symbol, _buy(cid, price, quantity))
    assert await control.set_price(venue.symbol, price - 1) == 1
    fill = await venue.events.wait_for(_is(OrderFilled, cid), what="OrderFilled")  # type: ignore[arg-type]
    assert isinstance(fill, OrderFilled)
    assert (fill.order_id, fill.side, fill.price, fill.quantity) == (ack.order_id, Side.BUY, price, quantity)
    assert fill.cumulative_quantity == quantity
    assert fill.fee > 0
    assert await venue.exchange.position_quantity(venue.symbol) == quantity
    recent = await venue.exchange.recent_fills(venue.symbol, fill.timestamp_ms - 1)
    assert [(f.order_id, f.trade_id, f.client_order_id) for f in recent] == [
        (ack.order_id, fill.trade_id, cid)
    ]
    await venue.exchange.reconcile()  # the REST view of the same fill is deduplicated
    fills = venue.events.of_type((OrderFilled, OrderPartiallyFilled))
    assert len([f for f in fills if getattr(f, "client_order_id", "") == cid]) == 1


async def test_rules_are_cached_and_mark_price_comes_from_the_stream_once_subscribed(
    sim_venue: Venue,
) -> None:
    exchange, control = sim_venue.exchange, sim_venue.control
    assert control is not None
    await exchange.get_market_rules("PERP_ETH_USDC")
    sent = exchange.rest.requests_sent
    await exchange.get_market_rules("PERP_ETH_USDC")
    await exchange.get_market_rules("PERP_SOL_USDC")
    assert exchange.rest.requests_sent == sent  # one catalog load serves every symbol
    await exchange.subscribe("PERP_SOL_USDC")
    await control.set_price("PERP_SOL_USDC", "151.25")
    await sim_venue.events.wait_for(
        lambda e: isinstance(e, MarkPriceUpdated) and e.price == Decimal("151.25")
    )
    assert await exchange.get_mark_price("PERP_SOL_USDC") == Decimal("151.25")
    assert exchange.rest.requests_sent == sent  # served from the public stream, no REST call


async def test_expired_rules_are_reloaded() -> None:
    async with simulator_venue(rules_ttl_ms=0) as venue:
        await venue.exchange.get_market_rules(venue.symbol)
        sent = venue.exchange.rest.requests_sent
        await venue.exchange.get_market_rules(venue.symbol)
        assert venue.exchange.rest.requests_sent == sent + 1


async def test_query_order_tells_open_cancelled_and_unknown_orders_apart(venue: Venue) -> None:
    exchange = venue.exchange
    price = await venue.resting_buy_price()
    quantity = await venue.small_quantity(price)
    cid = venue.cid("q")
    ack = await exchange.place_order(venue.symbol, _buy(cid, price, quantity))
    assert await exchange.query_order(venue.symbol, cid) == (OrderAccepted(cid, ack.order_id),)
    await exchange.cancel_order(venue.symbol, cid)
    await venue.events.wait_for(_is(OrderCancelled, cid), what="OrderCancelled")  # type: ignore[arg-type]
    (cancelled,) = await exchange.query_order(venue.symbol, cid, ack.order_id)
    assert isinstance(cancelled, OrderCancelled)
    assert (cancelled.client_order_id, cancelled.order_id) == (cid, ack.order_id)
    (unknown,) = await exchange.query_order(venue.symbol, venue.cid("none"))
    assert isinstance(unknown, OrderRejected)
    assert unknown.code == -1006


async def test_query_order_of_a_filled_order_returns_its_fill_which_the_stream_then_withholds(
    sim_venue: Venue,
) -> None:
    venue, control = sim_venue, sim_venue.control
    assert control is not None
    cid = venue.cid("qf")
    price = await venue.resting_buy_price()
    quantity = await venue.small_quantity(price)
    ack = await venue.exchange.place_order(venue.symbol, _buy(cid, price, quantity))
    await control.set_faults(FaultConfig(lost_push_rate=1.0))  # the fill push is lost
    assert await control.set_price(venue.symbol, price - 1) == 1
    await control.set_faults(FaultConfig())
    (fill,) = await venue.exchange.query_order(venue.symbol, cid)
    assert isinstance(fill, OrderFilled)
    assert (fill.order_id, fill.quantity, fill.cumulative_quantity) == (ack.order_id, quantity, quantity)
    await venue.exchange.reconcile()
    assert not [e for e in venue.events.of_type(OrderFilled) if getattr(e, "client_order_id", "") == cid]
