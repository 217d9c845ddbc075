"""The check-in at the reader, for the app: it runs :func:`reception.checkin.check_in` in
a worker, answers its questions through the reader panel (a :class:`QuestionBroker`),
watches a real reader for cards, keeps a method key typed ahead, and posts
:class:`CheckinFinished` when a check-in ends. A widget without a face."""

from __future__ import annotations

from typing import Any, TypeVar

from textual import work
from textual.message import Message

from reader.errors import CardRemoved
from reception.cards import PcscCards
from reception.checkin import CheckinOutcome, CheckinRequest
from reception.flow import CheckinFlow, Method, State
from reception.oqs_client import OqsClient
from reception.present import STATUS_LABELS, patient_notices
from reception.questions import ChooseMethod, ConfirmVisually, Question, QuestionBroker
from reception.store import ReceptionStatus
from reception.tui.reader_panel import ReaderPanel
from reception.tui.screens import VisualCheckScreen
from reception.tui.services import Services
from reception.tui.text import safe
from reception.tui.widgets.messages import DeveloperNote, ReportsFailedWorkers

A = TypeVar("A")


class CheckinFinished(Message):
    def __init__(self, outcome: CheckinOutcome) -> None:
        super().__init__()
        self.outcome = outcome


class CardPresence(Message):
    def __init__(self, present: bool, medium: str = "card") -> None:
        super().__init__()
        self.present = present
        self.medium = medium  # which reader: "card", or "phone" (the clinic's NFC reader)


class CheckinDesk(ReportsFailedWorkers):
    DEFAULT_CSS = "CheckinDesk { display: none; }"

    def __init__(self, services: Services, client: OqsClient, *, watch_reader: bool) -> None:
        super().__init__()
        self.services = services
        self.client = client
        self.watch_reader = watch_reader
        self.interaction = QuestionBroker(self._show, self._progress)
        self.running = False
        self.start_when_ready = False
        self.chosen: str | None = None  # what the patient chose on the card-wait screen
        self.medium = "card"  # the reader the running (or next) check-in reads

    def on_mount(self) -> None:
        if self.watch_reader:  # a real reader: poll it for cards
            self.set_interval(0.5, self._poll_reader)
            self._check_readers()

    @work(thread=True, exclusive=True, group="readers", exit_on_error=False)
    def _check_readers(self) -> None:
        """A configured reader that is not there is said at start, not found out by the
        first patient whose card nothing reads."""
        for what, source in (
            ("カード", self.services.cards),
            ("スマートフォン用の", self.services.phones),
            ("職員用（居宅同意取得型）の", self.services.counter),
        ):
            if isinstance(source, PcscCards) and not source.attached():
                name = source.reader or "（最初のリーダー）"
                self.app.notify(
                    safe(f"{what}読み取り機が見つかりません: {name}"), severity="warning"
                )
                self.post_message(DeveloperNote(f"reader missing: {name}"))

    @property
    def panel(self) -> ReaderPanel:
        return self.app.query_one(ReaderPanel)

    def note(self, line: str) -> None:
        self.post_message(DeveloperNote(line))

    def _show(self, question: Question[Any]) -> bool:
        view = self.panel.ask(question)
        described = question.describe()
        self.note(f"{view}: {question.state.value}" + (f" ({described})" if described else ""))
        if isinstance(question, ConfirmVisually):
            self.app.push_screen(VisualCheckScreen(), self._visual_answer)
        return True

    def _progress(self, flow: CheckinFlow, doing: str) -> None:
        self.note(f"working: {flow.state.value} (doing={doing})")
        self.panel.show("working", flow)

    def _visual_answer(self, staff: str | None) -> None:
        self.interaction.answer(ConfirmVisually, staff)

    def panel_ready(self) -> None:
        if self.start_when_ready:
            self.start_when_ready = False
            self.start(self.medium)  # the reader the card came to

    def answer(self, kind: type[Question[A]], value: A | None) -> None:
        """An answer from the panel; a method chosen before its question opened is kept."""
        if not self.interaction.answer(kind, value) and isinstance(value, Method):
            self.type_ahead(value)

    def type_ahead(self, method: Method) -> bool:
        """A method key while the check-in is on its way to the method question (reading
        the card, the screen switching): it answers that question when it opens."""
        if (self.running or self.start_when_ready) and self.interaction.asking is None:
            self.interaction.type_ahead(ChooseMethod, method)
            return True
        return False

    def choose_medium(self, medium: str) -> None:
        """マイナンバーカード / スマートフォン chosen on the card-wait screen: the panel
        says where to hold it. The check-in then reads whichever reader has it, and the
        card's own applications tell what it is (automatic detection, as before)."""
        self.chosen = medium
        self.panel.show_medium(medium, separate_reader=self.services.phones is not None)
        self.note(f"wait: the patient chose {medium}")

    def start(self, medium: str = "card") -> None:
        if self.running:
            return
        self.medium = medium
        if not self.panel.warmed:  # the card came before the screen was ready
            self.start_when_ready = True
            return
        self.running = True
        self._run()

    @work(exclusive=True, group="checkin", exit_on_error=False)
    async def _run(self) -> None:
        s = self.services
        request = CheckinRequest(Method.PIN, staff="受付")
        if self.chosen is not None and self.chosen != self.medium:
            self.note(f"chose {self.chosen}, read from the {self.medium} reader: detected")
        try:
            source = s.source(self.medium)
            outcome = await s.check_in(source, self.client, request, self.interaction)
        finally:
            self.running = False
            self.chosen = None
            self.interaction.forget_typed_ahead()  # never into the next patient's turn
        self._done(outcome)
        self.post_message(CheckinFinished(outcome))

    def _done(self, outcome: CheckinOutcome) -> None:
        """The patient's last screen, a word for staff, and the APDU trace for developers."""
        flow = outcome.flow
        detail = flow.message or ""
        if outcome.result is not None and outcome.result.entries and flow.state is State.CONFIRMED:
            detail = f"負担割合 {outcome.result.entries[0].ratio}"
            if flow.registering:  # registered on the spot: the patient should know
                detail = f"保険証利用登録をしました ・ {detail}"
        notices = patient_notices(outcome.result, flow.fallback_reason)
        wrong_card = flow.state is State.WRONG_CARD
        self.panel.show_done(outcome.status, detail, notices, wrong_card=wrong_card)
        confirmed = outcome.status is ReceptionStatus.CONFIRMED
        if wrong_card:  # staff must act: the card on the reader is someone else's
            self.notify(safe(f"受付 {outcome.reception_id}: {detail}"), severity="error")
        else:
            self.notify(
                f"受付 {outcome.reception_id}: {STATUS_LABELS[outcome.status]}",
                severity="information" if confirmed else "warning",
            )
        for line in self.services.last_trace():
            self.note(line)
        if outcome.detail:
            self.note(f"check-in {outcome.reception_id}: {outcome.detail}")

    def failed(self, error: str) -> None:
        """The check-in's worker crashed: the panel is left clean, never half-way."""
        self.running = False
        self.panel.show_done(ReceptionStatus.ERROR, error)

    @work(thread=True, exclusive=True, group="presence", exit_on_error=False)
    def _poll_reader(self) -> None:
        readers = [("card", self.services.cards)]
        if self.services.phones is not None:
            readers.append(("phone", self.services.phones))
        for medium, source in readers:
            self.post_message(CardPresence(source.present(), medium))

    def on_card_presence(self, message: CardPresence) -> None:
        message.stop()
        if message.present and not self.running and self.panel.view == "wait":
            self.start(message.medium)
        elif not message.present and message.medium == self.medium:
            # the reader of the (last) check-in is empty: the other one being empty too
            # must not end a check-in on this one, nor take its done screen away
            self.card_left()

    def card_left(self) -> None:
        if self.running:
            # the check-in ends as CARD_REMOVED (and is recorded), as when a command
            # fails for the same reason
            self.interaction.fail(CardRemoved("the card was removed from the reader"))
        elif self.panel.view == "done":
            self.panel.show("wait", None)
