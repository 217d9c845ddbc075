"""Modal screens of the staff console: 目視確認, the 資格確認書 query, the 申立書 form."""

from __future__ import annotations

import datetime as dt

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from reception.declaration import DeclarationError, SelfDeclaration
from reception.oqs_client import NumberQuery
from reception.tui.text import safe


class VisualCheckScreen(ModalScreen[str | None]):
    """Staff compare the patient with the card's photo (目視確認モード)."""

    BINDINGS = [Binding("escape", "cancel", "中止", id="visual-cancel")]

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static("目視確認：カードの顔写真とご本人を見比べてください", classes="title")
            yield Label("確認した職員")
            yield Input(value="受付", id="visual-staff")
            with Horizontal():
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


FORM_FIELDS = [
    ("declared_on", "申立日（YYYY-MM-DD）"),
    ("reason", "申立ての理由"),
    ("name", "氏名"),
    ("name_kana", "フリガナ（カタカナ）"),
    ("birth_date", "生年月日（YYYY-MM-DD）"),
    ("sex", "性別（男／女／未設定）"),
    ("address", "住所（カードの記載どおり）"),
    ("phone", "電話番号"),
    (
        "insurance_type",
        "保険の種類（協会けんぽ／健康保険組合／共済組合／国民健康保険／"
        "後期高齢者医療／わからない）",
    ),
    ("insurer_name", "保険者名（任意）"),
    ("employer_name", "事業所名（任意）"),
    ("declared_ratio", "負担割合（10／20／30 %）"),
    ("insurer_number", "保険者番号（わかれば）"),
    ("symbol", "記号（わかれば）"),
    ("number", "番号（わかれば）"),
    ("branch", "枝番（わかれば）"),
    ("previous_insurer_number", "前の保険者番号（わかれば）"),
    ("note", "備考"),
]


class DeclarationScreen(ModalScreen[SelfDeclaration | None]):
    """The 被保険者資格申立書, prefilled from what is known; validated before saving."""

    BINDINGS = [Binding("escape", "cancel", "閉じる", id="declaration-cancel")]

    def __init__(self, prefill: dict[str, str]) -> None:
        super().__init__()
        self.prefill = prefill

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog wide"):
            yield Static("被保険者資格申立書", classes="title")
            yield Static("", id="form-errors", classes="errors")  # on top: seen at once
            for key, label in FORM_FIELDS:
                yield Label(label)
                yield Input(value=self.prefill.get(key, ""), id=f"form-{key}")
            with Horizontal():
                yield Button("保存して印刷用PDFを作る", id="form-ok", variant="primary")
                yield Button("閉じる", id="form-no")

    def values(self) -> dict[str, str]:
        return {key: self.query_one(f"#form-{key}", Input).value.strip() for key, _ in FORM_FIELDS}

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id != "form-ok":
            self.dismiss(None)
            return
        data = {k: v for k, v in self.values().items() if v}
        try:
            declaration = SelfDeclaration.parse(data)
        except DeclarationError as exc:
            text = "\n".join(f"・{p}" for p in exc.problems)
            self.query_one("#form-errors", Static).update(safe(text))
            self.query_one(VerticalScroll).scroll_home(animate=False)
            return
        self.dismiss(declaration)

    def action_cancel(self) -> None:
        self.dismiss(None)
