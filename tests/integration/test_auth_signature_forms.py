"""Issue 11, finding 7: exactly one form of each signature verifies: v in {27, 28} (or {0, 1}) and
s in the lower half of the curve order (EIP-2). The EIP-155 forms of v (35/36, 219/220) and the
high-s twin of a valid signature recover the same address, so eth-account alone accepted them."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest
from orderly_grid.v1 import grid_service_pb2 as pb

from server.simulator import RunningSimulator
from tests.integration.harness import rpc_error, running_app, signed

SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def _parts(signature: str) -> tuple[int, int, int]:
    raw = bytes.fromhex(signature.removeprefix("0x"))
    return int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:64], "big"), raw[64]


def _signature(r: int, s: int, v: int) -> str:
    return "0x" + (r.to_bytes(32, "big") + s.to_bytes(32, "big") + bytes([v])).hex()


def _v_shifted(signature: str, offset: int) -> str:
    r, s, v = _parts(signature)
    return _signature(r, s, v + offset)


def _high_s_twin(signature: str) -> str:
    r, s, v = _parts(signature)
    return _signature(r, SECP256K1_N - s, 55 - v)  # 27 <-> 28: the twin recovers the same key


@pytest.mark.parametrize(
    ("variant", "rule"),
    [
        (lambda sig: _v_shifted(sig, 8), "v (the last byte) must be 27, 28, 0 or 1"),  # 35/36
        (lambda sig: _v_shifted(sig, 192), "v (the last byte) must be 27, 28, 0 or 1"),  # 219/220
        (_high_s_twin, "low-s"),
    ],
    ids=["v-35-36", "v-219-220", "high-s-twin"],
)
async def test_non_canonical_forms_of_a_valid_signature_are_refused_and_burn_no_nonce(
    sim: RunningSimulator, tmp_path: Path, variant: object, rule: str
) -> None:
    async with running_app(sim, tmp_path) as server:
        request = signed("ListGrids", pb.ListGridsRequest())
        canonical = request.user_auth.signature  # type: ignore[attr-defined]
        assert _parts(canonical)[2] in (27, 28)
        twin = pb.ListGridsRequest()
        twin.CopyFrom(request)
        twin.user_auth.signature = variant(canonical)  # type: ignore[operator]
        code, error = await rpc_error(server.stub.ListGrids(twin))
        assert code == grpc.StatusCode.UNAUTHENTICATED
        assert [v.field for v in error.field_violations] == ["user_auth.signature"]
        assert rule in error.field_violations[0].description
        # The refused twin consumed nothing: the canonical signature with the same nonce still works.
        assert list((await server.stub.ListGrids(request)).grids) == []


async def test_v_of_0_or_1_is_the_documented_alternative_to_27_or_28(
    sim: RunningSimulator, tmp_path: Path
) -> None:
    async with running_app(sim, tmp_path) as server:
        request = signed("ListGrids", pb.ListGridsRequest())
        request.user_auth.signature = _v_shifted(request.user_auth.signature, -27)  # type: ignore[attr-defined]
        assert list((await server.stub.ListGrids(request)).grids) == []
