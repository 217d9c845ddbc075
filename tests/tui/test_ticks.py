"""A ticked box looks ticked without colour (issue 22 §4): ☑/☐ and ◉/◌, not ▐X▌ for both."""

from __future__ import annotations

import asyncio

from textual.app import App, ComposeResult
from textual.widgets import RadioSet

from reception.tui.widgets.ticks import RadioChoice, TickBox


class Boxes(App[None]):
    def compose(self) -> ComposeResult:
        yield TickBox("同意する", id="box")
        with RadioSet(id="set"):
            yield RadioChoice("提供する", id="yes")
            yield RadioChoice("提供しない", value=True, id="no")


def text_of(widget: TickBox | RadioChoice) -> str:
    return widget.render().plain


def test_a_box_reads_ticked_or_not_in_plain_text() -> None:
    asyncio.run(box_ticks())


async def box_ticks() -> None:
    app = Boxes()
    async with app.run_test() as pilot:
        box = app.query_one("#box", TickBox)
        assert text_of(box).startswith("☐") and "X" not in text_of(box)
        await pilot.click("#box")
        assert box.value and text_of(box).startswith("☑")
        await pilot.press("space")
        assert not box.value and text_of(box).startswith("☐")


def test_a_radio_reads_chosen_or_not_in_plain_text() -> None:
    asyncio.run(radio_ticks())


async def radio_ticks() -> None:
    app = Boxes()
    async with app.run_test() as pilot:
        yes, no = app.query_one("#yes", RadioChoice), app.query_one("#no", RadioChoice)
        assert text_of(no).startswith("◉") and text_of(yes).startswith("◌")
        await pilot.click("#yes")
        assert text_of(yes).startswith("◉") and text_of(no).startswith("◌")
