"""Session-key nonces: refused in this process at once from memory, persisted in batches.

A wallet-signed call consumes its nonce in the store before it is served (one durable write per
call). A session-key read cannot afford that (issue 16: the commit and the nonce write were a
quarter of GetGrid's time), so this ledger keeps the nonces of the time window in memory and
writes them to the store in batches. The exact guarantee, for one store shared by N processes:

1. Same process: a nonce is refused from the moment the first use was accepted (memory).
2. Restart: every process refuses session-key timestamps older than its own start
   (`not_before_ms`), so no nonce accepted by an earlier process (whether or not its batch was
   written before a crash) can be used again on it.
3. Other processes: each writes its accepted nonces every `flush_interval_ms` (or as soon as
   `flush_max` are pending) and reads the others' batches in the same tick (written at or after
   its last read minus `overlap_ms`, which absorbs clock differences between instances and write
   latency up to that much). A nonce accepted by process A is refused by process B from at most
   about 2 x flush_interval_ms + the store's latency later (A's flush, then B's next read).
   Before that, or if A crashed before flushing it (the calls of its last flush interval), B
   accepts that nonce once more while its timestamp is in the window. This hole applies only to
   read-scope calls: trade-scope calls consume their nonce in the store synchronously.

Memory is bounded by the window: a nonce is forgotten once its timestamp can no longer be
accepted. Tests drive flushing with `flush()` and `sync()`; no timer is needed for correctness.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import uuid
from collections.abc import Callable
from typing import Protocol

from server.logs import get_logger
from server.store.errors import StoreError
from server.store.key_records import NonceBatch, UsedNonce

DEFAULT_FLUSH_INTERVAL_MS = 50
DEFAULT_FLUSH_MAX = 2000
DEFAULT_OVERLAP_MS = 2000

_log = get_logger(__name__)


class NonceBatchStore(Protocol):
    async def append_nonce_batch(self, batch: NonceBatch) -> None: ...

    async def list_nonce_batches(
        self, *, written_since_ms: int, now_ms: int, exclude_instance: str
    ) -> list[NonceBatch]: ...


class SessionNonceLedger:
    def __init__(
        self,
        store: NonceBatchStore,
        *,
        clock_ms: Callable[[], int],
        flush_interval_ms: int = DEFAULT_FLUSH_INTERVAL_MS,
        flush_max: int = DEFAULT_FLUSH_MAX,
        overlap_ms: int = DEFAULT_OVERLAP_MS,
        instance: str | None = None,
    ) -> None:
        self._store = store
        self._clock_ms = clock_ms
        self._flush_interval_s = flush_interval_ms / 1000
        self._flush_max = flush_max
        self._overlap_ms = overlap_ms
        self.instance = instance or uuid.uuid4().hex
        self.not_before_ms = clock_ms()
        self._used: dict[tuple[str, str], int] = {}  # (key_id, nonce) -> expires_at_ms
        self._expiries: list[tuple[int, str, str]] = []  # min-heap of the same, for forgetting
        self._pending: list[UsedNonce] = []
        self._batch_numbers = itertools.count(1)
        self._read_since_ms = self.not_before_ms - overlap_ms
        self._seen_batches: dict[str, int] = {}  # batch ids read in the overlap -> written_at_ms
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._closed = False

    async def consume(self, key_id: str, nonce: str, *, expires_at_ms: int) -> bool:
        """True the first time (key_id, nonce) is used in this process (or read from another);
        False on replay. A True is queued for the next batch. The first call reads the other
        processes' batches before it answers; from then on a background task keeps reading."""
        if self._task is None and not self._closed:
            await self.sync()
            self._ensure_task()
        self._forget_expired(self._clock_ms())
        if not self._remember(key_id, nonce, expires_at_ms):
            return False
        self._pending.append(UsedNonce(key_id, nonce, expires_at_ms))
        if len(self._pending) >= self._flush_max:
            self._wake.set()
        return True

    async def flush(self) -> None:
        """Write the pending nonces as one batch. On a store failure they stay pending (retried)."""
        if not self._pending:
            return
        nonces, self._pending = tuple(self._pending), []
        batch = NonceBatch(
            f"{self.instance}-{next(self._batch_numbers)}", self.instance, self._clock_ms(), nonces
        )
        try:
            await self._store.append_nonce_batch(batch)
        except StoreError:
            self._pending[:0] = nonces  # the same nonces in the next batch; memory still refuses them
            raise

    async def sync(self) -> None:
        """Read the batches other processes wrote since the last read (minus the overlap)."""
        now_ms = self._clock_ms()
        since = self._read_since_ms
        batches = await self._store.list_nonce_batches(
            written_since_ms=since, now_ms=now_ms, exclude_instance=self.instance
        )
        for batch in batches:
            if batch.batch_id in self._seen_batches:
                continue
            self._seen_batches[batch.batch_id] = batch.written_at_ms
            for used in batch.nonces:
                self._remember(used.key_id, used.nonce, used.expires_at_ms)
        self._read_since_ms = now_ms - self._overlap_ms
        for batch_id, written in list(self._seen_batches.items()):
            if written < self._read_since_ms:
                del self._seen_batches[batch_id]

    async def close(self) -> None:
        """Stop the background task and write what is pending (best effort)."""
        self._closed = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        with contextlib.suppress(StoreError):
            await self.flush()

    @property
    def remembered(self) -> int:
        return len(self._used)

    def _remember(self, key_id: str, nonce: str, expires_at_ms: int) -> bool:
        entry = (key_id, nonce)
        if entry in self._used:
            return False
        self._used[entry] = expires_at_ms
        heapq.heappush(self._expiries, (expires_at_ms, key_id, nonce))
        return True

    def _forget_expired(self, now_ms: int) -> None:
        while self._expiries and self._expiries[0][0] <= now_ms:
            _, key_id, nonce = heapq.heappop(self._expiries)
            self._used.pop((key_id, nonce), None)

    def _ensure_task(self) -> None:
        if self._task is None and not self._closed:
            self._task = asyncio.create_task(self._run(), name="session-nonce-ledger")

    async def _run(self) -> None:
        # Flushes and reads every interval (or at once when flush_max nonces are pending); a store
        # failure is logged and retried at the next tick, the nonces staying refused from memory.
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._flush_interval_s)
            self._wake.clear()
            try:
                await self.flush()
                await self.sync()
            except StoreError as exc:
                _log.warning("session_nonce_batch_failed", error=type(exc).__name__)
