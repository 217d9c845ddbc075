"""Demo controls for trainers: put a persona's card on the reader or take it off, unplug
the reader, switch the reader's model (reception/reader_models.py), break the service."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial

from textual import on, work
from textual.app import ComposeResult, SystemCommand
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import Button, Select, Static, TabPane

from reader.errors import SlotTaken
from reception.reader_models import ReaderModel
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
    """Placing a card starts the check-in at the desk, as a real card on a reader would:
    the desk hears :class:`CardPlaced` / :class:`CardTaken`, as from pcscd."""

    class Said(Message):
        """What the demo did, for its status line (``failed``: it could not)."""

        def __init__(self, text: str, *, failed: bool = False) -> None:
            super().__init__()
            self.text = text
            self.failed = failed

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
        yield Static("リーダー機種（次の受付から）:", id="demo-model-label")
        yield Select(
            [(model.label, model.value) for model in ReaderModel],
            value=self.desk.services.settings.reader.model.value,
            allow_blank=False,
            id="demo-model",
        )
        yield Static(self._model_line(), id="demo-model-status")
        yield Static("サービスの障害を起こす:")
        with Horizontal(id="faults"):
            for i, (label, _) in enumerate(FAULTS):
                yield Button(label, id=f"fault-{i}")
        yield Static("", id="demo-status")

    def _model_line(self) -> str:
        model = self.desk.services.settings.reader.model
        return f"使用中: {model.label}"

    @on(Select.Changed, "#demo-model")
    def _model_chosen(self, event: Select.Changed) -> None:
        event.stop()
        if isinstance(event.value, str):
            self.switch_model(ReaderModel(event.value))

    def switch_model(self, model: ReaderModel) -> None:
        """The reader's model, from the next check-in on; the tab says which is in use."""
        select = self.query_one("#demo-model", Select)
        if select.value != model.value:
            select.value = model.value  # its Changed comes back here: nothing more to do
        if self.desk.services.settings.reader.model is model:
            return
        self.desk.switch_model(model)
        self.query_one("#demo-model-status", Static).update(self._model_line())
        self.status(f"リーダー機種を「{model.label}」にしました（次の受付から）")

    def model_commands(self) -> Iterator[SystemCommand]:
        """The palette's 「デモ: リーダー機種 …」, one a model."""
        for model in ReaderModel:
            yield SystemCommand(
                f"デモ: リーダー機種 {model.label}",
                f"reader.model = {model.value}（次の受付から）",
                partial(self.switch_model, model),
            )

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
        if not self.desk.reserve():
            self.notify("前の受付が終わっていません", severity="warning")
            return
        self._put_card(persona)

    @work(thread=True, exclusive=True, group="demo-card", exit_on_error=False)
    def _put_card(self, persona: str) -> None:
        """Serving the card into vpcd takes a moment: off the event loop. A smartphone
        goes to the clinic's phone reader (the demo's second reader)."""
        # a smartphone goes to the phone reader, unless the reader reads phones itself
        phone = self.demo.is_phone(persona) and self.desk.services.phones_apart
        try:
            if phone:
                self.demo.place_phone(persona)
            else:
                self.demo.place(persona)
        except SlotTaken as exc:  # a card left in vpcd's slot: the reader keeps that one
            self.post_message(DeveloperNote(f"demo: {exc}"))
            self.post_message(self.Said(exc.staff_message, failed=True))
            return
        except Exception as exc:
            self.post_message(self.Said(str(exc), failed=True))
            return
        self.desk.post_message(CardPlaced("phone" if phone else "card", persona=persona))
        held = (
            "スマートフォンをかざしました" if self.demo.is_phone(persona) else "カードを置きました"
        )
        where = "" if phone or not self.demo.is_phone(persona) else "（カードの読み取り部に）"
        what = f"{held}{where}"
        self.post_message(self.Said(f"{persona} の{what}（暗証番号は world.json に）"))

    def on_demo_panel_said(self, message: Said) -> None:
        if message.failed:
            self.desk.release()
            self.notify(safe(f"カードを置けませんでした: {message.text}"), severity="error")
        else:
            self.status(message.text)

    @on(Button.Pressed, "#demo-remove")
    def remove_card(self) -> None:
        self.desk.post_message(CardTaken())  # every card, at once: the desk hears it now
        self._take_card()

    @work(thread=True, exclusive=True, group="demo-card", exit_on_error=False)
    def _take_card(self) -> None:
        self.demo.remove()
        self.post_message(self.Said("カードを取りました"))

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
