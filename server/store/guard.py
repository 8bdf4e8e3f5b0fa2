"""Turns a backend driver's exceptions into the store's own, so callers (and the gRPC error mapping)
see StoreUnavailable for an outage and StoreError for anything else, whatever the backend."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, ParamSpec, TypeVar

from server.store.errors import StoreError, StoreUnavailable

P = ParamSpec("P")
R = TypeVar("R")


def store_errors(
    *,
    backend: str,
    unavailable: tuple[type[Exception], ...],
    other: tuple[type[Exception], ...],
) -> Callable[[Callable[P, Awaitable[R]]], Callable[P, Coroutine[Any, Any, R]]]:
    def decorate(method: Callable[P, Awaitable[R]]) -> Callable[P, Coroutine[Any, Any, R]]:
        @functools.wraps(method)
        async def guarded(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return await method(*args, **kwargs)
            except StoreError:
                raise
            except unavailable as exc:
                raise StoreUnavailable(f"{backend} {method.__name__}: {type(exc).__name__}: {exc}") from exc
            except other as exc:
                raise StoreError(f"{backend} {method.__name__}: {type(exc).__name__}: {exc}") from exc

        return guarded

    return decorate
