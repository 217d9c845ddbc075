"""The folder interface's pane: the link to clinic software runs here while the terminal
does (req/ → res/, oqs.md §7), and staff see what it answered — and, in its status line,
whether it is running: a link that could not start or stopped says so there, in words,
for as long as it is stopped (a notification alone would be gone in seconds)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from textual import work
from textual.app import ComposeResult
from textual.widgets import DataTable, Static, TabPane
from textual.worker import Worker, WorkerState

from reader.clock import now_jst
from reception.checkin import CheckinOutcome
from reception.link import Link, LinkEvent, LinkFolderError, describe_answer, shown_name
from reception.oqs_client import OqsClient
from reception.settings import LinkSettings
from reception.tui.text import safe
from reception.tui.widgets.messages import DeveloperNote, ReportsFailedWorkers

KINDS = {"request": "要求", "answer": "回答", "error": "エラー", "face": "face"}


class LinkPane(TabPane, ReportsFailedWorkers):
    def __init__(
        self,
        settings: LinkSettings,
        client: OqsClient,
        institution_code: str,
        data_dir: Path,
        refused: dict[str, str] | None = None,
    ) -> None:
        super().__init__("連携", id="tab-link")
        assert settings.folder is not None
        self.link = Link(
            settings.folder,
            client,
            institution_code=institution_code,
            private_dir=data_dir,  # the journal: out of the folder's reach
            keep_done=not settings.remove_done,
            on_event=self.add,
            privacy=settings.privacy,
            answer_forms=settings.answer_form,
            zip_password=settings.password(),
            refused=refused,  # kinds the terminal's mode does not answer (LINK-E011)
            watch_step_ms=settings.watch_step_ms,
        )
        self.stop = asyncio.Event()
        self.events: list[LinkEvent] = []
        self.stopped: str | None = None  # why the link is not running, once it is not

    def compose(self) -> ComposeResult:
        yield Static(safe(f"連携フォルダ: {self.link.folder}"), id="link-folder")
        yield Static("連携: 開始しています…", id="link-status")
        yield DataTable(id="link-events", cursor_type="row")
        yield Static("回答を選ぶと中身を表示します（一括照会は患者ごと）", id="link-answer")

    def on_mount(self) -> None:
        self.query_one(DataTable).add_columns("時刻", "種類", "ファイル", "内容")
        self.post_message(DeveloperNote(f"link: watching {self.link.req}"))
        self.watch_folder()

    def on_unmount(self) -> None:
        self.stop.set()

    @work(exclusive=True, group="link", exit_on_error=False)
    async def watch_folder(self) -> None:
        self.query_one("#link-status", Static).update(safe(f"連携: 監視中（{self.link.req}）"))
        await self.link.run(self.stop)
        if not self.stop.is_set():  # run returns only when told to: say it all the same
            self.link_stopped("連携が止まりました")

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The link's worker died: the pane says so until the terminal is restarted
        (Textual calls ReportsFailedWorkers' handler too: the app reports it as well)."""
        if event.worker.group == "link" and event.state is WorkerState.ERROR:
            error = event.worker.error
            if isinstance(error, LinkFolderError):
                # refused at start, or later (another link took the folder's lock file)
                verb = "が止まりました" if self.link.started else "を開始できません"
                self.link_stopped(f"連携{verb}: {error}")
            else:
                self.link_stopped(
                    f"連携が止まりました（内部エラー）: {type(error).__name__}: {error}"
                )

    def link_stopped(self, reason: str) -> None:
        self.stopped = reason
        text = f"{reason}\n回答は書かれません。原因を取り除いてから端末を再起動してください"
        self.query_one("#link-status", Static).update(safe(text))
        self.add(LinkEvent(now_jst().isoformat(timespec="seconds"), "error", "連携", reason))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        """Open an answer: what it says, patient by patient (a 一括照会's results too)."""
        chosen = self.events[event.cursor_row]
        if chosen.kind in ("answer", "face"):
            folder = self.link.res if chosen.kind == "answer" else self.link.face
            self.open_answer(folder / (chosen.file or chosen.name))

    @work(exclusive=True, group="link-open", exit_on_error=False)
    async def open_answer(self, path: Path) -> None:
        lines = await asyncio.to_thread(describe_answer, path)  # the file off the loop
        text = f"{shown_name(path.name)}\n" + "\n".join(lines)
        self.query_one("#link-answer", Static).update(safe(text))

    def face_written(self, path: Path, outcome: CheckinOutcome) -> None:
        """A card confirmation at the reader went to face/ (the check-in wrote it)."""
        label = outcome.result.validity_label if outcome.result is not None else ""
        at = now_jst().isoformat(timespec="seconds")
        self.add(LinkEvent(at, "face", path.name, label, path.name))

    def add(self, event: LinkEvent) -> None:
        """One line per request, answer and error; the cursor on the newest."""
        self.events.append(event)
        table = self.query_one(DataTable)
        row = [event.at[11:19], KINDS.get(event.kind, event.kind), event.name, event.detail]
        table.add_row(*(safe(cell) for cell in row))
        table.move_cursor(row=table.row_count - 1)
        if event.kind == "error":
            self.post_message(DeveloperNote(f"link {event.name}: {event.detail}"))
