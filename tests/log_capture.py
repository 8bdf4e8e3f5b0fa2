"""Every log line a test produces, rendered exactly as production renders it (for "no secret in
the logs" checks). Shared by the test packages that need it."""

from __future__ import annotations

import contextlib
import io
import logging
from collections.abc import Iterator

import structlog

from server.logs import configure_logging


@contextlib.contextmanager
def captured_logs(level: str) -> Iterator[io.StringIO]:
    """Route the logs of `level` and above to a buffer while the block runs, then restore the
    logging set-up the test found."""
    root = logging.getLogger()
    handlers, root_level = list(root.handlers), root.level
    stream = io.StringIO()
    configure_logging(level, stream=stream)
    try:
        yield stream
    finally:
        structlog.reset_defaults()
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in handlers:
            root.addHandler(handler)
        root.setLevel(root_level)
