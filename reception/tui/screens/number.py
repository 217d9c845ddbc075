"""The 資格確認書 rung: a query by the numbers on it, for the reception named at the top."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from reader.clock import now_jst
from reception.oqs_client import NumberQuery
from reception.tui.text import safe
from reception.wareki import WarekiError, format_wareki, parse_date

NUMBER_FIELDS = [
    ("insurer_number", "保険者番号"),
    ("symbol", "記号"),
    ("number", "番号"),
    ("branch", "枝番（任意）"),
    # ≤ 62 cells: a longer label ran past the dialog (width 70) and was cut
    ("birth_date", "生年月日（和暦のまま: S61.12.7 / 西暦: 1986-12-07）"),
]


class NumberQueryScreen(ModalScreen[NumberQuery | None]):
    """The 資格確認書 rung: query by its numbers. ``heading`` names the reception and the
    patient the answer is recorded on (:meth:`reception.target.LadderTarget.heading`)."""

    BINDINGS = [Binding("escape", "cancel", "閉じる", id="number-cancel")]

    def __init__(self, heading: str) -> None:
        super().__init__()
        self.heading = heading

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog"):
            yield Static(safe(self.heading), id="number-heading", classes="heading")
            yield Static("資格確認書の番号で照会", classes="title")
            for key, label in NUMBER_FIELDS:
                yield Label(label)
                yield Input(id=f"number-{key}")
                yield Static("", id=f"number-{key}-error", classes="errors field-error")
            yield Static("", id="number-birth-read")
            with Horizontal(classes="buttons"):
                yield Button("照会する", id="number-ok", variant="primary")
                yield Button("閉じる", id="number-no")

    def on_mount(self) -> None:
        for key, _ in NUMBER_FIELDS:
            self.query_one(f"#number-{key}-error").display = False

    def _problem(self, key: str, text: str) -> None:
        said = self.query_one(f"#number-{key}-error", Static)
        said.update(safe(text))
        said.display = bool(text)

    def on_input_changed(self, event: Input.Changed) -> None:
        """The birth date as read, beside what was typed (staff see 和暦 understood)."""
        if event.input.id != "number-birth_date":
            return
        read = ""
        try:
            born = parse_date(event.value, today=now_jst().date())
            read = f"生年月日 → {born:%Y/%m/%d}（{format_wareki(born)}）"
        except WarekiError:
            pass  # said when 照会する is pressed, not at every keystroke
        self.query_one("#number-birth-read", Static).update(read)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id != "number-ok":
            self.dismiss(None)
            return
        values = {k: self.query_one(f"#number-{k}", Input).value.strip() for k, _ in NUMBER_FIELDS}
        ok = True
        for key, label in NUMBER_FIELDS:
            missing = not values[key] and key != "branch"
            self._problem(key, f"{label.split('（')[0]}: 記入が必要です" if missing else "")
            ok = ok and not missing
        born = None
        if values["birth_date"]:
            try:
                born = parse_date(values["birth_date"], today=now_jst().date())
            except WarekiError as exc:
                self._problem("birth_date", f"生年月日: {exc}")
                ok = False
        if not ok or born is None:
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
