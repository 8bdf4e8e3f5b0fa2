"""The service under fuzz: the exchange simulator and the whole app (store, adapter, gRPC server,
REST shim) on loopback ports, run by an event loop in a thread of its own, so that synchronous
clients (Schemathesis' requests, grpc's blocking channel, Hypothesis' loops) drive it from the test
thread over real sockets.

The fuzz app differs from a default deployment in three ways only: its rate limits are far out of
reach (a fuzzer hitting 429 after 30 calls would test nothing else), RegisterAccount is on (a master
key) and an operator token is set, so every RPC and every way to authenticate is reachable.
Everything else is the app of tests/integration/harness.py.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from orderly_grid.v1 import health_service_pb2, health_service_pb2_grpc

from server.auth import RateLimitPolicy
from server.simulator import SimulatorConfig, run_simulator
from server.simulator.accounts import SimAccount
from tests.fuzz.messages import OPERATOR_TOKEN
from tests.integration.harness import WITH_ACCOUNTS, running_app

# Limits no fuzz run reaches (per minute); the limiting code still runs and counts every call.
UNREACHABLE_LIMIT = 10_000_000
FUZZ_RATE_LIMITS = RateLimitPolicy.per_minute(
    peer=UNREACHABLE_LIMIT, user=UNREACHABLE_LIMIT, preview=UNREACHABLE_LIMIT, auth_failures=UNREACHABLE_LIMIT
)
FUZZ_SETTINGS = replace(WITH_ACCOUNTS, max_streams_per_user=10_000, operator_token=OPERATOR_TOKEN)
START_TIMEOUT_S = 60.0
HEALTH_TIMEOUT_S = 10.0
# The server runs in the test process, so this bounds the server's growth plus the fuzzer's own.
MAX_RSS_GROWTH_BYTES = 256 * 1024 * 1024


def rss_bytes() -> int:
    """This process's resident set size, from /proc/self/status (VmRSS, in kB)."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS line in /proc/self/status")


class FuzzService:
    """The simulator and the app on an event loop in a background thread (see the module doc)."""

    def __init__(self, data_dir: Path) -> None:
        self._data_dir = data_dir
        self._thread = threading.Thread(target=self._run, name="fuzz-service", daemon=True)
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._failure: BaseException | None = None
        self.grpc_target = ""
        self.rest_url = ""
        # A second venue account with real keys, for RegisterAccount calls that should succeed.
        self.spare_account: SimAccount | None = None
        self.rss_at_start = 0

    def start(self) -> None:
        self._thread.start()
        if not self._ready.wait(START_TIMEOUT_S):
            raise TimeoutError(f"the fuzz service did not start within {START_TIMEOUT_S} s")
        if self._failure is not None:
            raise RuntimeError("the fuzz service failed to start") from self._failure
        self.rss_at_start = rss_bytes()

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(START_TIMEOUT_S)
        if self._thread.is_alive():
            raise TimeoutError("the fuzz service did not stop")
        if self._failure is not None:
            raise RuntimeError("the fuzz service failed") from self._failure

    @property
    def alive(self) -> bool:
        return self._thread.is_alive() and self._failure is None

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # reported by start()/stop() in the test thread
            self._failure = exc
        finally:
            self._ready.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with (
            run_simulator(SimulatorConfig(port=0, seed=7)) as sim,
            running_app(
                sim,
                self._data_dir,
                with_rest=True,
                settings=FUZZ_SETTINGS,
                rate_limit_policy=FUZZ_RATE_LIMITS,
            ) as running,
        ):
            self.spare_account = sim.context.accounts.create(Decimal("100000"))
            self.grpc_target = running.app.grpc_target
            self.rest_url = running.app.rest_url
            self._ready.set()
            await self._stop.wait()

    def check_healthy(self) -> None:
        """Raise AssertionError unless the service answers as healthy: the thread runs, the
        standard health check says SERVING, liveness answers and readiness is ready."""
        assert self.alive, "the service thread died"
        with grpc.insecure_channel(self.grpc_target) as channel:
            check = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=""), timeout=HEALTH_TIMEOUT_S
            )
            assert check.status == health_pb2.HealthCheckResponse.SERVING, check
            health = health_service_pb2_grpc.HealthServiceStub(channel)
            liveness = health.GetLiveness(health_service_pb2.GetLivenessRequest(), timeout=HEALTH_TIMEOUT_S)
            assert liveness.status == "ok", liveness
            readiness = health.GetReadiness(
                health_service_pb2.GetReadinessRequest(), timeout=HEALTH_TIMEOUT_S
            )
            assert readiness.ready, readiness

    def rss_growth(self) -> int:
        """How much the process's RSS grew since the service started, in bytes."""
        return rss_bytes() - self.rss_at_start
