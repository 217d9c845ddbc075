"""The day's receptions, filterable — kept current without reading the day again.

The list keeps the rows it has read, one per reception of the day. After a change (a
check-in, a rung, a re-verification, F5) it asks the store which receptions were written
since it last looked — every write to a reception is audited in its transaction — and
reads, updates or adds only those rows. The whole day is read off the event loop: at
start, on F5, on a new day, or when more changed than is worth reading one by one.

The filter is matched off the loop too (a thread worker per keystroke; only the latest
keystroke's result is used), and a result fills the table a chunk of rows per turn of the
loop, so neither a busy day nor typing holds up the screen — the patient's reader panel
beside it included (issue 19: 327 ms per check-in and 1.9 s for three keystrokes at
3,000 receptions, before).

Through all of it the cursor stays on the reception staff left it on: a row that moves
under the cursor is how a form reaches the wrong patient.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import gc
from collections.abc import Iterable
from dataclasses import dataclass

from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.coordinate import Coordinate
from textual.message import Message
from textual.widgets import DataTable, Input, TabbedContent, TabPane
from textual.widgets.data_table import ColumnKey, RowKey
from textual.worker import get_current_worker

from reader.clock import now_jst
from reception.errors import NotFound
from reception.present import reception_row
from reception.store import Reception, Store
from reception.tui.text import plain
from reception.tui.widgets.messages import ReceptionSelected, ReportsFailedWorkers

NOTICES_AT_LEAST = 20
RESULT_AT_LEAST = 14  # 「（要代替確認）」, 「（資格確認書）」, 「（療養費払い）」
RESULT_AT_MOST = 28  # 「（負担は医療券の本人支払額）」 (医療扶助) on one line
COLUMNS = [
    ("時刻・方法", 10),  # 「10:02」 over 「暗証番号」 (「暗証番号（居宅同意取得型）」 wraps)
    ("氏名", 10),  # 「山田　太郎」; a longer name wraps
    ("結果・負担", RESULT_AT_LEAST),  # 「保留（要代替確認）」 over 「3割」
    ("お知らせ", NOTICES_AT_LEAST),  # the rest of the pane's width
]
"""The list's columns: fixed widths (terminal cells; a kanji takes two), the notices'
as wide as the pane leaves (:meth:`ReceptionTable.fit_columns`), and every cell wraps in
its column (a row is as tall as its longest cell): nothing staff must read is cut —
「要代替確」 and a notice cut at 20 characters were (issue 22 §5). Fixed, the list looks
the same however the rows arrive; sized on content, the columns were sometimes measured
before the rows. A pane narrower than the columns (80×24) scrolls sideways."""
# Rows added to the table per turn of the event loop. The table measures every cell of a
# new row when the loop is next idle (~0.1 ms a row) and repaints what is visible (~30 ms
# on a busy 2-core machine), so a fill of 3,000 rows at once held the screen ~400 ms.
FILL_CHUNK = 100
# More receptions changed at once than this (another program's batch, a re-verification
# of many): the day is read anew off the loop rather than row by row on it.
CATCH_UP_LIMIT = 20


@dataclass(frozen=True)
class ListRow:
    """One reception as the list shows it."""

    reception_id: str
    order: tuple[str, str]  # (started_at, id): the list's order
    cells: tuple[str, ...]  # as :func:`reception_row` words them: what the filter matches
    shown: tuple[Text, ...]  # the same, made safe for the terminal


def _broken(label: str) -> str:
    """「保留（要代替確認）」 on two lines, broken before its bracket: a narrow column wraps
    it there rather than leave 「）」 alone on a line."""
    head, bracket, rest = label.partition("（")
    return f"{head}\n{bracket}{rest}" if head and bracket else label


def list_row(store: Store, reception: Reception) -> ListRow:
    cells = tuple(reception_row(store, reception))
    time, name, method, status, ratio, notices = (plain(cell) for cell in cells)
    shown = (
        Text(f"{time}\n{method}"),
        Text(name),
        Text(f"{_broken(status)}\n{_broken(ratio)}"),
        Text("\n".join(f"※{notice}" for notice in notices.split(" / ")) if notices else ""),
    )
    order = (reception.started_at, reception.reception_id)
    return ListRow(reception.reception_id, order, cells, shown)


class ReceptionTable(DataTable[Text]):
    """The day's table: a click on a row selects it (as Enter does) — Textual's table
    selects only on a second click, and the detail kept the reception staff had left."""

    async def _on_click(self, event: events.Click) -> None:
        meta = event.style.meta
        row, column = meta.get("row"), meta.get("column")
        if isinstance(row, int) and isinstance(column, int) and row >= 0 and column >= 0:
            # the cursor there first: the table's own handler, which runs next, takes
            # the click as one on the highlighted row and selects it
            self.cursor_coordinate = Coordinate(row, column)

    def on_resize(self, event: events.Resize) -> None:
        self.fit_columns()

    def fit_columns(self) -> None:
        """The pane's width shared out: the result's column grows up to RESULT_AT_MOST
        (医療扶助's share on one line) while the notices keep NOTICES_AT_LEAST,
        and the notices take the rest — wide screens show a notice on one line, narrow
        ones wrap it."""
        if not self.columns or not self.scrollable_content_region.width:
            return  # not laid out yet: its first Resize fits them
        time, name, result, notices = self.ordered_columns
        padding = 2 * self.cell_padding
        spare = (
            self.scrollable_content_region.width
            - time.get_render_width(self)
            - name.get_render_width(self)
            - 2 * padding
            - 1
        )
        result_width = min(RESULT_AT_MOST, max(RESULT_AT_LEAST, spare - NOTICES_AT_LEAST))
        notices_width = max(NOTICES_AT_LEAST, spare - result_width)
        if (result.width, notices.width) == (result_width, notices_width):
            return
        result.width, notices.width = result_width, notices_width
        # the table caches rendered lines by its own change count, which a column's
        # width does not move: without this, the header kept its old widths on screen
        self._clear_caches()
        self._require_update_dimensions = True
        for row in self.ordered_rows:  # every row wraps anew
            self.refit(row.key.value or "")
        self.refresh()

    def refit(self, key: str) -> None:
        """Measure a row's height again after its cells changed (Textual measures a row
        of automatic height only when it is added): a cell that now wraps onto more
        lines is shown whole, one that needs fewer leaves no gap."""
        row = self.rows.get(RowKey(key))
        if row is None or not row.auto_height:
            return
        row.height = 0
        self._new_rows.add(row.key)
        self._require_update_dimensions = True
        self.refresh()


def matches(needle: str, row: ListRow) -> bool:
    return not needle or any(needle in cell for cell in row.cells)


def matching(needle: str, rows: Iterable[ListRow]) -> list[str]:
    """The receptions the filter keeps, in the list's order."""
    ordered = sorted(rows, key=lambda row: row.order)
    return [row.reception_id for row in ordered if matches(needle, row)]


class ReceptionList(TabPane, ReportsFailedWorkers):
    class DayRead(Message):
        """The day's rows, read off the loop, as of the store's change mark ``mark``."""

        def __init__(self, token: int, day: dt.date, mark: int, rows: list[ListRow]) -> None:
            super().__init__()
            self.token = token
            self.day = day
            self.mark = mark
            self.rows = rows

    class FilterMatched(Message):
        """The receptions a filter keeps (``token``: which request it answers)."""

        def __init__(self, token: int, reception_ids: list[str]) -> None:
            super().__init__()
            self.token = token
            self.reception_ids = reception_ids

    def __init__(self, store: Store) -> None:
        super().__init__("受付一覧", id="tab-list")
        self.store = store
        self.day: dt.date | None = None  # the day the rows are of (None: not read yet)
        self.rows: dict[str, ListRow] = {}
        self.needle = ""  # the filter the table shows (or is being filled with)
        self._mark = 0  # the store's change mark the rows are current with
        self._reading = 0  # token of the day's read under way (0: none)
        self._read_token = 0
        self._filter_token = 0
        self._rebuilding = False  # a filter is being matched, or its rows added
        # the reception the cursor goes back to when a rebuild has added it again
        self._keep: str | None = None
        self._columns: list[ColumnKey] = []
        self._freeze_when_filled = False

    def compose(self) -> ComposeResult:
        yield Input(placeholder="絞り込み（氏名・方法・結果）", id="filter")
        yield ReceptionTable(id="receptions", cursor_type="row", zebra_stripes=True)

    @property
    def table(self) -> ReceptionTable:
        return self.query_one("#receptions", ReceptionTable)

    def on_mount(self) -> None:
        self._columns = [self.table.add_column(label, width=w) for label, w in COLUMNS]
        self.table.fit_columns()
        self.reload()

    # -- reading ------------------------------------------------------------------------------

    def reload(self) -> None:
        """Read the whole day anew, off the loop (at start, F5, a new day)."""
        self._read_token += 1
        self._reading = self._read_token
        self._read_day(self._read_token, now_jst().date())

    @work(thread=True, exclusive=True, group="reception-list-read", exit_on_error=False)
    def _read_day(self, token: int, day: dt.date) -> None:
        mark = self.store.change_mark()  # before the rows: what follows it is caught up
        rows = [list_row(self.store, r) for r in self.store.receptions_on(day)]
        if not get_current_worker().is_cancelled:
            self.post_message(self.DayRead(token, day, mark, rows))

    @on(DayRead)
    def _day_read(self, message: DayRead) -> None:
        message.stop()
        if message.token != self._reading:
            return  # an older read: a newer one is under way
        self._reading = 0
        self.day, self._mark = message.day, message.mark
        self.rows = {row.reception_id: row for row in message.rows}
        self._freeze_when_filled = True
        if self._read_changes() is None:  # changed a lot while it was read
            self.reload()
            return
        self._rebuild()

    def catch_up(self) -> None:
        """Show what was written to the store since the rows were read: only the
        receptions written since are read, and only their rows touched."""
        if self.day is None or self._reading:
            return  # the day is being read; it catches up when it arrives
        if now_jst().date() != self.day:
            self.reload()
            return
        changed = self._read_changes()
        if changed is None:
            self.reload()
        elif changed:
            self._show(changed)

    def _read_changes(self) -> list[ListRow] | None:
        """The rows of the day's receptions written since the mark (now read), or None
        when too many were for the loop."""
        assert self.day is not None
        upto = self.store.change_mark()
        ids = self.store.receptions_changed(self._mark, upto, limit=CATCH_UP_LIMIT)
        if ids is None:
            return None
        changed = []
        for reception_id in ids:
            try:
                reception = self.store.reception(reception_id)
            except NotFound:  # an audit entry naming no reception of this store
                continue
            if reception.day == self.day.isoformat():
                row = self.rows[reception_id] = list_row(self.store, reception)
                changed.append(row)
        self._mark = upto
        return changed

    # -- the table ----------------------------------------------------------------------------

    def _show(self, changed: list[ListRow]) -> None:
        """Changed rows into the table: updated where they are, added at the end, or
        taken out when the filter no longer keeps them — the cursor kept on its row."""
        if self._rebuilding:  # the filter being matched has not seen these: again
            self._rebuild()
            return
        table = self.table
        last = self._last_order()
        for row in sorted(changed, key=lambda r: r.order):
            if row.reception_id not in table.rows and matches(self.needle, row):
                if last is not None and row.order < last:
                    self._rebuild()  # it goes between rows: the table is filled again
                    return
                last = row.order
        keep = self._key_at_cursor()
        for row in sorted(changed, key=lambda r: r.order):
            key = row.reception_id
            if key in table.rows and matches(self.needle, row):
                current = table.get_row(key)
                changed_cells = False
                for column, old, new in zip(self._columns, current, row.shown, strict=True):
                    if old.plain != new.plain:
                        table.update_cell(key, column, new)
                        changed_cells = True
                if changed_cells:
                    table.refit(key)
            elif key in table.rows:
                table.remove_row(key)
            elif matches(self.needle, row):
                table.add_row(*row.shown, key=key, height=None)
        if keep is not None and keep in table.rows and self._key_at_cursor() != keep:
            table.move_cursor(row=table.get_row_index(keep))

    def _last_order(self) -> tuple[str, str] | None:
        table = self.table
        if not table.row_count:
            return None
        last = table.coordinate_to_cell_key(Coordinate(table.row_count - 1, 0))
        return self.rows[str(last.row_key.value)].order

    def _key_at_cursor(self) -> str | None:
        table = self.table
        if not table.row_count:
            return None
        return str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)

    def _rebuild(self) -> None:
        """Match the filter against every row off the loop; the table is filled anew
        from the result."""
        if self._keep is None:
            self._keep = self._key_at_cursor()
        self._rebuilding = True
        self._filter_token += 1
        self._match(self._filter_token, self.needle, list(self.rows.values()))

    # a description given: by default the decorator writes the repr of every argument —
    # here every row of the day — into the worker's name, on the loop (~15 ms at 3,000)
    @work(
        thread=True,
        exclusive=True,
        group="reception-list-filter",
        exit_on_error=False,
        description="the list's filter",
    )
    def _match(self, token: int, needle: str, rows: list[ListRow]) -> None:
        kept = matching(needle, rows)
        if not get_current_worker().is_cancelled:
            self.post_message(self.FilterMatched(token, kept))

    @on(FilterMatched)
    def _matched(self, message: FilterMatched) -> None:
        message.stop()
        if message.token == self._filter_token:  # else a later keystroke or change's follows
            self._fill(message.token, message.reception_ids)

    @work(
        exclusive=True,
        group="reception-list-fill",
        exit_on_error=False,
        description="the list's rows into the table",
    )
    async def _fill(self, token: int, reception_ids: list[str]) -> None:
        table = self.table
        table.clear()
        for start in range(0, len(reception_ids), FILL_CHUNK):
            if start:
                await asyncio.sleep(0)  # the table measures the rows, the screen repaints
            if token != self._filter_token:
                return  # a later keystroke or change fills the table now
            for key in reception_ids[start : start + FILL_CHUNK]:
                row = self.rows.get(key)
                if row is not None:
                    table.add_row(*row.shown, key=key, height=None)
            if self._keep is not None and self._keep in table.rows:
                table.move_cursor(row=table.get_row_index(self._keep))
                self._keep = None
        self._keep = None
        self._rebuilding = False
        if self._freeze_when_filled:
            # the day's rows and the table's stay for the session: out of the cycle
            # collector, as the app does with what start-up made (a full collection
            # over 3,000 rows stalled the screen ~85 ms mid check-in)
            self._freeze_when_filled = False
            gc.freeze()

    # -- staff --------------------------------------------------------------------------------

    def _on_descendant_focus(self, event: events.DescendantFocus) -> None:
        """The table focused by the click that selects a row: the pane is the tab shown
        already, and TabPane's own handler would bring it forward again — after the
        selection had brought the detail forward (the click would end on the list)."""
        tabs = next((a for a in self.ancestors if isinstance(a, TabbedContent)), None)
        if tabs is not None and tabs.active == self.id:
            event.prevent_default()

    @on(Input.Changed, "#filter")
    def _filter(self, event: Input.Changed) -> None:
        self.needle = event.value.strip()
        self._rebuild()

    @on(DataTable.RowSelected, "#receptions")
    def _selected(self, event: DataTable.RowSelected) -> None:
        key = event.row_key.value
        if self._keep is not None and key != self._keep:
            return  # mid-rebuild, before the cursor is back on its row: not what staff saw
        if key:
            # the table lets go of the focus before the detail comes forward: hidden with
            # its pane, it would hand the focus to the filter beside it, and focus in
            # this pane brings the list back (TabPane.Focused) — over the detail
            self.screen.set_focus(None)
            self.post_message(ReceptionSelected(str(key)))
