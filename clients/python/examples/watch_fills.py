"""Follow the fills of all your sessions; the stream resumes by itself after a disconnect or a
server restart, without missing or repeating a fill.

    ORDERLY_GRID_WALLET_KEY=0x... .venv/bin/python clients/python/examples/watch_fills.py [MAX_FILLS]
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys

from orderly_grid import GridClient, load_wallet


async def main(max_fills: int | None) -> None:
    target = os.environ.get("GRIDCTL_TARGET", "localhost:50051")
    async with GridClient(target, wallet=load_wallet()) as client:
        seen = 0
        async with client.watch_fills() as fills:  # all sessions; pass a session id for one
            async for fill in fills:
                trip = f", round trip {fill.round_trip.profit}" if fill.HasField("round_trip") else ""
                print(f"#{fill.seq} {fill.session_id} {fill.quantity} @ {fill.price}{trip}", flush=True)
                seen += 1
                if max_fills is not None and seen >= max_fills:
                    break
        print(f"resume later with after_seq={fills.last_seq}")


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C ends the watch: a normal way out
        asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else None))
