"""FillStream's resume rules through its seam (the function that opens one WatchFills call), for the
endings a real server rarely produces on demand: a cut-off for falling behind, a clean end, repeats."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2
from orderly_grid.errors import ERROR_DOMAIN, STATUS_DETAILS_KEY, FillsNotRetained, ServiceUnavailable
from orderly_grid.fills import FillStream, WatchCall
from orderly_grid.retry import Backoff
from orderly_grid.v1 import grid_pb2, grid_service_pb2

NO_WAIT = Backoff(initial_s=0.0, max_s=0.0)


def fill(seq: int) -> grid_service_pb2.WatchFillsResponse:
    return grid_service_pb2.WatchFillsResponse(fill=grid_pb2.Fill(seq=seq, session_id="s"))


def caught_up(seq: int) -> grid_service_pb2.WatchFillsResponse:
    return grid_service_pb2.WatchFillsResponse(replay_complete=grid_service_pb2.ReplayComplete(last_seq=seq))


def rpc_error(code: grpc.StatusCode, reason: str | None = None) -> grpc.aio.AioRpcError:
    """A failed call as grpc.aio raises it, with the server's rich status when `reason` is given."""
    trailers = grpc.aio.Metadata()
    if reason is not None:
        status = status_pb2.Status(code=code.value[0], message=reason)
        status.details.add().Pack(error_details_pb2.ErrorInfo(reason=reason, domain=ERROR_DOMAIN))
        trailers.add(STATUS_DETAILS_KEY, status.SerializeToString())
    return grpc.aio.AioRpcError(code, grpc.aio.Metadata(), trailers, details=reason or code.name)


class ScriptedCall:
    def __init__(
        self, responses: Sequence[grid_service_pb2.WatchFillsResponse], end: Exception | None
    ) -> None:
        self._responses = responses
        self._end = end
        self.cancelled = False

    async def _iterate(self) -> AsyncIterator[grid_service_pb2.WatchFillsResponse]:
        for response in self._responses:
            yield response
        if self._end is not None:
            raise self._end

    def __aiter__(self) -> AsyncIterator[grid_service_pb2.WatchFillsResponse]:
        return self._iterate()

    def cancel(self) -> bool:
        self.cancelled = True
        return True


class Script:
    """Each subscription plays the next scripted call; records the after_seq it was opened with."""

    def __init__(self, *calls: ScriptedCall) -> None:
        self.calls = list(calls)
        self.opened_after: list[int] = []

    def __call__(self, after_seq: int) -> WatchCall:
        self.opened_after.append(after_seq)
        return self.calls[len(self.opened_after) - 1]


async def take(stream: FillStream, count: int) -> list[int]:
    seqs: list[int] = []
    async for item in stream:
        seqs.append(item.seq)
        if len(seqs) == count:
            break
    return seqs


async def test_cut_off_and_clean_end_resume_from_the_last_seq_without_repeats() -> None:
    script = Script(
        ScriptedCall(
            [fill(1), caught_up(1), fill(2)],
            rpc_error(grpc.StatusCode.RESOURCE_EXHAUSTED, "RATE_LIMIT_EXCEEDED"),  # fell behind
        ),
        # The replay after a resume may overlap what was seen: repeats are dropped.
        ScriptedCall([fill(2), fill(3), caught_up(3)], None),  # the server ended the stream cleanly
        ScriptedCall([caught_up(3), fill(4)], None),
    )
    reconnects: list[str] = []
    stream = FillStream(
        script,
        after_seq=0,
        backoff=NO_WAIT,
        on_reconnect=lambda error, n: reconnects.append(error.reason if error else "ended"),
    )
    assert await take(stream, 4) == [1, 2, 3, 4]
    await stream.aclose()
    assert script.opened_after == [0, 2, 3]
    assert reconnects == ["RATE_LIMIT_EXCEEDED", "ended"]
    assert stream.last_seq == 4
    assert all(call.cancelled for call in script.calls)


async def test_errors_that_a_resume_cannot_fix_are_raised() -> None:
    script = Script(ScriptedCall([fill(5)], rpc_error(grpc.StatusCode.OUT_OF_RANGE, "FILLS_NOT_RETAINED")))
    stream = FillStream(script, after_seq=4, backoff=NO_WAIT)
    with pytest.raises(FillsNotRetained) as raised:
        await take(stream, 2)
    assert raised.value.code == grpc.StatusCode.OUT_OF_RANGE
    assert stream.last_seq == 5
    assert script.opened_after == [4]


async def test_max_reconnects_bounds_consecutive_failures() -> None:
    down = rpc_error(grpc.StatusCode.UNAVAILABLE)
    script = Script(ScriptedCall([], down), ScriptedCall([], down), ScriptedCall([], down))
    stream = FillStream(script, after_seq=7, backoff=NO_WAIT, max_reconnects=2)
    with pytest.raises(ServiceUnavailable):
        await take(stream, 1)
    assert script.opened_after == [7, 7, 7]
    assert stream.reconnects == 2
