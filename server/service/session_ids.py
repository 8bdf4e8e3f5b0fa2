"""Session ids and their ticker aliases.

A session id is `<user_id>_<ticker>` with the ticker as the user spelled it at start (the old API).
`BTCUSDT` and `PERP_BTC_USDC` name the same market, so a session started under one spelling is found
under the other: a lookup tries the id as given, then the native and the BASEUSDT spellings.
"""

from __future__ import annotations

import re

from server.api.errors import DomainError
from server.exchange import SymbolError
from server.exchange.symbols import normalize_ticker


def session_id_aliases(session_id: str) -> list[str]:
    """`session_id` first, then the other spellings of its ticker (no duplicates)."""
    user_id, sep, ticker = session_id.partition("_")
    if not sep or not ticker:
        return [session_id]
    try:
        symbol = normalize_ticker(ticker)
    except SymbolError:
        return [session_id]
    candidates = [session_id, f"{user_id}_{symbol}"]
    base = symbol.removeprefix("PERP_")
    if base.endswith("_USDC"):  # a builder's suffixed symbol has no BASEUSDT spelling
        candidates.append(f"{user_id}_{base.removesuffix('_USDC')}USDT")
    return list(dict.fromkeys(candidates))


_RUN_ID = re.compile(r"g[0-9a-f]{10}")


def check_run_id(run_id: str) -> None:
    """Empty (the latest run) or a run id as Grid.run_id shows it."""
    if run_id and not _RUN_ID.fullmatch(run_id):
        raise DomainError.invalid_field(
            "run_id", "must be a run id as Grid.run_id shows it ('g' + 10 hex digits)"
        )
