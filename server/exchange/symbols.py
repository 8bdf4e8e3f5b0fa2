"""Mapping a user's ticker to an Orderly symbol, checked against the venue's catalog.

`BTCUSDT`, `btc-usdt`, `BTC/USDT:USDT`, `BTC-PERP` and `PERP_BTC_USDC` all mean PERP_BTC_USDC. A base
that Orderly lists only per 1000 units (PEPE -> 1000PEPE) is refused with a hint rather than mapped,
because prices and quantities would silently be off by a factor of 1000.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from server.exchange.models import SymbolInfo

_NATIVE_RE = re.compile(r"^PERP_([A-Z0-9]+)_USDC(_[A-Za-z0-9]+)?$")
# Longest first, so "-USDT-SWAP" wins over "USDT".
_QUOTE_SUFFIXES = (
    "/USDT:USDT",
    "/USDC:USDC",
    "-USDT-SWAP",
    "-USDC-SWAP",
    "-PERP",
    "_PERP",
    "USDT",
    "USDC",
    "USD",
)
_TRADABLE_STATUSES = frozenset({"ACTIVE"})


class SymbolError(ValueError):
    """The ticker cannot be mapped to a tradable Orderly symbol; the message says why."""


def normalize_ticker(ticker: str) -> str:
    """Pure mapping to the native form, without the catalog check."""
    text = ticker.strip()
    if not text:
        raise SymbolError("ticker: must not be empty")
    native = _NATIVE_RE.match(text) or _NATIVE_RE.match(text.upper())
    if native:
        suffix = native.group(2) or ""
        if text.startswith("PERP_"):  # keep a builder suffix's case as given (it is lower-case on the wire)
            return f"PERP_{native.group(1)}_USDC{suffix}"
        return f"PERP_{native.group(1)}_USDC{suffix.lower()}"
    if text.upper().startswith("PERP_"):
        raise SymbolError(f"ticker: {ticker!r} is not of the form PERP_<BASE>_USDC[_<builder>]")
    base = text.upper()
    for suffix in _QUOTE_SUFFIXES:
        if base.endswith(suffix) and len(base) > len(suffix):
            base = base[: -len(suffix)]
            break
    base = base.rstrip("-_/:")
    if not re.fullmatch(r"[A-Z0-9]+", base):
        raise SymbolError(f"ticker: {ticker!r} is neither BASEUSDT nor PERP_BASE_USDC")
    return f"PERP_{base}_USDC"


def resolve_symbol(ticker: str, catalog: Mapping[str, SymbolInfo], *, allow_reduce_only: bool = False) -> str:
    """Map `ticker` and require the symbol to exist in `catalog` and be tradable."""
    symbol = normalize_ticker(ticker)
    info = catalog.get(symbol)
    if info is None:
        hint = ""
        base = symbol.removeprefix("PERP_").removesuffix("_USDC")
        scaled = f"PERP_1000{base}_USDC"
        if scaled in catalog:
            hint = (
                f"; Orderly lists it per 1000 units as {scaled} (prices and quantities x1000),"
                " pass that symbol explicitly"
            )
        raise SymbolError(f"ticker: {ticker!r} maps to {symbol}, which Orderly does not list{hint}")
    allowed = _TRADABLE_STATUSES | ({"REDUCE_ONLY"} if allow_reduce_only else frozenset())
    if info.status not in allowed:
        raise SymbolError(f"ticker: {symbol} is {info.status} on Orderly, not open for new positions")
    return symbol
