"""Demo controls for trainers: put a persona's card on the reader or take it off, unplug
the reader, break the service."""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Button, Select, Static, TabPane

from reader.errors import SlotTaken
from reception.tui.desk import CheckinDesk
from reception.tui.services import Demo
from reception.tui.text import safe
from reception.tui.widgets.messages import (
    CardPlaced,
    CardTaken,
    DeveloperNote,
    ReportsFailedWorkers,
)

FAULTS = [
    ("遅延 15秒", ["--latency-ms", "15000"]),
    ("5xx エラー", ["--error-rate", "1"]),
    ("停止", ["--outage", "on"]),
    ("不正な応答", ["--malformed", "on"]),
    ("無応答", ["--hang", "on"]),
    ("障害解除", ["--clear"]),
]


class DemoPanel(TabPane, ReportsFailedWorkers):
    """Placing a card starts the check-in at the desk, as a real card on a reader would."""

    def __init__(self, demo: Demo, desk: CheckinDesk) -> None:
        super().__init__("デモ", id="tab-demo")
        self.demo = demo
        self.desk = desk

    def compose(self) -> ComposeResult:
        yield Select(
            [(safe(f"{pid} — {desc}"), pid) for pid, desc in self.demo.personas],
            prompt="ペルソナを選ぶ",
            id="persona",
        )
        with Horizontal():
            yield Button("カードを置く", id="demo-place", variant="primary")
            yield Button("カードを取る", id="demo-remove")
            yield Button("リーダーを外す／つなぐ", id="demo-unplug")
        yield Static("サービスの障害を起こす:")
        with Horizontal(id="faults"):
            for i, (label, _) in enumerate(FAULTS):
                yield Button(label, id=f"fault-{i}")
        yield Static("", id="demo-status")

    def status(self, text: str) -> None:
        self.query_one("#demo-status", Static).update(safe(text))

    @property
    def persona(self) -> str | None:
        value = self.query_one("#persona", Select).value
        return value if isinstance(value, str) else None

    @on(Button.Pressed, "#demo-place")
    def _place_pressed(self) -> None:
        if self.persona is None:
            self.notify("ペルソナを選んでください", severity="warning")
            return
        self.place_card(self.persona)

    def place_card(self, persona: str) -> None:
        """Put a persona's card on the reader; the check-in starts once it is there."""
        if self.desk.running:
            self.notify("前の受付が終わっていません", severity="warning")
            return
        self.desk.running = True  # reserved until the card is there
        self._put_card(persona)

    @work(thread=True, exclusive=True, group="demo-card", exit_on_error=False)
    def _put_card(self, persona: str) -> None:
        """Serving the card into vpcd takes a moment: off the event loop. A smartphone
        goes to the clinic's phone reader (the demo's second reader)."""
        phone = self.demo.is_phone(persona)
        try:
            if phone:
                self.demo.place_phone(persona)
            else:
                self.demo.place(persona)
        except SlotTaken as exc:  # a card left in vpcd's slot: the reader keeps that one
            self.post_message(DeveloperNote(f"demo: {exc}"))
            self.post_message(CardPlaced(persona, error=exc.staff_message))
            return
        except Exception as exc:
            self.post_message(CardPlaced(persona, error=str(exc)))
            return
        self.post_message(CardPlaced(persona, medium="phone" if phone else "card"))

    def on_card_placed(self, message: CardPlaced) -> None:
        self.desk.running = False
        if message.error is not None:
            self.notify(safe(f"カードを置けませんでした: {message.error}"), severity="error")
            return
        what = "スマートフォンをかざしました" if message.medium == "phone" else "カードを置きました"
        self.status(f"{message.persona} の{what}（暗証番号は world.json に）")
        self.desk.start(message.medium)

    @on(Button.Pressed, "#demo-remove")
    def remove_card(self) -> None:
        self.desk.card_left()
        self._take_card()

    @work(thread=True, exclusive=True, group="demo-card", exit_on_error=False)
    def _take_card(self) -> None:
        self.demo.remove()
        self.post_message(CardTaken())

    def on_card_taken(self) -> None:
        if not self.desk.running:
            self.desk.panel.show("wait", None)
        self.status("カードを取りました")

    @on(Button.Pressed, "#demo-unplug")
    def toggle_reader(self) -> None:
        try:
            unplugged = self.demo.toggle_reader()
        except NotImplementedError as exc:
            self.notify(safe(str(exc)), severity="warning")
            return
        self.status("リーダーを外しました" if unplugged else "リーダーをつなぎました")

    @on(Button.Pressed, "#faults Button")
    def _fault(self, event: Button.Pressed) -> None:
        index = int((event.button.id or "fault-0").removeprefix("fault-"))
        label, args = FAULTS[index]
        try:
            self.demo.faults(*args)
        except RuntimeError as exc:
            self.notify(safe(str(exc)), severity="error")
            return
        self.status(f"サービス: {label}")
