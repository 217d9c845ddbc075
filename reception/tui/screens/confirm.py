"""A ladder rung that settles a reception without a form of its own (お知らせ /
マイナポータル seen, 持参なし → 10割): staff read whose reception it is and what will be
recorded, then confirm."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from reception.tui.text import safe


class LadderConfirmScreen(ModalScreen[bool]):
    """``heading`` (the reception and its patient) on top, ``what`` will be recorded:
    True when staff confirm, False when they do not."""

    BINDINGS = [Binding("escape", "cancel", "やめる", id="ladder-confirm-cancel")]

    def __init__(self, heading: str, what: str, verb: str = "記録する") -> None:
        super().__init__()
        self.heading = heading
        self.what = what
        self.verb = verb

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(safe(self.heading), id="ladder-confirm-heading", classes="heading")
            yield Static(safe(self.what), id="ladder-confirm-what")
            with Horizontal(classes="buttons"):
                yield Button(self.verb, id="ladder-confirm-ok", variant="primary")
                yield Button("やめる", id="ladder-confirm-no")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "ladder-confirm-ok")

    def action_cancel(self) -> None:
        self.dismiss(False)
