"""The HealthService servicer: liveness, readiness from injected dependency checks, and metrics.

Readiness checks are plain `async () -> (ok, detail)` functions registered by whoever owns the
dependency (the store, the exchange adapter), so this module knows nothing about them. Each check
runs with its own timeout, all of them concurrently; a check that raises or times out is a failed
check, never a failed RPC. Listeners (the standard grpc.health.v1 status, see
`server.grpc_server`) are told every readiness outcome so that orchestrators probing either API see
the same answer.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeAlias

import grpc
from google.api import httpbody_pb2
from orderly_grid.v1 import health_service_pb2 as pb
from orderly_grid.v1 import health_service_pb2_grpc as pb_grpc

from server.logs import get_logger
from server.metrics import ServiceMetrics

ReadinessCheck = Callable[[], Awaitable[tuple[bool, str]]]
"""A dependency probe: (ok, detail). `detail` says why it failed, or what was checked; never a secret."""

ReadinessListener = Callable[[bool], Awaitable[None]]
Context: TypeAlias = "grpc.aio.ServicerContext[Any, Any]"

SERVICE_NAME = "orderly-grid"
CHECK_NAMES = ("store", "exchange_rest", "exchange_ws")
DEFAULT_CHECK_TIMEOUT_S = 2.0

_log = get_logger(__name__)


def package_version() -> str:
    try:
        return importlib.metadata.version("orderly-grid")
    except importlib.metadata.PackageNotFoundError:
        return "0+unknown"


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


class HealthService(pb_grpc.HealthServiceServicer):
    """orderly_grid.v1.HealthService. Register checks with `add_check` before or while serving."""

    def __init__(
        self,
        metrics: ServiceMetrics,
        *,
        version: str | None = None,
        check_timeout_s: float = DEFAULT_CHECK_TIMEOUT_S,
        clock_ms: Callable[[], int] = wall_clock_ms,
        venue: str = "",
    ) -> None:
        self._metrics = metrics
        self._venue = venue  # "simulator" or "orderly": readiness says where trading happens
        self._version = version if version is not None else package_version()
        self._check_timeout_s = check_timeout_s
        self._clock_ms = clock_ms
        self._started_ms = clock_ms()
        self._checks: dict[str, ReadinessCheck] = {}
        self._listeners: list[ReadinessListener] = []

    def add_check(self, name: str, check: ReadinessCheck) -> None:
        """Register the readiness check of one dependency ("store", "exchange_rest", "exchange_ws");
        registering a name again replaces its check."""
        if not name:
            raise ValueError("name: must not be empty")
        self._checks[name] = check

    def add_readiness_listener(self, listener: ReadinessListener) -> None:
        """`listener(ready)` is awaited after every readiness evaluation."""
        self._listeners.append(listener)

    def liveness(self) -> pb.GetLivenessResponse:
        now_ms = self._clock_ms()
        return pb.GetLivenessResponse(
            service=SERVICE_NAME,
            version=self._version,
            status="ok",
            started_ms=self._started_ms,
            uptime_ms=max(0, now_ms - self._started_ms),
        )

    async def readiness(self) -> pb.GetReadinessResponse:
        """Run every check concurrently and tell the listeners the outcome."""
        names = list(self._checks)
        results = await asyncio.gather(*(self._run_check(name, self._checks[name]) for name in names))
        response = pb.GetReadinessResponse(
            ready=all(check.ok for check in results), checks=results, venue=self._venue
        )
        for listener in self._listeners:
            await listener(response.ready)
        return response

    async def watch_readiness(self, interval_s: float) -> None:
        """Evaluate readiness every `interval_s` until cancelled, so the standard health status
        follows the dependencies even when nobody calls GetReadiness."""
        while True:
            try:
                await self.readiness()
            except Exception:  # a failing listener must not end the watch
                _log.exception("readiness_watch_failed")
            await asyncio.sleep(interval_s)

    async def _run_check(self, name: str, check: ReadinessCheck) -> pb.DependencyCheck:
        started = time.perf_counter()
        try:
            ok, detail = await asyncio.wait_for(check(), timeout=self._check_timeout_s)
        except TimeoutError:
            ok, detail = False, f"timed out after {int(self._check_timeout_s * 1000)} ms"
        except Exception as exc:
            # The exception text may carry connection strings; the log has it, the reply does not.
            _log.warning("readiness_check_failed", check=name, error_type=type(exc).__name__, exc_info=True)
            ok, detail = False, f"check raised {type(exc).__name__}"
        latency_ms = int((time.perf_counter() - started) * 1000)
        return pb.DependencyCheck(name=name, ok=bool(ok), detail=str(detail), latency_ms=latency_ms)

    async def GetLiveness(self, request: pb.GetLivenessRequest, context: Context) -> pb.GetLivenessResponse:
        return self.liveness()

    async def GetReadiness(
        self, request: pb.GetReadinessRequest, context: Context
    ) -> pb.GetReadinessResponse:
        return await self.readiness()

    async def GetMetrics(self, request: pb.GetMetricsRequest, context: Context) -> httpbody_pb2.HttpBody:
        data, content_type = self._metrics.render()
        return httpbody_pb2.HttpBody(content_type=content_type, data=data)
