"""The whole service on the simulator, over real sockets: how fast a fill becomes its counter order,
what the gRPC edge costs next to a bare grpc.aio server, REST next to gRPC, and WatchFills fan-out.
Prints one table.

    .venv/bin/python bench/service.py [--moves N] [--sessions N] [--subscribers N] [--seconds S]

The simulator runs in a process of its own (as Orderly would be remote); the service (SQLite store
in a temp dir, Orderly adapter over loopback sockets, gRPC server, REST shim) and the measuring
clients share this process and its event loop (2-core machine). One grid runs per venue account and
symbol, so every simulated user has a venue account of its own: created through the simulator's
control routes and registered with the user's signed RegisterAccount (the service then holds one
exchange connection per account). Venue rate limits are OFF on both sides so the service itself is
measured, and so are the service's own per-wallet and per-address limits (the WatchFills streams per
wallet are raised to --subscribers). Every request is signed for real (orderly_grid.signing, one
eth-account wallet per simulated user, a fresh nonce each); the GetGrid throughput requests are
signed before the clock starts, so the table holds the server's cost of verifying them, not the
client's of signing. Grids are laid out around the mark the bench set (current_price = that mark)
and their orders are POST_ONLY: every price move stops short of the counter orders' lines, so the
counter orders rest instead of being cancelled as takers.

- fill -> counter: an observer holds its own private connection to every user's venue account and
  sees every execution report; latency = (counter order's NEW report) - (the fill's report), both
  as the observer received them.
- GetGrid req/s vs echo: the same concurrency against GetGrid (signed by the wallet, then by a
  session key the wallet authorized once) and against a grpc.aio server whose only method echoes
  its request bytes, in the same run; req/s and p99 latency of each.
- REST vs gRPC: sequential GetGrid over gRPC and GET /api/grid/status over the shim, p50.
- WatchFills delivery: N subscribers on one session; from the observer's fill report to each
  subscriber's Fill message.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

_HERE = Path(__file__).resolve().parent
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != _HERE]

import aiohttp  # noqa: E402
import grpc  # noqa: E402
from eth_account import Account  # noqa: E402
from google.protobuf.message import Message  # noqa: E402
from orderly_grid import session_keys, signing  # noqa: E402
from orderly_grid.v1 import grid_pb2, grid_service_pb2, grid_service_pb2_grpc  # noqa: E402

from engine import (  # noqa: E402
    OrderAccepted,
    OrderCancelled,
    OrderFilled,
    OrderPartiallyFilled,
    Side,
    parse_client_order_id,
)
from server.app import Application, freeze_startup_heap  # noqa: E402
from server.auth import RateLimitPolicy  # noqa: E402
from server.exchange import OrderlyConfig, OrderlyCredentials, OrderlySigner  # noqa: E402
from server.exchange.constants import RATE_LIMITS, TOPIC_EXECUTION_REPORT, RateLimit  # noqa: E402
from server.exchange.parsing import parse_execution_report  # noqa: E402
from server.exchange.ws import Frame, WsStream  # noqa: E402
from server.logs import configure_logging  # noqa: E402
from server.settings import DEFAULT_MAX_STREAMS_PER_USER, Settings  # noqa: E402
from server.simulator import SimAccount, SimulatorControl  # noqa: E402

BTC, ETH = "PERP_BTC_USDC", "PERP_ETH_USDC"
# The marks the bench sets before starting grids (the simulator's own initial ones); StartGrid lays
# the grid out around the venue's mark and refuses a current_price more than 1 % from it.
BTC_MARK, ETH_MARK = "42500", "2500"
# The venue runs in its own process, as Orderly would: the service's CPU is its own. Rate limits off.
SIMULATOR_PROGRAM = """
import asyncio, json, signal
from server.simulator import SimulatorConfig, run_simulator

async def main():
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    config = SimulatorConfig(port=0, seed=7, rate_limits=False, markprice_push_interval_ms=0)
    async with run_simulator(config) as sim:
        print(json.dumps(sim.startup_line()), flush=True)
        await stop.wait()

asyncio.run(main())
"""
NO_LIMITS = {name: RateLimit(1_000_000, 1000) for name in RATE_LIMITS}


@contextlib.asynccontextmanager
async def simulator_process() -> AsyncIterator[dict[str, str]]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", SIMULATOR_PROGRAM, stdout=asyncio.subprocess.PIPE
    )
    try:
        assert process.stdout is not None
        yield json.loads(await asyncio.wait_for(process.stdout.readline(), 30))
    finally:
        process.terminate()
        await process.wait()


# The service's own per-wallet and per-address limits are off too: one client address registers 100
# accounts and starts 100 grids. (This policy replaces the settings' GRID_RATE_LIMIT_* ones.)
NO_AUTH_LIMITS = RateLimitPolicy(per_user={}, per_peer={}, auth_failures=None)
UNLIMITED_PER_MIN = 1_000_000  # the largest per-minute limit the settings accept


def wallet_key(i: int) -> str:
    """Simulated user i's wallet key (fixed, never funded anywhere): requests are signed for real."""
    return f"0x{i + 1:064x}"


def user(i: int) -> str:
    """The user id the server sees for wallet i (the lower-case address)."""
    return str(Account.from_key(wallet_key(i)).address).lower()


async def own_account(
    control: SimulatorControl, stub: grid_service_pb2_grpc.GridServiceAsyncStub, observer: Observer, i: int
) -> None:
    """Give user i a venue account of its own (one grid per account and symbol): created on the
    simulator, registered by wallet i's signed RegisterAccount, and followed by the observer."""
    account = await control.create_account()
    registration = grid_service_pb2.RegisterAccountRequest(
        account_id=account.account_id, orderly_key=account.orderly_key, orderly_secret=account.orderly_secret
    )
    registered = await stub.RegisterAccount(signed("RegisterAccount", registration, i))
    assert registered.account.account_id == account.account_id.lower()
    await observer.watch(account)


def signed(action: str, message: Message, i: int) -> Any:
    """`message` signed by wallet i for `action` (EIP-191, a fresh nonce), as the SDK sends it."""
    signing.sign_request(
        wallet_key(i), signing.DEFAULT_DOMAIN, action, message, timestamp_ms=time.time_ns() // 1_000_000
    )
    return message


def rest_auth(action: str, message: Message, i: int) -> dict[str, str]:
    """The `user_auth.*` query parameters of `message` signed by wallet i."""
    block = signing.sign_request(
        wallet_key(i), signing.DEFAULT_DOMAIN, action, message, timestamp_ms=time.time_ns() // 1_000_000
    )
    return {
        "user_auth.user_id": block.user_id,
        "user_auth.signature": block.signature,
        "user_auth.timestamp": str(block.timestamp),
        "user_auth.nonce": block.nonce,
    }


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


class Observer:
    """Its own private connection to every simulated user's venue account (one WebSocket each, on
    one HTTP session; the service holds its own): receive time of every fill and NEW report."""

    def __init__(self, private_ws_url: str) -> None:
        self._private_ws_url = private_ws_url
        # One WebSocket per account: no cap on connections (aiohttp's default is 100 per session).
        self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        self._streams: list[WsStream] = []
        self.fill_ns: dict[str, int] = {}  # client_order_id -> first fill report
        self.fill_key_ns: dict[tuple[str, str], int] = {}
        self.new_ns: dict[str, int] = {}
        # client_order_id -> the venue's reason. The bench never stops a grid, so a cancellation is a
        # POST_ONLY counter order that would have crossed: a price move that went too far.
        self.cancelled: dict[str, str] = {}
        self.changed = asyncio.Event()

    async def watch(self, account: SimAccount) -> None:
        """Follow `account`'s execution reports from now on (returns once subscribed)."""
        signer = OrderlySigner(
            OrderlyCredentials(account.account_id, account.orderly_key, account.orderly_secret)
        )
        stream = WsStream(
            f"observer-{len(self._streams)}",
            f"{self._private_ws_url}/{account.account_id}",
            self._session,
            self._on_frame,
            auth_params=signer.ws_auth_params,
        )
        await stream.subscribe(TOPIC_EXECUTION_REPORT)
        self._streams.append(stream)
        stream.start()
        await asyncio.wait_for(stream.connected.wait(), 30)

    def _on_frame(self, frame: Frame) -> None:
        data = frame.get("data")
        if frame.get("topic") != TOPIC_EXECUTION_REPORT or not isinstance(data, Mapping):
            return
        now = time.monotonic_ns()
        for event in parse_execution_report(data)[1]:
            if isinstance(event, OrderFilled | OrderPartiallyFilled):
                self.fill_ns.setdefault(event.client_order_id, now)
                self.fill_key_ns.setdefault((event.order_id, event.trade_id), now)
            elif isinstance(event, OrderAccepted):
                self.new_ns.setdefault(event.client_order_id, now)
            elif isinstance(event, OrderCancelled):
                self.cancelled[event.client_order_id] = event.reason
        self.changed.set()

    def check_nothing_cancelled(self) -> None:
        if self.cancelled:
            shown = dict(list(self.cancelled.items())[:3])
            raise RuntimeError(f"{len(self.cancelled)} order(s) cancelled by the venue, e.g. {shown}")

    async def close(self) -> None:
        for stream in self._streams:
            await stream.close()
        await self._session.close()

    async def wait(self, condition: Callable[[], bool], timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        while not condition():
            if time.monotonic() > deadline:
                raise TimeoutError("observer condition")
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), 1.0)


def counter_of(client_order_id: str) -> str:
    parsed = parse_client_order_id(client_order_id)
    assert parsed is not None
    assert parsed.cell_index is not None
    letter = "S" if parsed.side is Side.BUY else "B"
    return f"{parsed.prefix}-{parsed.cell_index}{letter}{parsed.cycle + 1}"


def request(wallet: int, ticker: str, mark: str, lower: str, upper: str, levels: int) -> Any:
    """StartGrid signed by `wallet`, BOTH, between bounds that contain `mark`, the venue's mark price (the
    bench set it), sent as current_price."""
    assert Decimal(lower) < Decimal(mark) < Decimal(upper)
    message = grid_service_pb2.StartGridRequest(
        ticker=ticker,
        direction=grid_pb2.DIRECTION_BOTH,
        current_price=mark,
        lower_bound=lower,
        upper_bound=upper,
        grid_levels=levels,
        total_margin="1000",
    )
    return signed("StartGrid", message, wallet)


async def fill_to_counter(
    control: SimulatorControl,
    observer: Observer,
    symbol: str,
    prefixes: set[str],
    prices: tuple[str, str],
    moves: int,
) -> list[float]:
    latencies: list[float] = []

    def ours() -> set[str]:
        return {cid for cid in observer.fill_ns if cid.split("-")[0] in prefixes}

    for move in range(moves):
        before = ours()
        await control.set_price(symbol, prices[move % 2])
        await observer.wait(lambda before=before: len(ours() - before) >= len(prefixes))
        filled = ours() - before
        await observer.wait(lambda filled=filled: all(counter_of(c) in observer.new_ns for c in filled))
        observer.check_nothing_cancelled()  # every counter order rests (POST_ONLY)
        latencies += [(observer.new_ns[counter_of(c)] - observer.fill_ns[c]) / 1e6 for c in filled]
    return latencies


async def create_session_key(
    stub: grid_service_pb2_grpc.GridServiceAsyncStub, i: int
) -> session_keys.SessionKey:
    """A read-scope session key for wallet i: the wallet's one EIP-712 signature."""
    now = time.time_ns() // 1_000_000
    key = session_keys.SessionKey.generate(user(i), ("read",), now + session_keys.DEFAULT_TTL_MS)
    message = grid_service_pb2.CreateSessionKeyRequest(public_key=key.public_key_hex, scopes=["read"])
    session_keys.authorize_session_key(wallet_key(i), signing.DEFAULT_DOMAIN, message, timestamp_ms=now)
    created = await stub.CreateSessionKey(message)
    assert created.session_key.key_id == key.key_id
    return key


async def throughput(
    call: Callable[[Any], Awaitable[Any]], requests: list[Any], concurrency: int, seconds: float
) -> tuple[float, float]:
    """Calls per second over `seconds`, or until the pre-signed `requests` run out (each signed
    request is good once: its nonce is consumed), and the p99 latency of a call in ms."""
    count = 0
    latencies: list[float] = []
    pending = iter(requests)
    deadline = time.monotonic() + seconds

    async def worker() -> None:
        nonlocal count
        for message in pending:
            if time.monotonic() >= deadline:
                return
            sent = time.perf_counter()
            await call(message)
            latencies.append((time.perf_counter() - sent) * 1000)
            count += 1

    started = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return count / (time.monotonic() - started), pct(latencies, 0.99)


async def echo_server() -> tuple[grpc.aio.Server, int]:
    async def echo(request: bytes, context: Any) -> bytes:
        return request

    handler = grpc.method_handlers_generic_handler(
        "bench.Echo", {"Echo": grpc.unary_unary_rpc_method_handler(echo)}
    )
    server = grpc.aio.server()
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    return server, port


async def main(args: argparse.Namespace) -> None:
    configure_logging("ERROR")
    rows: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        async with simulator_process() as sim:
            exchange_config = OrderlyConfig(
                rest_url=sim["rest_url"],
                public_ws_url=sim["public_ws_url"],
                private_ws_url=sim["private_ws_url"],
                credentials=OrderlyCredentials(sim["account_id"], sim["orderly_key"], sim["orderly_secret"]),
                rate_limits=NO_LIMITS,
                reconcile_interval_ms=0,
            )
            settings = replace(
                Settings(),
                grpc_port=0,
                rest_port=0,
                data_dir=Path(tmp),
                # RegisterAccount needs a master key (a fresh one: the store lives only this run).
                master_key=base64.b64encode(os.urandom(32)).decode(),
                # One wallet opens --subscribers WatchFills streams.
                max_streams_per_user=max(args.subscribers, DEFAULT_MAX_STREAMS_PER_USER),
                # Superseded by NO_AUTH_LIMITS; raised too so that no service limit is measured.
                peer_rate_limit_per_min=UNLIMITED_PER_MIN,
                user_rate_limit_per_min=UNLIMITED_PER_MIN,
                preview_rate_limit_per_min=UNLIMITED_PER_MIN,
                auth_failure_limit_per_min=UNLIMITED_PER_MIN,
            )
            app = Application(settings, exchange_config=exchange_config, rate_limit_policy=NO_AUTH_LIMITS)
            await app.start()
            freeze_startup_heap()  # as `serve` does
            observer = Observer(sim["private_ws_url"])
            control = SimulatorControl(sim["rest_url"])
            channel = grpc.aio.insecure_channel(app.grpc_target)
            stub = grid_service_pb2_grpc.GridServiceStub(channel)
            try:
                # One session on ETH, on user 0's own account: latency, then WatchFills fan-out on it.
                await own_account(control, stub, observer, 0)
                await control.set_price(ETH, ETH_MARK)
                eth = (await stub.StartGrid(request(0, "PERP_ETH_USDC", ETH_MARK, "2300", "2700", 5))).grid
                eth_prefix = eth.open_orders[0].client_order_id.split("-")[0]
                single = await fill_to_counter(
                    control, observer, ETH, {eth_prefix}, ("2390", "2510"), args.moves
                )
                rows.append(
                    (
                        "fill -> counter order, 1 session  p50 / p99",
                        f"{pct(single, 0.5):.2f} / {pct(single, 0.99):.2f} ms",
                    )
                )

                subscribers: list[list[float]] = []
                streams = []
                for _ in range(args.subscribers):
                    watch = grid_service_pb2.WatchFillsRequest(session_id=eth.session_id)
                    stream = stub.WatchFills(signed("WatchFills", watch, 0))
                    while not (await stream.read()).HasField("replay_complete"):
                        pass  # the stored fills; live from the marker on
                    streams.append(stream)
                delivery: list[float] = []

                async def drain(stream: Any, wanted: int) -> None:
                    for _ in range(wanted):
                        message = await stream.read()
                        now = time.monotonic_ns()
                        fill = message.fill
                        sent = observer.fill_key_ns.get((fill.order_id, fill.trade_id))
                        if sent is not None:
                            delivery.append((now - sent) / 1e6)

                moves = max(4, args.moves // 2)
                drains = [asyncio.create_task(drain(stream, moves)) for stream in streams]
                await fill_to_counter(
                    control,
                    observer,
                    ETH,
                    {eth_prefix},
                    ("2390", "2510") if args.moves % 2 == 0 else ("2510", "2390"),
                    moves,
                )
                await asyncio.wait_for(asyncio.gather(*drains), 60)
                for stream in streams:
                    stream.cancel()
                rows.append(
                    (
                        f"WatchFills delivery, {args.subscribers} subscribers  p50 / p99",
                        f"{pct(delivery, 0.5):.2f} / {pct(delivery, 0.99):.2f} ms",
                    )
                )
                del subscribers

                # Many sessions on BTC, each of its own user on its own account.
                for i in range(args.sessions):
                    await own_account(control, stub, observer, i + 1)
                await control.set_price(BTC, BTC_MARK)
                prefixes: set[str] = set()
                for i in range(args.sessions):
                    grid = (
                        await stub.StartGrid(request(i + 1, "BTCUSDT", BTC_MARK, "40000", "45000", 6))
                    ).grid
                    prefixes.add(grid.open_orders[0].client_order_id.split("-")[0])
                many = await fill_to_counter(
                    control, observer, BTC, prefixes, ("41950", "43050"), max(2, args.moves // 10)
                )
                rows.append(
                    (
                        f"fill -> counter order, {args.sessions} sessions  p50 / p99",
                        f"{pct(many, 0.5):.2f} / {pct(many, 0.99):.2f} ms",
                    )
                )

                # The gRPC edge: GetGrid vs a bare echo, same concurrency, same run.
                # Signed before the clock starts: signing is the client's cost, not the server's.
                def get_request() -> Any:
                    return signed("GetGrid", grid_service_pb2.GetGridRequest(session_id=eth.session_id), 0)

                gets = [get_request() for _ in range(args.presigned)]
                getgrid_rps, getgrid_p99 = await throughput(
                    stub.GetGrid, gets, args.concurrency, args.seconds
                )
                # The same reads signed by a session key the wallet authorized once (issue 16).
                key = await create_session_key(stub, 0)

                def session_get() -> Any:
                    message = grid_service_pb2.GetGridRequest(session_id=eth.session_id)
                    session_keys.sign_with_session_key(
                        key,
                        signing.DEFAULT_DOMAIN,
                        "GetGrid",
                        message,
                        timestamp_ms=time.time_ns() // 1_000_000,
                    )
                    return message

                session_gets = [session_get() for _ in range(args.presigned)]
                session_rps, session_p99 = await throughput(
                    stub.GetGrid, session_gets, args.concurrency, args.seconds
                )
                echo, echo_port = await echo_server()
                async with grpc.aio.insecure_channel(f"127.0.0.1:{echo_port}") as echo_channel:
                    echo_call = echo_channel.unary_unary("/bench.Echo/Echo")
                    payloads = [get.SerializeToString() for get in gets]
                    echo_rps, echo_p99 = await throughput(echo_call, payloads, args.concurrency, args.seconds)
                await echo.stop(None)
                concurrency = f"concurrency {args.concurrency}"
                rows.append(
                    (
                        f"GetGrid, wallet signature: req/s, p99 ({concurrency})",
                        f"{getgrid_rps:,.0f}, {getgrid_p99:.2f} ms",
                    )
                )
                rows.append(
                    (
                        f"GetGrid, session key: req/s, p99 ({concurrency})",
                        f"{session_rps:,.0f}, {session_p99:.2f} ms",
                    )
                )
                rows.append(
                    (f"bare grpc.aio echo: req/s, p99 ({concurrency})", f"{echo_rps:,.0f}, {echo_p99:.2f} ms")
                )
                rows.append(
                    ("GetGrid / echo throughput ratio, wallet signature", f"{getgrid_rps / echo_rps:.2f}")
                )
                rows.append(("GetGrid / echo throughput ratio, session key", f"{session_rps / echo_rps:.2f}"))

                grpc_ms: list[float] = []
                rest_ms: list[float] = []
                async with aiohttp.ClientSession() as http:
                    url = f"{app.rest_url}/api/grid/status/{eth.session_id}"
                    for _ in range(args.samples):
                        get = get_request()
                        params = rest_auth(
                            "GetGrid", grid_service_pb2.GetGridRequest(session_id=eth.session_id), 0
                        )
                        started = time.perf_counter()
                        await stub.GetGrid(get)
                        grpc_ms.append((time.perf_counter() - started) * 1000)
                        started = time.perf_counter()
                        async with http.get(url, params=params) as response:
                            await response.read()
                            assert response.status == 200
                        rest_ms.append((time.perf_counter() - started) * 1000)
                g50, r50 = statistics.median(grpc_ms), statistics.median(rest_ms)
                rows.append(
                    (
                        "GetGrid latency p50 gRPC / REST",
                        f"{g50:.2f} / {r50:.2f} ms (REST/gRPC {r50 / g50:.2f}x)",
                    )
                )
            finally:
                await channel.close()
                await control.close()
                await observer.close()
                await app.stop(grace_s=1.0)
    width = max(len(name) for name, _ in rows)
    print(f"{'service benchmark (simulator in its own process, loopback)'.ljust(width)}  value")
    print("-" * (width + 30))
    for name, value in rows:
        print(f"{name.ljust(width)}  {value}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--moves", type=int, default=40, help="price moves for the 1-session latency")
    parser.add_argument("--sessions", type=int, default=100)
    parser.add_argument("--subscribers", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument(
        "--presigned", type=int, default=6000, help="signed GetGrid requests for the throughput runs"
    )
    asyncio.run(main(parser.parse_args()))
