"""The 居宅同意取得型 route at the counter (oqs.md §6 rung 0): when the face-recognition
reader is out of order or the patient cannot operate it, staff read the card on their own
reader — the consent question first, then the PIN (typed by the patient, masked) or
staff's 目視. The check-in is the core's; this screen answers its questions (a
:class:`~reception.questions.QuestionBroker`) on the same question widgets the patient's
reader panel composes; it settles the pending reception as a normal card confirmation
recorded as that route.

The route asks what it offers (design.md §6.9, reception/flow.py OPEN_ITEMS): 診療情報・
薬剤情報 and 特定健診情報 — no 手術情報, no 受給者証 by card, no 保険証利用登録 (the route
needs a card registered beforehand)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.dom import DOMNode
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from reception.cards import CardSource
from reception.checkin import CheckinOutcome, CheckinRequest
from reception.errors import NotFound
from reception.flow import CheckinFlow, Method, Route
from reception.ladder import LadderRefused, check_target
from reception.oqs_client import OqsClient
from reception.present import OUTCOME_SENTENCES
from reception.questions import (
    ChooseMethod,
    ChoosePrescription,
    ConfirmVisually,
    EnterPin,
    GiveConsents,
    Question,
    QuestionBroker,
)
from reception.tui.services import Services
from reception.tui.text import safe
from reception.tui.widgets.messages import CardPlaced
from reception.tui.widgets.pin import PinField
from reception.tui.widgets.questions import ConsentChoice, MethodChoice, PrescriptionChoice

log = logging.getLogger(__name__)
SECTIONS = (
    "counter-consents",
    "counter-methods",
    "counter-pin",
    "counter-visual",
    "counter-rx",
)
CARD_WAIT_SECONDS = 120.0
ASKED: dict[type[Question[Any]], tuple[str, str]] = {
    GiveConsents: ("counter-consents", "診療情報・薬剤情報／特定健診情報の提供に同意しますか"),
    ChooseMethod: ("counter-methods", "本人確認の方法を選んでください（カメラはありません）"),
    EnterPin: ("counter-pin", "患者さんに暗証番号を入力してもらってください（残り{tries}回）"),
    ConfirmVisually: ("counter-visual", "カードの顔写真と本人を見比べて確認してください"),
    ChoosePrescription: ("counter-rx", "処方箋の受け取り方を選んでもらってください"),
}
"""What this route asks — each question's section and what it says — and nothing else:
no camera (a face is never among the methods), no 保険証利用登録 (the reception goes to
the ladder as 未登録: the patient registers at a face-recognition reader or on
マイナポータル), no 受給者証 by card (the paper 受給者証 stays the rule)."""


def asked_view(question: Question[Any], root: DOMNode) -> tuple[str, str] | None:
    """Ready ``root``'s widget for a question of this route (the consents, the methods,
    the PIN field): the section that shows it and what the status line says — or None
    where the route does not ask it. The counter screen's and the app's (the マイナ資格確認
    アプリ, reception/tui/home_visit_app.py) one way of showing the route's questions."""
    if type(question) not in ASKED:
        return None
    section, status = ASKED[type(question)]
    match question:
        case GiveConsents():
            root.query_one(ConsentChoice).question = question
        case ChooseMethod():
            root.query_one(MethodChoice).offer(question.methods)
            status = question.message or status
        case EnterPin():
            root.query_one(PinField).open()
            status = status.format(tries=question.tries_left)
    return section, status


class CounterScreen(ModalScreen[CheckinOutcome | None]):
    """A check-in at the staff-held reader for one pending reception."""

    BINDINGS = [Binding("escape", "cancel", "やめる", id="counter-cancel")]

    def __init__(
        self, services: Services, client: OqsClient, reception_id: str, demo_persona: str | None
    ) -> None:
        super().__init__()
        self.services = services
        self.client = client
        self.reception_id = reception_id
        self.demo_persona = demo_persona
        self.questions = QuestionBroker(
            self._show_question, self._show_progress, self._question_closed
        )
        self.outcome: CheckinOutcome | None = None
        self._card_here = asyncio.Event()  # CardPlaced on the staff-held reader

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static("", id="counter-heading", classes="heading")
            yield Static("居宅同意取得型（職員の読み取り機）", classes="title")
            yield Static("", id="counter-status")
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
            with Horizontal():
                yield Button("（デモ）カードを置く", id="counter-place")
                yield Button("やめる", id="counter-close")

    def on_mount(self) -> None:
        self._section(None)
        self.query_one("#counter-place").display = self.demo_persona is not None
        refused: str | None = None
        try:  # the ladder's own check, as `reception checkin --route counter` makes it
            target = check_target(self.services.store, self.reception_id)
        except LadderRefused as exc:
            target, refused = exc.target, str(exc)
        except NotFound:
            target, refused = None, "この受付は記録にありません: 一覧から選び直してください"
        heading = target.heading() if target else f"受付 {self.reception_id}（記録がありません）"
        self.query_one("#counter-heading", Static).update(safe(heading))
        if refused is not None:  # settled meanwhile: no card is read for it
            self._status(refused)
            self.query_one("#counter-place").display = False
            self.query_one("#counter-close", Button).label = "閉じる"
            return
        self._run()

    def _section(self, shown: str | None) -> None:
        for section in SECTIONS:
            self.query_one(f"#{section}").display = section == shown

    def _status(self, text: str) -> None:
        self.query_one("#counter-status", Static).update(safe(text))

    # -- the check-in -------------------------------------------------------------------------

    @work(exclusive=True, group="counter", exit_on_error=False)
    async def _run(self) -> None:
        counter = self.services.counter
        assert counter is not None
        self._status("職員の読み取り機にカードを置いてください")
        if not await self._card_placed(counter):
            self._status("カードが置かれませんでした。閉じてやり直してください")
            return
        s = self.services
        try:
            outcome = await self._check_in(counter)
        except Exception as exc:  # never a silent screen: say it, keep the detail for logs
            log.exception("the counter check-in failed")
            self._status(f"確認できませんでした（{type(exc).__name__}）。閉じてやり直してください")
            return
        if s.demo is not None:
            s.demo.remove_from_counter()
        self._status(f"{OUTCOME_SENTENCES[outcome.status]}\n{outcome.flow.message or ''}")
        self.query_one("#counter-close", Button).label = "閉じる"
        self.outcome = outcome

    async def _card_placed(self, counter: CardSource) -> bool:
        """A card on the staff-held reader: there already (one look), or heard arriving
        (:class:`CardPlaced`, from the desk's reader watch or the demo) within
        CARD_WAIT_SECONDS. Nothing polls."""
        if await asyncio.to_thread(counter.present):
            return True
        try:
            await asyncio.wait_for(self._card_here.wait(), CARD_WAIT_SECONDS)
        except TimeoutError:
            return False
        return True

    def on_card_placed(self, message: CardPlaced) -> None:
        if message.medium == "counter":
            message.stop()
            self._card_here.set()

    async def _check_in(self, counter: CardSource) -> CheckinOutcome:
        request = CheckinRequest(
            Method.PIN, route=Route.COUNTER, resume=self.reception_id, staff="受付"
        )
        return await self.services.check_in(counter, self.client, request, self.questions)

    # -- the questions (reception.questions), shown in this screen's sections -------------------

    def _show_question(self, question: Question[Any]) -> bool:
        shown = asked_view(question, self)
        if shown is None:
            return False  # not asked on this route: the answer is None
        self._section(shown[0])
        self._status(shown[1])
        return True

    def _question_closed(self, question: Question[Any]) -> None:
        self._section(None)

    def _show_progress(self, flow: CheckinFlow, doing: str) -> None:
        self._status("確認しています…")

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
        self.questions.answer(ConfirmVisually, "受付（居宅同意取得型）")

    @on(PrescriptionChoice.Chosen)
    def _prescription(self, event: PrescriptionChoice.Chosen) -> None:
        self.questions.answer(ChoosePrescription, event.prescription)

    @on(Button.Pressed, "#counter-place")
    def _place(self, event: Button.Pressed) -> None:
        event.stop()
        if self.demo_persona and self.services.demo:
            self.services.demo.place_on_counter(self.demo_persona)
            self.post_message(CardPlaced("counter", persona=self.demo_persona))

    @on(Button.Pressed, "#counter-close")
    def _close(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_cancel()

    def action_cancel(self) -> None:
        # a check-in under way is cancelled with the screen: the reception stays pending
        self.dismiss(self.outcome)
