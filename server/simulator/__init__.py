"""Orderly exchange simulator: the same REST + WebSocket wire format on a loopback port.

Contract: /work/notes/simulator-contract.md (start it with `run_simulator(SimulatorConfig(...))`, drive
it through `SimulatorControl`). Where Orderly's behaviour is unconfirmed, the simulator chooses:

- Duplicate open client_order_id: HTTP 409, code -1007. Reduce-only that would open/increase a position,
  and non-reduce-only orders on a REDUCE_ONLY market: 400 -1005. price_range/price_scope breach: -1103.
- Bad signature or malformed key/signature: 401 -1001; stale timestamp, unknown key, missing header or
  missing scope: 401 -1002 (missing account id: Orderly's exact "orderly-account-id header is empty").
- Batch create answers per row: failed rows carry `order_id: null`, `error_code` and `error_message`.
- Every push an operation causes is written to the sockets before its REST (or /sim) answer is sent.
- POST_ONLY that would cross: NEW then CANCELLED. Edits keep the order's status (no REPLACED report).
- executionreport carries avgPrice, averageExecutedPrice and avgExecutedPrice; MARKET reports price 0.
- Lost-push faults drop executionreport pushes only; position and balance pushes still arrive.
- Signed timestamps are checked against wall time (and, on a virtual clock, also against virtual time).
"""

from server.simulator.accounts import SimAccount
from server.simulator.config import FaultConfig, SimulatorConfig
from server.simulator.control import SimulatorControl
from server.simulator.runner import RunningSimulator, run_simulator

__all__ = [
    "FaultConfig",
    "RunningSimulator",
    "SimAccount",
    "SimulatorConfig",
    "SimulatorControl",
    "run_simulator",
]
