"""The sweep's heatmap: a metric over two chosen parameters, each cell the best value among the
configurations with that pair (the other parameters vary under it). Takes the sweep's rows only;
matplotlib is imported here only (the `backtest` extra)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from server.backtest.sweep import METRICS, PARAMETERS, SweepRow


def heatmap_cells(
    rows: Sequence[SweepRow], x: str, y: str, metric: str
) -> tuple[list[str], list[str], list[list[float | None]]]:
    """(x labels, y labels, values[y][x]): the best `metric` per (x, y); None where every
    configuration failed or none was run."""
    for name in (x, y):
        if name not in PARAMETERS:
            raise ValueError(f"heatmap parameter: one of {', '.join(PARAMETERS)}, got {name!r}")
    if x == y:
        raise ValueError("heatmap: choose two different parameters")
    higher = METRICS[metric]
    best: dict[tuple[str, str], float] = {}
    xs: dict[str, None] = {}
    ys: dict[str, None] = {}
    for row in rows:
        key = (row.point.label(x), row.point.label(y))
        xs[key[0]] = None
        ys[key[1]] = None
        if row.error:
            continue
        value = row.metric(metric)
        if key not in best or (value > best[key] if higher else value < best[key]):
            best[key] = value
    x_labels, y_labels = _ordered(xs), _ordered(ys)
    values = [[best.get((xl, yl)) for xl in x_labels] for yl in y_labels]
    return x_labels, y_labels, values


def _ordered(labels: dict[str, None]) -> list[str]:
    def key(label: str) -> tuple[int, float, str]:
        try:
            return (0, float(label.rstrip("%")), label)
        except ValueError:
            return (1, 0.0, label)

    return sorted(labels, key=key)


def plot_heatmap(rows: Sequence[SweepRow], x: str, y: str, metric: str, path: Path) -> None:
    if path.suffix.lower() not in (".png", ".svg"):
        raise ValueError(f"{path}: the picture must be a .png or .svg file")
    x_labels, y_labels, values = heatmap_cells(rows, x, y, metric)
    import matplotlib

    matplotlib.use("Agg")  # no display: files only
    import matplotlib.pyplot as plt
    import numpy as np

    grid = np.array([[np.nan if v is None else v for v in line] for line in values], dtype=float)
    figure, axes = plt.subplots(figsize=(1.2 * len(x_labels) + 3, 0.7 * len(y_labels) + 2))
    image = axes.imshow(grid, cmap="RdYlGn" if METRICS[metric] else "RdYlGn_r", aspect="auto", origin="lower")
    axes.set_xticks(range(len(x_labels)), x_labels)
    axes.set_yticks(range(len(y_labels)), y_labels)
    axes.set_xlabel(x)
    axes.set_ylabel(y)
    axes.set_title(f"best {metric} per ({x}, {y})")
    for j, line in enumerate(values):
        for i, value in enumerate(line):
            axes.text(i, j, "-" if value is None else f"{value:.3g}", ha="center", va="center", fontsize=8)
    figure.colorbar(image, ax=axes, label=metric)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
