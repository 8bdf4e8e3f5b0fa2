from __future__ import annotations

from server.metrics import ServiceMetrics


def test_two_metric_sets_do_not_share_counts() -> None:
    first, second = ServiceMetrics(), ServiceMetrics()
    first.fills.labels(symbol="PERP_BTC_USDC").inc()
    first.fills.labels(symbol="PERP_BTC_USDC").inc()
    body, content_type = first.render()
    assert b'orderly_grid_fills_total{symbol="PERP_BTC_USDC"} 2.0' in body
    assert content_type.startswith("text/plain")
    assert b"orderly_grid_fills_total{" not in second.render()[0]
