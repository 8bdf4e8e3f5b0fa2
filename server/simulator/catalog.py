"""The static market catalog the simulator serves on /v1/public/info."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

_CREATED_MS = 1_575_014_255_089


@dataclass(frozen=True)
class SymbolRules:
    symbol: str
    quote_tick: Decimal
    base_tick: Decimal
    base_min: Decimal
    base_max: Decimal
    quote_min: Decimal
    quote_max: Decimal
    min_notional: Decimal
    price_range: Decimal = Decimal("0.03")
    price_scope: Decimal = Decimal("0.4")
    status: str = "ACTIVE"
    broker_id: str | None = None
    imr_factor: Decimal = Decimal("0.0000002")

    def to_row(self) -> dict[str, Any]:
        return {
            "symbol": self.symbol,
            "quote_min": self.quote_min,
            "quote_max": self.quote_max,
            "quote_tick": self.quote_tick,
            "base_min": self.base_min,
            "base_max": self.base_max,
            "base_tick": self.base_tick,
            "min_notional": self.min_notional,
            "price_range": self.price_range,
            "price_scope": self.price_scope,
            "std_liquidation_fee": Decimal("0.03"),
            "liquidator_fee": Decimal("0.015"),
            "claim_insurance_fund_discount": Decimal("0.0075"),
            "funding_period": 8,
            "cap_funding": Decimal("0.00375"),
            "floor_funding": Decimal("-0.00375"),
            "interest_rate": Decimal("0.0001"),
            "imr_factor": self.imr_factor,
            "base_mmr": Decimal("0.05"),
            "base_imr": Decimal("0.1"),
            "created_time": _CREATED_MS,
            "updated_time": _CREATED_MS,
            "broker_id": self.broker_id,
            "status": self.status,
            "is_pretge": False,
        }


def _d(text: str) -> Decimal:
    return Decimal(text)


CATALOG: dict[str, SymbolRules] = {
    rules.symbol: rules
    for rules in (
        SymbolRules(
            "PERP_BTC_USDC",
            _d("0.1"),
            _d("0.00001"),
            _d("0.00001"),
            _d("20"),
            _d("0"),
            _d("200000"),
            _d("10"),
        ),
        SymbolRules(
            "PERP_ETH_USDC", _d("0.01"), _d("0.0001"), _d("0.0001"), _d("500"), _d("0"), _d("20000"), _d("10")
        ),
        SymbolRules(
            "PERP_SOL_USDC", _d("0.001"), _d("0.01"), _d("0.01"), _d("20000"), _d("0"), _d("5000"), _d("10")
        ),
        SymbolRules(
            "PERP_1000PEPE_USDC",
            _d("0.000001"),
            _d("1"),
            _d("1"),
            _d("100000000"),
            _d("0"),
            _d("1"),
            _d("10"),
        ),
        SymbolRules(
            "PERP_AAPL_USDC_mythos",
            _d("0.01"),
            _d("0.001"),
            _d("0.001"),
            _d("1000"),
            _d("0"),
            _d("2000"),
            _d("10"),
            broker_id="mythos",
        ),
        SymbolRules(
            "PERP_LUNA_USDC",
            _d("0.0001"),
            _d("1"),
            _d("1"),
            _d("1000000"),
            _d("0"),
            _d("100"),
            _d("10"),
            status="REDUCE_ONLY",
        ),
    )
}
