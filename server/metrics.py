"""Prometheus metrics of the service, on a registry of their own so that several servers in one test
process do not collide on the global default registry."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

# The 0.0.4 text format is what generate_latest writes and what every Prometheus server version scrapes.
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

LATENCY_BUCKETS_S = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


@dataclass
class ServiceMetrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.rpc_requests = Counter(
            "orderly_grid_rpc_requests",
            "RPCs handled, by method and gRPC code",
            ["method", "code"],
            registry=r,
        )
        self.rpc_latency = Histogram(
            "orderly_grid_rpc_latency_seconds",
            "RPC handling time",
            ["method"],
            buckets=LATENCY_BUCKETS_S,
            registry=r,
        )
        self.orders_placed = Counter(
            "orderly_grid_orders_placed", "Orders accepted by the exchange", ["symbol", "side"], registry=r
        )
        self.orders_failed = Counter(
            "orderly_grid_orders_failed", "Order placements that failed", ["symbol", "reason"], registry=r
        )
        self.fills = Counter(
            "orderly_grid_fills", "Fills applied (each exactly once)", ["symbol"], registry=r
        )
        self.fills_seen_again = Counter(
            "orderly_grid_fills_seen_again",
            "Fills seen again after they were applied (a restart's catch-up, a look-up): dropped",
            ["symbol"],
            registry=r,
        )
        self.round_trips = Counter(
            "orderly_grid_round_trips", "Completed buy/sell round trips", ["symbol"], registry=r
        )
        self.malformed_requests = Counter(
            "orderly_grid_malformed_requests",
            "Requests whose bytes are not the method's protobuf message (answered INVALID_ARGUMENT)",
            ["method"],
            registry=r,
        )
        self.active_sessions = Gauge("orderly_grid_active_sessions", "Sessions currently running", registry=r)
        self.exchange_errors = Counter(
            "orderly_grid_exchange_errors", "Errors answered by the exchange", ["kind"], registry=r
        )
        self.ws_reconnects = Counter(
            "orderly_grid_ws_reconnects", "Exchange WebSocket reconnects", ["stream"], registry=r
        )
        self.fill_to_counter_latency = Histogram(
            "orderly_grid_fill_to_counter_order_seconds",
            "Time from a fill arriving to its counter order being accepted",
            buckets=LATENCY_BUCKETS_S,
            registry=r,
        )

    def render(self) -> tuple[bytes, str]:
        """The text exposition format and its content type, for GET /metrics."""
        return generate_latest(self.registry), CONTENT_TYPE_PLAIN_0_0_4
