from __future__ import annotations

import asyncio

from server.health import HealthService
from server.metrics import ServiceMetrics


async def test_readiness_runs_checks_concurrently_and_reports_each() -> None:
    health = HealthService(ServiceMetrics(), check_timeout_s=5.0)
    both_started = asyncio.Barrier(2)

    async def store() -> tuple[bool, str]:
        await both_started.wait()  # deadlocks unless the checks run at the same time
        return True, "sqlite data/grid.db"

    async def exchange_rest() -> tuple[bool, str]:
        await both_started.wait()
        return False, "HTTP 503 from /v1/public/info"

    health.add_check("store", store)
    health.add_check("exchange_rest", exchange_rest)
    readiness = await health.readiness()
    assert not readiness.ready
    assert [(c.name, c.ok, c.detail) for c in readiness.checks] == [
        ("store", True, "sqlite data/grid.db"),
        ("exchange_rest", False, "HTTP 503 from /v1/public/info"),
    ]
    assert all(c.latency_ms >= 0 for c in readiness.checks)


async def test_a_hanging_check_times_out_and_a_raising_one_hides_its_text() -> None:
    health = HealthService(ServiceMetrics(), check_timeout_s=0.05)
    never = asyncio.Event()

    async def hangs() -> tuple[bool, str]:
        await never.wait()
        return True, "unreachable"

    async def raises() -> tuple[bool, str]:
        raise ConnectionError("mongodb://user:pw@db refused")

    health.add_check("exchange_ws", hangs)
    health.add_check("store", raises)
    readiness = await health.readiness()
    checks = {c.name: c for c in readiness.checks}
    assert not readiness.ready
    assert checks["exchange_ws"].detail == "timed out after 50 ms"
    assert checks["exchange_ws"].latency_ms >= 40
    assert checks["store"].detail == "check raised ConnectionError"
    assert "pw" not in str(readiness)


async def test_no_checks_means_ready_and_listeners_hear_every_outcome() -> None:
    health = HealthService(ServiceMetrics())
    heard: list[bool] = []

    async def listener(ready: bool) -> None:
        heard.append(ready)

    health.add_readiness_listener(listener)
    assert (await health.readiness()).ready

    async def down() -> tuple[bool, str]:
        return False, "down"

    health.add_check("store", down)
    assert not (await health.readiness()).ready
    assert heard == [True, False]


def test_liveness_reports_uptime_from_the_injected_clock() -> None:
    now = [1_000]
    health = HealthService(ServiceMetrics(), version="9.9.9", clock_ms=lambda: now[0])
    now[0] = 4_500
    live = health.liveness()
    assert (live.status, live.version, live.started_ms, live.uptime_ms) == ("ok", "9.9.9", 1_000, 3_500)
