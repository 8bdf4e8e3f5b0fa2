"""A sane interpreter recursion limit.

eth_account imports py_ecc, and py_ecc's import raises the recursion limit to 100000. With a limit that
high, the recursion guards of C parsers (json, protobuf's json_format) no longer stop a deeply nested
input before the C stack overflows: one request segfaults the whole process instead of raising
RecursionError. Nothing the service runs needs more than Python's default, so it is put back after
the imports that raise it, and again when the service starts (in case a later import raised it).
"""

from __future__ import annotations

import sys

SAFE_RECURSION_LIMIT = 1_000  # CPython's default


def restore_recursion_limit() -> None:
    if sys.getrecursionlimit() > SAFE_RECURSION_LIMIT:
        sys.setrecursionlimit(SAFE_RECURSION_LIMIT)
