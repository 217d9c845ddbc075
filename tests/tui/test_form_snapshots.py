"""Snapshots of the 被保険者資格申立書 form at 80×24, 120×40 and 200×55, in Japanese and with
the English glosses (issue 22 §3, §4): empty, with errors beside their fields, and refused
(another patient's name on the reception).

The form is shown on its own app with the terminal's stylesheet, so that these pictures
change only when the form does. Update after an intended change:
pytest tests/tui/test_form_snapshots.py --snapshot-update (and look at every SVG).
"""

from __future__ import annotations

import datetime as dt
import itertools
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from reception import declaration as declaration_module
from reception import store as store_module
from reception.store import Store
from reception.tui.screens.declaration import DeclarationScreen
from tests.support.forms import FORM_DAY, click_save, form_app, form_values, reception_of

SIZES = [(80, 24), (120, 40), (200, 55)]
FIXED_NOW = dt.datetime(2026, 11, 24, 9, 30, tzinfo=store_module.JST)
PREFILL = {"declared_on": FORM_DAY, "reason": "該当資格なし"}

sizes = pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
languages = pytest.mark.parametrize("language", ["ja", "en"])


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Store:
    """Reception ids and the clock pinned (the heading shows the id, 申立日 the day)."""
    counter = itertools.count(1)
    monkeypatch.setattr(store_module, "now_jst", lambda: FIXED_NOW)
    monkeypatch.setattr(store_module, "new_id", lambda prefix: f"{prefix}-{next(counter):04d}")
    monkeypatch.setattr(declaration_module, "today_jst", lambda: FIXED_NOW.date())
    return Store(tmp_path / "reception.sqlite")


def screen_for(store: Store, patient: str = "高橋 陽菜") -> DeclarationScreen:
    rid = reception_of(store, patient)
    return DeclarationScreen(PREFILL, store=store, reception_id=rid)


@sizes
@languages
def test_form_empty(snap_compare: Any, store: Store, size: tuple[int, int], language: str) -> None:
    app = form_app(screen_for(store), language=language)
    assert snap_compare(app, terminal_size=size)


@sizes
@languages
def test_form_with_errors_beside_fields(
    snap_compare: Any, store: Store, size: tuple[int, int], language: str
) -> None:
    async def run(pilot: Pilot[None]) -> None:
        await pilot.pause()
        screen: Any = pilot.app.screen
        screen.query_one("#form-name").value = "架空\u3000花子"
        screen.query_one("#form-name_kana").value = "かくう"
        screen.query_one("#form-phone").value = "12"
        await click_save(pilot)

    app = form_app(screen_for(store), language=language)
    assert snap_compare(app, terminal_size=size, run_before=run)


@sizes
@languages
def test_form_refused_for_another_patient(
    snap_compare: Any, store: Store, size: tuple[int, int], language: str
) -> None:
    async def run(pilot: Pilot[None]) -> None:
        await pilot.pause()
        screen: Any = pilot.app.screen
        for key, value in form_values(declared_on=FORM_DAY, name="高橋 陽菜").items():
            screen.query_one(f"#form-{key}").value = value
        screen.query_one("#form-card_shown").value = True
        await click_save(pilot)

    app = form_app(screen_for(store, patient="伊藤 美咲"), language=language)
    assert snap_compare(app, terminal_size=size, run_before=run)
