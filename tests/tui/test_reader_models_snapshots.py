"""Snapshots of what the reader models and the 処方箋 setting change on the reader panel
(issue 24 §1): the next-generation reader's card wait (no マイナンバーカード / スマートフォン
choice: a card or a phone, on this reader) and the 処方箋 question covering 院内処方.
Update after an intended change: pytest tests/tui/test_reader_models_snapshots.py
--snapshot-update (and look at every SVG)."""

from __future__ import annotations

import datetime as dt
import itertools
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from mock_oqs.world import World
from reception import store as store_module
from reception.reader_models import PrescriptionQuestion, ReaderModel
from reception.settings import ReaderSettings
from reception.tui.app import make_app
from tests.support.tui import at_view, services, type_pin, until

FIXED_NOW = dt.datetime(2026, 11, 24, 9, 30, tzinfo=store_module.JST)


@pytest.fixture
def pinned(monkeypatch: pytest.MonkeyPatch) -> None:
    """Reception ids and the clock pinned, as in test_panel_snapshots.py."""
    counter = itertools.count(1)
    monkeypatch.setattr(store_module, "now_jst", lambda: FIXED_NOW)
    for module in ("reception.tui.widgets.receptions", "reception.ladder"):
        monkeypatch.setattr(f"{module}.now_jst", lambda: FIXED_NOW)
    monkeypatch.setattr(store_module, "new_id", lambda prefix: f"{prefix}-{next(counter):04d}")


SIZES = {"80x24": (80, 24), "120x40": (120, 40)}
CASES = [("80x24", "ja"), ("120x40", "ja"), ("120x40", "en")]


@pytest.mark.usefixtures("pinned")
@pytest.mark.parametrize(("size", "language"), CASES)
def test_next_generation_wait(
    snap_compare: Any, tui_world: World, tmp_path: Path, size: str, language: str
) -> None:
    reader = ReaderSettings(model=ReaderModel.NEXT_GENERATION)
    app = make_app(services(tui_world, tmp_path, reader=reader))

    async def run(pilot: Pilot[None]) -> None:
        await until(pilot, lambda: app.panel.warmed)
        if language == "en":
            await pilot.press("f2")
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZES[size], run_before=run)


@pytest.mark.usefixtures("pinned")
@pytest.mark.parametrize(("size", "language"), CASES)
def test_inside_prescription_question(
    snap_compare: Any, tui_world: World, tmp_path: Path, size: str, language: str
) -> None:
    reader = ReaderSettings(prescription=PrescriptionQuestion.INSIDE)
    app = make_app(services(tui_world, tmp_path, reader=reader))
    pin = tui_world.persona("adult-kyokai")["pin"]

    async def run(pilot: Pilot[None]) -> None:
        await until(pilot, lambda: app.panel.warmed)
        if language == "en":
            await pilot.press("f2")
        app.place_card("adult-kyokai")
        await at_view(pilot, app, "method")
        await pilot.press("2")
        await at_view(pilot, app, "pin")
        await type_pin(pilot, pin)
        await at_view(pilot, app, "consents")
        await pilot.press("y")
        await at_view(pilot, app, "prescription")
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZES[size], run_before=run)
