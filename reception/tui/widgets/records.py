"""診療情報: the doctor's view of the selected patient's shared records (issue 14 §1).

A tab of its own, meant for the doctor's screen: for the reception selected in the list,
each kind the patient agreed to share in its own table — 薬剤情報 (調剤日, 医療機関, 薬剤,
用法・用量, 日数), 診療情報, 手術情報, 特定健診 (項目, 結果 with its 基準値) — or a plain
「同意なし」 / 「同意期限切れ」 where there is nothing to show. Loaded when the tab is
shown or 更新 is pressed; every look is audited (:func:`reception.records.fetch_records`).
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Button, DataTable, Static, TabPane

from reception.errors import ReceptionError
from reception.oqs_client import OqsClient
from reception.records import KINDS, RecordSet, confirmed_entry, fetch_records
from reception.store import Store
from reception.tui.text import plain, safe
from reception.tui.widgets.messages import ReportsFailedWorkers

STAFF = "staff"  # the terminal has no log-in: the audit names the role


class RecordsPane(TabPane, ReportsFailedWorkers):
    def __init__(self, store: Store, client: OqsClient, refused: str | None = None) -> None:
        super().__init__("診療情報", id="tab-records")
        self.store = store
        self.client = client
        self.reception_id: str | None = None
        self.refused = refused  # why this terminal shows no records (資格確認限定型)

    def compose(self) -> ComposeResult:
        with Horizontal(id="records-bar"):
            yield Static("受付を一覧から選んでください", id="records-patient")
            yield Button("更新", id="records-load")
        with VerticalScroll():
            for kind in KINDS:
                yield Static(kind.label, id=f"records-{kind.kind}-title", classes="records-title")
                yield DataTable(id=f"records-{kind.kind}", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        if self.refused is not None:
            self.query_one("#records-patient", Static).update(safe(self.refused))
        for kind in KINDS:
            table = self.query_one(f"#records-{kind.kind}", DataTable)
            table.add_columns(*(header for _, header in kind.columns))

    def on_show(self) -> None:
        selected: Any = getattr(self.app, "selected", None)
        if isinstance(selected, str):
            self.load(selected)

    @on(Button.Pressed, "#records-load")
    def reload(self) -> None:
        if self.reception_id is not None:
            self.load(self.reception_id)

    def load(self, reception_id: str) -> None:
        self.reception_id = reception_id
        if self.refused is not None:  # nothing fetched, nothing audited: not this mode's
            self._clear()
            self.query_one("#records-patient", Static).update(safe(self.refused))
            return
        self._clear("取得中…")  # never another patient's records while these come
        self.query_one("#records-patient", Static).update(safe(f"受付 {reception_id}: 取得中…"))
        self._fetch(reception_id)

    @work(exclusive=True, group="records", exit_on_error=False)
    async def _fetch(self, reception_id: str) -> None:
        try:
            sets = await fetch_records(self.client, self.store, reception_id, staff=STAFF)
        except ReceptionError as exc:
            self._clear()
            self.query_one("#records-patient", Static).update(safe(str(exc)))
            return
        name = confirmed_entry(self.store, reception_id).name or ""
        self.query_one("#records-patient", Static).update(
            safe(f"受付 {reception_id} ・ {name}（表示は監査記録に残ります）")
        )
        for found in sets:
            self._fill(found)

    def _clear(self, note: str = "") -> None:
        for kind in KINDS:
            self.query_one(f"#records-{kind.kind}", DataTable).clear()
            title = f"{kind.label} — {note}" if note else kind.label
            self.query_one(f"#records-{kind.kind}-title", Static).update(title)

    def _fill(self, found: RecordSet) -> None:
        kind = found.kind
        table = self.query_one(f"#records-{kind.kind}", DataTable)
        table.clear()
        title = f"{kind.label} — {found.summary}"
        self.query_one(f"#records-{kind.kind}-title", Static).update(safe(title))
        for row in found.rows:
            table.add_row(*(Text(plain(str(row.get(key, "")))) for key, _ in kind.columns))
