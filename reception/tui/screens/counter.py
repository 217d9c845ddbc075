"""The 居宅同意取得型 route at the counter (oqs.md §6 rung 0): when the face-recognition
reader is out of order or the patient cannot operate it, staff read the card on their own
reader — the consent question first, then the PIN (typed by the patient, masked) or
staff's 目視. The check-in is the core's, with this screen as its interaction; it settles
the pending reception as a normal card confirmation recorded as that route.

The route asks what it offers (design.md §6.9, reception/flow.py OPEN_ITEMS): 診療情報・
薬剤情報 and 特定健診情報 — no 手術情報, no 受給者証 by card, no 保険証利用登録 (the route
needs a card registered beforehand)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

from reception.camera import FaceScenario
from reception.cards import CardSource
from reception.checkin import CheckinOutcome, CheckinRequest
from reception.flow import CheckinFlow, ConsentsGiven, Method, Prescription, Route
from reception.oqs_client import OqsClient
from reception.present import OUTCOME_SENTENCES
from reception.tui.services import Services
from reception.tui.text import safe
from reception.tui.widgets.messages import CardPlaced

log = logging.getLogger(__name__)
SECTIONS = (
    "counter-consents",
    "counter-methods",
    "counter-pin",
    "counter-visual",
    "counter-rx",
)
CARD_WAIT_SECONDS = 120.0


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
        self._pending: asyncio.Future[Any] | None = None
        self.outcome: CheckinOutcome | None = None
        self._card_here = asyncio.Event()  # CardPlaced on the staff-held reader

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static("居宅同意取得型（職員の読み取り機）", classes="title")
            yield Static("", id="counter-status")
            with Horizontal(id="counter-consents"):
                yield Button("まとめて同意", id="counter-bundle", variant="primary")
                yield Button("同意しない", id="counter-none")
            with Horizontal(id="counter-methods"):
                yield Button("暗証番号", id="counter-method-pin", variant="primary")
                yield Button("目視確認", id="counter-method-visual")
            with Horizontal(id="counter-pin"):
                yield Input(placeholder="暗証番号（4桁）", password=True, id="counter-pin-input")
                yield Button("確定", id="counter-pin-ok", variant="primary")
            with Horizontal(id="counter-visual"):
                yield Button("本人と確認した（目視）", id="counter-visual-ok", variant="primary")
            with Horizontal(id="counter-rx"):
                yield Button("電子処方箋", id="counter-rx-1")
                yield Button("紙の処方箋", id="counter-rx-2")
            with Horizontal():
                yield Button("（デモ）カードを置く", id="counter-place")
                yield Button("やめる", id="counter-close")

    def on_mount(self) -> None:
        self._section(None)
        self.query_one("#counter-place").display = self.demo_persona is not None
        self._run()

    def _section(self, shown: str | None) -> None:
        for section in SECTIONS:
            self.query_one(f"#{section}").display = section == shown

    def _status(self, text: str) -> None:
        self.query_one("#counter-status", Static).update(safe(text))

    async def _ask(self, section: str, status: str) -> Any:
        self._pending = asyncio.get_running_loop().create_future()
        self._section(section)
        self._status(status)
        try:
            return await self._pending
        finally:
            self._pending = None
            self._section(None)

    def _answer(self, value: Any) -> None:
        if self._pending is not None and not self._pending.done():
            self._pending.set_result(value)

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
        return await self.services.check_in(counter, self.client, request, self)

    # -- the interaction (reception.checkin.Interaction) ----------------------------------------

    async def give_consents(self, flow: CheckinFlow) -> ConsentsGiven | None:
        answer: ConsentsGiven | None = await self._ask(
            "counter-consents", "診療情報・薬剤情報／特定健診情報の提供に同意しますか"
        )
        return answer

    async def choose_method(self, flow: CheckinFlow) -> Method | None:
        allowed = flow.methods()
        self.query_one("#counter-method-pin").display = Method.PIN in allowed
        message = flow.message or "本人確認の方法を選んでください（カメラはありません）"
        answer: Method | None = await self._ask("counter-methods", message)
        return answer

    async def enter_pin(self, flow: CheckinFlow, tries_left: int) -> str | None:
        self.call_after_refresh(self.query_one("#counter-pin-input", Input).focus)
        status = f"患者さんに暗証番号を入力してもらってください（残り{tries_left}回）"
        answer: str | None = await self._ask("counter-pin", status)
        return answer

    async def capture_face(self, flow: CheckinFlow) -> FaceScenario | None:
        return None  # a staff-held reader has no camera (never asked: not among the methods)

    async def confirm_visually(self, flow: CheckinFlow) -> str | None:
        answer: str | None = await self._ask(
            "counter-visual", "カードの顔写真と本人を見比べて確認してください"
        )
        return answer

    async def choose_prescription(self, flow: CheckinFlow) -> Prescription | None:
        answer: Prescription | None = await self._ask(
            "counter-rx", "処方箋の受け取り方を選んでもらってください"
        )
        return answer

    async def use_subsidies(self, flow: CheckinFlow) -> bool | None:
        return None  # never asked on this route (the paper 受給者証 stays the rule)

    async def offer_registration(self, flow: CheckinFlow) -> bool | None:
        # never asked on this route: the reception goes to the ladder as 未登録 (the
        # patient registers at a face-recognition reader or on マイナポータル)
        return None

    def progress(self, flow: CheckinFlow, doing: str) -> None:
        self._status("確認しています…")

    # -- input ------------------------------------------------------------------------------

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        button = event.button.id or ""
        if button == "counter-bundle":  # まとめて同意: what this route offers
            self._answer(ConsentsGiven(medication=True, checkup=True))
        elif button == "counter-none":
            self._answer(ConsentsGiven())
        elif button.startswith("counter-method-"):
            self._answer(Method(button.removeprefix("counter-method-")))
        elif button == "counter-pin-ok":
            self._pin()
        elif button == "counter-visual-ok":
            self._answer("受付（居宅同意取得型）")
        elif button.startswith("counter-rx-"):
            self._answer(Prescription(button.removeprefix("counter-rx-")))
        elif button == "counter-place" and self.demo_persona and self.services.demo:
            self.services.demo.place_on_counter(self.demo_persona)
            self.post_message(CardPlaced("counter", persona=self.demo_persona))
        elif button == "counter-close":
            self.action_cancel()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._pin()

    def _pin(self) -> None:
        field = self.query_one("#counter-pin-input", Input)
        digits, field.value = field.value, ""  # never kept on screen
        if len(digits) != 4 or not digits.isascii() or not digits.isdigit():
            self._status("暗証番号は4桁の数字です（カードには送っていません）")
            return
        self._answer(digits)

    def action_cancel(self) -> None:
        # a check-in under way is cancelled with the screen: the reception stays pending
        self.dismiss(self.outcome)
