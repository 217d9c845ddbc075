"""目視確認: staff compare the card's photo with the patient."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from reception.tui.text import safe


class VisualCheckScreen(ModalScreen[str | None]):
    """Staff compare the patient with the card's photo (目視確認モード). ``heading`` names
    the reception being checked in (:meth:`reception.target.LadderTarget.heading`)."""

    BINDINGS = [Binding("escape", "cancel", "中止", id="visual-cancel")]

    def __init__(self, heading: str) -> None:
        super().__init__()
        self.heading = heading

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(safe(self.heading), id="visual-heading", classes="heading")
            yield Static("目視確認：カードの顔写真とご本人を見比べてください", classes="title")
            yield Label("確認した職員")
            yield Input(value="受付", id="visual-staff")
            with Horizontal(classes="buttons"):
                yield Button("本人と確認しました", id="visual-ok", variant="primary")
                yield Button("中止", id="visual-no")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "visual-ok":
            staff = self.query_one("#visual-staff", Input).value.strip() or "受付"
            self.dismiss(staff)
        else:
            self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)
