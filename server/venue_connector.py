"""Connects the default account's exchange in the background: the venue being slow or down never
stops the service.

`serve` listens before the venue answers. The connector starts the exchange (for OrderlyExchange:
the REST symbol catalog, then the private stream's first handshake, bounded by its connect timeout)
and, while that fails, retries with capped exponential backoff and full jitter for as long as the
service runs. Once connected it runs `on_connected` once (the grid service's start: the stored
sessions resume), and only then is the exchange ready. Until then the calls that need the exchange
are refused by `require_ready` with EXCHANGE_UNAVAILABLE (gRPC UNAVAILABLE, HTTP 503) and a RetryInfo,
and the readiness checks report `detail()`.

After the first connection the adapter keeps itself connected (its streams reconnect with backoff;
readiness follows the private stream). A user's own account is opened by the exchange pool when a
session first needs it; a stored session whose account fails to open is held and retried
(server.service.held_sessions).

`on_connected` runs once: when it fails, the connector does not run it again (a second resume could
start a second runner for a session) and reports FAILED, never ready, until the service restarts.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import Protocol

import structlog

from server.api.errors import DomainError, ErrorReason
from server.exchange import AuthError
from server.exchange.ws import backoff_ms

log = structlog.get_logger(__name__)

OnConnected = Callable[[], Awaitable[None]]


class Startable(Protocol):
    """What the connector needs of an exchange (server.exchange.Exchange has it)."""

    async def start(self) -> None:
        """Connect, or raise having cleaned up after itself (so it can be called again)."""


def monotonic_ms() -> int:
    return time.monotonic_ns() // 1_000_000


class VenueState(StrEnum):
    CONNECTING = "connecting"  # attempts to start the exchange, with backoff between them
    RESUMING = "resuming"  # connected; `on_connected` (the stored sessions' resume) is running
    READY = "ready"
    FAILED = "failed"  # connected, but `on_connected` raised (logged): not ready until a restart
    CLOSED = "closed"


class VenueConnector:
    def __init__(
        self,
        exchange: Startable,
        on_connected: OnConnected,
        *,
        retry_base_ms: int = 1_000,
        retry_max_ms: int = 30_000,
        on_ready: OnConnected | None = None,
        rng: random.Random | None = None,
        clock_ms: Callable[[], int] = monotonic_ms,
    ) -> None:
        """`on_connected` runs once, when `exchange.start()` first succeeds; `on_ready` is awaited
        once the exchange is ready (e.g. to re-evaluate readiness at once)."""
        if retry_base_ms <= 0 or retry_max_ms < retry_base_ms:
            raise ValueError("retry_base_ms must be positive and retry_max_ms at least retry_base_ms")
        self._exchange = exchange
        self._on_connected = on_connected
        self._on_ready = on_ready
        self._retry_base_ms = retry_base_ms
        self._retry_max_ms = retry_max_ms
        self._rng = rng or random.Random()
        self._clock_ms = clock_ms
        self._state = VenueState.CONNECTING
        self._settled = asyncio.Event()  # READY, FAILED or CLOSED
        self._task: asyncio.Task[None] | None = None
        self.attempts = 0  # connection attempts begun
        self.last_error = ""  # why the last attempt failed
        self._next_attempt_ms: int | None = None  # while waiting between attempts

    @property
    def state(self) -> VenueState:
        return self._state

    @property
    def ready(self) -> bool:
        return self._state is VenueState.READY

    def start(self) -> None:
        if self._task is None and self._state is VenueState.CONNECTING:
            self._task = asyncio.create_task(self._run(), name="venue-connector")

    async def wait_ready(self, timeout_s: float) -> bool:
        """Wait up to `timeout_s` for the exchange to be ready; True when it is."""
        if timeout_s > 0 and not self._settled.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._settled.wait(), timeout_s)
        return self.ready

    async def close(self) -> None:
        """Stop connecting (an attempt under way is cancelled, and the exchange closes itself)."""
        self._state = VenueState.CLOSED
        self._settled.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    # --- what callers see -------------------------------------------------------------------------

    def detail(self) -> str:
        """The state in words, for the readiness checks (never a secret)."""
        if self._state is VenueState.CONNECTING:
            return f"not connected: {self._connecting()}"
        if self._state is VenueState.RESUMING:
            return "connected; resuming the stored sessions"
        if self._state is VenueState.READY:
            return "connected"
        if self._state is VenueState.FAILED:
            return "connected, but resuming the stored sessions failed (see the log): restart the service"
        return "shutting down"

    def _connecting(self) -> str:
        if not self.last_error:
            return f"attempt {self.attempts or 1} under way"
        failed = self.attempts if self._next_attempt_ms is not None else self.attempts - 1
        text = f"attempt {failed} failed: {self.last_error}; retrying"
        if self._next_attempt_ms is not None:
            return f"{text} in {max(0, self._next_attempt_ms - self._clock_ms())} ms"
        return f"{text} (attempt {self.attempts} under way)"

    def unavailable_error(self) -> DomainError | None:
        """The answer to a call that needs the exchange while it is not ready (None: it is)."""
        state = self._state
        if state is VenueState.READY:
            return None
        if state is VenueState.CLOSED:
            return DomainError(ErrorReason.SHUTTING_DOWN, "the server is shutting down; retry shortly")
        if state is VenueState.CONNECTING:
            message = f"the exchange is not connected: {self._connecting()}"
            retry_after_ms = self._retry_base_ms
            if self._next_attempt_ms is not None:
                retry_after_ms = max(retry_after_ms, self._next_attempt_ms - self._clock_ms())
        elif state is VenueState.RESUMING:
            message = "the exchange connected and the stored sessions are resuming; retry shortly"
            retry_after_ms = self._retry_base_ms
        else:
            message = f"the exchange is not ready: {self.detail()}"
            retry_after_ms = self._retry_max_ms
        return DomainError(
            ErrorReason.EXCHANGE_UNAVAILABLE,
            message,
            metadata={"exchange_state": state.value},
            retry_after_ms=retry_after_ms,
        )

    def require_ready(self) -> None:
        """Raise `unavailable_error()` unless the exchange is ready (the gate of the calls that need
        it: StartGrid, StopGrid, PreviewGrid)."""
        error = self.unavailable_error()
        if error is not None:
            raise error

    # --- the background task ----------------------------------------------------------------------

    async def _run(self) -> None:
        await self._connect()
        self._state = VenueState.RESUMING
        try:
            await self._on_connected()
        except Exception:
            log.exception("exchange_resume_failed")
            self._state = VenueState.FAILED
            self._settled.set()
            return
        self._state = VenueState.READY
        log.info("exchange_ready", attempts=self.attempts)
        if self._on_ready is not None:
            try:
                await self._on_ready()
            except Exception:
                log.exception("exchange_on_ready_failed")
        self._settled.set()  # after `on_ready`: a caller of wait_ready sees its effects

    async def _connect(self) -> None:
        while True:
            self.attempts += 1
            self._next_attempt_ms = None
            try:
                await self._exchange.start()
            except Exception as exc:  # whatever the venue did, the service keeps running and retrying
                self.last_error = f"{type(exc).__name__}: {exc}"
                delay_ms = backoff_ms(self.attempts - 1, self._retry_base_ms, self._retry_max_ms, self._rng)
                self._next_attempt_ms = self._clock_ms() + delay_ms
                log.warning(
                    "exchange_connect_failed",
                    attempt=self.attempts,
                    error=self.last_error,
                    retry_in_ms=delay_ms,
                    auth_refused=isinstance(exc, AuthError),
                )
                await asyncio.sleep(delay_ms / 1000)  # backoff between attempts, not synchronisation
                continue
            self._next_attempt_ms = None
            log.info("exchange_connected", attempts=self.attempts)
            return
