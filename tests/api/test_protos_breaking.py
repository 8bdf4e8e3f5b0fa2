"""`buf breaking` against protos-released/ (what `make breaking` runs) passes for the protos as they
are and for additions, and catches a removed or renamed field: proven on copies in a temp dir."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from tests.api.buf_tool import REPO_ROOT, run_buf

RELEASED = REPO_ROOT / "protos-released"
GRID_PROTO = Path("protos/orderly_grid/v1/grid.proto")
SERVICE_PROTO = Path("protos/orderly_grid/v1/grid_service.proto")


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A copy of the buf workspace (buf.yaml and protos/) to edit."""
    shutil.copy(REPO_ROOT / "buf.yaml", tmp_path / "buf.yaml")
    shutil.copytree(REPO_ROOT / "protos", tmp_path / "protos")
    return tmp_path


def _edit(root: Path, relative: Path, old: str, new: str) -> None:
    path = root / relative
    text = path.read_text()
    assert text.count(old) == 1, f"{old!r} not found once in {relative}"
    path.write_text(text.replace(old, new))


def test_the_protos_as_they_are_do_not_break_the_released_ones() -> None:
    result = run_buf("breaking", "--against", str(RELEASED), cwd=REPO_ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_added_fields_and_rpcs_are_not_breaks(workspace: Path) -> None:
    detail = "  string stop_detail = 14;\n"
    _edit(workspace, GRID_PROTO, detail, detail + "  string note = 99;\n")
    _edit(
        workspace,
        SERVICE_PROTO,
        "service GridService {\n",
        "service GridService {\n  rpc PingGrid(GetGridRequest) returns (GetGridResponse);\n",
    )
    result = run_buf("breaking", "--against", str(RELEASED), cwd=workspace)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_removed_field_is_a_break_naming_it(workspace: Path) -> None:
    _edit(workspace, GRID_PROTO, "  string stop_detail = 14;\n", "")
    result = run_buf("breaking", "--against", str(RELEASED), cwd=workspace)
    assert result.returncode != 0
    assert re.search(r'field "14" with name "stop_detail" on message "Grid" was deleted', result.stdout)


def test_a_renamed_field_is_a_break_naming_it(workspace: Path) -> None:
    _edit(workspace, SERVICE_PROTO, "uint64 after_seq = 2;", "uint64 resume_after_seq = 2;")
    result = run_buf("breaking", "--against", str(RELEASED), cwd=workspace)
    assert result.returncode != 0
    assert "after_seq" in result.stdout, result.stdout
