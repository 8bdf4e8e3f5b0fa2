"""The Store protocol: everything the service persists, behind one async interface with two backends
(SQLite embedded, MongoDB). One contract suite (tests/store) holds both to the same behaviour.

Guarantees every backend gives:
- Sessions carry a version; `update_session` writes only if the stored version equals the expected
  one (a single atomic conditional write) and raises VersionConflict otherwise, writing nothing.
- `create_session` refuses an id whose run has not finished (DuplicateSession); a STOPPED or FAILED
  session is replaced by the new run (version restarts at 1). Its fills and summaries stay.
- Fills are append-only and unique on (order_id, trade_id); appending a duplicate returns the stored
  fill with inserted=False and consumes no seq. A fill names its user (`user_id`, required on append)
  and the store gives it a `seq`: positive and strictly increasing in append order over ALL the fills
  of that user, hence also within each of the user's sessions, and unique per user. So one
  `after_seq` resumes both `list_fills` (one session) and `list_user_fills` (every session of the
  user): every fill appended after the one with that seq has a larger seq. Seqs are not contiguous
  per user: SQLite numbers the whole ledger with one counter (never reusing a value, no gaps), Mongo
  keeps one counter per user and can leave a gap after a crash mid-append or when two processes race
  the same duplicate; subscribers never notice a gap.
- A fill becomes visible only after every smaller seq of its user, so a reader that resumes after
  the last seq it saw misses nothing. SQLite: seq and insert share one transaction. Mongo: a user's
  appends are serialised within one process; two processes appending for the SAME user at the same
  instant can briefly expose a larger seq first, so run a user's sessions in one process.
- `consume_nonce` is atomic: of concurrent or repeated uses of a live nonce exactly one returns True,
  across restarts. An expired nonce no longer counts (purged lazily; Mongo also has a TTL index).
- Leases: one live owner per session; expiry is judged against the caller's clock (`now_ms`).
- Time never comes from inside the store: callers pass `now_ms` / timestamps, so tests control it.
  In production `now_ms` is the wall clock: MongoDB's TTL monitor purges expired nonces by the
  server's own clock (a minute late at most), and the store's logic must agree with it.
- Accounts: one per user; `upsert_account` replaces the account fields and keeps the first
  registration's created_at_ms. The secret is stored only as the encrypted envelope it is given.
- Session keys (server.store.key_records): `create_session_key` is an atomic insert keyed by key_id
  (False, writing nothing, if the id exists); `revoke_session_keys` sets revoked_at_ms on the user's
  live keys (one, or all) in one update and returns how many. Nonce batches are append-only
  (idempotent on batch_id) and purged once every nonce in them has expired.
- `hit_rate_limit` counts one hit in a fixed window (window start = now_ms - now_ms % window_ms) with
  one atomic statement / single-document update, so the count holds across restarts and across
  stores on the same backend. A refused hit still counts (hammering does not reopen the window).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from server.store.auth_records import AccountRecord, RateDecision
from server.store.equity import EquityPointRecord
from server.store.key_records import NonceBatch, SessionKeyRecord
from server.store.records import (
    FillRecord,
    HealthStatus,
    Lease,
    OrderRecord,
    Page,
    SessionRecord,
    SessionStatus,
    SummaryRecord,
)

DEFAULT_PAGE_SIZE = 50


class Store(Protocol):
    backend: str

    # sessions -------------------------------------------------------------------------------------
    async def create_session(self, record: SessionRecord) -> SessionRecord:
        """Store a new run (version 1). DuplicateSession if a run with this id is unfinished."""
        ...

    async def get_session(self, session_id: str) -> SessionRecord | None: ...

    async def update_session(
        self,
        session_id: str,
        expected_version: int,
        *,
        updated_at_ms: int,
        status: SessionStatus | None = None,
        config: dict[str, Any] | None = None,
        engine_state: dict[str, Any] | None = None,
        stopped_at_ms: int | None = None,
        stop_reason: str | None = None,
    ) -> SessionRecord:
        """Apply the given changes (None = unchanged) and bump the version by one.
        SessionNotFound if absent, VersionConflict if the stored version differs."""
        ...

    async def list_sessions(
        self,
        *,
        user_id: str | None = None,
        status: SessionStatus | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
        page_token: str | None = None,
    ) -> Page[SessionRecord]:
        """Newest first (created_at_ms, then session_id, descending)."""
        ...

    # orders ---------------------------------------------------------------------------------------
    async def upsert_order(self, record: OrderRecord) -> None:
        """Insert or replace the order with this client_order_id."""
        ...

    async def get_order(self, client_order_id: str) -> OrderRecord | None: ...

    async def list_orders(self, session_id: str, *, status: str | None = None) -> list[OrderRecord]:
        """Oldest first (created_at_ms, then client_order_id)."""
        ...

    # fill ledger ----------------------------------------------------------------------------------
    async def append_fill(self, record: FillRecord) -> tuple[FillRecord, bool]:
        """Returns the stored fill (with its per-user seq) and whether this call inserted it.
        The record's own seq is ignored; InvalidRecord("user_id") if its user_id is empty."""
        ...

    async def list_fills(self, session_id: str, *, after_seq: int = 0, limit: int = 500) -> list[FillRecord]:
        """The session's fills with seq > after_seq in seq order, at most `limit`."""
        ...

    async def list_user_fills(
        self, user_id: str, *, after_seq: int = 0, limit: int = 500
    ) -> list[FillRecord]:
        """The user's fills over all their sessions with seq > after_seq in seq order, at most `limit`."""
        ...

    # summaries ------------------------------------------------------------------------------------
    async def write_summary(self, record: SummaryRecord) -> None:
        """Idempotent per run (session_id, created_at_ms): a rewrite replaces, never duplicates."""
        ...

    async def list_summaries(
        self,
        *,
        user_id: str | None = None,
        status: SessionStatus | None = None,
        start_time_ms: int | None = None,
        end_time_ms: int | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
        page_token: str | None = None,
    ) -> Page[SummaryRecord]:
        """Runs started in [start_time_ms, end_time_ms), newest first."""
        ...

    # equity points (PnL history) --------------------------------------------------------------------
    async def append_equity_points(self, points: Sequence[EquityPointRecord]) -> None:
        """Store the points; one already stored (same session_id, run_id, point_id) is kept as is."""
        ...

    async def list_equity_points(
        self,
        session_id: str,
        run_id: str,
        *,
        start_ms: int = 0,
        end_ms: int | None = None,
        after: tuple[int, str] | None = None,
        limit: int = 500,
    ) -> list[EquityPointRecord]:
        """The run's points with start_ms <= timestamp_ms < end_ms, after the (timestamp_ms,
        point_id) key `after`, in that key's order, at most `limit`."""
        ...

    # nonces ---------------------------------------------------------------------------------------
    async def consume_nonce(self, user_id: str, nonce: str, *, expires_at_ms: int, now_ms: int) -> bool:
        """True the first time a live nonce is used; False on replay."""
        ...

    # accounts and rate limits ---------------------------------------------------------------------
    async def upsert_account(self, record: AccountRecord) -> AccountRecord:
        """Insert or replace the user's account; returns it as stored (created_at_ms of the first)."""
        ...

    async def get_account(self, user_id: str) -> AccountRecord | None: ...

    async def hit_rate_limit(self, key: str, *, limit: int, window_ms: int, now_ms: int) -> RateDecision:
        """Count one hit of `key` in the current window; allowed while the count is <= limit."""
        ...

    # session keys and their nonce batches -----------------------------------------------------------
    async def create_session_key(self, record: SessionKeyRecord) -> bool:
        """Store a new key; False (nothing written) if a key with its key_id exists."""
        ...

    async def get_session_key(self, key_id: str) -> SessionKeyRecord | None: ...

    async def revoke_session_keys(self, user_id: str, *, key_id: str | None, now_ms: int) -> int:
        """Revoke the user's key `key_id` (None: all the user's keys) that are neither revoked nor
        expired at now_ms; returns how many this call revoked."""
        ...

    async def append_nonce_batch(self, batch: NonceBatch) -> None:
        """Store the batch (a batch_id already stored is left as is); purges expired batches."""
        ...

    async def list_nonce_batches(
        self, *, written_since_ms: int, now_ms: int, exclude_instance: str
    ) -> list[NonceBatch]:
        """Unexpired batches written at or after written_since_ms by other instances, oldest first."""
        ...

    # leases ---------------------------------------------------------------------------------------
    async def acquire_lease(self, session_id: str, owner: str, *, ttl_ms: int, now_ms: int) -> Lease | None:
        """Take (or extend, for the same owner) the lease; None while another owner holds a live one."""
        ...

    async def renew_lease(self, session_id: str, owner: str, *, ttl_ms: int, now_ms: int) -> Lease | None:
        """Extend a lease this owner still holds; None if it was lost or released."""
        ...

    async def release_lease(self, session_id: str, owner: str) -> bool: ...

    async def get_lease(self, session_id: str) -> Lease | None: ...

    # lifecycle ------------------------------------------------------------------------------------
    async def health(self) -> HealthStatus:
        """A cheap round trip to the backend, for /health/ready. Never raises."""
        ...

    async def close(self) -> None: ...
