"""The 資格確認端末's side of the マイナ資格確認アプリ: an activation code, issued here and
shown once (reception/home_visit/codes.py: single use, lapses after an hour), for staff to
type into the app at its first registration (京都医報 2025-03-01号, the ministry's Q&A:
the app works only on a clinic's device prepared with a code issued on the 資格確認端末).
The command palette's 「アプリのアクティベーションコード」 opens it."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from reception.home_visit.codes import IssuedCode


class AppCodeScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape", "close", "閉じる")]

    def __init__(self, issued: IssuedCode) -> None:
        super().__init__()
        self.issued = issued

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="app-code-dialog"):
            yield Static("マイナ資格確認アプリ（居宅同意取得型）", classes="title")
            yield Static(f"アクティベーションコード  {self.issued.code}", id="app-code-value")
            yield Static(
                f"{self.issued.expires_at:%H:%M} まで有効・1回限り。アプリの初期登録で"
                "入力してください（この画面を閉じると二度と表示されません）",
                id="app-code-note",
            )
            yield Button("閉じる", id="app-code-close", variant="primary")

    @on(Button.Pressed, "#app-code-close")
    def _close(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(None)

    def action_close(self) -> None:
        self.dismiss(None)
