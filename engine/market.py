"""Exchange trading rules for one symbol, as the engine needs them."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class MarketRules:
    """Orderly's `/v1/public/info/{symbol}` rules, already parsed into Decimals.

    `quote_min`/`quote_max` of zero mean "no bound" (the venue reports 0 when it has none).
    """

    symbol: str
    quote_tick: Decimal
    base_tick: Decimal
    base_min: Decimal
    base_max: Decimal
    min_notional: Decimal
    quote_min: Decimal = Decimal(0)
    quote_max: Decimal = Decimal(0)
