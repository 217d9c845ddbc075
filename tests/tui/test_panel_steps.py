"""What the patient is told at the reader, and the demo's keys (issue 22 §3, §4): a
smartphone is taken back as a smartphone; the PIN lock says where it is undone; the
patient never reads the staff ladder; the wait hint stays whole; F6 without a persona
says so; 撮影不良 is never left chosen for the next patient; a screenshot lands where it
says."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Button, RadioButton, Static

from mock_oqs.world import World
from reception.store import now_jst
from reception.tui.app import ReceptionApp, make_app
from tests.support.tui import at_view, drive, services, text, type_pin, until


def test_a_smartphone_is_taken_back_as_a_smartphone(tui_world: World, tmp_path: Path) -> None:
    svc = services(tui_world, tmp_path)

    async def scenario(pilot: Pilot[None], app: ReceptionApp) -> None:
        await until(pilot, lambda: app.panel.warmed)
        app.place_card("iphone")
        await at_view(pilot, app, "method")
        assert str(app.query_one("#method-pin", Button).label) == "iPhoneで本人確認"
        await pilot.press("2")
        await at_view(pilot, app, "consents")
        await pilot.press("n")
        await at_view(pilot, app, "done")
        title = text(app, "#done-title")
        assert "スマートフォンをお取りください" in title and "カードを" not in title
        await pilot.press("f2")
        await pilot.pause()
        assert "Please take your smartphone" in text(app, "#done-title")
        assert text(app, "#panel-variant") == "Smartphone (iPhone)"

    asyncio.run(drive(svc, scenario))


def test_the_pin_lock_says_where_it_is_undone(tui_world: World, tmp_path: Path) -> None:
    svc = services(tui_world, tmp_path)

    async def scenario(pilot: Pilot[None], app: ReceptionApp) -> None:
        await until(pilot, lambda: app.panel.warmed)
        app.place_card("pin-blocked")
        await at_view(pilot, app, "method")
        note = text(app, "#method-message")
        assert "ロックされています" in note and "市区町村の窓口" in note
        await pilot.press("f2")
        await pilot.pause()
        assert "municipal office" in text(app, "#method-message")

    asyncio.run(drive(svc, scenario))


def test_f6_without_a_persona_says_so(tui_world: World, tmp_path: Path) -> None:
    svc = services(tui_world, tmp_path)

    async def scenario(pilot: Pilot[None], app: ReceptionApp) -> None:
        await until(pilot, lambda: app.panel.warmed)
        await pilot.press("f6")
        await pilot.pause(0.3)
        said = [str(n.message) for n in app._notifications]
        assert any("ペルソナが選ばれていません" in m for m in said), said
        assert app.panel.view == "wait" and not app.desk.running and not app.desk.placing
        assert svc.store.receptions_on(now_jst().date()) == []
        # the palette places a persona's card by keyboard alone, and chooses it for F6
        [place] = [
            c for c in app.get_system_commands(app.screen) if c.title == "デモ: カードを置く family"
        ]
        place.callback()
        await at_view(pilot, app, "method")
        app.remove_card()
        await at_view(pilot, app, "done")  # 【S02】: taken away half-way, until the next card
        await pilot.press("f6")
        await at_view(pilot, app, "method")

    asyncio.run(drive(svc, scenario))
    people = [r.variant for r in svc.store.receptions_on(now_jst().date())]
    assert len(people) == 2


def test_a_poor_picture_is_not_left_chosen_for_the_next_patient(
    tui_world: World, tmp_path: Path
) -> None:
    svc = services(tui_world, tmp_path)

    async def scenario(pilot: Pilot[None], app: ReceptionApp) -> None:
        await until(pilot, lambda: app.panel.warmed)
        app.place_card("face-only")
        await at_view(pilot, app, "method")
        await pilot.press("1")
        await at_view(pilot, app, "face")
        await pilot.click("#scenario-poor")
        await pilot.click("#face-shoot")
        await until(pilot, lambda: app.panel.view == "method")
        app.remove_card()
        await at_view(pilot, app, "done")  # 【S02】: taken away half-way, until the next card
        app.place_card("face-only")
        await at_view(pilot, app, "method")
        await pilot.press("1")
        await at_view(pilot, app, "face")
        assert app.query_one("#scenario-same", RadioButton).value
        assert not app.query_one("#scenario-poor", RadioButton).value

    asyncio.run(drive(svc, scenario))


def test_the_screenshot_is_saved_where_the_notice_says(
    tui_world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Textual saves to the user's Downloads folder, which need not exist: the terminal
    saves in its data folder, made when missing, and says the path."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # no Downloads folder there
    monkeypatch.delenv("XDG_DOWNLOAD_DIR", raising=False)
    svc = services(tui_world, tmp_path)

    async def scenario(pilot: Pilot[None], app: ReceptionApp) -> None:
        await until(pilot, lambda: app.panel.warmed)
        [command] = [c for c in app.get_system_commands(app.screen) if c.title == "Screenshot"]
        command.callback()
        folder = svc.settings.data_dir / "screenshots"
        await until(pilot, lambda: any(folder.glob("*.svg")))
        await until(pilot, lambda: any(str(folder) in str(n.message) for n in app._notifications))

    asyncio.run(drive(svc, scenario))


def test_the_wait_hint_stays_whole_on_screen_through_language_changes(
    tui_world: World, tmp_path: Path
) -> None:
    """At 200×55 the card-wait hint (「スマートフォンの方は…」 and the keys c / s) once sat at
    the panel's bottom edge, cut, and went off screen after F2."""
    svc = services(tui_world, tmp_path)
    app = make_app(svc)

    async def go() -> None:
        async with app.run_test(size=(200, 55)) as pilot:
            await until(pilot, lambda: app.panel.warmed)
            for expected in ("スマートフォン", "smartphone", "スマートフォン"):
                await pilot.pause()
                box = app.panel.content_region
                for selector in ("#wait-sub", "#wait-keys"):
                    hint = app.panel.query_one(selector, Static)
                    region = hint.region
                    assert region.height >= 1 and box.contains_region(region), selector
                    shown = str(hint.render())
                    lines = shown.splitlines() or [""]
                    assert region.height >= len(lines), selector
                assert expected in text(app, "#wait-keys")
                await pilot.press("f2")

    asyncio.run(go())


def test_the_patient_never_reads_the_staff_ladder(tui_world: World, tmp_path: Path) -> None:
    """The service down: staff read 「…資格確認書や申立書などで確認してください」 on the
    console; the patient reads what to do."""
    svc = services(tui_world, tmp_path, service_up=False)
    pin = tui_world.persona("adult-kyokai")["pin"]

    async def scenario(pilot: Pilot[None], app: ReceptionApp) -> None:
        await until(pilot, lambda: app.panel.warmed)
        app.place_card("adult-kyokai")
        await at_view(pilot, app, "method")
        await pilot.press("2")
        await at_view(pilot, app, "pin")
        await type_pin(pilot, pin)  # the nonce cannot be had: the card route ends here
        await at_view(pilot, app, "done")
        panel = "\n".join(text(app, f"#done-{part}") for part in ("title", "detail", "notice"))
        assert "受付窓口にお声がけください" in panel
        assert "ただいま保険の資格を確認できません" in panel
        for staff_word in ("資格確認書", "申立書", "居宅同意取得型", "代替"):
            assert staff_word not in panel, staff_word
        await pilot.press("f2")
        await pilot.pause()
        assert "Please speak to the reception desk" in text(app, "#done-title")

    asyncio.run(drive(svc, scenario))
