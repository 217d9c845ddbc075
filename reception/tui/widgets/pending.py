"""The 申立書 waiting for re-verification, and the day's export."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import Button, DataTable, Static, TabPane

from reader.clock import now_jst
from reception.export import export_csv, export_xml
from reception.oqs_client import OqsClient
from reception.reverify import describe, reverify_pending
from reception.store import Store
from reception.tui.text import plain, safe
from reception.tui.widgets.messages import ReceptionsChanged, ReportsFailedWorkers


class PendingQueue(TabPane, ReportsFailedWorkers):
    class Exported(Message):
        def __init__(self, xml_files: int, csv_path: Path) -> None:
            super().__init__()
            self.xml_files = xml_files
            self.csv_path = csv_path

    def __init__(self, store: Store, client: OqsClient, export_dir: Path) -> None:
        super().__init__("再確認待ち", id="tab-pending")
        self.store = store
        self.client = client
        self.export_dir = export_dir

    def compose(self) -> ComposeResult:
        yield DataTable(id="pending", cursor_type="row")
        with Horizontal():
            yield Button("いま再確認する", id="reverify", variant="primary")
            yield Button("本日分を書き出す（XML・CSV）", id="export")
        yield Static("", id="pending-status")

    def on_mount(self) -> None:
        self.query_one("#pending", DataTable).add_columns("申立書", "作成", "氏名", "番号", "状態")

    def refresh_rows(self) -> None:
        table = self.query_one("#pending", DataTable)
        table.clear()
        for d in self.store.pending():
            queryable = "あり" if d.declaration.queryable else "なし"
            cells = (d.declaration_id, d.created_at[:16], d.declaration.name, queryable, d.state)
            table.add_row(*(Text(plain(x)) for x in cells), key=d.declaration_id)

    def _status(self, text: str) -> None:
        self.query_one("#pending-status", Static).update(safe(text))

    @on(Button.Pressed, "#reverify")
    def reverify(self) -> None:
        self._reverify()

    @work(exclusive=True, group="reverify", exit_on_error=False)
    async def _reverify(self) -> None:
        summary = await reverify_pending(self.client, self.store)
        self._status(describe(summary))
        self.post_message(ReceptionsChanged())

    @on(Button.Pressed, "#export")
    def export(self) -> None:
        self._export()

    @work(thread=True, exclusive=True, group="export", exit_on_error=False)
    def _export(self) -> None:
        """XmlMsg files and a CSV of the day, off the event loop."""
        day = now_jst().date()
        files = export_xml(self.store, day, self.export_dir)
        csv_path = export_csv(self.store, day, self.export_dir)
        self.post_message(self.Exported(len(files), csv_path))

    def on_pending_queue_exported(self, message: Exported) -> None:
        self._status(f"書き出し: XML {message.xml_files} 件、{message.csv_path}")
