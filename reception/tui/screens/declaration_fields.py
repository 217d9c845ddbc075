"""The fields of the 申立書 form: what each asks in Japanese (with an English gloss for a
patient who reads English), what kind of widget takes it, and those widgets.

The saved data and the PDF stay Japanese whatever the language: a choice's value is the
word the model parses (「男」, 「協会けんぽ」, 「30」); only what the person reads changes.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from textual import events
from textual.widgets import Input, RadioSet

from reception.declaration import InsuranceType, Sex
from reception.reasons import FallbackReason
from reception.tui.widgets.ticks import RadioChoice

Kind = Literal["text", "select", "radio"]


@dataclass(frozen=True)
class Choice:
    value: str  # what the model parses and the store keeps
    ja: str
    en: str = ""  # the gloss after the Japanese word, in English

    def label(self, language: str) -> str:
        return f"{self.ja} {self.en}" if language == "en" and self.en else self.ja


@dataclass(frozen=True)
class FormField:
    """One field: ``key`` is the :class:`~reception.declaration.SelfDeclaration` field."""

    key: str
    ja: str
    en: str
    kind: Kind = "text"
    choices: tuple[Choice, ...] = ()
    placeholder: str = ""

    def label(self, language: str) -> str:
        """「氏名」, or 「氏名 Name」 in English: the Japanese term stays (the form and the
        staff are Japanese), the gloss says what it means."""
        return f"{self.ja} {self.en}" if language == "en" else self.ja


CARD_SHOWN = Choice("card_shown", "マイナ保険証の提示を確認した", "The card was shown")
CARD_SHOWN_HINT = Choice(
    "card_shown", "申立書はマイナ保険証とあわせて受け付けます", "(accepted with the card only)"
)

# 持参なし is no 申立書 case (10割, the ladder's own button): not offered as a reason
REASONS = tuple(Choice(r.label, r.label) for r in FallbackReason if r is not FallbackReason.NO_CARD)
SEXES = (
    Choice(Sex.MALE, "男", "Male"),
    Choice(Sex.FEMALE, "女", "Female"),
    Choice(Sex.UNSET, "未設定", "Not stated"),
)
_INSURANCE_GLOSS = {
    InsuranceType.KYOKAI: "Japan Health Insurance Association",
    InsuranceType.KUMIAI: "Health insurance society",
    InsuranceType.KYOSAI: "Mutual aid association",
    InsuranceType.KOKUHO: "National Health Insurance",
    InsuranceType.KOKI: "Late-stage elderly",
    InsuranceType.UNKNOWN: "Don't know",
}
INSURANCE_TYPES = tuple(Choice(t.value, t.value, _INSURANCE_GLOSS[t]) for t in InsuranceType)
RATIOS = (Choice("10", "1割", "10%"), Choice("20", "2割", "20%"), Choice("30", "3割", "30%"))

FORM_FIELDS: tuple[FormField, ...] = (
    FormField("declared_on", "申立日", "Date", placeholder="YYYY-MM-DD"),
    FormField("reason", "申立ての理由", "Reason", "select", REASONS),
    FormField("name", "氏名", "Name"),
    FormField("name_kana", "フリガナ（カタカナ）", "Name in katakana"),
    FormField("birth_date", "生年月日", "Date of birth", placeholder="YYYY-MM-DD"),
    FormField("sex", "性別", "Sex", "radio", SEXES),
    FormField("address", "住所（カードの記載どおり）", "Address (as on the card)"),
    FormField("phone", "電話番号", "Phone", placeholder="03-1234-5678"),
    FormField("insurance_type", "保険の種類", "Type of insurance", "select", INSURANCE_TYPES),
    FormField("insurer_name", "保険者名（任意）", "Insurer (optional)"),
    FormField("employer_name", "事業所名（任意）", "Employer (optional)"),
    FormField("declared_ratio", "負担割合", "Share you pay", "radio", RATIOS),
    FormField("insurer_number", "保険者番号（わかれば）", "Insurer number (if known)"),
    FormField("symbol", "記号（わかれば）", "Symbol (if known)"),
    FormField("number", "番号（わかれば）", "Number (if known)"),
    FormField("branch", "枝番（わかれば）", "Branch number (if known)", placeholder="01"),
    FormField(
        "previous_insurer_number",
        "前の保険者番号（わかれば）",
        "Previous insurer number (if known)",
    ),
    FormField("note", "備考", "Notes"),
)


class TypedInput(Input):
    """An :class:`Input` that keeps every character typed, spaces of every width.

    Textual's Input inserts a key only when ``str.isprintable()`` holds, and Python counts
    no space separator but U+0020 as printable: the full-width space of a Japanese IME
    (U+3000, 「新井　健」) was dropped on the keyboard (issue 22 §4). A pasted one was kept.
    """

    async def _on_key(self, event: events.Key) -> None:
        char = event.character
        if char and len(char) == 1 and unicodedata.category(char) == "Zs" and char != " ":
            event.stop()
            event.prevent_default()
            selection = self.selection
            if selection.is_empty:
                self.insert_text_at_cursor(char)
            else:
                self.replace(char, *selection)
            return
        await super()._on_key(event)


class ChoiceSet(RadioSet):
    """A short list of choices side by side (◉ / ◌), with the chosen ``value`` as a string
    ("" when none): what a free-text field that took only listed words was."""

    def __init__(
        self, choices: Sequence[Choice], *, value: str = "", language: str = "ja", ident: str
    ) -> None:
        self.choices = tuple(choices)
        buttons = [
            RadioChoice(c.label(language), value=c.value == value, name=c.value) for c in choices
        ]
        super().__init__(*buttons, id=ident)

    @property
    def value(self) -> str:
        pressed = self.pressed_button
        return pressed.name or "" if pressed is not None else ""

    @value.setter
    def value(self, value: str) -> None:
        for button in self.query(RadioChoice):
            button.value = button.name == value

    def relabel(self, language: str) -> None:
        for button, choice in zip(self.query(RadioChoice), self.choices, strict=True):
            button.label = choice.label(language)
