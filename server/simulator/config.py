"""Configuration of the exchange simulator (test-facing, not part of Orderly's API)."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from decimal import Decimal
from typing import Any


def _default_prices() -> dict[str, Decimal]:
    return {
        "PERP_BTC_USDC": Decimal("42500"),
        "PERP_ETH_USDC": Decimal("2500"),
        "PERP_SOL_USDC": Decimal("150"),
        "PERP_1000PEPE_USDC": Decimal("0.0125"),
        "PERP_AAPL_USDC_mythos": Decimal("230"),
        "PERP_LUNA_USDC": Decimal("0.5"),
    }


@dataclass(frozen=True)
class FaultConfig:
    """Faults injected per run; rates are probabilities in [0, 1] drawn from the seeded generator."""

    http_429_rate: float = 0.0
    http_5xx_rate: float = 0.0
    latency_ms: int = 0
    # A fill (or any order state change) happens but its executionreport push is not sent.
    lost_push_rate: float = 0.0
    # Close a WebSocket after it has sent this many frames (0 = never).
    ws_drop_every_n_messages: int = 0
    # While true the sockets stay open but nothing (pushes, pings, pongs, acks) is sent on them.
    ws_stalled: bool = False

    def __post_init__(self) -> None:
        for name in ("http_429_rate", "http_5xx_rate", "lost_push_rate"):
            rate = getattr(self, name)
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"{name} must be within [0, 1], got {rate}")
        if self.latency_ms < 0:
            raise ValueError(f"latency_ms must be >= 0, got {self.latency_ms}")
        if self.ws_drop_every_n_messages < 0:
            raise ValueError(f"ws_drop_every_n_messages must be >= 0, got {self.ws_drop_every_n_messages}")

    def to_json(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> FaultConfig:
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(body) - set(known))
        if unknown:
            raise ValueError(f"unknown fault field(s): {', '.join(unknown)}")
        values: dict[str, Any] = {}
        for name, value in body.items():
            if name in ("latency_ms", "ws_drop_every_n_messages"):
                values[name] = int(value)
            elif name == "ws_stalled":
                if not isinstance(value, bool):
                    raise ValueError("ws_stalled must be a boolean")
                values[name] = value
            else:
                values[name] = float(value)
        return cls(**values)


@dataclass(frozen=True)
class SimulatorConfig:
    host: str = "127.0.0.1"
    port: int = 0
    seed: int = 0
    # CSV of `timestamp_ms,price[,symbol]` rows replayed as the price path (symbol defaults to csv_symbol).
    prices_csv: str | None = None
    csv_symbol: str = "PERP_BTC_USDC"
    initial_prices: dict[str, Decimal] = field(default_factory=_default_prices)
    # 0 = no automatic random walk: prices move only through POST /sim/price (or the CSV replay).
    walk_interval_ms: int = 0
    # Relative standard deviation of one random-walk step.
    walk_volatility: Decimal = Decimal("0.0005")
    # A virtual clock only moves through POST /sim/clock/advance: fast, deterministic runs.
    virtual_clock: bool = False
    # Where the virtual clock starts; None = the wall time at start-up, so clients that derive a clock
    # offset from envelope timestamps stay within the signed-request window.
    virtual_clock_start_ms: int | None = None
    maker_fee_rate: Decimal = Decimal("0.0002")
    taker_fee_rate: Decimal = Decimal("0.0005")
    # Max base quantity one resting order fills per price step (None = unlimited => full fills).
    liquidity_per_order: Decimal | None = None
    # Max share of a RESTING order's quantity one price step fills (None = no cap), e.g. 0.4 fills a
    # crossed order in three trades over three steps; orders that take liquidity on arrival are not
    # capped by it. Works across symbols of any size, unlike the absolute liquidity_per_order.
    liquidity_fraction: Decimal | None = None
    leverage: int = 10
    # Funding: every funding_interval_ms (on wall-aligned boundaries, as Orderly's 8 h periods) each
    # position pays position_qty * mark * funding_rate (longs pay a positive rate). 0 = no funding.
    funding_rate: Decimal = Decimal(0)
    funding_interval_ms: int = 8 * 3_600_000
    initial_collateral: Decimal = Decimal("100000")
    ws_ping_interval_ms: int = 10_000
    ws_idle_timeout_ms: int = 110_000
    # Periodic `<symbol>@markprice` pushes (besides the push on every price change); 0 disables.
    markprice_push_interval_ms: int = 1_000
    # Signed requests whose orderly-timestamp is further than this from the server clock are rejected.
    auth_window_ms: int = 300_000
    rate_limits: bool = True
    faults: FaultConfig = field(default_factory=FaultConfig)
    # Where the venue's state lives between runs (server.simulator.state_file); None = a new, empty
    # venue each run. Saved at most every state_save_interval_ms while it changes, and on exit.
    state_file: str | None = None
    state_save_interval_ms: int = 1_000

    def __post_init__(self) -> None:
        if self.walk_interval_ms < 0:
            raise ValueError(f"walk_interval_ms must be >= 0, got {self.walk_interval_ms}")
        if self.ws_ping_interval_ms <= 0 or self.ws_idle_timeout_ms <= 0:
            raise ValueError("ws_ping_interval_ms and ws_idle_timeout_ms must be > 0")
        if self.liquidity_per_order is not None and self.liquidity_per_order <= 0:
            raise ValueError(f"liquidity_per_order must be > 0, got {self.liquidity_per_order}")
        if self.liquidity_fraction is not None and not 0 < self.liquidity_fraction <= 1:
            raise ValueError(f"liquidity_fraction must be within (0, 1], got {self.liquidity_fraction}")
        if self.funding_interval_ms <= 0:
            raise ValueError(f"funding_interval_ms must be > 0, got {self.funding_interval_ms}")
        if self.state_save_interval_ms <= 0:
            raise ValueError(f"state_save_interval_ms must be > 0, got {self.state_save_interval_ms}")
        if self.leverage <= 0:
            raise ValueError(f"leverage must be > 0, got {self.leverage}")
