"""Unfinished sessions this process does not run, and why: their records stay untouched in the store.

- Deferred: the venue failed while opening the session's account (a transient ExchangeError, such as
  its private stream not connecting in time). The session's orders keep resting on the exchange, so
  it is retried in the background with capped exponential backoff and full jitter until it opens
  (then it resumes) or the service closes.
- Not resumed: its account is not this process's to open (another configuration's default account,
  or a registration this server cannot decrypt). It resumes on a start with the right configuration.
StopGrid on a held session is refused (`unavailable_error`): it would have to trade on an account
this process cannot reach.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable

import structlog

from server.api.errors import DomainError, ErrorReason
from server.exchange import ExchangeError
from server.exchange.ws import backoff_ms
from server.service.exchange_pool import AccountVenue
from server.service.session_accounts import AccountNotOnThisServer, AccountUnavailable
from server.store import SessionRecord

log = structlog.get_logger(__name__)

OpenAccount = Callable[[SessionRecord], Awaitable[AccountVenue]]
Resume = Callable[[SessionRecord, AccountVenue], Awaitable[None]]
Fail = Callable[[SessionRecord, str], Awaitable[None]]


class HeldSessions:
    def __init__(
        self,
        open_account: OpenAccount,
        resume: Resume,
        fail: Fail,
        *,
        retry_base_ms: int = 1_000,
        retry_max_ms: int = 60_000,
        rng: random.Random | None = None,
    ) -> None:
        """`open_account` is SessionAccounts.of; `resume` launches and resumes a runner; `fail`
        records the session FAILED (its owner's registration changed meanwhile). Retry n waits a
        random time in [retry_base_ms / 2, min(retry_max_ms, retry_base_ms * 2^n)]."""
        self._open = open_account
        self._resume = resume
        self._fail = fail
        self._retry_base_ms = retry_base_ms
        self._retry_max_ms = retry_max_ms
        self._rng = rng or random.Random()
        self._reasons: dict[str, str] = {}  # session_id -> why it does not run here
        self._records: dict[str, SessionRecord] = {}
        self._retries: dict[str, asyncio.Task[None]] = {}

    def reason(self, session_id: str) -> str | None:
        """Why the session does not run here, or None when it is not held."""
        return self._reasons.get(session_id)

    @property
    def session_ids(self) -> tuple[str, ...]:
        return tuple(self._reasons)

    @property
    def records(self) -> tuple[SessionRecord, ...]:
        """The held sessions as stored: still the owners of their account and symbol."""
        return tuple(self._records.values())

    def hold(self, record: SessionRecord, reason: str) -> None:
        """Leave the session unfinished: its account is not this process's to open."""
        log.error("session_not_resumed", session_id=record.session_id, reason=reason)
        self._reasons[record.session_id] = reason
        self._records[record.session_id] = record

    def defer(self, record: SessionRecord, error: ExchangeError) -> None:
        """Retry opening the session's account in the background; resume it once it opens."""
        log.error("session_resume_deferred", session_id=record.session_id, error=str(error))
        self._reasons[record.session_id] = f"its account could not be opened yet ({error}); retrying"
        self._records[record.session_id] = record
        self._retries[record.session_id] = asyncio.create_task(
            self._retry(record), name=f"resume-retry-{record.session_id}"
        )

    async def _retry(self, record: SessionRecord) -> None:
        attempt = 0
        while True:
            delay_ms = backoff_ms(attempt, self._retry_base_ms, self._retry_max_ms, self._rng)
            attempt += 1
            await asyncio.sleep(delay_ms / 1000)  # backoff between attempts, not synchronisation
            try:
                venue = await self._open(record)
            except ExchangeError as exc:
                log.warning("session_resume_retry_failed", session_id=record.session_id, error=str(exc))
                continue
            except AccountNotOnThisServer as exc:
                self._retries.pop(record.session_id, None)
                self.hold(record, str(exc))
                return
            except AccountUnavailable as exc:
                self._forget(record.session_id)
                await self._fail(record, f"cannot resume: {exc}")
                return
            except Exception:  # unexpected: keep the session held and retrying, visibly
                log.exception("session_resume_retry_failed", session_id=record.session_id)
                continue
            self._forget(record.session_id)
            await self._resume(record, venue)
            return

    def _forget(self, session_id: str) -> None:
        self._reasons.pop(session_id, None)
        self._records.pop(session_id, None)
        self._retries.pop(session_id, None)

    def unavailable_error(self, session_id: str) -> DomainError | None:
        """The answer to a call that needs the held session running here (None: not held)."""
        reason = self._reasons.get(session_id)
        if reason is None:
            return None
        return DomainError(
            ErrorReason.EXCHANGE_UNAVAILABLE,
            f"session {session_id} is not running on this server: {reason}",
            metadata={"session_id": session_id},
        )

    async def close(self) -> None:
        """Stop retrying (the sessions stay unfinished in the store)."""
        tasks = tuple(self._retries.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._retries.clear()
