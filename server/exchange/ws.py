"""One Orderly WebSocket kept alive: handshake, heartbeat, silence detection, reconnect, resubscribe.

Orderly's heartbeat is JSON (`{"event":"ping"}` / `{"event":"pong"}`), not RFC 6455 ping frames. After
every (re)connect the stream authenticates (private), resubscribes, waits for the subscribe acks and
only then calls `on_connected`, so the REST reconciliation it triggers cannot miss a push that arrives
between the snapshot and the subscription.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
from collections.abc import Callable, Coroutine, Mapping
from decimal import Decimal
from typing import Any

import aiohttp
import structlog

from server.exchange.clock import wall_clock_ms
from server.exchange.errors import AuthError

log = structlog.get_logger(__name__)

Frame = Mapping[str, Any]


class _Reconnect(Exception):
    """Leave the current connection and open a new one."""


def backoff_ms(attempt: int, base_ms: int, max_ms: int, rng: random.Random) -> int:
    """Full-jitter exponential backoff: uniform in [base/2, min(max, base * 2^attempt)]."""
    ceiling = min(max_ms, base_ms * (2 ** min(attempt, 20)))
    return int(rng.uniform(base_ms / 2, max(ceiling, base_ms / 2)))


class WsStream:
    def __init__(
        self,
        name: str,
        url: str,
        session: aiohttp.ClientSession,
        on_frame: Callable[[Frame], None],
        *,
        auth_params: Callable[[], dict[str, Any]] | None = None,
        on_connected: Callable[[], Coroutine[Any, Any, None]] | None = None,
        ping_interval_ms: int = 10_000,
        silence_timeout_ms: int = 30_000,
        reconnect_base_ms: int = 250,
        reconnect_max_ms: int = 10_000,
        handshake_timeout_ms: int = 10_000,
        rng: random.Random | None = None,
    ) -> None:
        self.name = name
        self._url = url
        self._session = session
        self._on_frame = on_frame
        self._auth_params = auth_params
        self._on_connected = on_connected
        self._ping_interval_ms = ping_interval_ms
        self._silence_timeout_ms = silence_timeout_ms
        self._reconnect_base_ms = reconnect_base_ms
        self._reconnect_max_ms = reconnect_max_ms
        self._handshake_timeout_ms = handshake_timeout_ms
        self._rng = rng or random.Random()
        self._topics: dict[str, Mapping[str, Any] | None] = {}
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._task: asyncio.Task[None] | None = None
        self._side_tasks: set[asyncio.Task[None]] = set()
        self._closing = False
        self._next_id = 0
        self.connected = asyncio.Event()
        self.auth_failed = asyncio.Event()  # the venue refused our auth frame at least once
        self.connect_count = 0  # successful handshakes, including the first
        self.last_error: str = ""

    # --- public -----------------------------------------------------------------------------------

    def _is_closing(self) -> bool:
        return self._closing

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"ws-{self.name}")

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coroutine, name=f"ws-{self.name}-on-connected")
        self._side_tasks.add(task)
        task.add_done_callback(self._side_tasks.discard)

    async def close(self) -> None:
        self._closing = True
        for task in list(self._side_tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._ws is not None:
            await self._ws.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def subscribe(self, topic: str, params: Mapping[str, Any] | None = None) -> None:
        """Remember the topic (resubscribed on every reconnect) and subscribe now if connected."""
        if topic in self._topics:
            return
        self._topics[topic] = params
        if self._ws is not None and self.connected.is_set():
            with contextlib.suppress(ConnectionError, aiohttp.ClientError):  # resubscribed on reconnect
                await self._send_subscribe(self._ws, topic)

    # --- connection loop --------------------------------------------------------------------------

    async def _run(self) -> None:
        attempt = 0
        while not self._is_closing():
            try:
                async with self._session.ws_connect(self._url, autoping=True, heartbeat=None) as ws:
                    self._ws = ws
                    await self._handshake(ws)
                    attempt = 0
                    self.connect_count += 1
                    self.connected.set()
                    log.info("ws_connected", stream=self.name, connects=self.connect_count)
                    if self._on_connected is not None:
                        # Run beside the pump so pings are answered while the reconciliation runs.
                        self._spawn(self._on_connected())
                    await self._pump(ws)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # whatever broke this connection, the stream must come back
                if isinstance(exc, AuthError):
                    self.auth_failed.set()
                self.last_error = f"{type(exc).__name__}: {exc}"
                if self._is_closing():
                    # Our own shutdown cut it (often as an abnormal 1006 close): expected, no warning.
                    log.info("ws_closed_on_shutdown", stream=self.name, error=self.last_error)
                else:
                    log.warning("ws_disconnected", stream=self.name, error=self.last_error)
            finally:
                self._ws = None
                self.connected.clear()
            if self._is_closing():
                return
            delay_ms = backoff_ms(attempt, self._reconnect_base_ms, self._reconnect_max_ms, self._rng)
            attempt += 1
            await asyncio.sleep(delay_ms / 1000)

    def _new_id(self, kind: str) -> str:
        self._next_id += 1
        return f"{kind}-{self._next_id}"

    async def _send(self, ws: aiohttp.ClientWebSocketResponse, frame: Mapping[str, Any]) -> None:
        await ws.send_str(json.dumps(frame, separators=(",", ":")))

    async def _send_subscribe(self, ws: aiohttp.ClientWebSocketResponse, topic: str) -> str:
        frame: dict[str, Any] = {"id": self._new_id("sub"), "event": "subscribe", "topic": topic}
        if self._topics.get(topic):
            frame["params"] = self._topics[topic]
        await self._send(ws, frame)
        return str(frame["id"])

    async def _handshake(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        """Authenticate (if private), subscribe to every topic and wait for all the acks."""
        deadline = time.monotonic() + self._handshake_timeout_ms / 1000
        if self._auth_params is not None:
            auth_id = self._new_id("auth")
            await self._send(ws, {"id": auth_id, "event": "auth", "params": self._auth_params()})
            reply = await self._await_reply(ws, lambda f: f.get("event") == "auth", deadline)
            if reply.get("success") is not True:
                raise AuthError(f"{self.name}: WebSocket auth failed: {reply.get('errorMsg', '')}")
        pending = {await self._send_subscribe(ws, topic) for topic in list(self._topics)}
        while pending:
            reply = await self._await_reply(ws, lambda f: str(f.get("id")) in pending, deadline)
            pending.discard(str(reply.get("id")))
            if reply.get("success") is not True:
                log.warning("ws_subscribe_failed", stream=self.name, reply=dict(reply))

    async def _await_reply(
        self, ws: aiohttp.ClientWebSocketResponse, match: Callable[[Frame], bool], deadline: float
    ) -> Frame:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _Reconnect(f"{self.name}: handshake timed out")
            frame = await self._receive(ws, remaining)
            if frame is None:
                continue
            if match(frame):
                return frame
            await self._dispatch(ws, frame)

    async def _receive(self, ws: aiohttp.ClientWebSocketResponse, timeout_s: float) -> Frame | None:
        try:
            message = await ws.receive(timeout=timeout_s)
        except TimeoutError:
            return None
        if message.type is aiohttp.WSMsgType.TEXT:
            try:
                frame = json.loads(message.data, parse_float=Decimal)
            except ValueError:
                log.warning("ws_bad_frame", stream=self.name)
                return None
            return frame if isinstance(frame, dict) else None
        if message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.CLOSED):
            raise _Reconnect(f"{self.name}: closed by peer ({ws.close_code})")
        if message.type is aiohttp.WSMsgType.ERROR:
            raise _Reconnect(f"{self.name}: transport error {ws.exception()!r}")
        return None

    async def _pump(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        """Read frames until the connection dies or stays silent too long."""
        last_message_ms = wall_clock_ms()
        while True:
            frame = await self._receive(ws, self._ping_interval_ms / 1000)
            now = wall_clock_ms()
            if frame is None:
                if now - last_message_ms >= self._silence_timeout_ms:
                    raise _Reconnect(f"{self.name}: silent for {now - last_message_ms} ms")
                # Our own ping: the server answers with a pong, which proves the link is alive.
                await self._send(ws, {"event": "ping", "ts": now})
                continue
            last_message_ms = now
            await self._dispatch(ws, frame)

    async def _dispatch(self, ws: aiohttp.ClientWebSocketResponse, frame: Frame) -> None:
        event = frame.get("event")
        if event == "ping":
            await self._send(ws, {"event": "pong", "ts": wall_clock_ms()})
        elif "topic" in frame and "data" in frame:
            try:
                self._on_frame(frame)
            except Exception as exc:  # a bad push must not take the stream down
                log.exception(
                    "ws_frame_handler_failed", stream=self.name, topic=frame.get("topic"), error=str(exc)
                )
        elif frame.get("success") is False:
            log.warning("ws_error_reply", stream=self.name, reply=dict(frame))
