"""The 被保険者資格申立書 form, validated field by field before it is filed."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, Static

from reception.declaration import DeclarationError, SelfDeclaration
from reception.tui.text import safe

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
            yield Checkbox(
                "マイナ保険証の提示を確認した（申立書はカードとあわせて受け付けます）",
                id="form-card_shown",
            )
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
        data: dict[str, object] = {k: v for k, v in self.values().items() if v}
        data["card_shown"] = self.query_one("#form-card_shown", Checkbox).value
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
