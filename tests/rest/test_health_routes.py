"""HealthService over REST: the banner, readiness with its 503, and the raw metrics body."""

from __future__ import annotations

from tests.rest.conftest import Stack


async def test_health_and_root_answer_liveness(stack: Stack) -> None:
    for path in ("/health", "/"):
        async with stack.http.get(stack.url(path)) as response:
            assert response.status == 200
            body = await response.json()
        assert body["success"] is True
        assert body["data"]["service"] == "orderly-grid"
        assert body["data"]["status"] == "ok"
        assert body["data"]["version"] == "0.1.0-test"


async def test_ready_is_200_with_each_check_when_dependencies_are_up(stack: Stack) -> None:
    async with stack.http.get(stack.url("/health/ready")) as response:
        assert response.status == 200
        body = await response.json()
    assert body["success"] is True
    assert body["data"]["ready"] is True
    [check] = body["data"]["checks"]
    assert (check["name"], check["ok"], check["detail"]) == ("store", True, "sqlite data/grid.db")


async def test_ready_is_503_naming_the_failed_check(stack: Stack) -> None:
    stack.store_check.ok = False
    async with stack.http.get(stack.url("/health/ready")) as response:
        assert response.status == 503
        body = await response.json()
    assert body["success"] is False
    assert body["data"]["ready"] is False
    assert body["data"]["checks"][0] == body["data"]["checks"][0] | {"name": "store", "ok": False}


async def test_metrics_is_raw_prometheus_text_counting_the_calls_made(stack: Stack) -> None:
    async with stack.http.get(stack.url("/health")) as response:
        assert response.status == 200
    async with stack.http.get(stack.url("/metrics")) as response:
        assert response.status == 200
        # The HttpBody's content type, as ServiceMetrics renders it (prometheus_client's latest).
        assert response.headers["Content-Type"] == stack.metrics.render()[1]
        assert response.headers["Content-Type"].startswith("text/plain; version=")
        text = await response.text()
    assert not text.startswith("{")
    assert (
        'orderly_grid_rpc_requests_total{code="OK",method="/orderly_grid.v1.HealthService/GetLiveness"} 1.0'
        in text
    )
