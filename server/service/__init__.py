"""The service layer: grid sessions over the store and the exchange, shared by the API edges.

- `GridService` (grid_service): StartGrid, StopGrid, GetGrid, ListGrids, summaries, PreviewGrid,
  WatchFills; resumes unfinished sessions on start, leaves them running in the store on close.
- `SessionRunner` (runner) + `Session` (session): one ordered loop per session driving the engine;
  every state change persisted before it is acknowledged, fills appended exactly once.
- `EventRouter` (router): the exchange's account-wide events to the sessions they concern.
- `FillBroker` (fill_broker): live fills to WatchFills subscribers, never blocking a session.
- `ExchangePool` (exchange_pool): one exchange + router per Orderly account sessions trade on
  (the default account, or the owner's registered one).
- resume: which stored sessions resume at start-up, and how the others end (FAILED, with why).
"""

from server.service.exchange_pool import AccountVenue, ExchangePool
from server.service.fill_broker import FillBroker
from server.service.fill_stream import ReplayComplete
from server.service.grid_input import GridConfigInput
from server.service.grid_service import GridService
from server.service.router import EventRouter
from server.service.runner import RunnerSettings, SessionRunner
from server.service.views import FillView, GridView, PreviewView

__all__ = [
    "AccountVenue",
    "EventRouter",
    "ExchangePool",
    "FillBroker",
    "FillView",
    "GridConfigInput",
    "GridService",
    "GridView",
    "PreviewView",
    "ReplayComplete",
    "RunnerSettings",
    "SessionRunner",
]
