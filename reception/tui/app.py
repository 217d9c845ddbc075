"""The Textual terminal: the patient's reader panel beside the staff console. Made by
:func:`make_app` from injected :class:`Services`, the app composes the panes (widgets/),
the check-in desk (desk.py) and routes their messages; each owns its work, in workers."""

from __future__ import annotations

import gc
from collections.abc import Iterable
from functools import partial
from pathlib import Path
from typing import Any

from textual import events, on
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Header, Select, TabbedContent
from textual.worker import Worker, WorkerState

from reader.clock import today_jst
from reception.home_visit.codes import issue
from reception.home_visit.mode import Mode, records_refusal, refused_kinds
from reception.oqs_client import OqsClient
from reception.store import ReceptionStatus
from reception.tui.desk import CheckinDesk, CheckinFinished
from reception.tui.reader_panel import ReaderPanel
from reception.tui.screens.app_code import AppCodeScreen
from reception.tui.screens.counter import CounterScreen
from reception.tui.services import Services
from reception.tui.text import safe
from reception.tui.training.pane import TrainingPane
from reception.tui.training.session import TrainingChoice, TrainingSession
from reception.tui.training.start import TrainingStartScreen
from reception.tui.widgets import messages as msg
from reception.tui.widgets.demo import DemoPanel
from reception.tui.widgets.detail import ReceptionDetail
from reception.tui.widgets.developer import DeveloperView
from reception.tui.widgets.footer import KeysFooter
from reception.tui.widgets.link import LinkPane
from reception.tui.widgets.pending import PendingQueue
from reception.tui.widgets.questions import METHOD_KEYS
from reception.tui.widgets.receptions import ReceptionList
from reception.tui.widgets.records import RecordsPane
from reception.tui.widgets.tabs import STAFF_TAB_BINDINGS, show_staff_tab


class ReceptionApp(App[None]):
    TITLE = "マイナ保険証 受付端末（シミュレーター）"
    CSS_PATH = "app.tcss"
    BINDINGS = [
        Binding("f2", "toggle_language", "日本語/English", id="language"),
        Binding("f5", "refresh", "更新", id="refresh"),
        Binding("f6", "place_card", "カードを置く（デモ）", id="demo-place"),
        Binding("f7", "remove_card", "カードを取る（デモ）", id="demo-remove"),
        Binding("f8", "settle_case", "対応完了（研修）", id="training-settle"),
        Binding("ctrl+q", "quit", "終了", id="quit", priority=True),
        *STAFF_TAB_BINDINGS,
    ]

    def __init__(self, services: Services, training: TrainingSession | None = None) -> None:
        super().__init__()
        self.services = services
        self.training = training  # 研修 mode: services are the training clinic's
        self.training_chosen: TrainingChoice | None = None  # the demo's 「研修: 開始」
        # where trainees' runs live (<data_dir>/training/…): the demo sets the configured
        # data_dir (its own may be a temporary folder that goes with the demo)
        self.training_data_dir: Path = services.settings.data_dir
        self.startup_problem: str | None = None  # said once the terminal is up
        self.client = OqsClient(
            services.oqs, transport=services.oqs_transport, on_exchange=self._oqs_exchange
        )
        self.desk = CheckinDesk(services, self.client, watch_reader=services.demo is None)

    def compose(self) -> ComposeResult:
        s = self.services
        yield Header()
        with Horizontal():
            yield ReaderPanel(
                demo=s.demo is not None,
                language=s.settings.language,
                consent_flow=s.settings.reader.consent_flow,
            )
            initial = "tab-list" if self.training is None else "tab-training"
            with TabbedContent(id="staff", initial=initial):
                if self.training is not None and s.demo is not None:
                    yield TrainingPane(self.training, self.desk, s.demo)
                yield ReceptionList(s.store)
                yield ReceptionDetail(
                    s.store,
                    self.client,
                    s.settings.declarations_dir,
                    s.settings.rules_day,
                    today=s.settings.today,
                )
                yield PendingQueue(s.store, self.client, s.settings.data_dir / "export")
                yield RecordsPane(s.store, self.client, refused=records_refusal(s.settings.mode))
                yield DeveloperView(s.cards, choose_reader=s.demo is None)
                if s.settings.link.folder is not None:
                    yield LinkPane(
                        s.settings.link,
                        self.client,
                        s.terminal.institution_code,
                        s.settings.data_dir,
                        refused=refused_kinds(s.settings.mode),
                    )
                if s.demo is not None and self.training is None:
                    yield DemoPanel(s.demo, self.desk)
        yield KeysFooter()
        yield self.desk

    def on_mount(self) -> None:
        if self.startup_problem is not None:
            self.notify(safe(self.startup_problem), severity="error", timeout=20)
        self.refresh_lists()
        self.query_one("#ladder-counter").display = self.services.counter is not None
        if self.services.demo is not None:
            self.sub_title = f"デモ — {self.services.cards.description}"
        if self.training is not None:
            run = self.training.run
            self.sub_title = f"研修（研修用の記録） — {run.scenario.title} — {run.trainee}"
        if (folder := self.services.settings.link.folder) is not None:
            self.sub_title = f"{self.sub_title} — 連携 {folder}".lstrip(" —")
        if self.services.settings.mode is Mode.LIMITED:  # say which mode runs
            self.sub_title = f"{Mode.LIMITED.label}（資格情報のみ） — {self.sub_title}".rstrip(" —")
        day = self.services.settings.today
        if day is not None and day != today_jst():  # a trainer plays another day's rules
            self.sub_title = f"{day.isoformat()} の規則で動作 — {self.sub_title}".rstrip(" —")

    @property
    def panel(self) -> ReaderPanel:
        return self.query_one(ReaderPanel)

    @property
    def selected(self) -> str | None:
        return self.query_one(ReceptionDetail).reception_id

    @selected.setter
    def selected(self, reception_id: str | None) -> None:
        self.query_one(ReceptionDetail).reception_id = reception_id

    @property
    def dev_lines(self) -> list[str]:
        return self.query_one(DeveloperView).lines

    def log_dev(self, line: str) -> None:
        self.query_one(DeveloperView).log_line(line)

    def refresh_lists(self) -> None:
        """The store changed: the lists show it (the day's list reads only what changed)."""
        self.query_one(ReceptionList).catch_up()
        self.query_one(PendingQueue).refresh_rows()

    def reload_lists(self) -> None:
        """F5: the lists read anew (the day's list off the event loop)."""
        self.query_one(ReceptionList).reload()
        self.query_one(PendingQueue).refresh_rows()

    def show_detail(self, reception_id: str) -> None:
        self.query_one(ReceptionDetail).show(reception_id)

    def on_reader_panel_ready(self) -> None:
        """Every view laid out once: what start-up made stays for the session, so it leaves
        the cycle collector (a full collection stalled the screen ~100 ms mid check-in)."""
        gc.collect()
        gc.freeze()
        self.desk.panel_ready()

    def on_reader_panel_answered(self, message: ReaderPanel.Answered[Any]) -> None:
        self.desk.answer(message.kind, message.value)

    def on_key(self, event: Any) -> None:
        if self.training is not None:
            return  # the patient works the reader: the trainee's keys are the console's
        method = METHOD_KEYS.get(event.key)
        if self.panel.shortcut(event.key) or (method is not None and self.desk.type_ahead(method)):
            event.stop()

    def on_developer_note(self, message: msg.DeveloperNote) -> None:
        self.log_dev(message.line)

    def on_checkin_finished(self, message: CheckinFinished) -> None:
        """The staff side of a finished check-in (the desk showed the patient's)."""
        outcome = message.outcome
        if outcome.face_file is not None and self.query(LinkPane):
            self.query_one(LinkPane).face_written(outcome.face_file, outcome)
        if self.training is not None:
            self.query_one(TrainingPane).checkin_finished(outcome)
        self.selected = outcome.reception_id
        self.refresh_lists()
        self.show_detail(outcome.reception_id)
        if outcome.status in (ReceptionStatus.FALLBACK, ReceptionStatus.PENDING):
            # staff have something to do: the detail with the ladder comes forward
            self.query_one("#staff", TabbedContent).active = "tab-detail"
        if outcome.result is not None and self.services.store.pending():
            self.query_one(PendingQueue).reverify()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state is WorkerState.ERROR:
            self.on_worker_failed(msg.WorkerFailed(event.worker))

    def on_worker_failed(self, message: msg.WorkerFailed) -> None:
        """One place for workers that failed: say so, and leave a clean reader panel."""
        worker, error = message.worker, message.worker.error
        self.log_dev(f"worker {worker.name} failed: {error!r}")
        self.notify(safe(f"内部エラー（{worker.group}）: {error}"), severity="error", timeout=10)
        if worker.group == "checkin":
            self.desk.failed(str(error))

    def _oqs_exchange(self, method: str, path: str, outcome: str, seconds: float) -> None:
        self.log_dev(f"OQS {method} {path} → {outcome} ({seconds * 1000:.0f} ms)")

    async def on_unmount(self) -> None:
        self.desk.stop_watching()  # the card watch's thread ends at once (SCardCancel)
        await self.client.aclose()

    def on_reception_selected(self, message: msg.ReceptionSelected) -> None:
        self.selected = message.reception_id
        self.show_detail(message.reception_id)
        self.query_one("#staff", TabbedContent).active = "tab-detail"

    def on_counter_requested(self, message: msg.CounterRequested) -> None:
        """The 居宅同意取得型 route for a pending reception, at the staff-held reader."""
        persona = self.demo_persona
        rid = message.reception_id

        def done(_: object) -> None:
            self.post_message(msg.ReceptionsChanged(rid))

        self.push_screen(CounterScreen(self.services, self.client, rid, persona), done)

    def on_receptions_changed(self, message: msg.ReceptionsChanged) -> None:
        self.refresh_lists()
        if message.reception_id is not None and message.reception_id == self.selected:
            self.show_detail(message.reception_id)

    @property
    def demo_persona(self) -> str | None:
        """The persona whose card the demo puts down: the 研修 case's, or the デモ tab's."""
        if self.training is not None:
            return self.query_one(TrainingPane).persona
        return self.query_one(DemoPanel).persona if self.services.demo else None

    def place_card(self, persona: str) -> None:
        """Demo: put a persona's card on the reader and start the check-in."""
        self.query_one(DemoPanel).place_card(persona)

    def remove_card(self) -> None:
        if self.services.demo is not None and self.training is None:
            self.query_one(DemoPanel).remove_card()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("place_card", "remove_card"):
            # demo controls only in demo mode (in 研修 the patient places the card)
            return self.services.demo is not None and self.training is None
        if action == "settle_case":  # at the console, not over a feedback or a form
            return self.training is not None and len(self.screen_stack) == 1
        return True

    def action_settle_case(self) -> None:
        """F8: 対応完了 of the 研修 case at the counter."""
        if self.training is not None:
            self.query_one(TrainingPane).settle()

    def start_training(self) -> None:
        """The palette's 「研修: 開始」: the start screen; the chosen run opens in a
        terminal of its own (its own store and world): this one closes for it."""

        def chosen(choice: TrainingChoice | None) -> None:
            if choice is not None:
                self.training_chosen = choice
                self.exit()

        self.push_screen(TrainingStartScreen(self.training_data_dir), chosen)

    def action_place_card(self) -> None:
        """F6: the persona chosen on the デモ tab — none chosen, it says so (it once put
        the first persona's card down unasked)."""
        if self.services.demo is None:
            return
        persona = self.query_one(DemoPanel).persona
        if persona is None:
            self.notify(
                "ペルソナが選ばれていません。デモ タブで選んでから F6 を押すか、"
                "Ctrl+P で「デモ: カードを置く …」を選んでください",
                severity="warning",
            )
            return
        self.place_card(persona)

    def place_persona(self, persona: str) -> None:
        """The palette's 「デモ: カードを置く <persona>」: chosen on the デモ tab too (F6
        then places the same card again), and placed."""
        self.query_one(DemoPanel).query_one("#persona", Select).value = persona
        self.place_card(persona)

    def action_remove_card(self) -> None:
        self.remove_card()

    def action_refresh(self) -> None:
        self.reload_lists()

    def action_staff_tab(self, number: int) -> None:
        show_staff_tab(self.query_one("#staff", TabbedContent), number)

    def show_app_code(self) -> None:
        """Issue a マイナ資格確認アプリ activation code and show it (once)."""
        self.push_screen(AppCodeScreen(issue(self.services.store, actor="受付")))

    def action_toggle_language(self) -> None:
        self.panel.toggle_language()

    @property
    def screenshot_dir(self) -> Path:
        """Where the palette's Screenshot saves: the terminal's data folder (Textual's
        default, the user's Downloads folder, need not exist — then nothing was saved)."""
        return self.services.settings.data_dir / "screenshots"

    def deliver_screenshot(
        self,
        filename: str | None = None,
        path: str | None = None,
        time_format: str | None = None,
    ) -> str | None:
        """Textual's Screenshot command, saved in :attr:`screenshot_dir` (made when
        missing); the notice says the file's path."""
        if path is None:
            folder = self.screenshot_dir
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                self.notify(
                    safe(f"スクリーンショットを保存できません（{folder}）: {exc}"),
                    severity="error",
                )
                return None
            path = str(folder)
        return super().deliver_screenshot(filename, path, time_format)

    @on(events.DeliveryFailed)
    def _screenshot_failed(self, event: events.DeliveryFailed) -> None:
        """A screenshot that could not be written: say where it was to go, and why."""
        if event.name == "screenshot":
            self.notify(
                safe(
                    f"スクリーンショットを保存できませんでした（{self.screenshot_dir}）: "
                    f"{event.exception}"
                ),
                severity="error",
            )

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        pending = self.query_one(PendingQueue)
        yield SystemCommand("再確認", "再確認待ちの申立書をいま照会する", pending.reverify)
        yield SystemCommand("書き出し", "本日分を XmlMsg と CSV に書き出す", pending.export)
        yield SystemCommand(
            "言語の切り替え", "読み取り画面の日本語／English", self.panel.toggle_language
        )
        yield SystemCommand("一覧の更新", "受付一覧を読み直す", self.reload_lists)
        yield SystemCommand(
            "アプリのアクティベーションコード",
            "マイナ資格確認アプリ（居宅同意取得型）を有効化するコードを発行する",
            self.show_app_code,
        )
        if self.services.demo is not None and self.training is None:
            yield SystemCommand(
                "研修: 開始",
                "研修セットを選び、研修生の名前で始める（研修用の受付・記録）",
                self.start_training,
            )
            unplug = self.query_one(DemoPanel).toggle_reader
            yield SystemCommand("リーダーを外す／つなぐ（デモ）", "リーダー障害の練習", unplug)
            yield from self.query_one(DemoPanel).model_commands()  # デモ: リーダー機種 …
            for persona, description in self.services.demo.personas:
                yield SystemCommand(
                    f"デモ: カードを置く {persona}",
                    safe(description or persona),
                    partial(self.place_persona, persona),
                )


def make_app(services: Services, training: TrainingSession | None = None) -> ReceptionApp:
    return ReceptionApp(services, training)
