"""Shared pieces of the backtest tests: the simulator's BTC rules and the harness's grid."""

from __future__ import annotations

from decimal import Decimal

from engine import Direction, GridConfig, MarketRules

RULES = MarketRules(
    "PERP_BTC_USDC", Decimal("0.1"), Decimal("0.00001"), Decimal("0.00001"), Decimal("20"), Decimal("10")
)


def grid(**overrides: object) -> GridConfig:
    """Lines 40000..45000 step 1000 around 42500, BOTH (tests/integration/harness.start_request)."""
    fields: dict[str, object] = {
        "session_key": "backtest",
        "symbol": "PERP_BTC_USDC",
        "direction": Direction.BOTH,
        "lower_price": Decimal(40000),
        "upper_price": Decimal(45000),
        "grid_levels": 6,
        "current_price": Decimal(42500),
        "total_margin": Decimal(1000),
    }
    fields.update(overrides)
    return GridConfig(**fields)  # type: ignore[arg-type]


def csv_ticks(*prices: str, step_ms: int = 60_000) -> list[str]:
    return ["timestamp,price"] + [f"{i * step_ms},{price}" for i, price in enumerate(prices)]
