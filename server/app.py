"""`orderly-grid serve`: the store, the exchange, the grid service, the gRPC server and the REST shim
in one process.

Without ORDERLY_* credentials the exchange is the built-in simulator, started in-process on a free
loopback port; the real Orderly adapter talks to it over sockets exactly as it would to Orderly
(trading is SIMULATED, and the log says so). Shutdown (SIGTERM/SIGINT) ends the WatchFills streams,
stops accepting RPCs and lets in-flight ones finish (the grace period), then stops the session
runners WITHOUT stopping the sessions (they stay RUNNING in the store and resume on the next start),
and closes the exchange and the store.

The venue being slow or down never stops the service: it listens at once, reports the exchange not
ready, answers the calls that need the exchange UNAVAILABLE, and connects in the background with
capped exponential backoff and jitter (server.venue_connector); once connected, the stored sessions
resume and it turns ready. Start-up waits at most GRID_EXCHANGE_START_WAIT_MS for that.

That in-process simulator keeps its state (accounts, orders, trades, positions, marks, its instance
id) in GRID_DATA_DIR/simulator-state.json (server.simulator.state_file), so a restart is the same venue
and its sessions resume. Only when that file is missing (a new, empty simulator) are the sessions of
the earlier one marked FAILED with "simulated venue was reset" and their summary written, instead of
resuming against orders and a position that no longer exist.

Every user-acting RPC passes the wallet-signature gate built here from the settings (server.auth:
GRID_AUTH_DOMAIN, GRID_LEGACY_AUTH, GRID_OPERATOR_TOKEN, GRID_MASTER_KEY). Sessions trade on their
owner's registered Orderly account when there is one, else on the default account.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from server.api.forwarding import new_proxy_token
from server.auth import AuthComponents, RateLimitPolicy, build_auth
from server.cli import stop_on_signals
from server.exchange import ExchangeError, OrderlyConfig, OrderlyCredentials, OrderlyExchange
from server.exchange import constants as c
from server.grpc_server import GrpcServer
from server.grpc_service import GridServicer
from server.health import HealthService
from server.logs import configure_logging, get_logger
from server.metrics import ServiceMetrics
from server.recursion_guard import import_eth_account, restore_recursion_limit
from server.rest import RestShim
from server.service.grid_service import VENUE_ORDERLY, VENUE_SIMULATOR, GridService, wall_clock_ms
from server.service.runner import RunnerSettings
from server.settings import Settings, SettingsError
from server.simulator import RunningSimulator, SimulatorConfig, run_simulator
from server.store import Store, open_store
from server.venue_connector import VenueConnector

log = get_logger(__name__)

# The simulated venue of `serve` without credentials: a random walk of the mark price every second,
# so a demo grid actually trades.
SIMULATOR_CONFIG = SimulatorConfig(port=0, walk_interval_ms=1_000)
SYSTEM_INFO_PATH = "/v1/public/system_info"
SIMULATOR_STATE_FILE = "simulator-state.json"
# Said once on SIGINT/SIGTERM: what stopping does to the grids (close() stops runners, not sessions).
SHUTDOWN_NOTICE = (
    "orderly-grid stopping: running grids stay RUNNING with their orders on the venue "
    "and resume on the next start (stop a grid with `gridctl stop` to end it)"
)


def simulator_state_path(settings: Settings) -> Path:
    return Path(settings.data_dir) / SIMULATOR_STATE_FILE


def simulator_exchange_config(sim: RunningSimulator) -> OrderlyConfig:
    account = sim.account
    return OrderlyConfig(
        rest_url=sim.rest_url,
        public_ws_url=sim.public_ws_url,
        private_ws_url=sim.private_ws_url,
        credentials=OrderlyCredentials(account.account_id, account.orderly_key, account.orderly_secret),
    )


def orderly_exchange_config(settings: Settings) -> OrderlyConfig:
    overrides: dict[str, Any] = {}
    for name in ("orderly_rest_url", "orderly_public_ws_url", "orderly_private_ws_url"):
        value = getattr(settings, name)
        if value is not None:
            overrides[name.removeprefix("orderly_")] = value
    credentials = OrderlyCredentials(
        settings.orderly_account_id or "", settings.orderly_key or "", settings.orderly_secret or ""
    )
    return replace(OrderlyConfig(credentials=credentials), **overrides)


class Application:
    """Everything `serve` runs, startable and stoppable as one (tests start it on port 0).

    `simulator` and `store`, when given, are the caller's: they survive `stop()` so a test can
    restart the service against the same venue and the same data.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        simulator: RunningSimulator | None = None,
        store: Store | None = None,
        exchange_config: OrderlyConfig | None = None,
        runner_settings: RunnerSettings | None = None,
        with_rest: bool = True,
        subscriber_queue_size: int = 1024,
        rate_limit_policy: RateLimitPolicy | None = None,
        auth_clock_ms: Callable[[], int] = wall_clock_ms,
    ) -> None:
        self.settings = settings
        self.metrics = ServiceMetrics()
        self.simulator = simulator
        self.store = store
        self._own_store = store is None
        self._exchange_config = exchange_config
        self._runner_settings = runner_settings
        self._with_rest = with_rest
        self._subscriber_queue_size = subscriber_queue_size
        self._rate_limit_policy = rate_limit_policy
        self._auth_clock_ms = auth_clock_ms  # signature windows and rate-limit windows; tests pin it
        # How this process's gRPC server recognises this process's REST shim, whose x-forwarded-for
        # it then believes (server.api.forwarding); never leaves the process otherwise.
        self._proxy_token = new_proxy_token()
        self.auth: AuthComponents | None = None
        self._stack = contextlib.AsyncExitStack()
        self.exchange: OrderlyExchange | None = None
        self.venue: VenueConnector | None = None  # connects `exchange` in the background
        self.service: GridService | None = None
        self.health: HealthService | None = None
        self.grpc: GrpcServer | None = None
        self.rest: RestShim | None = None
        self.grpc_port = 0
        self.rest_port = 0

    @property
    def grpc_target(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    @property
    def rest_url(self) -> str:
        return f"http://127.0.0.1:{self.rest_port}"

    async def start(self) -> None:
        """Serve, then wait at most `settings.exchange_start_wait_ms` for the exchange to be ready
        (it keeps connecting in the background after that)."""
        try:
            await self._start()
        except BaseException:
            await self.stop()
            raise
        await self.wait_for_exchange(self.settings.exchange_start_wait_ms / 1000)

    async def wait_for_exchange(self, timeout_s: float) -> bool:
        """True once the exchange is connected and the stored sessions resumed; False after
        `timeout_s` without that (logged: the service serves without the exchange meanwhile)."""
        if self.venue is None:
            return False
        if await self.venue.wait_ready(timeout_s):
            return True
        log.warning("serving_without_exchange", detail=self.venue.detail())
        return False

    async def _start(self) -> None:
        restore_recursion_limit()
        settings = self.settings
        if self.store is None:
            self.store = await open_store(settings.mongodb_uri, settings.data_dir)
        config = self._exchange_config
        venue_instance: str | None = None
        if config is None:
            if settings.use_simulator:
                if self.simulator is None:
                    state = str(simulator_state_path(settings))
                    sim_config = replace(SIMULATOR_CONFIG, state_file=state)
                    self.simulator = await self._stack.enter_async_context(run_simulator(sim_config))
                    # This process's own venue, the same as the last run's when its state was kept:
                    # sessions of any other instance cannot resume on it.
                    venue_instance = self.simulator.instance_id
                    log.info(
                        "simulator_state_restored" if self.simulator.restored else "simulator_state_new",
                        state_file=state,
                        venue_instance=venue_instance,
                    )
                log.warning(
                    "trading_is_simulated",
                    detail="no ORDERLY_* credentials: trading on the built-in exchange simulator",
                    simulator_url=self.simulator.rest_url,
                )
                config = simulator_exchange_config(self.simulator)
            else:
                config = orderly_exchange_config(settings)
                log.info("trading_on_orderly", rest_url=config.rest_url)
        policy = self._rate_limit_policy  # the tests' own, else the settings'
        # A malformed GRID_MASTER_KEY fails here, at start-up, naming the variable.
        self.auth = build_auth(
            self.store,
            clock_ms=self._auth_clock_ms,
            domain=settings.auth_domain,
            legacy_enabled=settings.legacy_auth_enabled,
            operator_token=settings.operator_token,
            master_key=settings.master_key,
            policy=policy if policy is not None else rate_limit_policy(settings),
            trusted_proxies=settings.trusted_proxies,
            proxy_token=self._proxy_token,
            max_streams_per_user=settings.max_streams_per_user,
            chain_id=settings.auth_chain_id,
            session_key_cache_ms=settings.session_key_cache_ms,
        )
        if settings.exchange_connect_timeout_ms is not None:
            config = replace(config, connect_timeout_ms=settings.exchange_connect_timeout_ms)
        self.exchange = OrderlyExchange(config)  # started by `self.venue`, in the background
        default_config = config

        def account_exchange(credentials: OrderlyCredentials) -> OrderlyExchange:
            # A user's registered account: the default's venue URLs, that account's keys.
            return OrderlyExchange(replace(default_config, credentials=credentials))

        self.service = GridService(
            self.store,
            self.exchange,
            self.metrics,
            runner_settings=self._runner_settings,
            subscriber_queue_size=self._subscriber_queue_size,
            default_account_id=config.credentials.account_id if config.credentials else "",
            exchange_factory=account_exchange,
            credentials_for=self.auth.accounts.credentials_for,
            venue_instance=venue_instance,
            venue_name=VENUE_SIMULATOR if self.simulator is not None else VENUE_ORDERLY,
        )
        # Once the exchange connects: resume the stored sessions, then accept the calls that need it.
        self.venue = VenueConnector(
            self.exchange,
            self.service.start,
            retry_base_ms=settings.exchange_retry_base_ms,
            retry_max_ms=settings.exchange_retry_max_ms,
            on_ready=self._on_exchange_ready,
        )
        self.health = health = HealthService(self.metrics, venue=self.service.venue_name)
        health.add_check("store", self._store_ready)
        health.add_check("exchange_rest", self._exchange_rest_ready)
        health.add_check("exchange_ws", self._exchange_ws_ready)
        health.add_check("sessions", self._sessions_ready)
        servicer = GridServicer(self.service, self.auth, exchange_gate=self.venue.require_ready)
        self.grpc = GrpcServer([servicer.register], metrics=self.metrics, health=health)
        self.grpc_port = await self.grpc.start(settings.grpc_host, settings.grpc_port)
        if self._with_rest:
            self.rest_port = await self._start_rest()
        self.venue.start()
        log.info("serving", grpc_port=self.grpc_port, rest_port=self.rest_port, store=self.store.backend)
        # eth-account (signature checks) is imported on first use; import it now, off the event loop,
        # so the listeners above answered before its 0.4 s import and the first signed call does not wait.
        self._warm_up = asyncio.get_running_loop().run_in_executor(None, import_eth_account)

    @property
    def exchange_rest_url(self) -> str:
        return self.exchange.config.rest_url if self.exchange is not None else "not started"

    async def _on_exchange_ready(self) -> None:
        # Re-evaluate readiness now, so the standard health status turns SERVING without waiting
        # for the periodic evaluation.
        if self.health is not None:
            await self.health.readiness()

    async def _start_rest(self) -> int:
        settings = self.settings
        # The secret goes only to this process's own gRPC server, never to a GRID_GRPC_TARGET elsewhere
        # (which must list this shim in its GRID_TRUSTED_PROXIES instead).
        own_server = settings.grpc_target is None
        self.rest = RestShim(
            grpc_target=settings.grpc_target or self.grpc_target,
            proxy_token=self._proxy_token if own_server else None,
            **rest_limits(settings),
        )
        return await self.rest.start(settings.rest_host, settings.rest_port)

    async def _store_ready(self) -> tuple[bool, str]:
        if self.store is None:
            return False, "not open"
        status = await self.store.health()
        return status.ok, f"{status.backend}: {status.detail}"

    async def _exchange_rest_ready(self) -> tuple[bool, str]:
        if self.exchange is None or self.venue is None:
            return False, "not started"
        if not self.venue.ready:
            return False, self.venue.detail()
        try:  # one unsigned, unretried request: is the venue's REST API answering at all?
            await self.exchange.rest.request("GET", SYSTEM_INFO_PATH, costs={c.PUBLIC_READ: 1}, signed=False)
        except ExchangeError as exc:
            return False, f"{type(exc).__name__} (code={exc.code}, http_status={exc.http_status})"
        return True, "system_info answered"

    async def _sessions_ready(self) -> tuple[bool, str]:
        if self.venue is not None and not self.venue.ready:
            return False, "waiting for the exchange to resume the stored sessions"
        if self.service is None:
            return False, "not started"
        return self.service.resume_detail()

    async def _exchange_ws_ready(self) -> tuple[bool, str]:
        if self.venue is not None and not self.venue.ready:
            return False, self.venue.detail()
        stream = self.exchange.private_stream if self.exchange is not None else None
        if stream is None:
            return False, "not started"
        connected = stream.connected.is_set()
        return connected, "private stream connected" if connected else "private stream reconnecting"

    async def stop(self, grace_s: float | None = None) -> None:
        """Graceful: end streams, drain RPCs for `grace_s`, stop runners (sessions stay RUNNING),
        close the exchange, the store (if ours) and the simulator (if ours)."""
        grace = self.settings.shutdown_grace_s if grace_s is None else grace_s
        if self.service is not None:
            self.service.begin_shutdown()
        if self.venue is not None:  # stop connecting: an attempt under way is cancelled
            await self.venue.close()
        if self.rest is not None:
            await self.rest.stop()
            self.rest = None
        if self.grpc is not None:
            await self.grpc.stop(grace)
            self.grpc = None
        if self.service is not None:
            await self.service.close()
            self.service = None
        if self.auth is not None:  # the session-key nonces still pending, before the store closes
            await self.auth.close()
        if self.exchange is not None:
            await self.exchange.close()
            self.exchange = None
        if self.store is not None and self._own_store:
            await self.store.close()
            self.store = None
        await self._stack.aclose()
        log.info("stopped")


def rate_limit_policy(settings: Settings) -> RateLimitPolicy:
    """The per-address and per-wallet limits of the settings (GRID_RATE_LIMIT_*)."""
    return RateLimitPolicy.per_minute(
        peer=settings.peer_rate_limit_per_min,
        user=settings.user_rate_limit_per_min,
        preview=settings.preview_rate_limit_per_min,
        auth_failures=settings.auth_failure_limit_per_min,
    )


def rest_limits(settings: Settings) -> dict[str, Any]:
    """The REST shim's limits on slow and large requests (GRID_REST_*; server.rest.limits)."""
    return {
        "header_timeout_s": settings.rest_header_timeout_s,
        "body_timeout_s": settings.rest_body_timeout_s,
        "max_body_bytes": settings.rest_max_body_bytes,
    }


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--grpc-port", type=int, default=None, help="gRPC port (default GRID_GRPC_PORT or 50051)"
    )
    parser.add_argument(
        "--rest-port", type=int, default=None, help="REST port (default GRID_REST_PORT or 8001)"
    )


def venue_banner(app: Application) -> str:
    """The start-up line that says where trading happens, so nobody mistakes the simulator for Orderly."""
    if app.simulator is None:
        return f"venue: orderly ({app.exchange_rest_url}): trades are REAL"
    state = simulator_state_path(app.settings)
    kept = "resumed from" if app.simulator.restored else "kept in"
    return (
        "venue: simulator: trading is SIMULATED on the built-in exchange simulator, nothing is real "
        f"(state {kept} {state}; set ORDERLY_ACCOUNT_ID, ORDERLY_KEY, ORDERLY_SECRET to trade on Orderly)"
    )


def freeze_startup_heap() -> None:
    """Once started: collect, then exempt every object alive now (modules, protobuf descriptors, the
    app itself) from later garbage collections. A full collection otherwise walks that whole start-up
    heap -- a ~60 ms stall of every session's loop, measured by bench/service.py -- and those objects
    live as long as the process anyway."""
    gc.collect()
    gc.freeze()


async def serve(settings: Settings) -> None:
    app = Application(settings)
    stop = stop_on_signals()
    # SIGTERM during start-up (the wait for the exchange included) stops at once.
    starting = asyncio.create_task(app.start(), name="start")
    stopping = asyncio.create_task(stop.wait(), name="stop-signal")
    try:
        await asyncio.wait((starting, stopping), return_when=asyncio.FIRST_COMPLETED)
        if starting.done():
            starting.result()  # a failed start (a bad configuration, a store that cannot open) ends here
            freeze_startup_heap()
            venue = app.venue
            waiting = "" if venue is None or venue.ready else " (exchange not ready yet: connecting)"
            print(
                f"orderly-grid serving gRPC on {app.grpc_target} and REST on {app.rest_url}{waiting}",
                flush=True,
            )
            print(venue_banner(app), flush=True)
            await stopping
            print(SHUTDOWN_NOTICE, flush=True)
        log.info("shutdown_requested")
    finally:
        for task in (starting, stopping):
            task.cancel()
        await asyncio.gather(starting, stopping, return_exceptions=True)
        await app.stop()


def run(args: argparse.Namespace) -> int:
    try:
        settings = Settings.from_env(os.environ)
    except SettingsError as exc:
        print(f"orderly-grid serve: {exc}")
        return 2
    if args.grpc_port is not None:
        settings = replace(settings, grpc_port=args.grpc_port)
    if args.rest_port is not None:
        settings = replace(settings, rest_port=args.rest_port)
    configure_logging(settings.log_level)
    asyncio.run(serve(settings))
    return 0
