"""The bulk venue reads of one account's resume, shared by all its sessions.

A restart resumes every session of an account at once. Read one by one, each session would read its
trades, the open orders of its symbol and the positions: three rate-limited reads per session (and
an order look-up per trade). Instead the sessions share, per account:
1. one read of the account's trades since the oldest session's last fill, with one read of the
   orders created since then (their client_order_ids; older orders are looked up one by one);
2. once every session has applied its fills (and placed their counter orders, so the next read
   sees them), one read of the account's open orders and one of its positions.
Each session takes its share (its symbol, its client_order_id prefix). A session that cannot
arrive at step 2 (it failed) holds the others at most `barrier_timeout_s`. A failed bulk read makes
each session fall back to reading its own (None).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable

import structlog

from engine import VenueSnapshot
from engine.events import Fill
from server.exchange import Exchange, ExchangeError
from server.service.executor import FILL_LOOKBACK_MS
from server.store import SessionRecord

log = structlog.get_logger(__name__)

BARRIER_TIMEOUT_S = 10.0


class AccountResume:
    def __init__(
        self,
        account_id: str,
        exchange: Exchange,
        sessions: Iterable[tuple[str, str]],
        since_ms: int,
        *,
        barrier_timeout_s: float = BARRIER_TIMEOUT_S,
    ) -> None:
        """`sessions`: (session_id, symbol) of every session resuming on the account; `since_ms`:
        the oldest venue time any of them needs trades from."""
        self.account_id = account_id
        self._exchange = exchange
        self._sessions = dict(sessions)
        self._symbols = sorted(set(self._sessions.values()))
        self._since_ms = since_ms
        self._barrier_timeout_s = barrier_timeout_s
        self._arrived: set[str] = set()
        self._everyone_arrived = asyncio.Event()
        self._fills: asyncio.Future[dict[str, list[Fill]]] | None = None
        self._snapshots: asyncio.Future[dict[str, VenueSnapshot]] | None = None
        self.resumed: set[str] = set()
        if not self._sessions:
            self._everyone_arrived.set()

    @property
    def total(self) -> int:
        return len(self._sessions)

    @property
    def done(self) -> bool:
        return len(self.resumed) >= self.total

    async def fills(self, symbol: str, prefix: str) -> list[Fill] | None:
        """This session's trades from the account's bulk read (None: read your own)."""
        if self._fills is None:
            self._fills = asyncio.ensure_future(self._exchange.account_fills(self._symbols, self._since_ms))
        try:
            by_symbol = await asyncio.shield(self._fills)
        except ExchangeError as exc:
            log.warning("bulk_fills_read_failed", account_id=self.account_id, error=str(exc))
            return None
        prefix_dash = prefix + "-"
        return [fill for fill in by_symbol.get(symbol, ()) if fill.client_order_id.startswith(prefix_dash)]

    async def snapshot(self, session_id: str, symbol: str) -> VenueSnapshot | None:
        """This session's snapshot, read once for the account after every session arrived here
        (None: read your own)."""
        self.arrive(session_id)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._everyone_arrived.wait(), self._barrier_timeout_s)
        if self._snapshots is None:
            self._snapshots = asyncio.ensure_future(self._exchange.account_snapshots(self._symbols))
        try:
            return (await asyncio.shield(self._snapshots)).get(symbol)
        except ExchangeError as exc:
            log.warning("bulk_snapshot_read_failed", account_id=self.account_id, error=str(exc))
            return None

    def arrive(self, session_id: str) -> None:
        """The session is past its fills (or gave up): it no longer holds the others back."""
        self._arrived.add(session_id)
        if self._arrived >= self._sessions.keys():
            self._everyone_arrived.set()

    def finished(self, session_id: str) -> None:
        self.arrive(session_id)
        self.resumed.add(session_id)

    def close(self) -> None:
        for future in (self._fills, self._snapshots):
            if future is not None and not future.done():
                future.cancel()


def resume_since_ms(record: SessionRecord) -> int:
    """The venue time from which a stored session needs the venue's trades (its last fill, or its
    start, less the look-back that covers clock skew), without decoding its whole state."""
    runtime = record.engine_state.get("runtime") or {}
    last_fill_ms = int(runtime.get("last_fill_ms") or 0) or record.created_at_ms
    return max(0, last_fill_ms - FILL_LOOKBACK_MS)
