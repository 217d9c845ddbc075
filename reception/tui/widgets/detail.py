"""One reception in full, with the fallback ladder as actions (oqs.md §6): the rungs
staff saw, the 資格確認書 query by number, the 申立書."""

from __future__ import annotations

from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Button, Input, Static, TabPane

from reception.declaration import NO_CARD_MESSAGE, LadderStep, SelfDeclaration
from reception.errors import InputError
from reception.ladder import (
    confirm_by_number,
    declaration_prefill,
    declaration_refusal,
    file_declaration,
    record_no_card,
    record_rung,
)
from reception.oqs_client import NumberQuery, OqsClient, OqsError
from reception.present import reception_detail
from reception.store import Store
from reception.tui.screens import DeclarationScreen, NumberQueryScreen
from reception.tui.text import safe
from reception.tui.widgets.messages import (
    CounterRequested,
    DeveloperNote,
    ReceptionsChanged,
    ReportsFailedWorkers,
)


class ReceptionDetail(TabPane, ReportsFailedWorkers):
    def __init__(self, store: Store, client: OqsClient, declarations_dir: Path) -> None:
        super().__init__("詳細・代替手段", id="tab-detail")
        self.store = store
        self.client = client
        self.declarations_dir = declarations_dir
        self.reception_id: str | None = None

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static("受付を一覧から選んでください", id="detail")
            yield Input(
                placeholder="確認した内容（例: お知らせ 協会けんぽ 3割）", id="ladder-detail"
            )
            with Horizontal(id="ladder"):
                yield Button("お知らせを確認", id="ladder-notice")
                yield Button("マイナポータルを確認", id="ladder-portal")
                yield Button("資格確認書で照会", id="ladder-number")
                yield Button("申立書を作る", id="ladder-declare", variant="warning")
                yield Button("居宅同意取得型で確認", id="ladder-counter")
                yield Button("持参なし（10割）", id="ladder-no-card", variant="error")

    def show(self, reception_id: str) -> None:
        self.reception_id = reception_id
        lines = reception_detail(self.store, reception_id)
        self.query_one("#detail", Static).update(safe("\n".join(lines)))

    def _changed(self, reception_id: str | None) -> None:
        if reception_id is not None and reception_id == self.reception_id:
            self.show(reception_id)
        self.post_message(ReceptionsChanged(reception_id))

    @on(Button.Pressed, "#ladder-notice, #ladder-portal")
    def _seen(self, event: Button.Pressed) -> None:
        if self.reception_id is None:
            self.notify("受付を選んでください", severity="warning")
            return
        step = LadderStep.NOTICE if event.button.id == "ladder-notice" else LadderStep.PORTAL
        field = self.query_one("#ladder-detail", Input)
        try:
            record_rung(self.store, self.reception_id, step, field.value)
        except InputError as exc:
            self.notify(safe(str(exc)), severity="warning")
            return
        field.value = ""
        self._changed(self.reception_id)

    @on(Button.Pressed, "#ladder-counter")
    def _counter(self) -> None:
        if self.reception_id is None:
            self.notify("受付を選んでください", severity="warning")
            return
        self.post_message(CounterRequested(self.reception_id))

    @on(Button.Pressed, "#ladder-no-card")
    def _no_card(self) -> None:
        """Neither マイナ保険証 nor 資格確認書: not a 申立書 case (oqs.md §6)."""
        if self.reception_id is None:
            self.notify("受付を選んでください", severity="warning")
            return
        record_no_card(self.store, self.reception_id)
        self.notify(NO_CARD_MESSAGE, severity="warning", timeout=10)
        self._changed(self.reception_id)

    @on(Button.Pressed, "#ladder-number")
    def _number(self) -> None:
        if self.reception_id is None:
            self.notify("受付を選んでください", severity="warning")
            return
        self.app.push_screen(NumberQueryScreen(), self._query)

    def _query(self, query: NumberQuery | None) -> None:
        if query is not None and self.reception_id is not None:
            self.query_by_number(self.reception_id, query)

    @work(exclusive=True, group="oqs", exit_on_error=False)
    async def query_by_number(self, reception_id: str, query: NumberQuery) -> None:
        try:
            answer = await confirm_by_number(
                self.client, self.store, query, reception_id=reception_id
            )
        except OqsError as exc:
            self.post_message(DeveloperNote(f"OQS: {type(exc).__name__}: {exc}"))
            self.notify(safe(exc.staff_message), severity="error")
            return
        self.notify(
            safe(f"資格確認書の照会: {answer.verdict}"),
            severity="information" if answer.accepted else "warning",
        )
        self._changed(reception_id)

    @on(Button.Pressed, "#ladder-declare")
    def _declare(self) -> None:
        refusal = declaration_refusal(self.store, self.reception_id)
        if refusal is not None:  # 医療扶助: the 福祉事務所, not a form
            self.notify(safe(refusal), severity="warning", timeout=10)
            return
        prefill = declaration_prefill(self.store, self.reception_id)
        rid = self.reception_id
        self.app.push_screen(
            DeclarationScreen(
                prefill, store=self.store, reception_id=rid, save=lambda d: self.file(d, rid)
            )
        )

    def file(self, declaration: SelfDeclaration, reception_id: str | None) -> None:
        """Print and store the 申立書 — called by the form from its own thread (the PDF
        takes a moment); an InputError (a refusal) is shown on the form, nothing saved."""
        filed = file_declaration(
            self.store, declaration, self.declarations_dir, reception_id=reception_id
        )
        # App.notify and post_message are thread-safe
        if filed.pdf_error:  # the declaration is stored all the same
            self.app.notify(
                safe(f"申立書を保存しました（PDFなし）: {filed.pdf_error}"), severity="error"
            )
        else:
            self.app.notify(safe(f"申立書を保存しました: {filed.pdf}"))
        self.post_message(ReceptionsChanged(reception_id))
