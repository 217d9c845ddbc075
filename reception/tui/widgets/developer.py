"""The developer's view: which reader, the APDU trace of the last check-in (VERIFY
redacted) and every request to the service."""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.message import Message
from textual.widgets import RichLog, Select, Static, TabPane

from reader.errors import ReaderError
from reader.pcsc import list_readers
from reception.cards import CardSource, PcscCards
from reception.tui.text import plain, safe
from reception.tui.widgets.messages import ReportsFailedWorkers


class DeveloperView(TabPane, ReportsFailedWorkers):
    class ReadersListed(Message):
        def __init__(self, names: list[str], error: str | None = None) -> None:
            super().__init__()
            self.names = names
            self.error = error

    def __init__(self, cards: CardSource, *, choose_reader: bool) -> None:
        super().__init__("開発者", id="tab-dev")
        self.cards = cards
        self.choose_reader = choose_reader
        self.current: str | None = getattr(cards, "reader", None)
        self.lines: list[str] = []  # also kept for tests

    def compose(self) -> ComposeResult:
        yield Static(safe(f"カードの読み取り: {self.cards.description}"), id="dev-reader")
        if self.choose_reader:
            yield Select([], prompt="カードリーダーを選ぶ", id="reader-choice")
        yield RichLog(id="dev-log", markup=False, highlight=False, wrap=True)

    def on_mount(self) -> None:
        if self.choose_reader:
            self._list_readers()

    def log_line(self, line: str) -> None:
        self.lines.append(line)
        del self.lines[:-500]
        self.query_one("#dev-log", RichLog).write(plain(line))

    @work(thread=True, exclusive=True, group="readers", exit_on_error=False)
    def _list_readers(self) -> None:
        try:
            self.post_message(self.ReadersListed([s.name for s in list_readers()]))
        except ReaderError as exc:
            self.post_message(self.ReadersListed([], error=str(exc)))

    def on_developer_view_readers_listed(self, message: ReadersListed) -> None:
        if message.error is not None:
            self.notify(safe(f"PC/SC: {message.error}"), severity="error")
            return
        choice = self.query_one("#reader-choice", Select)
        choice.set_options([(safe(name), name) for name in message.names])
        if self.current in message.names:
            choice.value = self.current

    @on(Select.Changed, "#reader-choice")
    def _chosen(self, event: Select.Changed) -> None:
        if isinstance(event.value, str) and isinstance(self.cards, PcscCards):
            self.current = self.cards.reader = event.value
            self.cards.description = f"PC/SC: {event.value}"
            self.query_one("#dev-reader", Static).update(safe(f"カードの読み取り: {event.value}"))
