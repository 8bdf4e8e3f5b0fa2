"""Group commit for the SQLite backend: one transaction, so one fsync, for every write pending at once.

With synchronous=FULL each COMMIT waits for an fsync (about a millisecond), so a hundred sessions
filling at once would queue a hundred fsyncs one after the other. Instead, writes are queued and one
writer task hands ALL the writes pending at that moment to a dedicated thread that owns the write
connection, which runs them inside ONE transaction:

- each write runs inside its own SAVEPOINT: a write that raises (VersionConflict, a unique-constraint
  duplicate, ...) is rolled back alone and its error is reported to its caller only;
- a caller's future resolves only after the COMMIT that holds its write returned, i.e. once the write
  is durable; if the COMMIT fails, every write of that transaction fails with the COMMIT's error;
- if SQLite itself abandons the transaction (it does so on disk-full and I/O errors), the writes done
  in it so far fail with that error too, and the rest of the batch goes on in a new transaction;
- a lone write is not delayed: the writer starts at once, and what arrives while a batch is being
  written forms the next batch.

A write is a plain function of the sqlite3 connection, run in the writer thread: the whole batch is
one thread hop, not one per statement.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")
Write = Callable[[sqlite3.Connection], Any]


@dataclass(frozen=True, slots=True)
class Outcome:
    ok: bool
    value: Any  # the write's result, or the exception it failed with


@dataclass(frozen=True, slots=True)
class _Queued:
    write: Write
    future: asyncio.Future[Any]


class ClosedStore(sqlite3.ProgrammingError):
    """A write after close()."""


class GroupCommitWriter:
    """Owns the write connection; every write goes through `run`."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-writer")
        self._pending: list[_Queued] = []
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self.commits = 0  # transactions committed (for tests and benchmarks)
        self.writes = 0  # writes that ran (committed or rolled back to their savepoint)

    async def run(self, write: Callable[[sqlite3.Connection], T]) -> T:
        """Run `write` in the next group transaction; return its result once that is durable."""
        if self._closed:
            raise ClosedStore("the SQLite store is closed")
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._pending.append(_Queued(write, future))
        if self._task is None:
            self._task = asyncio.create_task(self._drain())
        return await future

    async def call(self, function: Callable[[sqlite3.Connection], T]) -> T:
        """Run `function` in the writer thread outside any batch (start-up, shutdown)."""
        return await asyncio.get_running_loop().run_in_executor(self._thread, function, self._connection)

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        batch: list[_Queued] = []
        try:
            while self._pending:
                batch, self._pending = [q for q in self._pending if not q.future.cancelled()], []
                if not batch:
                    continue
                writes = [queued.write for queued in batch]
                outcomes = await loop.run_in_executor(self._thread, self._run_batch, writes)
                for queued, outcome in zip(batch, outcomes, strict=True):
                    if queued.future.done():  # the caller was cancelled meanwhile
                        continue
                    if outcome.ok:
                        queued.future.set_result(outcome.value)
                    else:
                        queued.future.set_exception(outcome.value)
                batch = []
        finally:
            # Only on a bug or the task being cancelled (loop shutdown): nobody may wait forever.
            # (A batch already in the thread may still commit: a cancelled caller cannot know.)
            for queued in batch + self._pending:
                if not queued.future.done():
                    queued.future.cancel()
            self._pending = []
            self._task = None

    def _run_batch(self, writes: list[Write]) -> list[Outcome]:
        """In the writer thread: every write, in as few transactions as SQLite allows."""
        outcomes: list[Outcome] = []
        while len(outcomes) < len(writes):
            outcomes += self._run_transaction(writes[len(outcomes) :])
        return outcomes

    def _run_transaction(self, writes: list[Write]) -> list[Outcome]:
        """Runs writes from the front of `writes` in one transaction; returns the outcomes of those it
        got to (at least one)."""
        db = self._connection
        try:
            db.execute("BEGIN IMMEDIATE")  # waits up to busy_timeout for another process's lock
        except sqlite3.Error as exc:
            return [Outcome(False, exc)] * len(writes)
        outcomes: list[Outcome] = []
        for write in writes:
            self.writes += 1
            try:
                db.execute("SAVEPOINT write")
                result = write(db)
                db.execute("RELEASE write")
                outcomes.append(Outcome(True, result))
            except Exception as exc:
                if not db.in_transaction:  # SQLite rolled the whole transaction back
                    return [*_fail_succeeded(outcomes, exc), Outcome(False, exc)]
                try:
                    db.execute("ROLLBACK TO write")
                    db.execute("RELEASE write")
                except sqlite3.Error as rollback_error:
                    _rollback(db)
                    return [*_fail_succeeded(outcomes, rollback_error), Outcome(False, exc)]
                outcomes.append(Outcome(False, exc))
        try:
            db.execute("COMMIT")
        except sqlite3.Error as exc:
            _rollback(db)
            return _fail_succeeded(outcomes, exc)
        self.commits += 1
        return outcomes

    async def close(self) -> None:
        """Let the queued writes finish, then close the connection and stop the thread. Idempotent."""
        if self._closed:
            return
        self._closed = True
        while self._task is not None:
            await asyncio.shield(self._task)
        await self.call(lambda db: db.close())
        self._thread.shutdown(wait=True)


def _fail_succeeded(outcomes: list[Outcome], error: Exception) -> list[Outcome]:
    """The writes of a transaction that did not commit: whatever they returned, they did not happen."""
    return [outcome if not outcome.ok else Outcome(False, error) for outcome in outcomes]


def _rollback(db: sqlite3.Connection) -> None:
    if db.in_transaction:
        # the transaction is gone either way; the next BEGIN starts clean
        with contextlib.suppress(sqlite3.Error):
            db.execute("ROLLBACK")
