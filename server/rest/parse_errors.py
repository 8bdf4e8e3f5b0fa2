"""One log line, at most one a second, for HTTP request heads the shim's HTTP parser refuses.

aiohttp answers a request head it cannot parse (a request line or header over 8 KiB, a header name
with a space, a method that is not a token, ...) with a plain-text 400, closes the connection, and
logs "Error handling request" with the parser's traceback at ERROR: some 700 bytes of multi-line
text per request, for requests that need no credentials (the REST twin of issue 11's finding 5).
`ParseErrorLog` is the logger the shim gives aiohttp's request handler (its documented `logger`
option): a parser error becomes the JSON line `rest_request_malformed` (error type and status, never
the refused bytes), at most one per `interval_s`, the next one saying how many were left out; every
other record passes to aiohttp's own logger unchanged, tracebacks included.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.log import server_logger

from server.logs import get_logger

DEFAULT_INTERVAL_S = 1.0

_log = get_logger(__name__)


class ParseErrorLog(logging.LoggerAdapter[logging.Logger]):
    """aiohttp's server logger, with parser errors logged as one rate-limited line (module doc)."""

    def __init__(
        self,
        logger: logging.Logger = server_logger,
        *,
        interval_s: float = DEFAULT_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(logger, {})
        self._interval_s = interval_s
        self._clock = clock
        self._last_logged: float | None = None
        self._suppressed = 0

    def log(self, level: int, msg: object, *args: object, **kwargs: Any) -> None:
        error = kwargs.get("exc_info")
        if isinstance(error, HttpProcessingError):
            self._record(error)
            return
        super().log(level, msg, *args, **kwargs)

    def process(self, msg: Any, kwargs: Any) -> tuple[Any, Any]:
        return msg, kwargs  # no extra context: records pass as aiohttp wrote them

    def _record(self, error: HttpProcessingError) -> None:
        now = self._clock()
        if self._last_logged is not None and now - self._last_logged < self._interval_s:
            self._suppressed += 1
            return
        self._last_logged = now
        fields: Mapping[str, Any] = {
            "error_type": type(error).__name__,
            "status": error.code,
            "not_logged_since_last": self._suppressed,
        }
        self._suppressed = 0
        _log.warning("rest_request_malformed", **fields)
