"""One reception in full, with the fallback ladder as actions (oqs.md §6): the rungs
staff saw, the 資格確認書 query by number, the 申立書.

Whose reception it is stands on top (:meth:`reception.target.LadderTarget.heading`), and
every action names it again on its own screen and asks :func:`reception.target.refusal`
before it writes: a settled reception takes no rung. Only the rungs that fit the
reception's state are offered (:func:`ladder_offer`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from textual import events, on, work
from textual.app import ComposeResult
from textual.containers import Grid, Vertical, VerticalScroll
from textual.widgets import Button, Input, Static, TabPane
from textual.widgets.button import ButtonVariant

from reader.clock import today_jst
from reception.declaration import NO_CARD_MESSAGE, LadderStep, SelfDeclaration
from reception.error_screens import NO_COUNTER, screen_in
from reception.errors import NotFound, ReceptionError
from reception.ladder import (
    confirm_by_number,
    declaration_prefill,
    declaration_refusal,
    file_declaration,
    record_no_card,
    record_rung,
)
from reception.ladder_rules import NoticeSeen
from reception.oqs_client import NumberQuery, OqsClient, OqsError
from reception.present import LADDER_HINT, STATUS_LABELS, reception_detail
from reception.store import ReceptionStatus, Store
from reception.target import LadderTarget, ladder_target, refusal
from reception.tui.screens import DeclarationScreen, LadderConfirmScreen, NumberQueryScreen
from reception.tui.text import safe
from reception.tui.widgets.messages import (
    CounterRequested,
    DeveloperNote,
    ReceptionsChanged,
    ReportsFailedWorkers,
)
from reception.tui.widgets.rules_rungs import (
    OLD_CARD_BUTTON,
    ask_old_card,
    notice_dates_first,
    old_card_offered,
)

LADDER_BUTTONS = (
    ("ladder-notice", "お知らせを確認"),
    ("ladder-portal", "マイナポータルを確認"),
    ("ladder-number", "資格確認書で照会"),
    OLD_CARD_BUTTON,  # only on the interim rule's days (reception/ladder_rules.py)
    ("ladder-declare", "申立書を作る"),
    ("ladder-counter", "居宅同意取得型で確認"),
    ("ladder-no-card", "持参なし（10割）"),
)
LADDER_STATES = frozenset(
    {
        ReceptionStatus.FALLBACK,
        ReceptionStatus.PENDING,
        ReceptionStatus.ERROR,
        ReceptionStatus.INTERRUPTED,
    }
)
"""The card route ended without a confirmation (a fallback, the service unreachable, a
fault of the terminal): the patient is at the counter and the ladder is next."""
VARIANTS: dict[str, ButtonVariant] = {"ladder-declare": "warning", "ladder-no-card": "error"}
BUTTON_CELL = 25  # the longest label (20 cells) with the button's border and padding


@dataclass(frozen=True)
class LadderOffer:
    """What the detail offers for a reception: the line beside the ladder and the rungs."""

    hint: str
    buttons: frozenset[str]


def ladder_offer(target: LadderTarget, *, medical_aid: bool) -> LadderOffer:
    """The rungs that fit the reception's state. Settled (確認済, お知らせ, 資格確認書,
    申立書, 10割): none. 受付中: none yet (the check-in decides). 取消: none (the card is
    placed again: a new reception). A reception the ladder is for: every rung, in the
    order to try them (oqs.md §6) — but no 申立書 for 医療扶助 (the 福祉事務所)."""
    status = target.status
    if status.settled:
        said = f"「{STATUS_LABELS[status]}」の受付です: 代替手段は要りません"
        if medical_aid:
            said += "（医療扶助: 医療券のことは福祉事務所へ）"
        return LadderOffer(said, frozenset())
    if status is ReceptionStatus.IN_PROGRESS:
        return LadderOffer("読み取り中です: 終わると結果と代替手段がここに出ます", frozenset())
    if status not in LADDER_STATES:  # cancelled
        again = "確認するにはもう一度カードを置いてください（新しい受付になります）"
        return LadderOffer(f"取り消した受付です: {again}", frozenset())
    buttons = {key for key, _ in LADDER_BUTTONS}
    hint = f"→{LADDER_HINT}"
    if medical_aid:
        buttons.discard("ladder-declare")
        hint += "（医療扶助の方は福祉事務所へ: 申立書は使えません）"
    return LadderOffer(hint, frozenset(buttons))


class ReceptionDetail(TabPane, ReportsFailedWorkers):
    def __init__(
        self,
        store: Store,
        client: OqsClient,
        declarations_dir: Path,
        rules_day: Callable[[], dt.date] = today_jst,
        today: dt.date | None = None,
    ) -> None:
        super().__init__("詳細・代替手段", id="tab-detail")
        self.rules_day = rules_day  # the day whose rules apply (reception --today)
        # the day set with reception --today, if any (a 資格確認書 valid on it; else the
        # service's day judges)
        self.today = today
        self.store = store
        self.client = client
        self.declarations_dir = declarations_dir
        self.reception_id: str | None = None
        self._has_counter: bool | None = None

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="detail-scroll"):
            yield Static("", id="detail-heading", classes="heading")
            yield Static("受付を一覧から選んでください", id="detail")
            with Vertical(id="ladder-actions"):
                yield Static("", id="ladder-hint")
                yield Input(placeholder="確認した内容（例: 協会けんぽ 3割）", id="ladder-detail")
                with Grid(id="ladder"):
                    for key, label in LADDER_BUTTONS:
                        yield Button(label, id=key, variant=VARIANTS.get(key, "default"))

    def on_mount(self) -> None:
        self.query_one("#ladder-actions").display = False

    def on_resize(self, event: events.Resize) -> None:
        """As many buttons a row as fit whole: a label is never cut (80×24 stacks them)."""
        columns = max(1, (event.size.width - 2) // BUTTON_CELL)
        self.query_one("#ladder", Grid).styles.grid_size_columns = columns

    def _counter_available(self) -> bool:
        """The staff-held reader (居宅同意取得型) is configured: the app hides its rung on
        mount where none is, before any reception is shown — read once, then kept."""
        if self._has_counter is None:
            self._has_counter = bool(self.query_one("#ladder-counter").display)
        return self._has_counter

    def show(self, reception_id: str) -> None:
        self.reception_id = reception_id
        try:
            target = ladder_target(self.store, reception_id)
        except NotFound:  # nothing of the reception shown before stays, no rung either
            self.query_one("#detail-heading", Static).update("")
            self.query_one("#detail", Static).update(safe(f"受付 {reception_id} はありません"))
            self.query_one("#ladder-actions").display = False
            return
        lines = reception_detail(self.store, reception_id)
        self.query_one("#detail-heading", Static).update(safe(target.heading()))
        self.query_one("#detail", Static).update(safe("\n".join(lines)))
        medical_aid = declaration_refusal(self.store, reception_id) is not None
        offer = ladder_offer(target, medical_aid=medical_aid)
        self.query_one("#ladder-hint", Static).update(safe(offer.hint))
        self.query_one("#ladder-actions").display = True
        self.query_one("#ladder-detail").display = bool(offer.buttons)
        # the staff-held reader reads the same card no better after 【002】【S01】【006】
        screen = screen_in(self.store.reception(reception_id).reason)
        counter = self._counter_available() and (screen is None or screen.code not in NO_COUNTER)
        for key, _ in LADDER_BUTTONS:
            fits = key in offer.buttons and (key != "ladder-counter" or counter)
            if key == OLD_CARD_BUTTON[0]:
                fits = fits and old_card_offered(self.rules_day())
            self.query_one(f"#{key}").display = fits

    def _changed(self, reception_id: str | None) -> None:
        if reception_id is not None and reception_id == self.reception_id:
            self.show(reception_id)
        self.post_message(ReceptionsChanged(reception_id))

    def _target(self) -> LadderTarget | None:
        """The selected reception as it stands now, or None (said) when there is none or
        it must not take a rung."""
        if self.reception_id is None:
            self.notify("受付を一覧から選んでください", severity="warning")
            return None
        try:
            target = ladder_target(self.store, self.reception_id)
        except NotFound:
            self.notify(safe(f"受付 {self.reception_id} はありません"), severity="error")
            return None
        refused = refusal(target)
        if refused is not None:
            self.notify(safe(refused), severity="warning", timeout=10)
            self.show(target.reception_id)  # the buttons follow the state it is in
            return None
        return target

    def _refused(self, reception_id: str, exc: ReceptionError) -> None:
        """The ladder refused the write (settled or being read meanwhile — the domain
        checks right before it writes or sends): said, and the buttons follow."""
        self.notify(safe(str(exc)), severity="warning", timeout=10)
        self._changed(reception_id)

    @on(Button.Pressed, "#ladder-notice, #ladder-portal")
    def _seen(self, event: Button.Pressed) -> None:
        target = self._target()
        if target is None:
            return
        step = LadderStep.NOTICE if event.button.id == "ladder-notice" else LadderStep.PORTAL
        field = self.query_one("#ladder-detail", Input)
        seen = field.value.strip()
        if not seen:
            self.notify(
                "確認した内容を書いてください（例: 資格情報のお知らせ 協会けんぽ 3割）",
                severity="warning",
            )
            field.focus()
            return
        label = "資格情報のお知らせ" if step is LadderStep.NOTICE else "マイナポータルの資格情報"
        what = f"{label}で確認した内容「{seen}」をこの受付に記録します"
        day = self.rules_day()

        def record(dates: NoticeSeen | None) -> None:
            def confirmed(yes: bool | None) -> None:
                if not yes:
                    return
                try:
                    rid = target.reception_id
                    record_rung(self.store, rid, step, seen, seen=dates, day=day)
                except ReceptionError as exc:
                    self._refused(target.reception_id, exc)
                    return
                field.value = ""
                self._changed(target.reception_id)

            self.app.push_screen(LadderConfirmScreen(target.heading(), what), confirmed)

        if step is LadderStep.NOTICE:  # a 70+ patient's お知らせ expires (7/31)
            notice_dates_first(self, target, day, record)
        else:
            record(None)

    @on(Button.Pressed, "#ladder-old-card")
    def _old_card(self) -> None:
        target = self._target()
        if target is not None:
            ask_old_card(self, target, self.rules_day())

    @on(Button.Pressed, "#ladder-counter")
    def _counter(self) -> None:
        target = self._target()
        if target is not None:
            self.post_message(CounterRequested(target.reception_id))

    @on(Button.Pressed, "#ladder-no-card")
    def _no_card(self) -> None:
        """Neither マイナ保険証 nor 資格確認書: not a 申立書 case (oqs.md §6)."""
        target = self._target()
        if target is None:
            return

        def confirmed(yes: bool | None) -> None:
            if not yes:
                return
            try:
                record_no_card(self.store, target.reception_id)
            except ReceptionError as exc:
                self._refused(target.reception_id, exc)
                return
            self.notify(NO_CARD_MESSAGE, severity="warning", timeout=10)
            self._changed(target.reception_id)

        what = f"マイナ保険証も資格確認書もお持ちでない: {NO_CARD_MESSAGE}"
        screen = LadderConfirmScreen(target.heading(), what, verb="10割負担で記録する")
        self.app.push_screen(screen, confirmed)

    @on(Button.Pressed, "#ladder-number")
    def _number(self) -> None:
        target = self._target()
        if target is None:
            return

        def query(answer: NumberQuery | None) -> None:
            if answer is not None:
                self.query_by_number(target.reception_id, answer)

        self.app.push_screen(NumberQueryScreen(target.heading()), query)

    @work(exclusive=True, group="oqs", exit_on_error=False)
    async def query_by_number(self, reception_id: str, query: NumberQuery) -> None:
        try:
            answer = await confirm_by_number(
                self.client, self.store, query, reception_id=reception_id, day=self.today
            )
        except OqsError as exc:
            self.post_message(DeveloperNote(f"OQS: {type(exc).__name__}: {exc}"))
            self.notify(safe(exc.staff_message), severity="error")
            return
        except ReceptionError as exc:  # refused by the ladder itself (settled meanwhile)
            self._refused(reception_id, exc)
            return
        self.notify(
            safe(f"受付 {reception_id} 資格確認書の照会: {answer.verdict}"),
            severity="information" if answer.accepted else "warning",
        )
        self._changed(reception_id)

    @on(Button.Pressed, "#ladder-declare")
    def _declare(self) -> None:
        medical_aid = declaration_refusal(self.store, self.reception_id)
        if medical_aid is not None:  # 医療扶助: the 福祉事務所, not a form, in any state
            self.notify(safe(medical_aid), severity="warning", timeout=10)
            return
        target = self._target()
        if target is None:
            return
        rid = target.reception_id
        prefill = declaration_prefill(self.store, rid)
        # the form names the reception at its top and refuses on save (reception.target)
        self.app.push_screen(
            DeclarationScreen(
                prefill, store=self.store, reception_id=rid, save=lambda d: self.file(d, rid)
            )
        )

    def file(self, declaration: SelfDeclaration, reception_id: str | None) -> None:
        """Print and store the 申立書 — called by the form from its own thread (the PDF
        takes a moment); a refusal of the ladder (settled meanwhile, 医療扶助, another
        patient's name) is raised to the form, which shows it and saves nothing."""
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
