"""A small signed REST and WebSocket client for driving the simulator in tests."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import aiohttp
from yarl import URL

from server.simulator import SimAccount
from server.simulator.signing import sign

Frame = dict[str, Any]


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def reencode(signature: str, encoding: str) -> str:
    if encoding == "std":
        return signature
    url = signature.replace("+", "-").replace("/", "_")
    return url if encoding == "url" else url.rstrip("=")


class RestClient:
    def __init__(self, session: aiohttp.ClientSession, rest_url: str, account: SimAccount) -> None:
        self.session = session
        self.rest_url = rest_url
        self.account = account

    async def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        signed: bool = True,
        timestamp_ms: int | None = None,
        encoding: str = "std",
        headers: dict[str, str] | None = None,
        account: SimAccount | None = None,
        body_text: str | None = None,
    ) -> tuple[int, Frame]:
        """`path` carries its query string exactly as sent and signed."""
        account = account or self.account
        text = body_text if body_text is not None else (json.dumps(body) if body is not None else "")
        request_headers: dict[str, str] = {}
        if signed:
            timestamp = str(timestamp_ms if timestamp_ms is not None else now_ms())
            signature = sign(account.orderly_secret, f"{timestamp}{method}{path}{text}")
            request_headers = {
                "orderly-timestamp": timestamp,
                "orderly-account-id": account.account_id,
                "orderly-key": account.orderly_key,
                "orderly-signature": reencode(signature, encoding),
            }
        request_headers["Content-Type"] = (
            "application/json" if method in ("POST", "PUT") else "application/x-www-form-urlencoded"
        )
        request_headers.update(headers or {})
        url = URL(self.rest_url + path, encoded=True)
        async with self.session.request(method, url, data=text.encode(), headers=request_headers) as response:
            payload = json.loads(await response.text(), parse_float=Decimal)
            return response.status, payload

    async def place(self, **order: Any) -> tuple[int, Frame]:
        return await self.call("POST", "/v1/order", order)


class WsClient:
    """Collects every text frame; answers nothing by itself unless `auto_pong`."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, auto_pong: bool = True) -> None:
        self.ws = ws
        self.auto_pong = auto_pong
        self.frames: asyncio.Queue[Frame] = asyncio.Queue()
        self.closed = asyncio.Event()
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for message in self.ws:
            if message.type == aiohttp.WSMsgType.TEXT:
                frame = json.loads(message.data, parse_float=Decimal)
                if self.auto_pong and frame.get("event") == "ping":
                    await self.ws.send_str(json.dumps({"event": "pong", "ts": now_ms()}))
                await self.frames.put(frame)
        self.closed.set()

    async def send(self, frame: Frame) -> None:
        await self.ws.send_str(json.dumps(frame))

    async def next(self, predicate: Callable[[Frame], bool] = lambda _: True, limit_s: float = 5.0) -> Frame:
        """The next frame matching `predicate` (others are discarded)."""
        async with asyncio.timeout(limit_s):
            while True:
                frame = await self.frames.get()
                if predicate(frame):
                    return frame

    def drain(self) -> list[Frame]:
        frames = []
        while not self.frames.empty():
            frames.append(self.frames.get_nowait())
        return frames

    async def close(self) -> None:
        await self.ws.close()
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader


def topic(name: str) -> Callable[[Frame], bool]:
    return lambda frame: frame.get("topic") == name


def ws_auth_frame(account: SimAccount, timestamp_ms: int | None = None, encoding: str = "std") -> Frame:
    timestamp = timestamp_ms if timestamp_ms is not None else now_ms()
    signature = reencode(sign(account.orderly_secret, str(timestamp)), encoding)
    return {
        "id": "auth-1",
        "event": "auth",
        "params": {"orderly_key": account.orderly_key, "sign": signature, "timestamp": timestamp},
    }


def url_auth_query(account: SimAccount) -> str:
    timestamp = now_ms()
    signature = reencode(sign(account.orderly_secret, str(timestamp)), "url")
    return f"?orderly_key={account.orderly_key}&timestamp={timestamp}&sign={signature}"


def b64_is_standard(signature: str) -> bool:
    return base64.b64decode(signature) is not None
