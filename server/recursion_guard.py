"""A sane interpreter recursion limit.

eth_account imports py_ecc, and py_ecc's import raises the recursion limit to 100000. With a limit that
high, the recursion guards of C parsers (json, protobuf's json_format) no longer stop a deeply nested
input before the C stack overflows: one request segfaults the whole process instead of raising
RecursionError. Nothing the service runs needs more than Python's default, so it is put back after
the imports that raise it, and again when the service starts (in case a later import raised it).
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

SAFE_RECURSION_LIMIT = 1_000  # CPython's default


def restore_recursion_limit() -> None:
    if sys.getrecursionlimit() > SAFE_RECURSION_LIMIT:
        sys.setrecursionlimit(SAFE_RECURSION_LIMIT)


def import_eth_account() -> None:
    """Import eth-account (and py_ecc) without letting py_ecc raise the limit even for a moment: the
    service imports it in the background after it started serving (orderly_grid.eth imports it on
    first use), while requests are already being parsed."""
    original = sys.setrecursionlimit

    def ignore(_limit: int) -> None:
        pass

    patched: Any = sys
    patched.setrecursionlimit = ignore
    try:
        importlib.import_module("eth_account")
    finally:
        patched.setrecursionlimit = original
    restore_recursion_limit()
