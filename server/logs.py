"""Structured JSON logs through structlog, as a pipeline of small processors.

Context (session_id, client_order_id, ...) is bound once per task with `structlog.contextvars`;
a redaction processor makes sure no secret-looking field ever reaches the output.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any, TextIO

import structlog

# Field names whose values are never written, whatever the caller passes.
SECRET_FIELD_MARKERS = ("secret", "signature", "private_key", "password", "token", "sign")
REDACTED = "[redacted]"


def redact_secrets(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    for key in list(event_dict):
        lowered = key.lower()
        if any(marker in lowered for marker in SECRET_FIELD_MARKERS):
            event_dict[key] = REDACTED
    return event_dict


def configure_logging(level: str = "INFO", stream: TextIO | None = None) -> None:
    """Route structlog (and stdlib logging) to one JSON line per event on `stream` (stderr)."""
    output = stream if stream is not None else sys.stderr
    numeric_level = logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            redact_secrets,
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric_level),
        logger_factory=structlog.PrintLoggerFactory(file=output),
        cache_logger_on_first_use=False,
    )
    logging.basicConfig(level=numeric_level, stream=output, format="%(message)s", force=True)


def get_logger(name: str) -> structlog.typing.FilteringBoundLogger:
    logger: structlog.typing.FilteringBoundLogger = structlog.get_logger(name)
    return logger
