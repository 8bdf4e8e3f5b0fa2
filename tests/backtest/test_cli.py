"""`orderly-grid backtest` in process: text, JSON, pictures and errors."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from server.cli import main
from tests.integration.parity_path import PATH_FILE

GRID = ["--lower", "40000", "--upper", "45000", "--levels", "6", "--margin", "1000"]


def test_json_carries_the_pnl_the_fills_and_the_fill_model(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        ["backtest", "--csv", str(PATH_FILE), *GRID, "--stop-loss", "39500", "--close-on-stop", "--json"]
    )
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert result["status"] == "STOPPED"
    assert result["stop_reason"] == "STOP_LOSS"
    assert Decimal(result["pnl"]["position"]) == 0
    assert len(result["fills"]) == 14
    assert result["fill_model"][0].startswith("Same engine as the live service")
    assert {"max_drawdown", "sharpe", "sortino", "time_in_range", "fills_per_day"} <= set(result["stats"])


@pytest.mark.parametrize("suffix", [".png", ".svg"])
def test_plot_writes_the_picture(tmp_path: Path, suffix: str, capsys: pytest.CaptureFixture[str]) -> None:
    picture = tmp_path / f"grid{suffix}"
    assert main(["backtest", "--csv", str(PATH_FILE), *GRID, "--plot", str(picture)]) == 0
    assert picture.stat().st_size > 1000
    assert "round trips" in capsys.readouterr().out


def test_bars_and_the_pessimistic_order(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bars = tmp_path / "bars.csv"
    bars.write_text(
        "timestamp,open,high,low,close,volume\n0,42500,43100,41900,42500,3\n60000,42500,42600,42400,42550,1\n"
    )
    assert (
        main(["backtest", "--csv", str(bars), *GRID, "--direction", "LONG", "--bar-order", "PESSIMISTIC"])
        == 0
    )
    assert "high -> low" in capsys.readouterr().out


def test_a_bad_row_is_named_and_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("timestamp,price\n0,42500\n1000,4x\n")
    assert main(["backtest", "--csv", str(bad), *GRID]) == 2
    assert "line 3: price" in capsys.readouterr().err


def test_a_grid_start_grid_would_refuse_names_the_field(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["backtest", "--csv", str(PATH_FILE), *GRID[:4], "--levels", "1", "--margin", "1000"]) == 2
    assert "grid_levels" in capsys.readouterr().err
