"""The patient reads patient words, in the language chosen, and all of them (issue 22
§3, §5): every view of the reader panel walked in English finds no Japanese, and every
text and button of every view fits the panel (wrapped or scrolled, never cut) — the
console keeps the staff words."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
from rich.cells import cell_len
from textual.pilot import Pilot
from textual.widget import Widget
from textual.widgets import Button, Static
from textual.widgets._toggle_button import ToggleButton

from mock_oqs.world import World
from reception.settings import ReaderSettings
from reception.store import now_jst
from reception.tui.app import ReceptionApp, make_app
from reception.tui.reader_panel import ReaderPanel
from reception.tui.widgets.ticks import TICKED, UNTICKED
from tests.support.tui import at_view, services, type_pin, until

JAPANESE = re.compile(r"[\u3000-\u30ff\u3400-\u9fff\uff01-\uff9f]")


def visible(widget: Widget) -> bool:
    return all(node.display for node in [widget, *widget.ancestors] if isinstance(node, Widget))


def words(panel: ReaderPanel) -> list[tuple[Widget, str]]:
    """Every text the patient can read on the panel now: the statics and the labels of
    the buttons and boxes of the view on screen (and the top line)."""
    found: list[tuple[Widget, str]] = []
    for widget in panel.query("*"):
        if not visible(widget):
            continue
        if isinstance(widget, Button | ToggleButton):
            found.append((widget, str(widget.label)))
        elif isinstance(widget, Static):
            found.append((widget, str(widget.render())))
    return [(w, s) for w, s in found if s.strip()]


class Walk:
    """Walks the panel's views, checking each as it shows."""

    def __init__(self, pilot: Pilot[None], app: ReceptionApp, language: str) -> None:
        self.pilot, self.app, self.language = pilot, app, language
        self.panel = app.panel  # also while a staff screen is over it
        self.seen: list[str] = []

    async def check(self, name: str) -> None:
        await self.pilot.pause()
        panel = self.panel
        found = words(panel)
        assert found, f"{name}: nothing to read"
        if self.language == "en":
            japanese = [s for _, s in found if JAPANESE.search(s)]
            assert not japanese, f"{name} still reads Japanese: {japanese}"
        box = panel.content_region
        for widget, content in found:
            region = widget.region
            if region.width == 0:  # scrolled out of the view: reachable by scrolling
                continue
            assert region.right <= box.right, f"{name}: {content!r} is cut at the right"
            if isinstance(widget, Button):
                needed = max(cell_len(line) for line in content.splitlines()) + 2
                assert widget.content_region.width >= needed, f"{name}: {content!r} is cut"
        self.seen.append(name)

    async def place(self, persona: str, view: str) -> None:
        self.app.place_card(persona)
        await at_view(self.pilot, self.app, view)

    async def take(self) -> None:
        midway = self.app.panel.view != "done"
        self.app.remove_card()
        if midway:  # taken away half-way: 【S02】 until 閉じる (or the next card)
            await at_view(self.pilot, self.app, "done")
            await self.check("done, card taken away half-way")
            self.app.panel.query_one("#error-close", Button).press()
        await at_view(self.pilot, self.app, "wait")


async def walk_every_view(
    pilot: Pilot[None], app: ReceptionApp, world: World, language: str
) -> list[str]:
    walk = Walk(pilot, app, language)
    await until(pilot, lambda: app.panel.warmed)
    if language == "en":
        await pilot.press("f2")
    await walk.check("wait")
    await pilot.press("s")
    await walk.check("wait, smartphone chosen")
    await pilot.press("c")
    await walk.check("wait, card chosen")

    pin = world.persona("adult-kyokai")["pin"]
    await walk.place("adult-kyokai", "method")
    await walk.check("method")
    await pilot.press("2")
    await at_view(pilot, app, "pin")
    await walk.check("PIN")
    await type_pin(pilot, "0000" if pin != "0000" else "1111")
    await until(pilot, lambda: app.panel.query_one("#pin-message", Static).render() != "")
    await walk.check("PIN, wrong once")
    await type_pin(pilot, pin)
    await at_view(pilot, app, "consents")
    await walk.check("consents")
    await pilot.click("#consent-each")
    await until(pilot, lambda: visible(app.panel.query_one("#consent-checkup")))
    await pilot.click("#consent-checkup")
    await walk.check("consents one by one")
    await pilot.click("#consent-ok")
    await at_view(pilot, app, "subsidy")
    await walk.check("subsidy")
    await pilot.press("n")
    await at_view(pilot, app, "prescription")
    await walk.check("prescription")
    await pilot.press("1")
    await at_view(pilot, app, "done")
    await walk.check("done")
    await walk.take()

    await walk.place("pin-blocked", "method")
    await walk.check("method, PIN locked")
    await pilot.press("1")
    await at_view(pilot, app, "face")
    await walk.check("face")
    await pilot.click("#scenario-other")
    await pilot.click("#face-shoot")
    await until(pilot, lambda: app.panel.question is not None and app.panel.view == "method")
    await walk.check("method, face not matched")
    await pilot.press("3")
    await until(pilot, lambda: app.screen.__class__.__name__ == "VisualCheckScreen")
    assert walk.panel.view == "visual"
    await walk.check("visual")
    await pilot.click("#visual-ok")
    await at_view(pilot, app, "consents")
    await pilot.press("y")
    await at_view(pilot, app, "prescription")
    await pilot.press("2")
    await at_view(pilot, app, "done")
    await walk.take()

    await walk.place("not-registered", "method")
    await pilot.press("2")
    await at_view(pilot, app, "pin")
    await type_pin(pilot, world.persona("not-registered")["pin"])
    await at_view(pilot, app, "register")  # right after identity (issue 22 §3)
    await walk.check("registration")
    await pilot.press("n")
    await at_view(pilot, app, "done")
    await walk.check("done, not registered")
    await walk.take()

    await walk.place("cert-lapsed", "method")
    await pilot.press("2")
    await at_view(pilot, app, "pin")
    await type_pin(pilot, world.persona("cert-lapsed")["pin"])
    await at_view(pilot, app, "done")  # refused right after identity: nothing asked
    await walk.check("done, certificate lapsed")
    await walk.take()

    await walk.place("android", "method")
    await walk.check("method, Android")
    await walk.take()
    await walk.place("iphone", "method")
    await walk.check("method, iPhone")
    await pilot.press("2")
    await at_view(pilot, app, "consents")
    await pilot.press("n")
    await at_view(pilot, app, "subsidy")
    await pilot.press("n")
    await at_view(pilot, app, "prescription")
    await pilot.press("2")
    await at_view(pilot, app, "done")
    await walk.check("done, smartphone")
    return walk.seen


@pytest.mark.parametrize(("language", "size"), [("en", (120, 40)), ("ja", (80, 24))])
def test_every_view_of_the_panel_reads_whole_in_the_language_chosen(
    tui_world: World, tmp_path: Path, language: str, size: tuple[int, int]
) -> None:
    """English leaves no Japanese behind (the variant's raw id, 本人 / 別人 / 撮影不良,
    顔が一致しませんでした, 訂正, 負担割合 once did), and no text or button is cut."""
    reader = ReaderSettings(electronic_prescriptions=True, public_expense_pilot=True)
    svc = services(tui_world, tmp_path, reader=reader)
    app = make_app(svc)
    seen: list[str] = []

    async def go() -> None:
        async with app.run_test(size=size) as pilot:
            seen.extend(await walk_every_view(pilot, app, tui_world, language))

    asyncio.run(go())
    assert len(seen) == 22, seen  # the views, 【S02】 (taken away half-way) among them


def test_what_is_shown_ticked_is_what_is_sent(tui_world: World, tmp_path: Path) -> None:
    """個別に選ぶ: a ticked box reads ☑ and an unticked one ☐ without colour, and the
    items sent are the ones that read ☑."""
    svc = services(tui_world, tmp_path)
    app = make_app(svc)
    pin = tui_world.persona("adult-kyokai")["pin"]
    marks: dict[str, str] = {}

    async def go() -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: app.panel.warmed)
            app.place_card("adult-kyokai")
            await at_view(pilot, app, "method")
            await pilot.press("2")
            await at_view(pilot, app, "pin")
            await type_pin(pilot, pin)
            await at_view(pilot, app, "consents")
            await pilot.click("#consent-each")
            await until(pilot, lambda: visible(app.panel.query_one("#consent-operation")))
            await pilot.click("#consent-operation")
            await pilot.pause()
            for key in ("medication", "checkup", "operation"):
                box = app.panel.query_one(f"#consent-{key}", ToggleButton)
                marks[key] = str(box.render())[0]
            await pilot.click("#consent-ok")
            await at_view(pilot, app, "done")

    asyncio.run(go())
    assert marks == {"medication": UNTICKED, "checkup": UNTICKED, "operation": TICKED}
    [reception] = svc.store.receptions_on(now_jst().date())
    entry = svc.store.results_of(reception.reception_id)[-1].entries[0]
    sent = (
        entry.pharmacists_info_cons_flg,
        entry.specific_health_checkups_info_cons_flg,
        entry.operation_info_cons_flg,
    )
    assert sent == ("0", "0", "1")
