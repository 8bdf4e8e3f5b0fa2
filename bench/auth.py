"""Cost of authenticating one request: the signed text, signature recovery, and the full verify
(recovery + nonce consumed in a SQLite store), plus one rate-limit hit. Prints one plain table.

    .venv/bin/python bench/auth.py [iterations]
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

# Run as a script, bench/ comes first on sys.path and bench/engine.py would shadow the engine package.
HERE = Path(__file__).resolve().parent
sys.path[:] = [str(HERE.parent)] + [entry for entry in sys.path if Path(entry or ".").resolve() != HERE]

from orderly_grid import signing  # noqa: E402
from orderly_grid.v1 import grid_pb2  # noqa: E402
from orderly_grid.v1 import grid_service_pb2 as pb  # noqa: E402

from server.auth import AuthVerifier  # noqa: E402
from server.auth.verifier import recover_signer  # noqa: E402
from server.store import SqliteStore  # noqa: E402

KEY = "0x" + "a1" * 32
DOMAIN = "orderly-grid"
NOW_MS = 1_764_000_000_000


def start_request() -> pb.StartGridRequest:
    return pb.StartGridRequest(
        ticker="BTCUSDT",
        direction=grid_pb2.DIRECTION_LONG,
        current_price="42000",
        upper_bound="45000",
        lower_bound="40000",
        grid_levels=6,
        total_margin="100",
    )


def time_sync(iterations: int, step: Callable[[int], object]) -> float:
    started = time.perf_counter()
    for i in range(iterations):
        step(i)
    return (time.perf_counter() - started) / iterations


async def time_async(iterations: int, step: Callable[[int], Awaitable[object]]) -> float:
    started = time.perf_counter()
    for i in range(iterations):
        await step(i)
    return (time.perf_counter() - started) / iterations


async def main(iterations: int) -> None:
    requests = []
    for i in range(iterations):
        request = start_request()
        signing.sign_request(
            KEY, DOMAIN, "StartGrid", request, timestamp_ms=NOW_MS, nonce=f"bench-nonce-{i:06d}"
        )
        requests.append(request)
    texts = [
        signing.build_auth_message(
            DOMAIN,
            "StartGrid",
            r.user_auth.user_id,
            signing.canonical_params_digest(r),
            NOW_MS,
            r.user_auth.nonce,
        )
        for r in requests
    ]
    rows: list[tuple[str, float]] = [
        (
            "canonical digest + text",
            time_sync(iterations, lambda i: signing.canonical_params_digest(requests[i])),
        ),
        (
            "recover signer (eth-account)",
            time_sync(iterations, lambda i: recover_signer(texts[i], requests[i].user_auth.signature)),
        ),
    ]
    with tempfile.TemporaryDirectory() as tmp:
        store = await SqliteStore.open(Path(tmp) / "bench.sqlite3")
        try:
            verifier = AuthVerifier(store, clock_ms=lambda: NOW_MS, domain=DOMAIN)
            rows.append(
                (
                    "verify (recover + nonce, sqlite)",
                    await time_async(iterations, lambda i: verifier.verify("StartGrid", requests[i])),
                )
            )
            rows.append(
                (
                    "rate-limit hit (sqlite)",
                    await time_async(
                        iterations,
                        lambda i: store.hit_rate_limit(
                            "user:bench", limit=10**9, window_ms=60_000, now_ms=NOW_MS
                        ),
                    ),
                )
            )
        finally:
            await store.close()
    print(f"auth cost per request, {iterations} iterations")
    print(f"{'step':<36} {'ms/op':>8} {'ops/s':>9}")
    for name, seconds in rows:
        print(f"{name:<36} {seconds * 1000:>8.3f} {1 / seconds:>9.0f}")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 300))
