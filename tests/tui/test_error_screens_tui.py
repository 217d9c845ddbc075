"""The reader's numbered error screens on the panel and the staff console (issue 24 §1):
each case shows its number, title and 「受付窓口にご連絡ください」 on the reader panel, the
reception's detail shows the same number with what to do, and 「閉じる」 (clicked, or Enter)
takes the reader back to its start; snapshots of the numbered screens."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from mock_oqs.world import World
from reception import store as store_module
from reception.store import now_jst
from reception.tui.app import ReceptionApp, make_app
from tests.support.tui import at_view, drive, services, shown, text, type_pin, until

FIXED_NOW = dt.datetime(2026, 11, 24, 9, 30, tzinfo=store_module.JST)
SIZES = {"80x24": (80, 24), "120x40": (120, 40), "200x55": (200, 55)}


@pytest.fixture
def pinned(monkeypatch: pytest.MonkeyPatch) -> None:
    """Reception ids and the clock pinned, as in test_panel_snapshots.py."""
    counter = itertools.count(1)
    monkeypatch.setattr(store_module, "now_jst", lambda: FIXED_NOW)
    for module in ("reception.tui.widgets.receptions", "reception.ladder"):
        monkeypatch.setattr(f"{module}.now_jst", lambda: FIXED_NOW)
    monkeypatch.setattr(store_module, "new_id", lambda prefix: f"{prefix}-{next(counter):04d}")


CASES = {  # what is placed → the number the reader shows
    "transit-card": "002",
    "credit-card": "002",
    "juki-card": "S01",
}


async def numbered(pilot: Pilot[None], app: ReceptionApp, case: str, world: World) -> None:
    """Place the case's card (a persona's PIN where it has one) and wait for its screen."""
    app.place_card(case)
    if case not in CASES:  # revoked: the certificate is refused right after identity
        await at_view(pilot, app, "method")
        await pilot.press("2")
        await at_view(pilot, app, "pin")
        await type_pin(pilot, world.persona(case)["pin"])
    await at_view(pilot, app, "done")
    await until(pilot, lambda: shown(app, "#error-screen"))


@pytest.mark.parametrize(
    ("case", "number", "close"),
    [
        ("transit-card", "002", "click"),
        ("credit-card", "002", "enter"),
        ("juki-card", "S01", "click"),
        ("revoked", "006", "enter"),
    ],
)
def test_the_numbered_screen_and_the_staff_side(
    tui_world: World, tmp_path: Path, case: str, number: str, close: str
) -> None:
    svc = services(tui_world, tmp_path)

    async def scenario(pilot: Pilot[None], app: ReceptionApp) -> None:
        await until(pilot, lambda: app.panel.warmed)
        await numbered(pilot, app, case, tui_world)
        heading = text(app, "#error-heading")
        assert heading.startswith(f"【{number}】"), heading
        assert "受付窓口にご連絡ください" in text(app, "#error-contact")
        # the staff side: the same number, with what to do
        await until(pilot, lambda: f"画面 【{number}】" in text(app, "#detail"))
        said = [str(n.message) for n in app._notifications]
        assert any(f"【{number}】" in m for m in said), said
        await pilot.press("f2")  # the patient's English
        await pilot.pause()
        assert text(app, "#error-heading").startswith(f"({number}) ")
        assert "Please contact the reception desk" in text(app, "#error-contact")
        await pilot.press("f2")
        if close == "click":
            await pilot.click("#error-close")
        else:  # keyboard alone: 閉じる has the focus
            await pilot.press("enter")
        await at_view(pilot, app, "wait")
        assert not shown(app, "#error-screen")

    asyncio.run(drive(svc, scenario))
    [reception] = svc.store.receptions_on(now_jst().date())
    assert reception.reason is not None and reception.reason.startswith(f"【{number}】")


def test_a_card_taken_away_half_way_is_numbered_for_staff(tui_world: World, tmp_path: Path) -> None:
    svc = services(tui_world, tmp_path)

    async def scenario(pilot: Pilot[None], app: ReceptionApp) -> None:
        await until(pilot, lambda: app.panel.warmed)
        app.place_card("adult-kyokai")
        await at_view(pilot, app, "method")
        await pilot.press("2")
        await at_view(pilot, app, "pin")
        app.remove_card()
        # the patient reads its screen (the card is gone: it stays until 閉じる or the
        # next card), staff the same number
        await at_view(pilot, app, "done")
        await until(pilot, lambda: shown(app, "#error-screen"))
        assert text(app, "#error-heading").startswith("【S02】")
        await until(pilot, lambda: "画面 【S02】" in text(app, "#detail"))
        said = [str(n.message) for n in app._notifications]
        assert any("【S02】" in m for m in said), said
        # 閉じる (a click): the reader's start, its choice offered again
        await pilot.click("#error-close")
        await at_view(pilot, app, "wait")
        assert shown(app, "#wait-card") and shown(app, "#wait-phone")
        # the card placed again: a new check-in at once, the screen gone
        app.place_card("adult-kyokai")
        await at_view(pilot, app, "method")
        assert not shown(app, "#error-screen")
        app.remove_card()
        await at_view(pilot, app, "done")  # 【S02】 again; the next card replaces it
        app.place_card("adult-kyokai")
        await at_view(pilot, app, "method")
        assert not shown(app, "#error-screen")

    asyncio.run(drive(svc, scenario))
    first = min(svc.store.receptions_on(now_jst().date()), key=lambda r: r.started_at)
    assert first.reason is not None and first.reason.startswith("【S02】")


def test_the_card_leaving_closes_the_screen(tui_world: World, tmp_path: Path) -> None:
    svc = services(tui_world, tmp_path)

    async def scenario(pilot: Pilot[None], app: ReceptionApp) -> None:
        await until(pilot, lambda: app.panel.warmed)
        await numbered(pilot, app, "transit-card", tui_world)
        app.remove_card()
        await at_view(pilot, app, "wait")
        assert not shown(app, "#error-screen")
        # the next card starts at once, its screen clean
        app.place_card("credit-card")
        await at_view(pilot, app, "done")
        await until(pilot, lambda: shown(app, "#error-screen"))
        assert text(app, "#error-heading").startswith("【002】")

    asyncio.run(drive(svc, scenario))


SNAPSHOT_CASES = ["transit-card", "juki-card", "revoked"]


@pytest.mark.usefixtures("pinned")
@pytest.mark.parametrize("language", ["ja", "en"])
@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("case", SNAPSHOT_CASES)
def test_numbered_screen_snapshot(
    snap_compare: Any, tui_world: World, tmp_path: Path, case: str, size: str, language: str
) -> None:
    app = make_app(services(tui_world, tmp_path))

    async def run(pilot: Pilot[None]) -> None:
        await until(pilot, lambda: app.panel.warmed)
        if language == "en":
            await pilot.press("f2")
        await numbered(pilot, app, case, tui_world)
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZES[size], run_before=run)


@pytest.mark.parametrize("case", ["transit-card", "juki-card", "revoked"])
def test_the_staff_held_reader_is_not_offered_where_it_reads_no_better(
    tui_world: World, tmp_path: Path, case: str
) -> None:
    """After 【002】【S01】【006】 the staff-held reader (居宅同意取得型) would read the same
    card: staff are not sent there, and a card that is no My Number card is said to be
    one (not 「カードを読み取れません」)."""
    svc = services(tui_world, tmp_path)

    async def scenario(pilot: Pilot[None], app: ReceptionApp) -> None:
        await until(pilot, lambda: app.panel.warmed)
        await numbered(pilot, app, case, tui_world)
        await until(pilot, lambda: "画面 【" in text(app, "#detail"))
        assert app.desk.services.counter is not None  # the clinic has the reader
        assert not shown(app, "#ladder-counter")
        if case in CASES:
            said = "住基カード" if case == "juki-card" else "マイナンバーカードではない"
            assert said in text(app, "#detail")
            assert "カードを読み取れません" not in text(app, "#detail")

    asyncio.run(drive(svc, scenario))
