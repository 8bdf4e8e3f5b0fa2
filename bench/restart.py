"""Restart: how soon the service answers, and how soon every stored session trades again; one table.

    .venv/bin/python bench/restart.py [--sessions 500] [--sessions 2000] [--symbols 3] [--kill|--term]

Per size: the exchange simulator in its own process (`orderly-grid simulate`, its per-account rate
limits on), `orderly-grid serve` as a child on it (SQLite), then SESSIONS grids spread over wallets
that each registered an Orderly account of their own (one grid per account and symbol, so
SESSIONS / SYMBOLS accounts). The service is stopped (SIGKILL by default: a crash) and started
again; the table shows, from the new process's start:
- gRPC answering: the first GetLiveness answered;
- all trading: /health/ready answers 200, i.e. the store, the exchange and every session resumed
  (caught up on the venue's trades and reconciled against its open orders);
- the venue reads the resume made (per route, from the simulator's request counters);
- peak RSS and CPU seconds of the service process during the resume.
Nothing filled while the service was down, so no order had to be re-placed: the times are the resume
itself, without the rate-limit floor of re-placements.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import shutil
import signal
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

# Run as a script, bench/ comes first on sys.path and bench/engine.py would shadow the engine package.
HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:] = [str(ROOT)] + [entry for entry in sys.path if Path(entry or ".").resolve() != HERE]

import grpc  # noqa: E402
from orderly_grid.client import GridClient  # noqa: E402
from orderly_grid.params import GridParams  # noqa: E402
from orderly_grid.v1 import health_service_pb2, health_service_pb2_grpc  # noqa: E402
from orderly_grid.wallet import Wallet  # noqa: E402

from server.simulator import SimulatorControl  # noqa: E402
from tests.chaos.processes import (  # noqa: E402
    Child,
    service_child,
    service_env,
    simulator_child,
    simulator_started,
    wait_ready,
)
from tests.store.nx_server import free_port  # noqa: E402

# Grids a few lines wide around each symbol's simulator price: two or three orders each.
SYMBOLS = {
    "BTCUSDT": ("42500", "41000", "44000"),
    "ETHUSDT": ("2500", "2400", "2600"),
    "SOLUSDT": ("150", "144", "156"),
}
POLL_S = 0.02


@dataclass
class Row:
    sessions: int
    accounts: int
    setup_s: float
    grpc_s: float
    ready_s: float
    reads: Counter[str]
    peak_rss_mib: float
    cpu_s: float


def wallet(i: int) -> Wallet:
    return Wallet.from_key("0x" + (i + 1).to_bytes(32, "big").hex())


async def set_up(target: str, control: SimulatorControl, sessions: int, symbols: list[str]) -> int:
    """SESSIONS grids over their own accounts; returns the number of accounts."""
    accounts = -(-sessions // len(symbols))
    semaphore = asyncio.Semaphore(32)

    async def one_user(i: int) -> None:
        async with semaphore, GridClient(target, wallet=wallet(i), write_timeout_s=60) as client:
            account = await control.create_account()
            await client.register_account(account.account_id, account.orderly_key, account.orderly_secret)
            for ticker in symbols[: sessions - i * len(symbols)]:
                mark, lower, upper = SYMBOLS[ticker]
                params = GridParams(ticker=ticker, lower_bound=lower, upper_bound=upper, grid_levels=4,
                                    total_margin="300", current_price=mark)  # fmt: skip
                await client.start_grid(params)

    await asyncio.gather(*(one_user(i) for i in range(accounts)))
    return accounts


async def grpc_answering(target: str, child: Child, timeout_s: float) -> float:
    async with grpc.aio.insecure_channel(target) as channel:
        stub = health_service_pb2_grpc.HealthServiceStub(channel)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                await stub.GetLiveness(health_service_pb2.GetLivenessRequest(), timeout=0.5)
                return time.monotonic() - child.started_at
            except grpc.aio.AioRpcError:
                await asyncio.sleep(POLL_S)
    raise RuntimeError("gRPC did not answer")


class Usage:
    """Peak RSS and CPU time of a process, sampled from /proc while it resumes."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak_rss_kib = 0
        self.cpu_s = 0.0
        self._tick = os.sysconf("SC_CLK_TCK")

    def sample(self) -> None:
        try:
            status = Path(f"/proc/{self.pid}/status").read_text()
            stat = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return
        rss = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))
        self.peak_rss_kib = max(self.peak_rss_kib, rss)
        self.cpu_s = (int(stat[11]) + int(stat[12])) / self._tick  # utime + stime

    async def follow(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self.sample()
            await asyncio.sleep(0.05)


async def measure(sessions: int, symbols: list[str], kill: bool, work: Path) -> Row:
    sim = simulator_child(["--walk-interval-ms", "0", "--seed", "7"], work)
    await sim.start()
    info = await simulator_started(sim)
    grpc_port, rest_port = free_port(), free_port()
    env = service_env(
        info, grpc_port=grpc_port, rest_port=rest_port, data_dir=work / "data",
        master_key=base64.b64encode(os.urandom(32)).decode(), mongodb_uri=None,
        log_level=os.environ.get("BENCH_LOG_LEVEL", "warning"),
    )  # fmt: skip
    for name in ("PEER", "USER", "PREVIEW"):  # the bench's own clients, all on loopback
        env[f"GRID_RATE_LIMIT_{name}_PER_MIN"] = "1000000"
    service = service_child(env, work)
    target = f"127.0.0.1:{grpc_port}"
    control = SimulatorControl(info.rest_url)
    try:
        await service.start()
        if await wait_ready(service, rest_port, 120) is None:
            raise RuntimeError(f"the service did not start: {service.stderr_tail()}")
        began = time.monotonic()
        accounts = await set_up(target, control, sessions, symbols)
        setup_s = time.monotonic() - began
        if kill:
            await service.kill()
        else:
            await service.terminate()
        before = Counter((await control.state())["requests"])
        await service.start()
        assert service.pid is not None
        usage, done = Usage(service.pid), asyncio.Event()
        sampling = asyncio.create_task(usage.follow(done))
        grpc_s = await grpc_answering(target, service, 60)
        ready_ms = await wait_ready(service, rest_port, 600)
        done.set()
        await sampling
        usage.sample()
        if ready_ms is None:
            raise RuntimeError(f"the service did not resume: {service.stderr_tail()}")
        reads = Counter((await control.state())["requests"]) - before
        return Row(
            sessions,
            accounts,
            setup_s,
            grpc_s,
            ready_ms / 1000,
            reads,
            usage.peak_rss_kib / 1024,
            usage.cpu_s,
        )
    finally:
        await control.close()
        if service.running:
            await service.terminate()
        await sim.terminate()


def print_table(rows: list[Row], how: str) -> None:
    header = (
        f"{'sessions':>8} {'accounts':>8} {'setup s':>8} {'gRPC answering s':>17} {'all trading s':>14} "
        f"{'peak RSS MiB':>13} {'CPU s':>6}  venue reads during the resume"
    )
    print(f"restart after {how}: simulator rate limits on, SQLite, nothing filled while down")
    print(header)
    print("-" * len(header))
    for r in rows:
        reads = ", ".join(f"{route} {n}" for route, n in sorted(r.reads.items()) if route.startswith("GET"))
        print(
            f"{r.sessions:>8} {r.accounts:>8} {r.setup_s:>8.1f} {r.grpc_s:>17.2f} {r.ready_s:>14.2f} "
            f"{r.peak_rss_mib:>13.0f} {r.cpu_s:>6.1f}  {reads}"
        )


async def main(args: argparse.Namespace) -> None:
    symbols = list(SYMBOLS)[: args.symbols]
    rows = []
    for sessions in args.sessions or [500]:
        work = Path(tempfile.mkdtemp(prefix="bench-restart-", dir=args.workdir))
        rows.append(await measure(sessions, symbols, args.kill, work))
        if not args.keep:
            shutil.rmtree(work)  # kept (with the children's logs) when the run failed
    print_table(rows, "SIGKILL" if args.kill else "SIGTERM")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, action="append", help="sessions per run (repeatable)")
    parser.add_argument("--workdir", help="where the runs' folders go (default: the system's temp)")
    parser.add_argument("--keep", action="store_true", help="keep the runs' folders and logs")
    parser.add_argument("--symbols", type=int, default=3, choices=range(1, len(SYMBOLS) + 1))
    how = parser.add_mutually_exclusive_group()
    how.add_argument("--kill", dest="kill", action="store_true", default=True, help="SIGKILL (default)")
    how.add_argument("--term", dest="kill", action="store_false", help="SIGTERM")
    return parser.parse_args(argv)


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.default_int_handler)
    asyncio.run(main(parse_args()))
