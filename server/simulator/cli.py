"""`orderly-grid simulate`: run the simulator in the foreground and print its URLs as one JSON line."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from server.cli import stop_on_signals
from server.simulator.config import SimulatorConfig
from server.simulator.runner import run_simulator


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


async def _serve(config: SimulatorConfig) -> None:
    stop = stop_on_signals()
    async with run_simulator(config) as sim:
        print(json.dumps(sim.startup_line()), flush=True)
        await stop.wait()


def run(args: argparse.Namespace) -> int:
    try:
        config = SimulatorConfig(
            host=args.host,
            port=args.port,
            seed=args.seed,
            prices_csv=args.prices,
            walk_interval_ms=args.walk_interval_ms,
        )
    except ValueError as exc:
        print(f"orderly-grid simulate: {exc}", file=sys.stderr)
        return 2
    try:
        asyncio.run(_serve(config))
    except (OSError, ValueError) as exc:
        print(f"orderly-grid simulate: {exc}", file=sys.stderr)
        return 1
    return 0
