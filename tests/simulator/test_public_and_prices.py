"""Public REST routes, envelopes, and the price path (random walk, CSV replay, virtual clock)."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import aiohttp
import pytest

from server.simulator import RunningSimulator, SimulatorConfig, SimulatorControl, run_simulator
from server.simulator.prices import load_price_csv
from tests.simulator.conftest import QUIET
from tests.simulator.sim_client import RestClient, WsClient, topic


async def test_catalog_serves_the_mapper_edge_cases(rest: RestClient) -> None:
    status, payload = await rest.call("GET", "/v1/public/info", signed=False)
    assert status == 200
    rows = {row["symbol"]: row for row in payload["data"]["rows"]}
    assert {"PERP_BTC_USDC", "PERP_ETH_USDC", "PERP_SOL_USDC", "PERP_1000PEPE_USDC"} <= set(rows)
    assert rows["PERP_AAPL_USDC_mythos"]["broker_id"] == "mythos"
    assert [s for s, row in rows.items() if row["status"] == "REDUCE_ONLY"] == ["PERP_LUNA_USDC"]
    btc = rows["PERP_BTC_USDC"]
    assert (btc["quote_tick"], btc["base_tick"], btc["min_notional"]) == (
        Decimal("0.1"),
        Decimal("0.00001"),
        10,
    )
    assert (btc["price_range"], btc["price_scope"]) == (Decimal("0.03"), Decimal("0.4"))
    assert isinstance(payload["timestamp"], int)


async def test_decimals_are_written_as_plain_json_numbers(
    sim: RunningSimulator, session: aiohttp.ClientSession
) -> None:
    async with session.get(f"{sim.rest_url}/v1/public/info/PERP_BTC_USDC") as response:
        text = await response.text()
    assert '"quote_tick":0.1,' in text
    assert '"base_tick":0.00001,' in text


async def test_futures_rows_and_unknown_symbol_without_data(
    rest: RestClient, control: SimulatorControl
) -> None:
    await control.set_price("PERP_SOL_USDC", "151.234")
    _, one = await rest.call("GET", "/v1/public/futures/PERP_SOL_USDC", signed=False)
    assert one["data"]["mark_price"] == Decimal("151.234")
    _, every = await rest.call("GET", "/v1/public/futures", signed=False)
    assert len(every["data"]["rows"]) >= 6
    status, unknown = await rest.call("GET", "/v1/public/futures/PERP_NOPE_USDC", signed=False)
    assert status == 200
    assert unknown["success"] is True
    assert "data" not in unknown


async def test_system_info_and_unknown_paths(rest: RestClient) -> None:
    _, info = await rest.call("GET", "/v1/public/system_info", signed=False)
    assert info["data"]["status"] == 0
    status, missing = await rest.call("GET", "/v1/public/nope", signed=False)
    assert status == 400
    assert missing == {"success": False, "code": -1000, "message": "path not found"}


async def test_client_info_reports_fee_rates_in_basis_points(rest: RestClient, sim: RunningSimulator) -> None:
    _, info = await rest.call("GET", "/v1/client/info")
    assert info["data"]["account_id"] == sim.account.account_id
    assert (info["data"]["futures_maker_fee_rate"], info["data"]["futures_taker_fee_rate"]) == (2, 5)


def walk_config(seed: int) -> SimulatorConfig:
    return SimulatorConfig(
        **{**QUIET.__dict__, "seed": seed, "virtual_clock": True, "walk_interval_ms": 1000}
    )


async def walk_prices(seed: int, steps: int) -> list[Decimal]:
    async with run_simulator(walk_config(seed)) as sim, SimulatorControl(sim.rest_url) as control:
        prices = []
        for _ in range(steps):
            await control.advance_clock(1000)
            prices.append((await control.state())["prices"]["PERP_BTC_USDC"])
        return prices


async def test_random_walk_on_a_virtual_clock_is_reproducible_per_seed() -> None:
    first, again, other = await walk_prices(11, 5), await walk_prices(11, 5), await walk_prices(12, 5)
    assert first == again
    assert first != other
    assert len(set(first)) > 1
    assert all(price % Decimal("0.1") == 0 for price in first)


@pytest.fixture
def price_file(tmp_path: Path) -> Path:
    path = tmp_path / "prices.csv"
    path.write_text(
        "timestamp,price\n1700000000000,42500\n1700000001000,42100\n1700000002000,41900,PERP_BTC_USDC\n"
    )
    return path


async def test_csv_replay_moves_the_mark_and_fills_resting_orders(price_file: Path) -> None:
    config = replace(QUIET, virtual_clock=True, prices_csv=str(price_file))
    async with (
        run_simulator(config) as sim,
        SimulatorControl(sim.rest_url) as control,
        aiohttp.ClientSession() as session,
    ):
        rest = RestClient(session, sim.rest_url, sim.account)
        started_ms = (await control.state())["now_ms"]
        status, _ = await rest.place(
            symbol="PERP_BTC_USDC",
            order_type="LIMIT",
            side="BUY",
            order_price="42000",
            order_quantity="0.001",
        )
        assert status == 200
        await control.advance_clock(1000)
        assert (await control.state())["prices"]["PERP_BTC_USDC"] == Decimal("42100")
        await control.advance_clock(1000)
        state = await control.state()
        assert state["prices"]["PERP_BTC_USDC"] == Decimal("41900")
        assert state["fills"] == 1
        assert state["now_ms"] == started_ms + 2000


def test_csv_with_a_bad_row_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("1,100\n2,abc\n")
    with pytest.raises(ValueError, match=r"bad\.csv:2"):
        load_price_csv(str(path), "PERP_BTC_USDC")


@pytest.mark.parametrize("sim_config", [replace(QUIET, walk_interval_ms=20)])
async def test_real_time_walk_pushes_new_mark_prices(
    sim: RunningSimulator, session: aiohttp.ClientSession
) -> None:
    stream = WsClient(await session.ws_connect(f"{sim.public_ws_url}/x"))
    await stream.send({"id": "m", "event": "subscribe", "topic": "PERP_BTC_USDC@markprice"})
    seen = {(await stream.next(topic("PERP_BTC_USDC@markprice")))["data"]["price"] for _ in range(6)}
    assert len(seen) > 1
    await stream.close()


async def test_clock_advance_is_refused_on_a_wall_clock(control: SimulatorControl) -> None:
    with pytest.raises(RuntimeError, match="not virtual"):
        await control.advance_clock(1000)


async def test_funding_charges_longs_each_period_on_the_virtual_clock() -> None:
    config = replace(QUIET, virtual_clock=True, funding_rate=Decimal("0.0001"), funding_interval_ms=60_000)
    async with (
        run_simulator(config) as sim,
        SimulatorControl(sim.rest_url) as control,
        aiohttp.ClientSession() as session,
    ):
        rest = RestClient(session, sim.rest_url, sim.account)
        await rest.place(symbol="PERP_BTC_USDC", order_type="MARKET", side="BUY", order_quantity="1")
        _, before = await rest.call("GET", "/v1/client/holding")
        await control.advance_clock(60_000)
        _, after = await rest.call("GET", "/v1/client/holding")
        paid = before["data"]["holding"][0]["holding"] - after["data"]["holding"][0]["holding"]
        assert paid == Decimal("42500") * Decimal("0.0001")
        _, position = await rest.call("GET", "/v1/position/PERP_BTC_USDC")
        assert position["data"]["accrued_funding_fee"] == paid
        _, futures = await rest.call("GET", "/v1/public/futures/PERP_BTC_USDC", signed=False)
        assert futures["data"]["est_funding_rate"] == Decimal("0.0001")
