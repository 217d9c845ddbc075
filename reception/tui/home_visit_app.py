"""The マイナ資格確認アプリ (居宅同意取得型) as staff hold it at the patient's home: a small
app of its own — the activation code first (once a device; issued on the 資格確認端末,
``reception app-code``), then the card on the phone, the consents, PIN or 目視, and the
result. The check-in is the core's (:func:`reception.checkin.check_in` on the
居宅同意取得型 route, :attr:`Route.COUNTER`); this app answers its questions
(a :class:`~reception.questions.QuestionBroker`) with the widgets the counter screen uses
(reception/tui/screens/counter.py) and shows what the route asks (its ``ASKED``).

What the app confirms is what the clinic software fetches as 訪問診療 (``OQSmuhvq``).
Sources: reception/home_visit/__init__.py (the ministry's Q&A in 京都医報 2025-03-01号; a
clinic's notes on the first registration; ijnethp.com on what the app asks)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from textual import events, on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Header, Input, Static

from reception.cards import CardSource
from reception.checkin import CheckinOutcome, CheckinRequest, Terminal, check_in, open_card
from reception.errors import InputError
from reception.flow import CheckinFlow, Method, Route
from reception.home_visit.codes import activate, activation
from reception.oqs_client import OqsClient
from reception.present import OUTCOME_SENTENCES, the_entry
from reception.questions import (
    ChooseMethod,
    ChoosePrescription,
    ConfirmVisually,
    EnterPin,
    GiveConsents,
    Question,
    QuestionBroker,
)
from reception.settings import ReceptionSettings
from reception.store import Store
from reception.tui.screens.counter import asked_view
from reception.tui.text import safe
from reception.tui.widgets.footer import KeysFooter
from reception.tui.widgets.pin import PinField
from reception.tui.widgets.questions import ConsentChoice, MethodChoice, PrescriptionChoice

log = logging.getLogger(__name__)
SECTIONS = (
    "app-activate",
    "app-card",
    "counter-consents",
    "counter-methods",
    "counter-pin",
    "counter-visual",
    "counter-rx",
    "app-result",
)


@dataclass
class HomeVisitServices:
    """What the app runs on: the terminal's store and identity (the phone is the clinic's,
    activated against this terminal), its settings, the service, the phone's card reader
    and — in the simulator — how the patient's card is put on it."""

    store: Store
    terminal: Terminal
    settings: ReceptionSettings
    client: OqsClient
    cards: CardSource
    place: Callable[[], None]
    persona: str
    device: str = "app-1"
    code: str | None = None  # typed ahead (``--code``): shown in the field


class HomeVisitApp(App[None]):
    TITLE = "マイナ資格確認アプリ（居宅同意取得型）"
    BINDINGS = [Binding("ctrl+q", "quit", "終了", priority=True)]
    DEFAULT_CSS = """
    #app-pane { padding: 1 2; height: auto; }
    #app-heading { text-style: bold; margin-bottom: 1; }
    #app-status { margin: 1 0; min-height: 2; }
    #app-pane Horizontal { height: auto; }
    #app-pane Button { margin-right: 1; }
    #app-code-input { width: 24; }
    #counter-pin Input { width: 24; }
    #app-result-text { height: auto; }
    """

    def __init__(self, services: HomeVisitServices) -> None:
        super().__init__()
        self.services = services
        self.questions = QuestionBroker(self._show_question, self._progress, self._question_closed)
        self.outcome: CheckinOutcome | None = None

    def compose(self) -> ComposeResult:
        s = self.services
        yield Header()
        with Vertical(id="app-pane"):
            yield Static(safe(f"端末 {s.device} ・ 患者さん宅（訪問診療）"), id="app-heading")
            yield Static("", id="app-status")
            with Horizontal(id="app-activate"):
                yield Input(
                    value=s.code or "",
                    placeholder="XXXX-XXXX-XXXX",
                    id="app-code-input",
                )
                yield Button("有効化", id="app-activate-ok", variant="primary")
            with Horizontal(id="app-card"):
                yield Button(
                    safe(f"カードを読み取る（{s.persona}）"), id="app-read", variant="primary"
                )
            yield ConsentChoice(prefix="counter", id="counter-consents", each=False)
            yield MethodChoice(
                (Method.PIN, Method.VISUAL),
                prefix="counter-method",
                id="counter-methods",
                primary=Method.PIN,
            )
            yield PinField(prefix="counter-pin", id="counter-pin")
            with Horizontal(id="counter-visual"):
                yield Button("本人と確認した（目視）", id="counter-visual-ok", variant="primary")
            yield PrescriptionChoice(prefix="counter-rx", id="counter-rx")
            with Vertical(id="app-result"):
                yield Static("", id="app-result-text")
                yield Button("次の患者さん", id="app-next", variant="primary")
        yield KeysFooter()

    def on_mount(self) -> None:
        s = self.services
        self.sub_title = s.settings.mode.label
        try:
            activation(s.store, s.device)
        except InputError:
            self._section("app-activate")
            self._status(
                "資格確認端末で発行したアクティベーションコードを入力してください（1回限り）"
            )
            self.query_one("#app-code-input", Input).focus()
            return
        self._await_card()

    def _section(self, shown: str | None) -> None:
        for section in SECTIONS:
            for widget in self.query(f"#{section}"):  # none once the app has closed
                widget.display = section == shown

    def _status(self, text: str) -> None:
        self.query_one("#app-status", Static).update(safe(text))

    def _await_card(self) -> None:
        self._section("app-card")
        self._status("患者さんのマイナンバーカードをスマートフォンにかざしてください")
        self.query_one("#app-read", Button).focus()

    # -- activation -------------------------------------------------------------------------

    @on(Button.Pressed, "#app-activate-ok")
    @on(Input.Submitted, "#app-code-input")
    def _activate(self, event: Button.Pressed | Input.Submitted) -> None:
        event.stop()
        field = self.query_one("#app-code-input", Input)
        s = self.services
        try:
            done = activate(s.store, field.value, s.device, actor="訪問スタッフ")
        except InputError as exc:
            field.value = ""  # typed again, whole
            self._status(str(exc))
            return
        field.value = ""
        self._await_card()
        self._status(f"端末 {done.device} を有効化しました。カードをかざしてください")

    # -- the check-in -----------------------------------------------------------------------

    @on(Button.Pressed, "#app-read")
    def _read(self, event: Button.Pressed) -> None:
        event.stop()
        self.services.place()  # the patient's card on the phone (the simulator's persona)
        self._section(None)
        self._status("カードを読み取っています…")
        self._run()

    @work(exclusive=True, group="home-visit", exit_on_error=False)
    async def _run(self) -> None:
        s = self.services
        request = CheckinRequest(
            Method.PIN,
            route=Route.COUNTER,
            staff=f"訪問スタッフ（マイナ資格確認アプリ {s.device}）",
            expected=s.cards.expected,
        )
        try:
            transport = open_card(s.cards.transport)
            outcome = await check_in(
                transport,
                s.client,
                s.store,
                s.terminal,
                request,
                interaction=self.questions,
                rules=s.settings.counter_rules(),
                deadline=s.settings.reader.answer_timeout,
            )
        except Exception as exc:  # never a silent screen: say it, keep the detail for logs
            log.exception("the home-visit check-in failed")
            self._status(f"確認できませんでした（{type(exc).__name__}）: {exc}")
            self._section("app-result")
            return
        self.outcome = outcome
        self._section("app-result")
        self._status(OUTCOME_SENTENCES[outcome.status])
        self.query_one("#app-result-text", Static).update(safe(result_text(outcome)))
        self.query_one("#app-next", Button).focus()

    @on(Button.Pressed, "#app-next")
    def _next(self, event: Button.Pressed) -> None:
        event.stop()
        self.outcome = None
        self.query_one("#app-result-text", Static).update("")
        self._await_card()

    # -- the questions (reception.questions), shown in this app's sections ---------------------

    def _show_question(self, question: Question[Any]) -> bool:
        shown = asked_view(question, self)
        if shown is None:
            return False  # not asked on this route: the answer is None
        self._section(shown[0])
        self._status(shown[1])
        first: Button | None = None  # focused: Enter answers, as on the reader panel
        if isinstance(question, GiveConsents):
            first = self.query_one(ConsentChoice).query(Button).first()
        elif isinstance(question, ChooseMethod):
            first = next((b for b in self.query_one(MethodChoice).query(Button) if b.display), None)
        if first is not None:
            self.call_after_refresh(first.focus)
        return True

    def _question_closed(self, question: Question[Any]) -> None:
        self._section(None)

    def _progress(self, flow: CheckinFlow, doing: str) -> None:
        self._status("確認しています…")

    def on_key(self, event: events.Key) -> None:
        """Keyboard alone: y/n まとめて同意/同意しない, 2/3 暗証番号/目視, v 目視 確認した."""
        consent, method = self.query_one(ConsentChoice), self.query_one(MethodChoice)
        if (consent.display and consent.key(event.key)) or (
            method.display and method.key(event.key)
        ):
            event.stop()
        elif self.query_one("#counter-visual").display and event.key == "v":
            event.stop()
            self.questions.answer(ConfirmVisually, "訪問スタッフ（目視）")

    @on(ConsentChoice.Chosen)
    def _consents(self, event: ConsentChoice.Chosen) -> None:
        self.questions.answer(GiveConsents, event.consents)

    @on(MethodChoice.Chosen)
    def _method(self, event: MethodChoice.Chosen) -> None:
        self.questions.answer(ChooseMethod, event.method)

    @on(PinField.Entered)
    def _pin(self, event: PinField.Entered) -> None:
        self.questions.answer(EnterPin, event.pin)

    @on(PinField.Malformed)
    def _malformed_pin(self) -> None:
        self._status("暗証番号は4桁の数字です（カードには送っていません）")

    @on(Button.Pressed, "#counter-visual-ok")
    def _visual(self, event: Button.Pressed) -> None:
        event.stop()
        self.questions.answer(ConfirmVisually, "訪問スタッフ（目視）")

    @on(PrescriptionChoice.Chosen)
    def _prescription(self, event: PrescriptionChoice.Chosen) -> None:
        self.questions.answer(ChoosePrescription, event.prescription)


def result_text(outcome: CheckinOutcome) -> str:
    """What staff read after the card: whose qualification, and what was consented."""
    flow = outcome.flow
    lines = [f"受付 {outcome.reception_id}"]
    if flow.message:
        lines.append(flow.message)
    if flow.method is not None:
        lines.append(f"本人確認: {flow.method.label}")
    entry = the_entry(outcome.result)
    if entry is not None:
        lines.append(f"{entry.name or ''}　{entry.insurer_name or ''}")
    given = flow.consents
    if outcome.result is not None and outcome.result.confirmed:
        agreed = [
            label
            for label, on_ in (
                ("薬剤情報・診療情報", given.medication if given else False),
                ("特定健診情報", given.checkup if given else False),
            )
            if on_
        ]
        lines.append("同意: " + ("・".join(agreed) if agreed else "なし（資格情報のみ）"))
        lines.append("訪問診療の一括照会（OQSmuhvq）で電子カルテに取り込めます")
    return "\n".join(lines)
