"""`orderly-grid simulate`: run the simulator in the foreground and print its URLs as one JSON line."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from decimal import Decimal, InvalidOperation

from server.cli import stop_on_signals
from server.simulator.config import FaultConfig, SimulatorConfig
from server.simulator.runner import run_simulator


def _decimal(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"{text!r} is not a decimal number") from None
    if not value.is_finite():
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port to listen on; 0 picks a free port")
    parser.add_argument("--seed", type=int, default=0, help="seed of keys, random walk and faults")
    parser.add_argument("--prices", metavar="FILE", help="CSV of timestamp_ms,price[,symbol] to replay")
    parser.add_argument(
        "--walk-interval-ms",
        type=int,
        default=0,
        help="random-walk step interval; 0 = prices move only on demand",
    )
    market = parser.add_argument_group("market")
    market.add_argument(
        "--liquidity-per-order",
        type=_decimal,
        metavar="QTY",
        help="max base quantity one fill takes of an order (default: unlimited)",
    )
    market.add_argument(
        "--liquidity-fraction",
        type=_decimal,
        metavar="F",
        help="max share of a resting order's quantity one price step fills, in (0, 1]: "
        "orders fill over several trades (default: whole)",
    )
    market.add_argument(
        "--funding-rate",
        type=_decimal,
        default=Decimal(0),
        metavar="RATE",
        help="funding rate per interval; longs pay a positive rate (default 0: no funding)",
    )
    market.add_argument(
        "--funding-interval-ms",
        type=int,
        default=8 * 3_600_000,
        metavar="MS",
        help="funding period, on wall-aligned boundaries (default 8 h)",
    )
    market.add_argument(
        "--collateral",
        type=_decimal,
        default=Decimal(100_000),
        metavar="USDC",
        help="collateral of each new account (default 100000)",
    )
    faults = parser.add_argument_group("faults (also settable at run time: POST /sim/faults)")
    faults.add_argument("--http-429-rate", type=float, default=0.0, metavar="P", help="share of 429s")
    faults.add_argument("--http-5xx-rate", type=float, default=0.0, metavar="P", help="share of 500s")
    faults.add_argument("--latency-ms", type=int, default=0, metavar="MS", help="added to every request")
    faults.add_argument(
        "--lost-push-rate", type=float, default=0.0, metavar="P", help="share of executionreports not pushed"
    )
    faults.add_argument(
        "--ws-drop-every", type=int, default=0, metavar="N", help="close each WebSocket after N frames"
    )
    faults.add_argument(
        "--ws-stalled", action="store_true", help="start with the WebSockets stalled (nothing sent)"
    )


def config_from_args(args: argparse.Namespace) -> SimulatorConfig:
    """The SimulatorConfig of the parsed flags; ValueError naming the rule a value breaks."""
    faults = FaultConfig(
        http_429_rate=args.http_429_rate,
        http_5xx_rate=args.http_5xx_rate,
        latency_ms=args.latency_ms,
        lost_push_rate=args.lost_push_rate,
        ws_drop_every_n_messages=args.ws_drop_every,
        ws_stalled=args.ws_stalled,
    )
    return SimulatorConfig(
        host=args.host,
        port=args.port,
        seed=args.seed,
        prices_csv=args.prices,
        walk_interval_ms=args.walk_interval_ms,
        liquidity_per_order=args.liquidity_per_order,
        liquidity_fraction=args.liquidity_fraction,
        funding_rate=args.funding_rate,
        funding_interval_ms=args.funding_interval_ms,
        initial_collateral=args.collateral,
        faults=faults,
    )


async def _serve(config: SimulatorConfig) -> None:
    stop = stop_on_signals()
    async with run_simulator(config) as sim:
        print(json.dumps(sim.startup_line()), flush=True)
        await stop.wait()


def run(args: argparse.Namespace) -> int:
    try:
        config = config_from_args(args)
    except ValueError as exc:
        print(f"orderly-grid simulate: {exc}", file=sys.stderr)
        return 2
    try:
        asyncio.run(_serve(config))
    except (OSError, ValueError) as exc:
        print(f"orderly-grid simulate: {exc}", file=sys.stderr)
        return 1
    return 0
