"""The day's receptions, filterable."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.widgets import DataTable, Input, TabPane

from reception.present import reception_row
from reception.store import Store, now_jst
from reception.tui.text import plain
from reception.tui.widgets.messages import ReceptionSelected

COLUMNS = [
    ("時刻", 5),
    ("氏名", 14),  # 「山田　太郎」 and a little more
    ("方法", 10),
    ("結果", 8),
    ("負担割合", 10),
    ("お知らせ", 40),  # beyond the pane: the table scrolls sideways
]


class ReceptionList(TabPane):
    def __init__(self, store: Store) -> None:
        super().__init__("受付一覧", id="tab-list")
        self.store = store

    def compose(self) -> ComposeResult:
        yield Input(placeholder="絞り込み（氏名・方法・結果）", id="filter")
        yield DataTable(id="receptions", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        # fixed widths (terminal cells; a kanji takes two): the list looks the same however
        # the rows arrive — sized on content, the columns were sometimes measured before
        # the rows and cut every name to the header's width
        table = self.query_one("#receptions", DataTable)
        for label, width in COLUMNS:
            table.add_column(label, width=width)

    def refresh_rows(self) -> None:
        table = self.query_one("#receptions", DataTable)
        needle = self.query_one("#filter", Input).value.strip()
        table.clear()
        for reception in self.store.receptions_on(now_jst().date()):
            row = reception_row(self.store, reception)
            if needle and not any(needle in cell for cell in row):
                continue
            table.add_row(*(Text(plain(cell)) for cell in row), key=reception.reception_id)

    @on(Input.Changed, "#filter")
    def _filter(self) -> None:
        self.refresh_rows()

    @on(DataTable.RowSelected, "#receptions")
    def _selected(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value:
            self.post_message(ReceptionSelected(str(event.row_key.value)))
