"""The exchange simulator on its own, over loopback: signed REST order placement and the cost of a
price step that fills N resting orders (matching + executionreport/position/balance pushes to one
private WebSocket subscriber). Rate limits off. Prints one table.

    .venv/bin/python bench/simulator.py [--orders N] [--resting N ...]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import statistics
import sys
import time
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path and bench/engine.py would shadow `engine`.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != _HERE]

import aiohttp  # noqa: E402

from server.simulator import SimAccount, SimulatorConfig, SimulatorControl, run_simulator  # noqa: E402
from server.simulator.signing import sign  # noqa: E402

BASE = SimulatorConfig(port=0, seed=1, rate_limits=False, markprice_push_interval_ms=0)


async def place(session: aiohttp.ClientSession, rest_url: str, account: SimAccount, price: str) -> float:
    body = json.dumps(
        {
            "symbol": "PERP_BTC_USDC",
            "order_type": "LIMIT",
            "side": "BUY",
            "order_price": price,
            "order_quantity": "0.001",
        }
    )
    timestamp = str(time.time_ns() // 1_000_000)
    headers = {
        "orderly-timestamp": timestamp,
        "orderly-account-id": account.account_id,
        "orderly-key": account.orderly_key,
        "orderly-signature": sign(account.orderly_secret, f"{timestamp}POST/v1/order{body}"),
        "Content-Type": "application/json",
    }
    started = time.perf_counter()
    async with session.post(rest_url + "/v1/order", data=body.encode(), headers=headers) as response:
        assert response.status == 200, await response.text()
        await response.read()
    return time.perf_counter() - started


async def bench_placement(orders: int) -> list[tuple[str, str, str]]:
    async with run_simulator(BASE) as sim, aiohttp.ClientSession() as session:
        latencies = [
            await place(session, sim.rest_url, sim.account, str(40000 + i % 1000)) for i in range(orders)
        ]
        started = time.perf_counter()
        await asyncio.gather(*(place(session, sim.rest_url, sim.account, "40000") for _ in range(orders)))
        concurrent_rate = orders / (time.perf_counter() - started)
    p50 = statistics.median(latencies) * 1000
    p99 = sorted(latencies)[int(len(latencies) * 0.99) - 1] * 1000
    return [
        (
            f"POST /v1/order serial x{orders}",
            f"{len(latencies) / sum(latencies):,.0f} orders/s",
            f"p50 {p50:.2f} ms, p99 {p99:.2f} ms",
        ),
        (f"POST /v1/order 100 in flight x{orders}", f"{concurrent_rate:,.0f} orders/s", "signed, verified"),
    ]


async def bench_price_step(resting: int) -> tuple[str, str, str]:
    async with (
        run_simulator(BASE) as sim,
        SimulatorControl(sim.rest_url) as control,
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=100)) as session,
    ):
        account = await control.create_account("100000000")
        await asyncio.gather(*(place(session, sim.rest_url, account, "42000") for _ in range(resting)))
        ws = await session.ws_connect(f"{sim.private_ws_url}/{account.account_id}")
        timestamp = time.time_ns() // 1_000_000
        await ws.send_json(
            {
                "id": "a",
                "event": "auth",
                "params": {
                    "orderly_key": account.orderly_key,
                    "sign": sign(account.orderly_secret, str(timestamp)),
                    "timestamp": timestamp,
                },
            }
        )
        await ws.receive_json()
        for name in ("executionreport", "position", "balance"):
            await ws.send_json({"id": name, "event": "subscribe", "topic": name})
            await ws.receive_json()
        started = time.perf_counter()
        fills = await control.set_price("PERP_BTC_USDC", "41990")
        elapsed = time.perf_counter() - started
        await ws.close()
    assert fills == resting
    return (
        f"price step filling {resting} resting",
        f"{elapsed * 1000:,.1f} ms",
        f"{resting / elapsed:,.0f} fills/s incl. {resting + 2} pushes",
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=500)
    parser.add_argument("--resting", type=int, nargs="+", default=[100, 1000])
    args = parser.parse_args()
    rows = await bench_placement(args.orders)
    for count in args.resting:
        rows.append(await bench_price_step(count))
    print(f"simulator over loopback - Python {platform.python_version()}, {platform.machine()}")
    widths = [max(len(row[i]) for row in [("case", "result", "detail"), *rows]) for i in range(3)]
    for row in [("case", "result", "detail"), *rows]:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))


if __name__ == "__main__":
    asyncio.run(main())
