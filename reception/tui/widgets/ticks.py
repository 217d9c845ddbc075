"""Check boxes and radio buttons whose state reads without colour.

Textual draws a ticked and an unticked box alike (``▐X▌``), told apart by colour only: on a
monochrome or dim screen a trainee shared the opposite of what they meant, and the 申立書's
「マイナ保険証の提示を確認した」 looked ticked when it was not (issue 22 §4). These draw
☑ / ☐ and ◉ / ◌ — characters of East Asian width N, so a CJK terminal gives them one cell
as Rich counts them — with the colour kept as a second cue.
"""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Checkbox, RadioButton

TICKED = "☑"
UNTICKED = "☐"
CHOSEN = "◉"
NOT_CHOSEN = "◌"


class TickBox(Checkbox):
    """A :class:`Checkbox` that shows ☑ when ticked and ☐ when not."""

    @property
    def _button(self) -> Content:
        style = self.get_visual_style("toggle--button")
        return Content.assemble((TICKED if self.value else UNTICKED, style))


class RadioChoice(RadioButton):
    """A :class:`RadioButton` that shows ◉ when chosen and ◌ when not."""

    @property
    def _button(self) -> Content:
        style = self.get_visual_style("toggle--button")
        return Content.assemble((CHOSEN if self.value else NOT_CHOSEN, style))
