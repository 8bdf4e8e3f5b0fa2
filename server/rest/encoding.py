"""Request bodies sent with a Content-Encoding: decoded by the shim itself, with a bounded output.

The shim's aiohttp server runs with `auto_decompress=False` (see server.rest.shim): aiohttp's own
decoder fails inside its HTTP parser, where a body that is not the gzip it claims cannot be answered
cleanly (an error logged with a traceback per request, the connection reset under a large body).
Here the raw body has been read in full (its framing intact), so a bad one is an ordinary 400 naming
the problem, and the decoded body is held to the same size limit as a plain one (no gzip bomb).
"""

from __future__ import annotations

import zlib

from aiohttp import web

from server.api.errors import DomainError, ErrorReason, FieldViolation

_GZIP_WBITS = 16 + zlib.MAX_WBITS
_ZLIB_WBITS = zlib.MAX_WBITS
_RAW_DEFLATE_WBITS = -zlib.MAX_WBITS
_MAX_SHOWN_LENGTH = 32
MAX_CODINGS = 2  # each coding may expand to max_bytes: a long chain would multiply the work


def _bad_body(message: str) -> DomainError:
    return DomainError(
        ErrorReason.INVALID_ARGUMENT, message, field_violations=[FieldViolation("body", message)]
    )


def _shown(encoding: str) -> str:
    if len(encoding) <= _MAX_SHOWN_LENGTH and encoding.isascii() and encoding.isprintable():
        return encoding
    return "(an unreadable value)"


def _inflate(raw: bytes, wbits: int, encoding: str, max_bytes: int) -> bytes:
    decoder = zlib.decompressobj(wbits=wbits)
    try:
        decoded = decoder.decompress(raw, max_bytes + 1)
    except zlib.error:
        raise _bad_body(f"request body is not valid {encoding} data, as its Content-Encoding says") from None
    if len(decoded) > max_bytes:
        raise web.HTTPRequestEntityTooLarge(max_size=max_bytes, actual_size=len(decoded))
    if not decoder.eof or decoder.unused_data:
        raise _bad_body(f"request body is not valid {encoding} data: it is truncated or has data after it")
    return decoded


def _decode_one(raw: bytes, encoding: str, max_bytes: int) -> bytes:
    if encoding == "identity":
        return raw
    if encoding in ("gzip", "x-gzip"):
        return _inflate(raw, _GZIP_WBITS, "gzip", max_bytes)
    if encoding == "deflate":  # zlib-wrapped as HTTP says, or raw deflate as some clients send
        try:
            return _inflate(raw, _ZLIB_WBITS, "deflate", max_bytes)
        except DomainError:
            return _inflate(raw, _RAW_DEFLATE_WBITS, "deflate", max_bytes)
    raise _bad_body(f"Content-Encoding {_shown(encoding)} is not supported: send identity, gzip or deflate")


def decode_body(raw: bytes, content_encoding: str, max_bytes: int) -> bytes:
    """`raw` decoded by every coding of `content_encoding` (last applied, first undone); a body
    that is not what its coding claims is a 400 naming the coding, one that decodes to more than
    `max_bytes` a 413, as a plain body of that size would be."""
    codings = [part.strip().lower() for part in content_encoding.split(",") if part.strip()]
    if len(codings) > MAX_CODINGS:
        raise _bad_body(f"Content-Encoding may list at most {MAX_CODINGS} codings, got {len(codings)}")
    body = raw
    for coding in reversed(codings):
        body = _decode_one(body, coding, max_bytes)
    return body
