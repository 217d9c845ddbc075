"""Two forms of the rules of the day (reception/ladder_rules.py): the expired 保険証's
numbers (the rung 「有効期限切れの保険証」, or a 資格情報のお知らせ brought alone), and the
dates read on a 資格情報のお知らせ shown with the card (its 有効期限 for a 70+ patient)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from reception.declaration import check_insurer_number
from reception.errors import InputError
from reception.ladder_rules import (
    INTERIM_UNTIL,
    NoticeSeen,
    OldDocument,
    notice_problem,
)
from reception.old_card import check_old_card
from reception.oqs_client import NumberQuery
from reception.tui.screens.number import NUMBER_FIELDS
from reception.tui.text import safe
from reception.tui.widgets.ticks import TickBox
from reception.wareki import WarekiError, parse_date

# the hint is the field's placeholder: in the label it ran past the dialog and was cut
DATE_HINT = "（和暦のまま可）"
DATE_EXAMPLE = "令和7年7月31日、R7.7.31 / 西暦: 2025-07-31"


@dataclass(frozen=True)
class OldCardForm:
    """What staff entered: the printed numbers, the printed 有効期限 (if any), and which
    document it was."""

    query: NumberQuery
    printed_until: dt.date | None
    document: OldDocument


def _date(value: str, *, today: dt.date | None = None) -> dt.date | None:
    return parse_date(value, today=today) if value.strip() else None


class OldCardScreen(ModalScreen[OldCardForm | None]):
    """The numbers printed on the expired 保険証 (or the お知らせ), for the reception named
    at the top; refused in place outside the interim rule's days."""

    BINDINGS = [Binding("escape", "cancel", "閉じる", id="old-card-cancel")]
    # centred as the other forms; the buttons' row as high as its buttons (a bare
    # Horizontal took the rest of the dialog and pushed the refusal out of view)
    DEFAULT_CSS = """
    OldCardScreen { align: center middle; }
    OldCardScreen .buttons { height: auto; }
    """

    def __init__(self, heading: str, day: dt.date) -> None:
        super().__init__()
        self.heading = heading
        self.day = day

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog"):
            yield Static(safe(self.heading), id="old-card-heading", classes="heading")
            yield Static(
                f"有効期限切れの保険証の番号で照会（暫定取扱い {INTERIM_UNTIL:%Y-%m-%d} まで・"
                f"この日 {self.day:%Y-%m-%d}）",
                classes="title",
            )
            yield TickBox("資格情報のお知らせのみ持参（保険証なし）", id="old-card-notice")
            for key, label in NUMBER_FIELDS:
                yield Label(label)
                yield Input(id=f"old-card-{key}")
            yield Label(f"記載の有効期限（あれば）{DATE_HINT}")
            yield Input(id="old-card-until", placeholder=DATE_EXAMPLE)
            with Horizontal(classes="buttons"):
                yield Button("照会する", id="old-card-ok", variant="primary")
                yield Button("閉じる", id="old-card-no")
            # below the buttons: a long refusal moves nothing staff are about to press
            yield Static("", id="old-card-error", classes="errors")

    def _said(self, text: str) -> None:
        said = self.query_one("#old-card-error", Static)
        said.update(safe(text))
        self.call_after_refresh(said.scroll_visible, animate=False)  # below the buttons

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id != "old-card-ok":
            self.dismiss(None)
            return
        values = {
            k: self.query_one(f"#old-card-{k}", Input).value.strip() for k, _ in NUMBER_FIELDS
        }
        missing = [
            label.split("（")[0]
            for key, label in NUMBER_FIELDS
            if not values[key] and key not in ("branch", "symbol")
        ]
        if missing:
            self._said(f"{'・'.join(missing)}: 記入が必要です")
            return
        notice = self.query_one("#old-card-notice", TickBox).value
        document = OldDocument.NOTICE_ALONE if notice else OldDocument.HOKENSHO
        try:
            insurer = check_insurer_number(values["insurer_number"])
        except ValueError as exc:
            self._said(str(exc))
            return
        try:
            born = parse_date(values["birth_date"], today=self.day)
            until = _date(self.query_one("#old-card-until", Input).value)
            check_old_card(self.day, document, until, born)
        except WarekiError as exc:
            self._said(f"日付: {exc}")
            return
        except InputError as exc:  # outside the interim rule, a date no card had
            self._said(str(exc))
            return
        query = NumberQuery(
            insurer_number=insurer,
            symbol=values["symbol"],
            number=values["number"],
            branch=values["branch"],
            birth_date=born,
        )
        self.dismiss(OldCardForm(query, until, document))

    def action_cancel(self) -> None:
        self.dismiss(None)


class NoticeDatesScreen(ModalScreen[NoticeSeen | None]):
    """The お知らせ shown with the card: its printed 有効期限 (a 70+ patient's ends on 7/31),
    and the birth date where the reception does not know it. An expired one is said here
    and not recorded."""

    DEFAULT_CSS = """
    NoticeDatesScreen { align: center middle; }
    NoticeDatesScreen .buttons { height: auto; }
    """

    BINDINGS = [Binding("escape", "cancel", "閉じる", id="notice-dates-cancel")]

    def __init__(self, heading: str, day: dt.date, birth: dt.date | None) -> None:
        super().__init__()
        self.heading = heading
        self.day = day
        self.birth = birth

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog"):
            yield Static(safe(self.heading), id="notice-dates-heading", classes="heading")
            yield Static(
                "資格情報のお知らせ: 70歳以上の方のお知らせには有効期限（7月31日）があります",
                classes="title",
            )
            if self.birth is None:
                yield Label(f"生年月日（受付で分かっていません）{DATE_HINT}")
                yield Input(
                    id="notice-dates-birth",
                    placeholder="昭和61年12月7日、S61.12.7 / 西暦: 1986-12-07",
                )
            yield Label(f"記載の有効期限（70歳以上の方のみ）{DATE_HINT}")
            yield Input(id="notice-dates-until", placeholder=DATE_EXAMPLE)
            with Horizontal(classes="buttons"):
                yield Button("記録へ進む", id="notice-dates-ok", variant="primary")
                yield Button("閉じる", id="notice-dates-no")
            yield Static("", id="notice-dates-error", classes="errors")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id != "notice-dates-ok":
            self.dismiss(None)
            return
        error = self.query_one("#notice-dates-error", Static)
        try:
            birth = self.birth
            if birth is None:
                birth = parse_date(
                    self.query_one("#notice-dates-birth", Input).value, today=self.day
                )
            until = _date(self.query_one("#notice-dates-until", Input).value)
        except WarekiError as exc:
            error.update(safe(f"日付: {exc}"))
            self.call_after_refresh(error.scroll_visible, animate=False)
            return
        seen = NoticeSeen(until=until, birth_date=None if self.birth else birth)
        problem = notice_problem(birth, seen, self.day)
        if problem is not None:
            error.update(safe(problem))
            self.call_after_refresh(error.scroll_visible, animate=False)
            return
        self.dismiss(seen)

    def action_cancel(self) -> None:
        self.dismiss(None)
