"""Python SDK for the orderly-grid service.

- `GridClient` (async) and `SyncGridClient` (blocking): signed, typed calls of the GridService.
- `GridParams`: a grid's parameters as plain Python values (Decimal prices, enum names).
- `load_wallet` / `Wallet`: the signing key, from ORDERLY_GRID_WALLET_KEY or a keystore file.
- `orderly_grid.errors`: `GridError` and one subclass per domain reason (`SessionNotFound`, ...).
- `orderly_grid.v1`: the generated protobuf messages and gRPC stubs, with type stubs.
- `orderly_grid.signing`: the request-signing scheme the server verifies.
"""

from orderly_grid.client import GridClient, MissingWalletError
from orderly_grid.errors import GridError
from orderly_grid.fills import FillStream
from orderly_grid.params import GridParams
from orderly_grid.retry import Backoff
from orderly_grid.sync import SyncFillStream, SyncGridClient
from orderly_grid.wallet import Wallet, WalletError, load_wallet

__version__ = "0.1.0"

__all__ = [
    "Backoff",
    "FillStream",
    "GridClient",
    "GridError",
    "GridParams",
    "MissingWalletError",
    "SyncFillStream",
    "SyncGridClient",
    "Wallet",
    "WalletError",
    "load_wallet",
]
