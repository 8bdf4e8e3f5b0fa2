"""WatchFills: the stored fills after a seq, a ReplayComplete marker, then live fills.

No gap and no repeat between replay and live: the caller subscribes to the broker BEFORE the replay
is read, and live fills the replay already sent (seq <= its last) are skipped. Seqs are per user, so
one after_seq resumes both a per-session and a per-user watch.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from dataclasses import dataclass

from engine import parse_client_order_id
from server.api.errors import DomainError, ErrorReason
from server.service.errors import shutting_down
from server.service.fill_broker import Subscription, SubscriptionEnded
from server.service.views import FillView
from server.store import FillRecord, Store

REPLAY_PAGE = 500


@dataclass(frozen=True, slots=True)
class ReplayComplete:
    last_seq: int


async def stream_fills(
    store: Store,
    subscription: Subscription,
    user_id: str,
    session_id: str | None,
    after_seq: int,
    symbols: dict[str, str],
    run_id: str = "",
) -> AsyncIterator[FillView | ReplayComplete]:
    """`subscription` must already be taken; it is closed when the stream ends. With `run_id`, only
    that run's fills (a session id's earlier runs keep theirs in the same ledger)."""
    run_prefix = f"{run_id}-" if run_id else ""
    try:
        last = after_seq
        while True:
            if session_id:
                batch = await store.list_fills(session_id, after_seq=last, limit=REPLAY_PAGE)
            else:
                batch = await store.list_user_fills(user_id, after_seq=last, limit=REPLAY_PAGE)
            for stored in batch:
                if stored.client_order_id.startswith(run_prefix):
                    yield await _stored_fill(store, stored, user_id, symbols)
                last = stored.seq
            if len(batch) < REPLAY_PAGE:
                break
        yield ReplayComplete(last)
        while True:
            try:
                fill = await subscription.get()
            except SubscriptionEnded as ended:
                if ended.overflowed:
                    raise DomainError(
                        ErrorReason.RATE_LIMIT_EXCEEDED,
                        "the subscriber fell too far behind; reconnect with after_seq = the last seq",
                    ) from None
                raise shutting_down() from None
            if fill.seq > last and fill.record.client_order_id.startswith(run_prefix):
                yield fill
    finally:
        subscription.close()


async def _stored_fill(store: Store, stored: FillRecord, user_id: str, symbols: dict[str, str]) -> FillView:
    symbol = symbols.get(stored.session_id)
    if symbol is None:
        record = await store.get_session(stored.session_id)
        symbol = symbols[stored.session_id] = record.symbol if record is not None else ""
    if stored.cell_index is None:  # a fill stored before fills kept their cell: its id names the cell
        parsed = parse_client_order_id(stored.client_order_id)
        if parsed is not None and parsed.cell_index is not None:
            stored = dataclasses.replace(stored, cell_index=parsed.cell_index)
    return FillView(stored, user_id, symbol)
