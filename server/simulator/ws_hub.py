"""Public and private WebSocket streams: subscriptions, JSON heartbeat, auth, push fan-out, faults."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from server.simulator import jsonenc
from server.simulator.accounts import AccountBook
from server.simulator.catalog import CATALOG
from server.simulator.clock import Clock
from server.simulator.config import SimulatorConfig
from server.simulator.faults import FaultInjector
from server.simulator.matching import Push
from server.simulator.signing import SignatureFormatError, decode_orderly_key, decode_signature, verify

PRIVATE_TOPICS = frozenset(
    {
        "executionreport",
        "algoexecutionreport",
        "algoexecutionreportv2",
        "position",
        "balance",
        "account",
        "liquidationsaccount",
        "liquidatorliquidations",
        "settle",
        "wallet",
        "assetconvert",
        "notifications",
    }
)
MAX_TOPICS = 100


def _socket() -> web.WebSocketResponse:
    # Orderly does not negotiate permessage-deflate; a short close timeout keeps drops prompt.
    return web.WebSocketResponse(compress=False, timeout=1.0)


@dataclass(eq=False)
class Connection:
    ws: web.WebSocketResponse
    private: bool
    path_id: str
    authed: bool = False
    topics: dict[str, dict[str, Any]] = field(default_factory=dict)
    sent: int = 0
    last_heard: float = field(default_factory=time.monotonic)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class WsHub:
    def __init__(
        self, config: SimulatorConfig, clock: Clock, accounts: AccountBook, faults: FaultInjector
    ) -> None:
        self.config = config
        self.clock = clock
        self.accounts = accounts
        self.faults = faults
        self.connections: set[Connection] = set()
        self.current_marks: dict[str, Any] = {}

    # ---- HTTP handlers -------------------------------------------------------------------------

    async def public_stream(self, request: web.Request) -> web.StreamResponse:
        return await self._serve(request, Connection(_socket(), False, request.match_info["id"]))

    async def private_stream(self, request: web.Request) -> web.StreamResponse:
        conn = Connection(_socket(), True, request.match_info["account_id"])
        return await self._serve(request, conn)

    async def _serve(self, request: web.Request, conn: Connection) -> web.StreamResponse:
        await conn.ws.prepare(request)
        self.connections.add(conn)
        heartbeat = asyncio.create_task(self._heartbeat(conn))
        try:
            query = request.query
            if conn.private and "orderly_key" in query:
                auth = {
                    "orderly_key": query.get("orderly_key"),
                    "sign": query.get("sign"),
                    "timestamp": query.get("timestamp"),
                }
                if not self._auth_ok(conn, auth):
                    await self._send(
                        conn,
                        {
                            "event": "auth",
                            "success": False,
                            "ts": self.clock.now_ms(),
                            "errorMsg": "auth failed",
                        },
                    )
                    return conn.ws
                conn.authed = True
            async for message in conn.ws:
                if message.type != WSMsgType.TEXT:
                    continue
                await self._on_text(conn, message.data)
                if conn.ws.closed:
                    break
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
            self.connections.discard(conn)
            await conn.ws.close()
        return conn.ws

    # ---- inbound frames ------------------------------------------------------------------------

    async def _on_text(self, conn: Connection, text: str) -> None:
        now = self.clock.now_ms()
        try:
            frame = json.loads(text)
        except ValueError:
            frame = None
        if not isinstance(frame, dict):
            await self._send(conn, {"success": False, "ts": now, "errorMsg": "invalid message"})
            return
        event = frame.get("event")
        ident = {"id": str(frame["id"])} if frame.get("id") is not None else {}
        if event == "ping":
            conn.last_heard = time.monotonic()
            await self._send(conn, {"event": "pong", "ts": now})
        elif event == "pong":
            conn.last_heard = time.monotonic()
        elif event == "auth" and conn.private:
            params = frame.get("params")
            ok = isinstance(params, dict) and self._auth_ok(conn, params)
            reply: dict[str, Any] = {**ident, "event": "auth", "success": ok, "ts": now}
            if not ok:
                reply["errorMsg"] = "auth failed"
            await self._send(conn, reply)
            if ok:
                conn.authed = True
            else:
                await conn.ws.close()
        elif event in ("subscribe", "unsubscribe") and isinstance(frame.get("topic"), str):
            await self._on_subscription(conn, event, frame["topic"], frame.get("params"), ident, now)
        elif event == "request":
            await self._on_request(conn, frame.get("params"), ident, now)
        else:
            await self._send(conn, {"success": False, "ts": now, "errorMsg": "invalid message"})

    async def _on_subscription(
        self, conn: Connection, event: str, topic: str, params: Any, ident: dict[str, str], now: int
    ) -> None:
        if event == "unsubscribe":
            conn.topics.pop(topic, None)
            await self._send(conn, {**ident, "event": "unsubscribe", "success": True, "ts": now})
            return
        error = self._topic_error(conn, topic)
        if error == "Auth is needed.":
            await self._send(
                conn, {**ident, "event": "subscribe", "success": False, "ts": now, "errorMsg": error}
            )
            return
        if error:
            await self._send(conn, {**ident, "success": False, "ts": now, "errorMsg": error})
            return
        conn.topics[topic] = params if isinstance(params, dict) else {}
        await self._send(conn, {**ident, "event": "subscribe", "success": True, "ts": now})
        symbol = topic.split("@", 1)[0]
        if topic.endswith("@markprice") and symbol in self.current_marks:
            # A first value right away, so subscribers need not wait for the periodic push.
            await self._send(
                conn, self._frame(topic, {"symbol": symbol, "price": self.current_marks[symbol]})
            )

    def _topic_error(self, conn: Connection, topic: str) -> str | None:
        if topic in PRIVATE_TOPICS:
            if not conn.private:
                return f"invalid topic {topic}"
            return None if conn.authed else "Auth is needed."
        if topic not in conn.topics and len(conn.topics) >= MAX_TOPICS:
            return "your subscribed topics have reached limit "
        if "@" in topic:
            symbol, suffix = topic.split("@", 1)
            if suffix == "indexprice":
                base = symbol.removeprefix("SPOT_")
                known = symbol.startswith("SPOT_") and any(s.startswith(f"PERP_{base}") for s in CATALOG)
                return None if known else "invalid index symbol"
            if symbol not in CATALOG:
                return f"invalid symbol {symbol}"
        return None

    async def _on_request(self, conn: Connection, params: Any, ident: dict[str, str], now: int) -> None:
        symbol = params.get("symbol") if isinstance(params, dict) else None
        if symbol not in CATALOG:
            await self._send(
                conn, {**ident, "success": False, "ts": now, "errorMsg": f"invalid symbol {symbol}"}
            )
            return
        book = {"symbol": symbol, "ts": now, "asks": [], "bids": []}  # the simulator has no public book
        await self._send(conn, {**ident, "event": "request", "success": True, "ts": now, "data": book})

    def _auth_ok(self, conn: Connection, params: dict[str, Any]) -> bool:
        key, sign, timestamp = params.get("orderly_key"), params.get("sign"), params.get("timestamp")
        if not isinstance(key, str) or not isinstance(sign, str) or timestamp is None:
            return False
        try:
            timestamp_ms = int(str(timestamp))
            public_key = decode_orderly_key(key)
            signature = decode_signature(sign)
        except (ValueError, SignatureFormatError):
            return False
        account = self.accounts.get(conn.path_id)
        if account is None or key not in account.keys:
            return False
        if not self.clock.accepts(timestamp_ms, self.config.auth_window_ms):
            return False
        return verify(public_key, signature, str(timestamp))

    # ---- outbound ------------------------------------------------------------------------------

    def _frame(self, topic: str, data: Any) -> dict[str, Any]:
        return {"topic": topic, "ts": self.clock.now_ms(), "data": data}

    async def publish(self, pushes: list[Push]) -> None:
        """Writes every push to its subscribers before returning (callers answer only afterwards)."""
        for push in pushes:
            if push.topic.endswith("@markprice"):
                self.current_marks[push.topic.split("@", 1)[0]] = push.data["price"]
            if push.account_id is not None and push.topic == "executionreport" and self.faults.lose_push():
                continue
            frame = self._frame(push.topic, push.data)
            for conn in list(self.connections):
                if self._wants(conn, push):
                    await self._send(conn, frame)

    def _wants(self, conn: Connection, push: Push) -> bool:
        params = conn.topics.get(push.topic)
        if params is None:
            return False
        if push.account_id is None:
            return True
        if not (conn.private and conn.authed and conn.path_id == push.account_id):
            return False
        symbols = params.get("symbol")
        return not (isinstance(symbols, str) and symbols and push.symbol not in symbols.split(","))

    async def _send(self, conn: Connection, payload: dict[str, Any]) -> None:
        if self.faults.config.ws_stalled or conn.ws.closed:
            return
        async with conn.lock:
            try:
                await conn.ws.send_str(jsonenc.dumps(payload))
            except (ConnectionError, RuntimeError):
                return
            conn.sent += 1
            drop_after = self.faults.config.ws_drop_every_n_messages
        if drop_after and conn.sent >= drop_after:
            await conn.ws.close()

    async def drop_all(self) -> int:
        connections = list(self.connections)
        await asyncio.gather(
            *(c.ws.close(code=1001, message=b"dropped by the simulator") for c in connections)
        )
        return len(connections)

    async def _heartbeat(self, conn: Connection) -> None:
        """JSON pings every ws_ping_interval_ms; closes after ws_idle_timeout_ms without a pong or ping."""
        interval_s = self.config.ws_ping_interval_ms / 1000
        idle_s = self.config.ws_idle_timeout_ms / 1000
        next_ping = time.monotonic() + interval_s
        while not conn.ws.closed:
            deadline = conn.last_heard + idle_s
            await asyncio.sleep(max(0.0, min(next_ping, deadline) - time.monotonic()))
            now = time.monotonic()
            if now >= conn.last_heard + idle_s:
                await conn.ws.close(code=1000, message=b"idle")
                return
            if now >= next_ping:
                await self._send(conn, {"event": "ping", "ts": self.clock.now_ms()})
                next_ping = now + interval_s

    async def markprice_loop(self, marks: dict[str, Any]) -> None:
        """Periodic `<symbol>@markprice` pushes to subscribers, as Orderly's 1 s cadence."""
        interval_s = self.config.markprice_push_interval_ms / 1000
        while True:
            await asyncio.sleep(interval_s)
            subscribed = {
                t.split("@", 1)[0] for c in self.connections for t in c.topics if t.endswith("@markprice")
            }
            pushes = [
                Push(f"{s}@markprice", {"symbol": s, "price": marks[s]}, symbol=s)
                for s in sorted(subscribed)
                if s in marks
            ]
            await self.publish(pushes)
