"""The blocking facade, for scripts and notebooks: same methods, same exceptions, no asyncio.

ORDERLY_GRID_WALLET_KEY=0x... .venv/bin/python clients/python/examples/sync_client.py
"""

from __future__ import annotations

import os

from orderly_grid import GridParams, SyncGridClient, load_wallet
from orderly_grid.errors import InvalidArgument


def main() -> None:
    target = os.environ.get("GRIDCTL_TARGET", "localhost:50051")
    with SyncGridClient(target, wallet=load_wallet(), timeout_s=5) as client:
        eth = GridParams(
            ticker="PERP_ETH_USDC",
            lower_bound="2300",
            upper_bound="2700",
            grid_levels=5,
            total_margin="500",
            current_price="2500",
            direction="LONG",
        )
        grid = client.start_grid(eth)
        print(f"started {grid.session_id}: {len(grid.open_orders)} orders")

        totals = client.list_summaries().totals
        print(
            f"{totals.session_count} sessions, {totals.active_session_count} active, total PnL {totals.total}"
        )

        try:
            client.preview_grid(GridParams("PERP_ETH_USDC", "2700", "2300", 5, "500", "2500"))
        except InvalidArgument as error:
            for violation in error.field_violations:
                print(f"rejected: {violation.field}: {violation.description}")

        client.stop_grid(grid.session_id)
        print(f"stopped {grid.session_id}")


if __name__ == "__main__":
    main()
