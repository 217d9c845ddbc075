"""The 資格確認書 rung: a query by the numbers on it."""

from __future__ import annotations

import datetime as dt

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from reception.oqs_client import NumberQuery
from reception.tui.text import safe

NUMBER_FIELDS = [
    ("insurer_number", "保険者番号"),
    ("symbol", "記号"),
    ("number", "番号"),
    ("branch", "枝番（任意）"),
    ("birth_date", "生年月日（YYYY-MM-DD）"),
]


class NumberQueryScreen(ModalScreen[NumberQuery | None]):
    """The 資格確認書 rung: query by its numbers."""

    BINDINGS = [Binding("escape", "cancel", "閉じる", id="number-cancel")]

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static("資格確認書の番号で照会", classes="title")
            for key, label in NUMBER_FIELDS:
                yield Label(label)
                yield Input(id=f"number-{key}")
            yield Static("", id="number-errors", classes="errors")
            with Horizontal():
                yield Button("照会する", id="number-ok", variant="primary")
                yield Button("閉じる", id="number-no")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id != "number-ok":
            self.dismiss(None)
            return
        values = {k: self.query_one(f"#number-{k}", Input).value.strip() for k, _ in NUMBER_FIELDS}
        missing = [label for k, label in NUMBER_FIELDS if not values[k] and k != "branch"]
        birth = values["birth_date"].replace("-", "")
        if missing or not (len(birth) == 8 and birth.isdigit()):
            problems = [f"{m}: 記入が必要です" for m in missing]
            if values["birth_date"] and not (len(birth) == 8 and birth.isdigit()):
                problems.append("生年月日: YYYY-MM-DD で書いてください")
            self.query_one("#number-errors", Static).update(safe("\n".join(problems)))
            return
        try:
            born = dt.date(int(birth[:4]), int(birth[4:6]), int(birth[6:]))
        except ValueError:
            self.query_one("#number-errors", Static).update("生年月日: ありえない日付です")
            return
        self.dismiss(
            NumberQuery(
                insurer_number=values["insurer_number"],
                symbol=values["symbol"],
                number=values["number"],
                branch=values["branch"],
                birth_date=born,
            )
        )

    def action_cancel(self) -> None:
        self.dismiss(None)
