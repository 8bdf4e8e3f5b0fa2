"""Ticker mapping: BTCUSDT and friends to PERP_BTC_USDC, checked against a catalog."""

from __future__ import annotations

from decimal import Decimal

import pytest

from engine.market import MarketRules
from server.exchange.models import SymbolInfo
from server.exchange.symbols import SymbolError, normalize_ticker, resolve_symbol


def _info(symbol: str, status: str = "ACTIVE") -> SymbolInfo:
    one = Decimal(1)
    return SymbolInfo(MarketRules(symbol, one, one, one, one, one), status=status)


CATALOG = {
    s.symbol: s
    for s in [
        _info("PERP_BTC_USDC"),
        _info("PERP_ETH_USDC"),
        _info("PERP_1000PEPE_USDC"),
        _info("PERP_AAPL_USDC_mythos"),
        _info("PERP_OLD_USDC", status="REDUCE_ONLY"),
    ]
}


@pytest.mark.parametrize(
    "ticker",
    [
        "BTCUSDT",
        "btcusdt",
        "BTCUSDC",
        "BTCUSD",
        "BTC-PERP",
        "BTC/USDT:USDT",
        "BTC-USDT-SWAP",
        "PERP_BTC_USDC",
    ],
)
def test_common_spellings_map_to_the_native_symbol(ticker: str) -> None:
    assert normalize_ticker(ticker) == "PERP_BTC_USDC"
    assert resolve_symbol(ticker, CATALOG) == "PERP_BTC_USDC"


def test_builder_market_keeps_its_lower_case_suffix() -> None:
    assert resolve_symbol("PERP_AAPL_USDC_mythos", CATALOG) == "PERP_AAPL_USDC_mythos"


def test_pepe_is_never_silently_mapped_to_1000pepe() -> None:
    with pytest.raises(SymbolError, match="PERP_1000PEPE_USDC") as raised:
        resolve_symbol("PEPEUSDT", CATALOG)
    assert "x1000" in str(raised.value)
    assert resolve_symbol("1000PEPEUSDT", CATALOG) == "PERP_1000PEPE_USDC"


def test_unlisted_symbol_is_refused_with_the_ticker_named() -> None:
    with pytest.raises(SymbolError, match="ticker: 'DOGEUSDT' maps to PERP_DOGE_USDC"):
        resolve_symbol("DOGEUSDT", CATALOG)


def test_reduce_only_market_is_refused_unless_allowed() -> None:
    with pytest.raises(SymbolError, match="REDUCE_ONLY"):
        resolve_symbol("OLDUSDT", CATALOG)
    assert resolve_symbol("OLDUSDT", CATALOG, allow_reduce_only=True) == "PERP_OLD_USDC"


@pytest.mark.parametrize("ticker", ["", "   ", "BTC USDT", "BTC$", "PERP__USDC"])
def test_malformed_tickers_are_refused(ticker: str) -> None:
    with pytest.raises(SymbolError, match="ticker"):
        normalize_ticker(ticker)
