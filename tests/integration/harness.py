"""The whole service on loopback sockets, as clients see it: the simulator, the app (store, adapter,
grid service, gRPC server, REST shim) and a gRPC client with the generated stubs.

Requests are really signed: `auth(user)` marks a request "to be signed by `user`'s wallet" and the
channel's `SigningInterceptor` signs it with `orderly_grid.signing.sign_request` and that wallet's
eth-account key just before it is sent (the action is the RPC method's name), as the SDK does. An
auth block that does not carry the marker is sent exactly as built (the tests of bad auth)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import grpc
from eth_account import Account
from google.protobuf.message import Message
from orderly_grid import signing
from orderly_grid.v1 import auth_pb2, grid_pb2, grid_service_pb2, grid_service_pb2_grpc

from server.api.errors import DomainError
from server.api.status import error_from_rpc_error
from server.app import Application, simulator_exchange_config
from server.auth import RateLimitPolicy, build_auth
from server.exchange import OrderlyCredentials, OrderlyExchange
from server.metrics import ServiceMetrics
from server.service.grid_service import GridService
from server.service.runner import RunnerSettings
from server.settings import Settings
from server.simulator import RunningSimulator, SimulatorControl
from server.simulator.accounts import SimAccount
from server.simulator.config import FaultConfig
from server.simulator.orders import Order
from server.store import Store, open_store

# Fixed test keys (never funded anywhere); their lower-case addresses are the users the server sees.
USER_KEY = "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"
OTHER_USER_KEY = "0x" + "59" * 32
USER = Account.from_key(USER_KEY).address.lower()
OTHER_USER = Account.from_key(OTHER_USER_KEY).address.lower()
WALLET_KEYS = {USER: USER_KEY, OTHER_USER: OTHER_USER_KEY}
DOMAIN = signing.DEFAULT_DOMAIN
SYMBOL = "PERP_BTC_USDC"
# The marker `SigningInterceptor` replaces with a real signature (65 zero bytes never verify).
SIGN_ME = "0x" + "00" * 65
# The sessions `start_request()` starts for each user.
A_SESSION = f"{USER}_BTCUSDT"
B_SESSION = f"{OTHER_USER}_BTCUSDT"
# Settings that enable RegisterAccount (users' own Orderly accounts).
MASTER_KEY = base64.b64encode(bytes(range(32))).decode()
WITH_ACCOUNTS = replace(Settings(), master_key=MASTER_KEY)


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def auth(user_id: str = USER, *, timestamp_ms: int | None = None, nonce: str = "") -> auth_pb2.UserAuth:
    """ "Sign this request as `user_id`" (see the module doc); a fresh nonce unless one is given."""
    return auth_pb2.UserAuth(
        user_id=user_id,
        signature=SIGN_ME,
        timestamp=now_ms() if timestamp_ms is None else timestamp_ms,
        nonce=nonce,
    )


def signed(action: str, request: Message, key: str = USER_KEY, **kwargs: Any) -> Message:
    """`request` with a real `user_auth` signed by `key` for `action` (kwargs: timestamp_ms, nonce)."""
    kwargs.setdefault("timestamp_ms", now_ms())
    signing.sign_request(key, DOMAIN, action, request, **kwargs)
    return request


def sign_marked(action: str, request: Any) -> Any:
    """A copy of `request` signed for real when its auth block carries the SIGN_ME marker."""
    fields = request.DESCRIPTOR.fields_by_name
    if signing.AUTH_FIELD not in fields or not request.HasField(signing.AUTH_FIELD):
        return request
    block = request.user_auth
    key = WALLET_KEYS.get(block.user_id.lower())
    if block.signature != SIGN_ME or key is None:
        return request
    copy = type(request)()
    copy.CopyFrom(request)
    return signed(action, copy, key, timestamp_ms=block.timestamp, nonce=block.nonce or None)


def _action(details: grpc.aio.ClientCallDetails) -> str:
    method = details.method
    text = method.decode() if isinstance(method, bytes) else str(method)
    return text.rsplit("/", 1)[-1]


# grpc.aio files an interceptor under ONE kind only, so each kind is its own class.
class _SignUnary(grpc.aio.UnaryUnaryClientInterceptor):  # type: ignore[misc]
    async def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        return await continuation(details, sign_marked(_action(details), request))


class _SignStream(grpc.aio.UnaryStreamClientInterceptor):  # type: ignore[misc]
    async def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        return await continuation(details, sign_marked(_action(details), request))


def signing_channel(target: str) -> grpc.aio.Channel:
    """A channel to `target` whose marked requests are signed (see `auth`)."""
    return grpc.aio.insecure_channel(target, interceptors=[_SignUnary(), _SignStream()])


def start_request(**overrides: Any) -> grid_service_pb2.StartGridRequest:
    """Lines 40000..45000 step 1000 around the simulator's 42500, BOTH: buys at 40000, 41000, 42000,
    sells at 44000, 45000."""
    fields: dict[str, Any] = {
        "ticker": "BTCUSDT",
        "direction": grid_pb2.DIRECTION_BOTH,
        "current_price": "42500",
        "upper_bound": "45000",
        "lower_bound": "40000",
        "grid_levels": 6,
        "total_margin": "1000",
        "user_auth": auth(),
    }
    fields.update(overrides)
    return grid_service_pb2.StartGridRequest(**fields)


def eth_start_request(**overrides: Any) -> grid_service_pb2.StartGridRequest:
    """A grid on ETH around the simulator's 2500: another symbol on the same (default) account, which
    a second user's grid needs (one running grid per account and symbol)."""
    fields: dict[str, Any] = {
        "ticker": "ETHUSDT",
        "current_price": "2500",
        "upper_bound": "2700",
        "lower_bound": "2200",
        "grid_levels": 6,
    }
    fields.update(overrides)
    return start_request(**fields)


def register_request(account: SimAccount) -> grid_service_pb2.RegisterAccountRequest:
    """OTHER_USER registers `account` as their own."""
    request = grid_service_pb2.RegisterAccountRequest(
        account_id=account.account_id, orderly_key=account.orderly_key, orderly_secret=account.orderly_secret
    )
    return signed("RegisterAccount", request, OTHER_USER_KEY)  # type: ignore[return-value]


async def wait_until(
    condition: Callable[[], Awaitable[bool]], what: str, timeout_s: float = 10.0, interval_s: float = 0.02
) -> None:
    """Poll a condition until it holds, failing after a deadline."""
    deadline = time.monotonic() + timeout_s
    while not await condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        await asyncio.sleep(interval_s)


async def rpc_error(call: Awaitable[Any]) -> tuple[grpc.StatusCode, DomainError]:
    try:
        await call
    except grpc.aio.AioRpcError as exc:
        return exc.code(), error_from_rpc_error(exc)
    raise AssertionError("the call succeeded")


def venue_orders(sim: RunningSimulator, prefix: str | None = None) -> list[Order]:
    orders = sim.context.venue.open_orders(sim.account.account_id, SYMBOL)
    return [o for o in orders if prefix is None or (o.client_order_id or "").startswith(prefix + "-")]


async def wait_for_order(
    sim: RunningSimulator,
    side: str,
    price: str,
    what: str,
    *,
    prefix: str | None = None,
    orders: Callable[[], list[Order]] | None = None,
    count: int = 1,
) -> None:
    """Wait until at least `count` open orders of `side` at `price` rest on the venue: among
    `orders()` if given, else the default account's (of the session `prefix`, if given)."""

    def resting() -> int:
        book = orders() if orders is not None else venue_orders(sim, prefix)
        return sum(o.side == side and o.price == Decimal(price) for o in book)

    async def placed() -> bool:
        return resting() >= count

    await wait_until(placed, what)


def prefix_of(grid: grid_pb2.Grid) -> str:
    return grid.open_orders[0].client_order_id.split("-")[0]


@dataclass
class FillWatch:
    """A WatchFills stream drained in the background; tests wait on what arrived."""

    stream: Any
    messages: list[grid_service_pb2.WatchFillsResponse] = field(default_factory=list)
    error: grpc.aio.AioRpcError | None = None
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None

    @property
    def fills(self) -> list[grid_pb2.Fill]:
        return [m.fill for m in self.messages if m.HasField("fill")]

    @property
    def replay_complete(self) -> bool:
        return any(m.HasField("replay_complete") for m in self.messages)

    async def _drain(self) -> None:
        try:
            async for message in self.stream:
                self.messages.append(message)
                self.changed.set()
        except grpc.aio.AioRpcError as exc:
            self.error = exc
            self.changed.set()

    async def wait_for(
        self, condition: Callable[[FillWatch], bool], what: str, timeout_s: float = 10.0
    ) -> None:
        deadline = time.monotonic() + timeout_s
        while not condition(self):
            remaining = deadline - time.monotonic()
            if remaining <= 0 or (self.task is not None and self.task.done() and not condition(self)):
                raise AssertionError(f"waiting for {what}: got {self.messages} error={self.error}")
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), remaining)

    def cancel(self) -> None:
        self.stream.cancel()


@dataclass
class Running:
    app: Application
    channel: grpc.aio.Channel
    stub: grid_service_pb2_grpc.GridServiceStub

    def watch(self, session_id: str = "", after_seq: int = 0, user_id: str = USER) -> FillWatch:
        stream = self.stub.WatchFills(
            grid_service_pb2.WatchFillsRequest(
                session_id=session_id, after_seq=after_seq, user_auth=auth(user_id)
            )
        )
        watch = FillWatch(stream)
        watch.task = asyncio.create_task(watch._drain())
        return watch

    async def get(self, session_id: str, user_id: str = USER) -> grid_pb2.Grid:
        response = await self.stub.GetGrid(
            grid_service_pb2.GetGridRequest(session_id=session_id, user_auth=auth(user_id))
        )
        return response.grid


@dataclass(frozen=True)
class StoreLocation:
    data_dir: Path
    mongodb_uri: str | None = None
    mongodb_database: str | None = None


@contextlib.asynccontextmanager
async def running_app(
    sim: RunningSimulator,
    location: StoreLocation | Path,
    *,
    with_rest: bool = False,
    subscriber_queue_size: int = 1024,
    settings: Settings | None = None,
    rate_limit_policy: RateLimitPolicy | None = None,
    default_account: SimAccount | None = None,
    auth_clock_ms: Callable[[], int] | None = None,
    exchange_overrides: Mapping[str, Any] | None = None,
    wrap_store: Callable[[Store], Store] | None = None,
) -> AsyncIterator[Running]:
    """The service on `sim`, its store opened afresh from `location` (as a restarted process would);
    its default account is `default_account` (the operator's ORDERLY_* credentials), else the
    simulator's own. `exchange_overrides` replace fields of the adapter's OrderlyConfig."""
    if isinstance(location, Path):
        location = StoreLocation(location)
    store = await open_store(
        location.mongodb_uri, location.data_dir, mongodb_database=location.mongodb_database
    )
    if wrap_store is not None:  # a test seam: faults injected in front of the real store
        store = wrap_store(store)
    settings = replace(
        settings or Settings(), grpc_port=0, rest_port=0, data_dir=location.data_dir, shutdown_grace_s=1.0
    )
    exchange_config = simulator_exchange_config(sim)
    exchange_config = replace(exchange_config, ws_reconnect_base_ms=50, ws_reconnect_max_ms=500, seed=7)
    exchange_config = replace(exchange_config, **dict(exchange_overrides or {}))
    if default_account is not None:
        credentials = OrderlyCredentials(
            default_account.account_id, default_account.orderly_key, default_account.orderly_secret
        )
        exchange_config = replace(exchange_config, credentials=credentials)
    app = Application(
        settings,
        simulator=sim,
        store=store,
        exchange_config=exchange_config,
        runner_settings=RunnerSettings(stop_timeout_ms=3_000),
        with_rest=with_rest,
        subscriber_queue_size=subscriber_queue_size,
        rate_limit_policy=rate_limit_policy,
        **({"auth_clock_ms": auth_clock_ms} if auth_clock_ms is not None else {}),
    )
    try:
        await app.start()
        channel = signing_channel(app.grpc_target)
        try:
            yield Running(app, channel, grid_service_pb2_grpc.GridServiceStub(channel))
        finally:
            await app.stop(grace_s=1.0)
            await channel.close()
    finally:
        await store.close()


@contextlib.asynccontextmanager
async def running_venue_client(sim: RunningSimulator) -> AsyncIterator[OrderlyExchange]:
    """Another connection to the service's venue account (what a user's own UI would be)."""
    exchange = OrderlyExchange(simulator_exchange_config(sim))
    await exchange.start()
    try:
        yield exchange
    finally:
        await exchange.close()


@contextlib.asynccontextmanager
async def service_with_venue_faults(
    sim: RunningSimulator,
    data_dir: Path,
    control: SimulatorControl,
    faults: FaultConfig,
    **exchange_overrides: Any,
) -> AsyncIterator[GridService]:
    """The grid service as server.app assembles it (users' own accounts enabled), its default
    account's exchange connected, and `faults` on the venue from then on (until the test clears
    them): what a user's account or a resume meets when the venue misbehaves."""
    store = await open_store(None, data_dir)
    config = replace(simulator_exchange_config(sim), seed=7, **exchange_overrides)
    exchange = OrderlyExchange(config)
    await exchange.start()
    accounts = build_auth(store, clock_ms=now_ms, master_key=MASTER_KEY).accounts

    def account_exchange(credentials: OrderlyCredentials) -> OrderlyExchange:
        return OrderlyExchange(replace(config, credentials=credentials))

    service = GridService(
        store,
        exchange,
        ServiceMetrics(),
        default_account_id=sim.account.account_id,
        exchange_factory=account_exchange,
        credentials_for=accounts.credentials_for,
        resume_retry_base_ms=20,
        resume_retry_max_ms=200,
    )
    await control.set_faults(faults)
    try:
        await service.start()
        yield service
    finally:
        await service.close()
        await exchange.close()
        await store.close()
