"""The Textual terminal: the patient's reader panel beside the staff console.

Made by :func:`make_app` from injected :class:`Services`; it only drives the core
(reception.checkin, the store, the OQS client). Card and network work runs in workers;
the screen never waits on them.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import (
    Button,
    DataTable,
    Footer,
    Header,
    Input,
    RichLog,
    Select,
    Static,
    TabbedContent,
    TabPane,
)
from textual.worker import Worker, WorkerState

from reception.checkin import CheckinOutcome, CheckinRequest, check_in
from reception.declaration import LadderStep, SelfDeclaration
from reception.export import export_csv, export_xml
from reception.flow import CheckinFlow, Method, State
from reception.ladder import file_declaration
from reception.oqs_client import OqsClient, OqsError
from reception.reasons import FallbackReason
from reception.reverify import describe, reverify_pending
from reception.store import now_jst
from reception.tui.interaction import ScreenInteraction
from reception.tui.reader_panel import METHOD_KEYS, ReaderPanel
from reception.tui.screens import DeclarationScreen, NumberQueryScreen, VisualCheckScreen
from reception.tui.services import Services
from reception.tui.text import plain, safe

STATUS_LABELS = {
    "confirmed": "確認済",
    "fallback": "要代替確認",
    "pending": "保留（サービス停止）",
    "error": "エラー",
    "cancelled": "取消",
    "interrupted": "中断（端末終了）",
    "in-progress": "受付中",
}
FAMILY = {"1": "本人", "2": "家族"}
SEX = {"1": "男", "2": "女", "3": "未設定"}
METHOD_LABELS = {"pin": "暗証番号", "face": "顔認証", "visual": "目視", "number": "番号照会"}
FAULTS = [
    ("遅延 15秒", ["--latency-ms", "15000"]),
    ("5xx エラー", ["--error-rate", "1"]),
    ("停止", ["--outage", "on"]),
    ("不正な応答", ["--malformed", "on"]),
    ("無応答", ["--hang", "on"]),
    ("障害解除", ["--clear"]),
]


class CheckinFinished(Message):
    def __init__(self, outcome: CheckinOutcome) -> None:
        super().__init__()
        self.outcome = outcome


class ReceptionApp(App[None]):
    TITLE = "マイナ保険証 受付端末（シミュレーター）"
    CSS_PATH = "app.tcss"
    BINDINGS = [
        Binding("f2", "toggle_language", "日本語/English", id="language"),
        Binding("f5", "refresh", "更新", id="refresh"),
        Binding("f6", "place_card", "カードを置く（デモ）", id="demo-place"),
        Binding("f7", "remove_card", "カードを取る（デモ）", id="demo-remove"),
        Binding("ctrl+q", "quit", "終了", id="quit", priority=True),
    ]

    def __init__(self, services: Services) -> None:
        super().__init__()
        self.services = services
        self.interaction = ScreenInteraction(self._show)
        self.client = OqsClient(
            services.oqs, transport=services.oqs_transport, on_exchange=self._oqs_exchange
        )
        self.checkin_running = False
        self._start_when_ready = False
        self.dev_lines: list[str] = []  # the developer view's lines (also kept for tests)
        self.selected: str | None = None
        self.last_outcome: CheckinOutcome | None = None

    # -- layout ----------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal():
            yield ReaderPanel(
                self.interaction.answer,
                demo=self.services.demo is not None,
                language=self.services.settings.language,
                on_ready=self._views_laid_out,
            )
            with TabbedContent(id="staff", initial="tab-list"):
                with TabPane("受付一覧", id="tab-list"):
                    yield Input(placeholder="絞り込み（氏名・方法・結果）", id="filter")
                    yield DataTable(id="receptions", cursor_type="row", zebra_stripes=True)
                with TabPane("詳細・代替手段", id="tab-detail"), VerticalScroll():
                    yield Static("受付を一覧から選んでください", id="detail")
                    yield Input(
                        placeholder="確認した内容（例: お知らせ 協会けんぽ 3割）",
                        id="ladder-detail",
                    )
                    with Horizontal(id="ladder"):
                        yield Button("お知らせを確認", id="ladder-notice")
                        yield Button("マイナポータルを確認", id="ladder-portal")
                        yield Button("資格確認書で照会", id="ladder-number")
                        yield Button("申立書を作る", id="ladder-declare", variant="warning")
                with TabPane("再確認待ち", id="tab-pending"):
                    yield DataTable(id="pending", cursor_type="row")
                    with Horizontal():
                        yield Button("いま再確認する", id="reverify", variant="primary")
                        yield Button("本日分を書き出す（XML・CSV）", id="export")
                    yield Static("", id="pending-status")
                with TabPane("開発者", id="tab-dev"):
                    yield Static("", id="dev-reader")
                    if self.services.demo is None:
                        yield Select([], prompt="カードリーダーを選ぶ", id="reader-choice")
                    yield RichLog(id="dev-log", markup=False, highlight=False, wrap=True)
                if self.services.demo is not None:
                    with TabPane("デモ", id="tab-demo"):
                        yield Select(
                            [
                                (safe(f"{pid} — {desc}"), pid)
                                for pid, desc in self.services.demo.personas
                            ],
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
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#receptions", DataTable)
        table.add_columns("時刻", "氏名", "方法", "結果", "負担割合", "お知らせ")
        self.query_one("#pending", DataTable).add_columns("申立書", "作成", "氏名", "番号", "状態")
        self.query_one("#dev-reader", Static).update(
            safe(f"カードの読み取り: {self.services.cards.description}")
        )
        self.refresh_lists()
        if self.services.demo is None:
            self.set_interval(0.5, self._watch_reader)  # a real reader: watch for cards
            self._list_readers()
        else:
            self.sub_title = f"デモ — {self.services.cards.description}"

    def _views_laid_out(self) -> None:
        """Every view laid out once: what start-up made stays for the session, so it
        leaves the cycle collector (a full collection over Textual's DOM and the crypto
        objects stalled the screen ~100 ms in the middle of a check-in)."""
        gc.collect()
        gc.freeze()
        if self._start_when_ready:
            self._start_when_ready = False
            self.start_checkin()

    @work(thread=True, exclusive=True, group="readers", exit_on_error=False)
    def _list_readers(self) -> None:
        from reader.errors import ReaderError
        from reader.pcsc import list_readers

        try:
            names = [status.name for status in list_readers()]
        except ReaderError as exc:
            self.call_from_thread(self.notify, f"PC/SC: {exc}", severity="error")
            return
        self.call_from_thread(self._readers_listed, names)

    def _readers_listed(self, names: list[str]) -> None:
        choice = self.query_one("#reader-choice", Select)
        choice.set_options([(safe(name), name) for name in names])
        current = getattr(self.services.cards, "reader", None)
        if current in names:
            choice.value = current

    @on(Select.Changed, "#reader-choice")
    def _reader_chosen(self, event: Select.Changed) -> None:
        if isinstance(event.value, str) and hasattr(self.services.cards, "reader"):
            self.services.cards.reader = event.value
            self.services.cards.description = f"PC/SC: {event.value}"
            self.query_one("#dev-reader", Static).update(safe(f"カードの読み取り: {event.value}"))

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """One place for workers that failed: say so, and leave a clean reader panel."""
        if event.state is not WorkerState.ERROR:
            return
        error = event.worker.error
        self.log_dev(f"worker {event.worker.name} failed: {error!r}")
        self.notify(
            safe(f"内部エラー（{event.worker.group}）: {error}"), severity="error", timeout=10
        )
        if event.worker.group == "checkin":
            self.checkin_running = False
            self.panel.show_done("error", str(error))

    def _watch_reader(self) -> None:
        self._poll_reader()

    @work(thread=True, exclusive=True, group="presence", exit_on_error=False)
    def _poll_reader(self) -> None:
        present = self.services.cards.present()
        self.call_from_thread(self._presence, present)

    def _presence(self, present: bool) -> None:
        if present and not self.checkin_running and self.panel.view == "wait":
            self.start_checkin()
        elif not present:
            if self.checkin_running:
                self.interaction.card_removed()
            elif self.panel.view == "done":
                self.panel.show("wait", None)

    async def on_unmount(self) -> None:
        await self.client.aclose()

    # -- the reader panel's side -----------------------------------------------------------------

    @property
    def panel(self) -> ReaderPanel:
        return self.query_one(ReaderPanel)

    def _show(self, view: str, flow: CheckinFlow, **context: Any) -> None:
        self.log_dev(f"{view}: {flow.state.value}" + (f" ({context})" if context else ""))
        if view == "visual":
            self.panel.show("visual", flow)
            self.push_screen(VisualCheckScreen(), self._visual_answer)
            return
        self.panel.show(view, flow, **context)

    def _visual_answer(self, staff: str | None) -> None:
        self.interaction.answer(staff)

    def start_checkin(self) -> None:
        if self.checkin_running:
            return
        if not self.panel.warmed:  # the card came before the screen was ready
            self._start_when_ready = True
            return
        self.checkin_running = True
        self.run_checkin()

    def _checkin_ended(self) -> None:
        self.checkin_running = False
        self.interaction.forget_typed_ahead()  # never carried into the next patient's turn

    @work(exclusive=True, group="checkin", exit_on_error=False)
    async def run_checkin(self) -> None:
        request = CheckinRequest(Method.PIN, staff="受付")
        try:
            outcome = await check_in(
                self.services.traced(),
                self.client,
                self.services.store,
                self.services.terminal,
                request,
                face=self.services.settings.face,
                interaction=self.interaction,
            )
        finally:
            self._checkin_ended()
        self.post_message(CheckinFinished(outcome))

    def on_checkin_finished(self, message: CheckinFinished) -> None:
        outcome = message.outcome
        self.last_outcome = outcome
        flow = outcome.flow
        detail = flow.message or ""
        if outcome.result is not None and outcome.result.entries and flow.state is State.CONFIRMED:
            detail = f"負担割合 {outcome.result.entries[0].ratio}"
        if flow.state in (State.PIN_WRONG, State.PIN_BLOCKED, State.FACE_NOT_MATCHED):
            detail = flow.message or ""
        self.panel.show_done(outcome.status, detail)
        self.notify(
            f"受付 {outcome.reception_id}: {STATUS_LABELS[outcome.status]}",
            severity="information" if outcome.status == "confirmed" else "warning",
        )
        for line in self.services.last_trace():
            self.log_dev(line)
        self.selected = outcome.reception_id
        self.refresh_lists()
        self.show_detail(outcome.reception_id)
        if outcome.status in ("fallback", "pending"):
            # staff have something to do: the detail with the ladder comes forward
            self.query_one("#staff", TabbedContent).active = "tab-detail"
        if outcome.result is not None and self.services.store.pending():
            self.reverify_queue()

    def on_key(self, event: Any) -> None:
        if self.panel.shortcut(event.key):
            event.stop()
            return
        method = METHOD_KEYS.get(event.key)
        on_its_way = self.checkin_running or self._start_when_ready
        if method is not None and on_its_way and self.interaction.waiting_for is None:
            self.interaction.type_ahead(method)  # answered when the method question opens
            event.stop()

    def _oqs_exchange(self, method: str, path: str, outcome: str, seconds: float) -> None:
        self.log_dev(f"OQS {method} {path} → {outcome} ({seconds * 1000:.0f} ms)")

    def log_dev(self, line: str) -> None:
        self.dev_lines.append(line)
        del self.dev_lines[:-500]
        self.query_one("#dev-log", RichLog).write(plain(line))

    # -- the staff console -----------------------------------------------------------------------

    def refresh_lists(self) -> None:
        store = self.services.store
        table = self.query_one("#receptions", DataTable)
        needle = self.query_one("#filter", Input).value.strip()
        table.clear()
        for reception in store.receptions_on(now_jst().date()):
            results = store.results_of(reception.reception_id)
            last = results[-1] if results else None
            entry = last.entries[0] if last is not None and len(last.entries) == 1 else None
            row = [
                reception.started_at[11:16],
                entry.name if entry and entry.name else "—",
                METHOD_LABELS.get(reception.method or "", reception.method or "—"),
                STATUS_LABELS.get(reception.status, reception.status),
                entry.ratio if entry else "—",
                " / ".join(last.notices) if last else "",
            ]
            if needle and not any(needle in cell for cell in row):
                continue
            table.add_row(*(Text(plain(cell)) for cell in row), key=reception.reception_id)
        pending = self.query_one("#pending", DataTable)
        pending.clear()
        for d in store.pending():
            pending.add_row(
                *(
                    Text(plain(x))
                    for x in (
                        d.declaration_id,
                        d.created_at[:16],
                        d.declaration.name,
                        "あり" if d.declaration.queryable else "なし",
                        d.state,
                    )
                ),
                key=d.declaration_id,
            )

    @on(Input.Changed, "#filter")
    def _filter(self) -> None:
        self.refresh_lists()

    @on(DataTable.RowSelected, "#receptions")
    def _selected(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value:
            self.selected = str(event.row_key.value)
            self.show_detail(self.selected)
            self.query_one("#staff", TabbedContent).active = "tab-detail"

    def show_detail(self, reception_id: str) -> None:
        store = self.services.store
        reception = store.reception(reception_id)
        lines = [
            f"受付 {reception.reception_id}  {reception.started_at[:19]}",
            f"方法 {METHOD_LABELS.get(reception.method or '', '—')}  結果 "
            f"{STATUS_LABELS.get(reception.status, reception.status)}",
        ]
        if reception.reason:
            lines.append(f"理由 {reception.reason}")
        results = store.results_of(reception_id)
        if results:
            last = results[-1]
            lines.append(f"資格有効性 {last.validity_label}")
            for entry in last.entries:
                extra = entry.model_extra or {}
                lines += [
                    f"保険者 {entry.insurer_name or '—'}  保険者番号 "
                    f"{(entry.insurer_number or '').strip()}",
                    f"記号 {entry.insured_card_symbol}  番号 "
                    f"{entry.insured_identification_number}  枝番 {entry.insured_branch_number}",
                    f"氏名 {entry.name}（{entry.name_kana}）  生年月日 {entry.birthdate}  性別 "
                    f"{SEX.get(entry.sex1 or '', '未設定')}",
                    f"本人・家族 {FAMILY.get(entry.personal_family_classification or '', '—')}"
                    f"  負担割合 {entry.ratio}",
                ]
                if entry.elderly_recipient_certificate_info:
                    lines.append("高齢受給者 あり")
                if entry.limit_application_certificate_related_info:
                    info = entry.limit_application_certificate_related_info
                    flag = info.get("LimitApplicationCertificateClassificationFlag")
                    lines.append(f"限度額適用区分 {flag}")
                if entry.specific_diseases_certificate_list:
                    lines.append("特定疾病 あり")
                consent = "同意あり" if extra.get("PharmacistsInfoConsFlg") == "1" else "同意なし"
                lines.append(f"診療・薬剤情報 {consent}")
            lines += [f"※ {n}" for n in last.notices]
        for step, detail in store.steps_of(reception_id):
            lines.append(f"代替確認: {step} — {detail}")
        self.query_one("#detail", Static).update(safe("\n".join(lines)))

    @on(Button.Pressed, "#ladder-notice, #ladder-portal")
    def _ladder_seen(self, event: Button.Pressed) -> None:
        if self.selected is None:
            self.notify("受付を選んでください", severity="warning")
            return
        detail = self.query_one("#ladder-detail", Input).value.strip()
        if not detail:
            self.notify("確認した内容を書いてください", severity="warning")
            return
        step = LadderStep.NOTICE if event.button.id == "ladder-notice" else LadderStep.PORTAL
        self.services.store.record_step(self.selected, step, detail)
        self.query_one("#ladder-detail", Input).value = ""
        self.show_detail(self.selected)

    @on(Button.Pressed, "#ladder-number")
    def _ladder_number(self) -> None:
        if self.selected is None:
            self.notify("受付を選んでください", severity="warning")
            return
        self.push_screen(NumberQueryScreen(), self._number_query)

    def _number_query(self, body: dict[str, Any] | None) -> None:
        if body is not None and self.selected is not None:
            self.query_by_number(self.selected, body)

    @work(exclusive=True, group="oqs", exit_on_error=False)
    async def query_by_number(self, reception_id: str, body: dict[str, Any]) -> None:
        try:
            result = await self.client.confirm_number(body)
        except OqsError as exc:
            self.notify(safe(f"{exc.title}: {exc}"), severity="error")
            return
        store = self.services.store
        store.record_step(
            reception_id, LadderStep.CERTIFICATE, f"番号で照会: {result.validity_label}"
        )
        store.add_result(reception_id, result)
        self.notify(safe(f"資格確認書の照会: {result.validity_label}"))
        self.refresh_lists()
        self.show_detail(reception_id)

    @on(Button.Pressed, "#ladder-declare")
    def _ladder_declare(self) -> None:
        prefill = {
            "declared_on": now_jst().date().isoformat(),
            "reason": FallbackReason.NO_MATCH.label,
        }
        if self.selected is not None:
            # the reason of the reception staff selected, as it was stored — not the
            # terminal's last check-in
            stored = self.services.store.reception(self.selected).fallback_reason
            if stored is not None:
                prefill["reason"] = stored.label
        self.push_screen(DeclarationScreen(prefill), self._declared)

    def _declared(self, declaration: SelfDeclaration | None) -> None:
        if declaration is None:
            return
        filed = file_declaration(
            self.services.store,
            declaration,
            self.services.settings.declarations_dir,
            reception_id=self.selected,
        )
        if filed.pdf_error:  # the declaration is stored all the same
            self.notify(
                safe(f"申立書を保存しました（PDFなし）: {filed.pdf_error}"), severity="error"
            )
        else:
            self.notify(safe(f"申立書を保存しました: {filed.pdf}"))
        self.refresh_lists()

    @on(Button.Pressed, "#reverify")
    def reverify_queue(self) -> None:
        self._reverify()

    @work(exclusive=True, group="reverify", exit_on_error=False)
    async def _reverify(self) -> None:
        summary = await reverify_pending(self.client, self.services.store)
        self.query_one("#pending-status", Static).update(safe(describe(summary)))
        self.refresh_lists()

    @on(Button.Pressed, "#export")
    def _export(self) -> None:
        out = self.services.settings.data_dir / "export"
        day = now_jst().date()
        files = export_xml(self.services.store, day, out)
        csv_path = export_csv(self.services.store, day, out)
        self.query_one("#pending-status", Static).update(
            safe(f"書き出し: XML {len(files)} 件、{csv_path}")
        )

    # -- demo controls ---------------------------------------------------------------------------

    @on(Button.Pressed, "#demo-place")
    def _place(self) -> None:
        demo = self.services.demo
        persona = self.query_one("#persona", Select).value
        if demo is None or not isinstance(persona, str):
            self.notify("ペルソナを選んでください", severity="warning")
            return
        self.place_card(persona)

    def place_card(self, persona: str) -> None:
        """Demo: put a persona's card on the reader and start the check-in."""
        assert self.services.demo is not None
        if self.checkin_running:
            self.notify("前の受付が終わっていません", severity="warning")
            return
        self.checkin_running = True  # reserved until the card is there
        self._place_worker(persona)

    @work(thread=True, exclusive=True, group="demo-card", exit_on_error=False)
    def _place_worker(self, persona: str) -> None:
        assert self.services.demo is not None
        try:
            self.services.demo.place(persona)
        except Exception as exc:
            self.call_from_thread(self._place_failed, str(exc))
            return
        self.call_from_thread(self._placed, persona)

    def _place_failed(self, error: str) -> None:
        self.checkin_running = False
        self.notify(safe(f"カードを置けませんでした: {error}"), severity="error")

    def _placed(self, persona: str) -> None:
        self.query_one("#demo-status", Static).update(
            safe(f"{persona} のカードを置きました（暗証番号は world.json に）")
        )
        self.checkin_running = False
        self.start_checkin()

    @on(Button.Pressed, "#demo-remove")
    def remove_card(self) -> None:
        if self.services.demo is None:
            return
        self.interaction.card_removed()
        self._remove_worker()

    @work(thread=True, exclusive=True, group="demo-card", exit_on_error=False)
    def _remove_worker(self) -> None:
        assert self.services.demo is not None
        self.services.demo.remove()
        self.call_from_thread(self._removed)

    def _removed(self) -> None:
        if not self.checkin_running:
            self.panel.show("wait", None)
        self.query_one("#demo-status", Static).update("カードを取りました")

    @on(Button.Pressed, "#demo-unplug")
    def toggle_reader(self) -> None:
        assert self.services.demo is not None
        try:
            unplugged = self.services.demo.toggle_reader()
        except NotImplementedError as exc:
            self.notify(safe(str(exc)), severity="warning")
            return
        self.query_one("#demo-status", Static).update(
            "リーダーを外しました" if unplugged else "リーダーをつなぎました"
        )

    @on(Button.Pressed, "#faults Button")
    def _fault(self, event: Button.Pressed) -> None:
        assert self.services.demo is not None
        index = int((event.button.id or "fault-0").removeprefix("fault-"))
        label, args = FAULTS[index]
        try:
            self.services.demo.faults(*args)
        except RuntimeError as exc:
            self.notify(safe(str(exc)), severity="error")
            return
        self.query_one("#demo-status", Static).update(safe(f"サービス: {label}"))

    # -- actions ---------------------------------------------------------------------------------

    def action_toggle_language(self) -> None:
        self.panel.language = "en" if self.panel.language == "ja" else "ja"
        self.panel.retext()

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("再確認", "再確認待ちの申立書をいま照会する", self.reverify_queue)
        yield SystemCommand("書き出し", "本日分を XmlMsg と CSV に書き出す", self._export)
        yield SystemCommand(
            "言語の切り替え", "読み取り画面の日本語／English", self.action_toggle_language
        )
        yield SystemCommand("一覧の更新", "受付一覧を読み直す", self.refresh_lists)
        if self.services.demo is not None:
            yield SystemCommand(
                "リーダーを外す／つなぐ（デモ）", "リーダー障害の練習", self.toggle_reader
            )

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("place_card", "remove_card"):
            return self.services.demo is not None  # demo controls only in demo mode
        return True

    def action_place_card(self) -> None:
        assert self.services.demo is not None
        persona = self.query_one("#persona", Select).value
        self.place_card(persona if isinstance(persona, str) else self.services.demo.personas[0][0])

    def action_remove_card(self) -> None:
        self.remove_card()

    def action_refresh(self) -> None:
        self.refresh_lists()


def make_app(services: Services) -> ReceptionApp:
    return ReceptionApp(services)
