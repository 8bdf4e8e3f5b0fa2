"""The Orderly adapter against the simulator over loopback: placement round trips and sustained
placement rate under the real rate limits. Prints one table.

    .venv/bin/python bench/exchange.py [--round-trips N] [--sustained N]

Round trip: `place_order` -> REST ack, and -> the WebSocket `OrderAccepted` event, measured serially
with both rate limiters switched off (latency, not throttling). Sustained: N orders fired at once as
singles and then as batches of 10 under Orderly's real limits (10 creates/s, 1 batch/s) on both sides;
the client-side limiter must keep the simulator's 429 count at zero.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import sys
import time
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path and bench/engine.py would shadow `engine`.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != _HERE]

import structlog  # noqa: E402

from engine.commands import OrderType, PlaceOrder  # noqa: E402
from engine.events import OrderAccepted  # noqa: E402
from engine.types import Side  # noqa: E402
from server.exchange import OrderlyConfig, OrderlyCredentials, OrderlyExchange, PlacementAck  # noqa: E402
from server.exchange.constants import RateLimit  # noqa: E402
from server.simulator import RunningSimulator, SimulatorConfig, run_simulator  # noqa: E402

SYMBOL = "PERP_BTC_USDC"
UNLIMITED = {
    group: RateLimit(1_000_000, 1000)
    for group in ("order_create", "batch_create", "order_cancel", "order_read", "trade_read")
} | {"position_read": RateLimit(1_000_000, 1000), "public_read": RateLimit(1_000_000, 1000)}


def _config(sim: RunningSimulator, unlimited: bool) -> OrderlyConfig:
    account = sim.account
    config = OrderlyConfig(
        rest_url=sim.rest_url,
        public_ws_url=sim.public_ws_url,
        private_ws_url=sim.private_ws_url,
        credentials=OrderlyCredentials(account.account_id, account.orderly_key, account.orderly_secret),
        reconcile_interval_ms=0,
        seed=1,
    )
    return replace(config, rate_limits=UNLIMITED) if unlimited else config


def _order(index: int, tag: str) -> PlaceOrder:
    price = Decimal(40000) - Decimal(index % 500)  # rests under the 42500 mark, inside the price scope
    return PlaceOrder(f"{tag}{index}", Side.BUY, OrderType.LIMIT, Decimal("0.001"), price)


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def _round_trips(count: int) -> tuple[list[float], list[float]]:
    async with run_simulator(SimulatorConfig(port=0, seed=1, rate_limits=False)) as sim:
        exchange = OrderlyExchange(_config(sim, unlimited=True))
        await exchange.start()
        accepted: dict[str, asyncio.Future[float]] = {}

        async def watch() -> None:
            async for venue_event in exchange.events():
                event = venue_event.event
                if isinstance(event, OrderAccepted) and event.client_order_id in accepted:
                    accepted[event.client_order_id].set_result(time.perf_counter())

        watcher = asyncio.create_task(watch())
        ack_ms: list[float] = []
        event_ms: list[float] = []
        loop = asyncio.get_running_loop()
        try:
            for index in range(count):
                order = _order(index, "rt")
                accepted[order.client_order_id] = loop.create_future()
                started = time.perf_counter()
                await exchange.place_order(SYMBOL, order)
                ack_ms.append((time.perf_counter() - started) * 1000)
                accepted_at = await asyncio.wait_for(accepted[order.client_order_id], 5)
                event_ms.append((accepted_at - started) * 1000)
                if index % 100 == 99:
                    await exchange.cancel_all(SYMBOL)
        finally:
            watcher.cancel()
            await exchange.close()
        return ack_ms, event_ms


async def _sustained(count: int, batched: bool) -> tuple[float, int, int]:
    """Placements per second, acks, and HTTP 429s seen by the adapter."""
    async with run_simulator(SimulatorConfig(port=0, seed=2, rate_limits=True)) as sim:
        exchange = OrderlyExchange(_config(sim, unlimited=False))
        await exchange.start()
        try:
            orders = [_order(index, "b" if batched else "s") for index in range(count)]
            started = time.perf_counter()
            if batched:
                results = await exchange.place_orders(SYMBOL, orders)
            else:
                results = list(await asyncio.gather(*(exchange.place_order(SYMBOL, o) for o in orders)))
            elapsed = time.perf_counter() - started
            acks = sum(1 for r in results if isinstance(r, PlacementAck))
            return count / elapsed, acks, exchange.http_429_count
        finally:
            await exchange.close()


async def _main(round_trips: int, sustained: int) -> None:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(40))  # errors only
    ack_ms, event_ms = await _round_trips(round_trips)
    singles_rate, singles_acks, singles_429 = await _sustained(sustained, batched=False)
    batch_rate, batch_acks, batch_429 = await _sustained(sustained, batched=True)
    ack_p50, ack_p99 = _percentile(ack_ms, 0.5), _percentile(ack_ms, 0.99)
    event_p50, event_p99 = _percentile(event_ms, 0.5), _percentile(event_ms, 0.99)
    rows = [
        ("place -> REST ack (ms)", f"p50 {ack_p50:.2f}", f"p99 {ack_p99:.2f}", f"n={round_trips}"),
        ("place -> WS accepted (ms)", f"p50 {event_p50:.2f}", f"p99 {event_p99:.2f}", f"n={round_trips}"),
        ("sustained singles (orders/s)", f"{singles_rate:.2f}", f"acks {singles_acks}/{sustained}",
         f"429s {singles_429}"),
        ("sustained batches of 10 (orders/s)", f"{batch_rate:.2f}", f"acks {batch_acks}/{sustained}",
         f"429s {batch_429}"),
    ]  # fmt: skip
    print(f"Orderly adapter vs simulator over loopback ({platform.python_implementation()} "
          f"{platform.python_version()}, limit 10 creates/s)")  # fmt: skip
    widths = [max(len(str(row[i])) for row in rows) for i in range(4)]
    header = ("measure", "value", "detail", "")
    for row in (header, *rows):
        print("  ".join(str(cell).ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
    if singles_429 or batch_429:
        raise SystemExit("the client-side limiter let a 429 through")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--round-trips", type=int, default=300)
    parser.add_argument("--sustained", type=int, default=100)
    args = parser.parse_args()
    asyncio.run(_main(args.round_trips, args.sustained))


if __name__ == "__main__":
    main()
