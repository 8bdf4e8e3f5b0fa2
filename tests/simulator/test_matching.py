"""Matching over real sockets: resting orders against the price path, executionreport sequences."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from decimal import Decimal

import pytest

from server.simulator import RunningSimulator, SimulatorControl
from tests.simulator.conftest import QUIET
from tests.simulator.sim_client import RestClient, WsClient, topic

OpenStream = Callable[..., Awaitable[WsClient]]
BTC = "PERP_BTC_USDC"
report = topic("executionreport")


def limit(side: str, price: str, quantity: str, **extra: object) -> dict[str, object]:
    return {
        "symbol": BTC,
        "order_type": "LIMIT",
        "side": side,
        "order_price": price,
        "order_quantity": quantity,
        **extra,
    }


async def test_buy_rests_below_the_mark_and_fills_as_maker_when_the_price_comes_down(
    rest: RestClient, control: SimulatorControl, private_ws: OpenStream
) -> None:
    stream = await private_ws("executionreport", "position", "balance")
    status, created = await rest.place(**limit("BUY", "42000", "0.01", client_order_id="grid-1"))
    assert status == 200, created
    order_id = created["data"]["order_id"]
    assert created["data"]["client_order_id"] == "grid-1"
    new = (await stream.next(report))["data"]
    assert (new["status"], new["orderId"], new["tradeId"], new["clientOrderId"]) == (
        "NEW",
        order_id,
        0,
        "grid-1",
    )

    assert await control.set_price(BTC, "42000.1") == 0  # not crossed yet
    assert await control.set_price(BTC, "41999.9") == 1
    filled = (await stream.next(report))["data"]
    assert filled["status"] == "FILLED"
    assert filled["tradeId"] != 0
    assert filled["executedPrice"] == Decimal("42000")  # the limit, not the better mark
    assert filled["executedQuantity"] == filled["totalExecutedQuantity"] == Decimal("0.01")
    assert filled["maker"] is True
    assert filled["fee"] == filled["totalFee"] == Decimal("0.01") * Decimal("42000") * Decimal("0.0002")
    for spelling in ("avgPrice", "averageExecutedPrice", "avgExecutedPrice"):
        assert filled[spelling] == Decimal("42000")
    position = await stream.next(topic("position"))
    assert position["data"]["positions"][0]["positionQty"] == Decimal("0.01")
    balance = await stream.next(topic("balance"))
    assert balance["data"]["balances"]["USDC"]["holding"] == Decimal("100000") - filled["fee"]


async def test_sell_fills_when_the_price_rises_to_it(
    rest: RestClient, control: SimulatorControl, private_ws: OpenStream
) -> None:
    stream = await private_ws("executionreport")
    await rest.place(**limit("SELL", "43000", "0.002"))
    await stream.next(report)
    assert await control.set_price(BTC, "42999.9") == 0
    assert await control.set_price(BTC, "43000") == 1
    filled = (await stream.next(report))["data"]
    assert (filled["status"], filled["side"], filled["executedPrice"]) == ("FILLED", "SELL", Decimal("43000"))


@pytest.mark.parametrize("sim_config", [replace(QUIET, liquidity_per_order=Decimal("0.004"))])
async def test_partial_fills_follow_the_liquidity_per_step(
    rest: RestClient, control: SimulatorControl, private_ws: OpenStream
) -> None:
    stream = await private_ws("executionreport")
    await rest.place(**limit("BUY", "42000", "0.01"))
    statuses = [(await stream.next(report))["data"]["status"]]
    for price in ("41990", "41980", "41970"):
        assert await control.set_price(BTC, price) == 1
        statuses.append((await stream.next(report))["data"]["status"])
    assert statuses == ["NEW", "PARTIAL_FILLED", "PARTIAL_FILLED", "FILLED"]
    assert await control.set_price(BTC, "41960") == 0
    _status, trades = await rest.call("GET", "/v1/trades?symbol=PERP_BTC_USDC")
    quantities = sorted(row["executed_quantity"] for row in trades["data"]["rows"])
    assert quantities == [Decimal("0.002"), Decimal("0.004"), Decimal("0.004")]
    assert len({row["id"] for row in trades["data"]["rows"]}) == 3


@pytest.mark.parametrize("sim_config", [replace(QUIET, liquidity_per_order=Decimal("0.004"))])
async def test_partial_fill_reports_carry_cumulative_totals(
    rest: RestClient, control: SimulatorControl, private_ws: OpenStream
) -> None:
    stream = await private_ws("executionreport")
    await rest.place(**limit("BUY", "42000", "0.006"))
    await stream.next(report)
    await control.set_price(BTC, "41000")
    first = (await stream.next(report))["data"]
    await control.set_price(BTC, "42000")
    second = (await stream.next(report))["data"]
    assert (first["totalExecutedQuantity"], second["totalExecutedQuantity"]) == (
        Decimal("0.004"),
        Decimal("0.006"),
    )
    assert second["executedQuantity"] == Decimal("0.002")
    assert second["totalFee"] == first["fee"] + second["fee"]
    assert first["tradeId"] != second["tradeId"]


async def test_price_time_priority_orders_the_fills(
    rest: RestClient, control: SimulatorControl, private_ws: OpenStream
) -> None:
    stream = await private_ws("executionreport")
    ids = []
    for price in ("42000", "42000", "42100"):
        _, created = await rest.place(**limit("BUY", price, "0.001"))
        ids.append(created["data"]["order_id"])
    stream.drain()
    assert await control.set_price(BTC, "41900") == 3
    filled = [(await stream.next(report))["data"]["orderId"] for _ in range(3)]
    assert filled == [ids[2], ids[0], ids[1]]


async def test_duplicate_open_client_order_id_is_rejected_until_the_first_is_done(rest: RestClient) -> None:
    _, first = await rest.place(**limit("BUY", "42000", "0.001", client_order_id="cell-7"))
    status, duplicate = await rest.place(**limit("BUY", "41000", "0.001", client_order_id="cell-7"))
    assert (status, duplicate["code"]) == (409, -1007)
    status, _ = await rest.call("DELETE", f"/v1/order?order_id={first['data']['order_id']}&symbol={BTC}")
    assert status == 200
    status, again = await rest.place(**limit("BUY", "41000", "0.001", client_order_id="cell-7"))
    assert status == 200, again


async def test_cancel_reports_cancelled_and_a_second_cancel_is_not_found(
    rest: RestClient, private_ws: OpenStream
) -> None:
    stream = await private_ws("executionreport")
    _, created = await rest.place(**limit("SELL", "43000", "0.001", client_order_id="c1"))
    await stream.next(report)
    status, cancelled = await rest.call("DELETE", f"/v1/client/order?client_order_id=c1&symbol={BTC}")
    assert (status, cancelled["data"]) == (200, {"status": "CANCEL_SENT"})
    assert (await stream.next(report))["data"]["status"] == "CANCELLED"
    status, again = await rest.call(
        "DELETE", f"/v1/order?order_id={created['data']['order_id']}&symbol={BTC}"
    )
    assert (status, again["code"]) == (400, -1006)


async def test_reduce_only_needs_an_opposite_position_no_larger_than_it(
    rest: RestClient, control: SimulatorControl
) -> None:
    status, refused = await rest.place(**limit("SELL", "42500", "0.001", reduce_only=True))
    assert (status, refused["code"]) == (400, -1005)
    await rest.place(**limit("BUY", "42000", "0.002"))
    await control.set_price(BTC, "42000")
    status, too_big = await rest.place(**limit("SELL", "42500", "0.003", reduce_only=True))
    assert (status, too_big["code"]) == (400, -1005)
    status, _ = await rest.place(**limit("SELL", "42500", "0.002", reduce_only=True))
    assert status == 200
    await control.set_price(BTC, "42500")
    _, position = await rest.call("GET", f"/v1/position/{BTC}")
    assert position["data"]["position_qty"] == 0


@pytest.mark.parametrize(
    ("order", "code"),
    [
        (limit("BUY", "42000.05", "0.001"), -1103),  # off the 0.1 tick
        (limit("BUY", "44000", "0.001"), -1103),  # above mark * (1 + price_range)
        (limit("SELL", "60000", "0.001"), -1103),  # above mark * (1 + price_scope)
        (limit("BUY", "42000", "0.000015"), -1104),  # off the base tick
        (limit("BUY", "42000", "25"), -1104),  # above base_max
        (limit("BUY", "42000", "0.0002"), -1102),  # 8.4 USDC < min_notional 10
        (limit("BUY", "-1", "0.001"), -1005),
        (
            {
                "symbol": "PERP_NOPE_USDC",
                "order_type": "LIMIT",
                "side": "BUY",
                "order_price": 1,
                "order_quantity": 1,
            },
            -1005,
        ),
    ],
)
async def test_symbol_rules_are_enforced(rest: RestClient, order: dict[str, object], code: int) -> None:
    status, payload = await rest.place(**order)
    assert (status, payload["success"], payload["code"]) == (400, False, code)


async def test_market_order_fills_at_the_mark_as_taker_and_reports_price_zero(
    rest: RestClient, private_ws: OpenStream
) -> None:
    stream = await private_ws("executionreport")
    status, created = await rest.place(symbol=BTC, order_type="MARKET", side="SELL", order_quantity=0.01)
    assert status == 200
    assert created["data"]["order_price"] is None
    new, filled = (await stream.next(report))["data"], (await stream.next(report))["data"]
    assert (new["status"], filled["status"]) == ("NEW", "FILLED")
    assert filled["price"] == 0
    assert filled["executedPrice"] == Decimal("42500")
    assert filled["maker"] is False
    assert filled["fee"] == Decimal("0.01") * Decimal("42500") * Decimal("0.0005")
    _, row = await rest.call("GET", f"/v1/order/{created['data']['order_id']}")
    assert row["data"]["status"] == "FILLED"
    assert row["data"]["average_executed_price"] == Decimal("42500")


async def test_crossing_limit_takes_at_the_mark_and_crossing_post_only_is_cancelled(
    rest: RestClient, private_ws: OpenStream
) -> None:
    stream = await private_ws("executionreport")
    await rest.place(**limit("BUY", "42600", "0.001"))
    await stream.next(report)
    taken = (await stream.next(report))["data"]
    assert (taken["status"], taken["executedPrice"], taken["maker"]) == ("FILLED", Decimal("42500"), False)
    await rest.place(**limit("BUY", "42600", "0.001", order_type="POST_ONLY"))
    await stream.next(report)
    assert (await stream.next(report))["data"]["status"] == "CANCELLED"


async def test_round_trip_books_realized_pnl_minus_fees_into_collateral(
    rest: RestClient, control: SimulatorControl
) -> None:
    await rest.place(**limit("BUY", "42000", "0.1"))
    await rest.place(**limit("SELL", "43000", "0.1"))
    await control.set_price(BTC, "42000")
    await control.set_price(BTC, "43000")
    _, holding = await rest.call("GET", "/v1/client/holding")
    fees = Decimal("0.1") * (Decimal("42000") + Decimal("43000")) * Decimal("0.0002")
    assert holding["data"]["holding"][0]["holding"] == Decimal("100000") + Decimal("100") - fees
    _, positions = await rest.call("GET", "/v1/positions")
    row = positions["data"]["rows"][0]
    assert (row["symbol"], row["position_qty"]) == (BTC, 0)
    assert positions["data"]["free_collateral"] == Decimal("100000") + Decimal("100") - fees


async def test_short_position_has_negative_quantity_and_unsettled_pnl(
    rest: RestClient, control: SimulatorControl
) -> None:
    await rest.place(**limit("SELL", "43000", "0.5"))
    await control.set_price(BTC, "43000")
    await control.set_price(BTC, "42000")
    _, position = await rest.call("GET", f"/v1/position/{BTC}")
    data = position["data"]
    assert data["position_qty"] == Decimal("-0.5")
    assert data["average_open_price"] == Decimal("43000")
    assert data["unsettled_pnl"] == Decimal("500")
    assert data["cost_position"] == Decimal("-21500")


async def test_insufficient_margin_is_refused(rest: RestClient, control: SimulatorControl) -> None:
    poor = await control.create_account("100")
    status, payload = await rest.call("POST", "/v1/order", limit("BUY", "42000", "0.1"), account=poor)
    assert (status, payload["code"]) == (400, -1101)


async def test_reduce_only_market_is_the_only_way_into_a_reduce_only_symbol(rest: RestClient) -> None:
    order = {
        "symbol": "PERP_LUNA_USDC",
        "order_type": "LIMIT",
        "side": "BUY",
        "order_price": "0.5",
        "order_quantity": "100",
    }
    status, payload = await rest.place(**order)
    assert (status, payload["code"]) == (400, -1005)


async def test_orders_list_bundles_pages_and_single_lookups(
    rest: RestClient, control: SimulatorControl
) -> None:
    ids = []
    for index in range(3):
        _, created = await rest.place(
            **limit("BUY", str(41000 + index * 100), "0.001", client_order_id=f"o{index}")
        )
        ids.append(created["data"]["order_id"])
    await control.set_price(BTC, "41150")  # fills o2 (41200)
    _, incomplete = await rest.call("GET", "/v1/orders?symbol=PERP_BTC_USDC&status=INCOMPLETE&size=1&page=2")
    assert incomplete["data"]["meta"] == {"total": 2, "records_per_page": 1, "current_page": 2}
    assert incomplete["data"]["rows"][0]["order_id"] == ids[0]  # newest first: o1 on page 1, o0 on page 2
    _, completed = await rest.call("GET", "/v1/orders?status=COMPLETED")
    assert [row["order_id"] for row in completed["data"]["rows"]] == [ids[2]]
    _, by_client = await rest.call("GET", "/v1/client/order/o1")
    assert by_client["data"]["order_id"] == ids[1]
    _, trades = await rest.call("GET", f"/v1/order/{ids[2]}/trades")
    assert [row["order_id"] for row in trades["data"]["rows"]] == [ids[2]]
    assert trades["data"]["rows"][0]["is_maker"] == 1
    status, missing = await rest.call("GET", "/v1/order/1")
    assert (status, missing["code"]) == (400, -1006)


async def test_batch_create_places_valid_rows_and_reports_bad_ones(rest: RestClient) -> None:
    orders = [
        limit("BUY", "42000", "0.001", client_order_id="b1", reduce_only=True),  # reduce_only is ignored
        limit("BUY", "42000.05", "0.001", client_order_id="b2"),
        limit("SELL", "43000", "0.001", client_order_id="b3"),
    ]
    status, payload = await rest.call("POST", "/v1/batch-order", {"orders": orders})
    assert status == 200, payload
    rows = payload["data"]["rows"]
    assert [row["error_message"] == "none" for row in rows] == [True, False, True]
    assert rows[1]["error_code"] == -1103
    status, too_many = await rest.call("POST", "/v1/batch-order", {"orders": [orders[0]] * 11})
    assert (status, too_many["code"]) in {(400, -1005), (429, -1003)}


async def test_batch_and_cancel_all_cancel_only_open_orders(rest: RestClient) -> None:
    ids = []
    for index in range(4):
        _, created = await rest.place(**limit("BUY", str(41000 + index), "0.001"))
        ids.append(created["data"]["order_id"])
    status, payload = await rest.call("DELETE", f"/v1/batch-order?order_ids={ids[0]},{ids[1]}")
    assert (status, payload["data"]) == (200, {"status": "CANCEL_ALL_SENT"})
    status, payload = await rest.call("DELETE", f"/v1/batch-order?order_ids={ids[0]},{ids[1]}")
    assert (status, payload["code"]) == (400, -1006)
    status, payload = await rest.call("DELETE", "/v1/orders?symbol=PERP_BTC_USDC")
    assert (status, payload["data"]) == (200, {"status": "CANCEL_ALL_SENT"})
    _, open_orders = await rest.call("GET", "/v1/orders?status=INCOMPLETE")
    assert open_orders["data"]["rows"] == []


async def test_state_endpoint_reflects_positions_and_prices(
    rest: RestClient, control: SimulatorControl, sim: RunningSimulator
) -> None:
    await rest.place(symbol=BTC, order_type="MARKET", side="BUY", order_quantity="0.01")
    await control.set_price(BTC, "42600")
    state = await control.state()
    assert state["prices"][BTC] == Decimal("42600")
    assert state["accounts"][sim.account.account_id]["positions"][BTC]["position_qty"] == Decimal("0.01")


async def test_edit_moves_a_resting_order_and_a_crossing_edit_takes(
    rest: RestClient, control: SimulatorControl, private_ws: OpenStream
) -> None:
    stream = await private_ws("executionreport")
    _, created = await rest.place(**limit("BUY", "42000", "0.001"))
    order_id = created["data"]["order_id"]
    await stream.next(report)
    edit = {
        "order_id": str(order_id),
        "symbol": BTC,
        "side": "BUY",
        "order_type": "LIMIT",
        "order_price": "41000",
        "order_quantity": "0.002",
    }
    status, payload = await rest.call("PUT", "/v1/order", edit)
    assert (status, payload["data"]) == (200, {"status": "EDIT_SENT"})
    edited = (await stream.next(report))["data"]
    assert (edited["status"], edited["price"], edited["quantity"]) == (
        "NEW",
        Decimal("41000"),
        Decimal("0.002"),
    )
    assert await control.set_price(BTC, "41500") == 0  # the old price would have filled here
    status, _ = await rest.call("PUT", "/v1/order", {**edit, "order_price": "41600"})
    assert status == 200
    await stream.next(report)
    taken = (await stream.next(report))["data"]
    assert (taken["status"], taken["executedPrice"], taken["maker"]) == ("FILLED", Decimal("41500"), False)
    _, trade = await rest.call("GET", f"/v1/trade/{taken['tradeId']}")
    assert trade["data"]["order_id"] == order_id
    status, finished = await rest.call("PUT", "/v1/order", edit)
    assert (status, finished["code"]) == (400, -1006)
