"""The README examples (clients/python/examples/*.py) run as written against the real service, and
code using the SDK type-checks under `mypy --strict` (with real types, not Any)."""

from __future__ import annotations

import asyncio
import re
import sys
from pathlib import Path

from orderly_grid.client import GridClient
from orderly_grid.params import GridParams

from server.simulator import SimulatorControl
from tests.clients.conftest import WALLET_KEY
from tests.clients.processes import EXAMPLES, REPO, client_env, finish, spawn
from tests.clients.service import LoopbackService, wait_for_resting_order
from tests.integration.harness import SYMBOL


async def test_quickstart_example_runs_as_written(service: LoopbackService) -> None:
    run = await finish(await spawn([str(EXAMPLES / "quickstart.py")], client_env(service.target, WALLET_KEY)))
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0] == "PERP_BTC_USDC: 5 orders, margin 999.15000"
    assert lines[1].startswith("started 0x")
    assert lines[1].endswith("_BTCUSDT with 5 open orders")
    assert lines[2] == "status GRID_STATUS_RUNNING, realized PnL 0"
    assert lines[-2].endswith(": 0 open orders left")
    assert lines[-1] == "no SOL grid: SESSION_NOT_FOUND"


async def test_sync_client_example_runs_as_written(service: LoopbackService) -> None:
    run = await finish(
        await spawn([str(EXAMPLES / "sync_client.py")], client_env(service.target, WALLET_KEY))
    )
    assert run.returncode == 0, run.stderr
    assert "_PERP_ETH_USDC: 2 orders" in run.stdout
    assert "1 sessions, 1 active" in run.stdout
    assert "rejected: upper_bound:" in run.stdout


async def test_watch_fills_example_prints_fills_and_the_resume_point(
    service: LoopbackService, client: GridClient, control: SimulatorControl
) -> None:
    await client.start_grid(
        GridParams("BTCUSDT", "40000", "45000", grid_levels=6, total_margin="1000", current_price="42500")
    )
    watcher = await spawn([str(EXAMPLES / "watch_fills.py"), "2"], client_env(service.target, WALLET_KEY))
    await control.set_price(SYMBOL, "41950")
    await wait_for_resting_order(service.sim, "SELL", "43000")
    await control.set_price(SYMBOL, "43050")
    run = await finish(watcher)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0].startswith("#1 ")
    assert lines[0].endswith(" @ 42000")
    assert lines[1].startswith("#2 ")
    assert " @ 43000" in lines[1]
    assert lines[2] == "resume later with after_seq=2"


MISTYPED = """
from orderly_grid import GridClient

async def use(client: GridClient) -> None:
    grid = await client.get_grid("s")
    levels: str = grid.config.grid_levels
    await client.stop_grid(grid.session_id, close_position="yes")
"""


async def _mypy(*paths: Path, cache: Path) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(cache), *map(str, paths),
        cwd=REPO, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(process.communicate(), 180)
    assert process.returncode is not None
    return process.returncode, out.decode()


async def test_examples_pass_mypy_strict_and_mistakes_are_caught(tmp_path: Path) -> None:
    code, report = await _mypy(*sorted(EXAMPLES.glob("*.py")), cache=tmp_path / "cache")
    assert code == 0, report

    mistyped = tmp_path / "mistyped.py"
    mistyped.write_text(MISTYPED)
    code, report = await _mypy(mistyped, cache=tmp_path / "cache")
    assert code == 1, report
    assert 'Incompatible types in assignment (expression has type "int", variable has type "str")' in report
    assert 'Argument "close_position" to "stop_grid" of "GridClient" has incompatible type' in report


def test_readme_shows_each_example_verbatim() -> None:
    readme = (EXAMPLES.parent / "README.md").read_text()
    shown = re.findall(r"<!-- example: (\S+) -->\n```python\n(.*?)```\n", readme, flags=re.DOTALL)
    assert sorted(name for name, _ in shown) == sorted(p.name for p in EXAMPLES.glob("*.py"))
    for name, code in shown:
        assert code == (EXAMPLES / name).read_text(), f"README's copy of {name} is stale"
