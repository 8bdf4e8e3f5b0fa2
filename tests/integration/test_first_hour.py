"""What a newcomer meets in the first hour against `serve` on its own simulator: every violation of a
config at once under the API's field names, the venue named everywhere, and an unknown symbol blamed
on the simulator rather than on Orderly."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp

from server.app import Application
from server.settings import Settings

CONFIG = {
    "ticker": "BTCUSDT",
    "direction": "BOTH",
    "upper_bound": "45000",
    "lower_bound": "40000",
    "grid_levels": 6,
    "total_margin": "1000",
}


@contextlib.asynccontextmanager
async def serving(data_dir: Path) -> AsyncIterator[tuple[Application, aiohttp.ClientSession]]:
    settings = replace(Settings(), grpc_port=0, rest_port=0, data_dir=data_dir, shutdown_grace_s=1.0)
    app = Application(settings)
    await app.start()
    try:
        async with aiohttp.ClientSession() as http:
            yield app, http
    finally:
        await app.stop(grace_s=1.0)


async def preview(app: Application, http: aiohttp.ClientSession, **changes: Any) -> tuple[int, Any]:
    async with http.post(f"{app.rest_url}/api/grid/preview", json={**CONFIG, **changes}) as response:
        return response.status, await response.json()


def violations(body: Any) -> dict[str, str]:
    return {v["field"]: v["description"] for v in body["details"]["field_violations"]}


async def test_first_hour_errors_and_the_venue_on_the_simulator(tmp_path: Path) -> None:
    async with serving(tmp_path) as (app, http):
        status, body = await preview(app, http)
        assert status == 200, body
        assert body["data"]["venue"] == "simulator"
        quantities = {o["quantity"] for o in body["data"]["orders"]}
        assert len(quantities) > 1  # each order has its own quantity: one figure would mislead

        async with http.get(f"{app.rest_url}/health/ready") as response:
            assert (await response.json())["data"]["venue"] == "simulator"

        # Inverted bounds, too few lines and a negative margin: all three at once, API names only.
        status, body = await preview(
            app, http, upper_bound="40000", lower_bound="45000", grid_levels=1, total_margin="-5"
        )
        assert status == 400
        found = violations(body)
        assert set(found) == {"upper_bound", "grid_levels", "total_margin"}
        assert "upper_price" not in body["message"]
        assert "lower_price" not in body["message"]
        assert "upper_bound 40000 must be > lower_bound 45000" in found["upper_bound"]

        # An unreadable decimal does not hide the other fields' violations.
        status, body = await preview(app, http, upper_bound="abc", grid_levels=1, leverage=99)
        assert status == 400
        assert set(violations(body)) == {"upper_bound", "grid_levels", "leverage"}

        # A JSON type error in PreviewGrid's body names the field as sent, as StartGrid does: bare.
        status, body = await preview(app, http, grid_levels="x")
        assert status == 400
        assert set(violations(body)) == {"grid_levels"}
        assert "config." not in body["message"]

        status, body = await preview(app, http, ticker="FOOUSDT")
        assert status == 400
        assert body["error_code"] == "UNKNOWN_SYMBOL"
        assert "the built-in exchange simulator does not list" in body["message"]
        assert "Orderly does not list" not in body["message"]
