"""The check-in at the reader, for the app: it runs :func:`reception.checkin.check_in` in
a worker, answers its questions through the reader panel (a :class:`QuestionBroker`),
hears cards arrive and leave (:class:`CardPlaced` / :class:`CardTaken`: from pcscd
through a :class:`ReaderWatch` on real readers, from the demo's controls in demo mode),
keeps a method key typed ahead, and posts :class:`CheckinFinished` when a check-in ends.
A widget without a face."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from textual import work
from textual.message import Message

from reader.errors import CardRemoved
from reception.cards import PcscCards, ReaderWatch
from reception.checkin import CheckinOutcome, CheckinRequest
from reception.flow import CheckinFlow, Method, State
from reception.oqs_client import OqsClient
from reception.present import STATUS_LABELS
from reception.questions import (
    ChooseMedium,
    ChooseMethod,
    ConfirmVisually,
    Question,
    QuestionBroker,
    ShowErrorScreen,
    medium_question,
)
from reception.reader_models import NO_VISUAL_MESSAGE, Medium, ReaderModel
from reception.store import ReceptionStatus
from reception.target import ladder_target, refusal
from reception.tui.reader_panel import ReaderPanel
from reception.tui.screens import VisualCheckScreen
from reception.tui.services import Services
from reception.tui.text import safe
from reception.tui.widgets.messages import (
    CardPlaced,
    CardTaken,
    DeveloperNote,
    ReportsFailedWorkers,
)

READERS = {  # the terminal's readers, as staff call them
    "card": "カード",
    "phone": "スマートフォン用の",
    "counter": "職員用（居宅同意取得型）の",
}

A = TypeVar("A")


class CheckinFinished(Message):
    def __init__(self, outcome: CheckinOutcome) -> None:
        super().__init__()
        self.outcome = outcome


class ReaderMissing(Message):
    """A configured reader is not (``missing``) or again (not ``missing``) listed by pcscd."""

    def __init__(self, medium: str, name: str, missing: bool) -> None:
        super().__init__()
        self.medium = medium
        self.name = name
        self.missing = missing


class ReadersUnwatched(Message):
    """The readers cannot be watched (``problem``: pcscd stopped), or can again (None)."""

    def __init__(self, problem: str | None) -> None:
        super().__init__()
        self.problem = problem


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
        self.placing = False  # the demo is putting a card on the reader
        self.present: dict[str, bool] = {}  # which readers hold a card, as last heard
        self.left_during_checkin = False  # the check-in's card was taken mid-way
        self.reader_watch: ReaderWatch | None = None
        self.started_mark = 0  # the store's change mark when the running check-in began
        self.checkin_model = services.settings.reader.model  # the running check-in's reader
        # 研修 mode: the simulated patient hears each question the panel shows
        self.question_shown: Callable[[Question[Any]], None] | None = None

    def on_mount(self) -> None:
        self.call_after_refresh(self.offer_medium)  # the panel's views are composed by then
        for note in self.services.settings.reader.notes():
            self.app.notify(safe(note), severity="warning", timeout=10)
        if self.watch_reader:  # real readers: pcscd says when a card comes or goes
            self.reader_watch = self._reader_watch()

    def on_unmount(self) -> None:
        self.stop_watching()

    def stop_watching(self) -> None:
        """The watch's blocked PC/SC call is cancelled and its thread ends (at once)."""
        if self.reader_watch is not None:
            self.reader_watch.stop()
            self.reader_watch = None

    def _reader_watch(self) -> ReaderWatch | None:
        s = self.services
        sources = (("card", s.cards), ("phone", s.phones), ("counter", s.counter))
        readers = {medium: source for medium, source in sources if isinstance(source, PcscCards)}
        if not readers:
            return None
        return ReaderWatch(
            readers,
            on_card=self._heard_card,
            on_missing=self._heard_missing,
            on_trouble=self._heard_trouble,
        ).start()

    # the watch's thread: only messages (post_message is safe from any thread)

    def _heard_card(self, medium: str, present: bool) -> None:
        self.post_message(CardPlaced(medium) if present else CardTaken(medium))

    def _heard_missing(self, medium: str, name: str, missing: bool) -> None:
        self.post_message(ReaderMissing(medium, name, missing))

    def _heard_trouble(self, problem: str | None) -> None:
        self.post_message(ReadersUnwatched(problem))

    def on_reader_missing(self, message: ReaderMissing) -> None:
        """A configured reader that is not there is said — at start, not found out by the
        first patient whose card nothing reads — and so is its return."""
        what = READERS.get(message.medium, "")
        if message.missing:
            self.app.notify(
                safe(f"{what}読み取り機が見つかりません: {message.name}"), severity="warning"
            )
            self.note(f"reader missing: {message.name}")
        else:
            self.app.notify(safe(f"{what}読み取り機がつながりました: {message.name}"))
            self.note(f"reader attached: {message.name}")

    def on_readers_unwatched(self, message: ReadersUnwatched) -> None:
        if message.problem is not None:
            self.app.notify(
                "PC/SC サービス（pcscd）に接続できません。戻りしだいカードの読み取りを再開します",
                severity="warning",
            )
            self.note(f"reader watch: {message.problem}")
        else:
            self.app.notify("PC/SC サービス（pcscd）に再接続しました")
            self.note("reader watch: pcscd answers again")

    @property
    def panel(self) -> ReaderPanel:
        return self.app.query_one(ReaderPanel)

    def note(self, line: str) -> None:
        self.post_message(DeveloperNote(line))

    def offer_medium(self) -> None:
        """The card-wait screen asks what this reader asks (reception/reader_models.py):
        マイナンバーカード / スマートフォン, or nothing on a reader that reads phones itself."""
        model = self.services.settings.reader.model
        self.panel.offer_medium(medium_question(model, separate_reader=self.services.phones_apart))

    @property
    def visual_check(self) -> bool:
        """This reader can do 目視 (the no-visual model cannot) — the model the running
        check-in began with (the demo's switch counts from the next one)."""
        model = self.checkin_model if self.running else self.services.settings.reader.model
        return model.visual_check

    def _show(self, question: Question[Any]) -> bool:
        if isinstance(question, ShowErrorScreen):
            # the reception is recorded: the screen stays on the panel's last screen
            # (show_outcome) until 「閉じる」 or the card leaves — the check-in ends now
            self.note(f"error screen: {question.screen.heading()}")
            return False
        no_pin = isinstance(question, ChooseMethod) and Method.PIN not in question.methods
        if no_pin and not self.visual_check and question.message:
            # staff read why 目視 is not among the ways on, and where to go instead
            self.notify(safe(question.message), severity="warning", timeout=10)
        view = self.panel.ask(question)
        described = question.describe()
        self.note(f"{view}: {question.state.value}" + (f" ({described})" if described else ""))
        if isinstance(question, ConfirmVisually):
            self._ask_visual_check()
        if self.question_shown is not None:
            self.question_shown(question)
        return True

    def _running_reception(self) -> str | None:
        """The reception of the check-in under way: the one in progress among those
        written since it started."""
        store = self.services.store
        written = store.receptions_changed(self.started_mark, store.change_mark(), limit=50)
        for reception_id in reversed(written or []):
            if store.reception(reception_id).status is ReceptionStatus.IN_PROGRESS:
                return reception_id
        return None

    def _ask_visual_check(self) -> None:
        """目視確認 names whose reception it confirms (the patient's name is not known
        before the service answers: 氏名不明 says so), and is refused on one settled."""
        if not self.visual_check:  # never offered there: refused all the same
            self.notify(NO_VISUAL_MESSAGE, severity="warning", timeout=10)
            self._visual_answer(None)
            return
        reception_id = self._running_reception()
        heading = "読み取り中の受付（受付番号はまだありません）"
        if reception_id is not None:
            target = ladder_target(self.services.store, reception_id)
            refused = refusal(target)
            if refused is not None:
                self.notify(safe(refused), severity="warning", timeout=10)
                self._visual_answer(None)
                return
            heading = target.heading()
        self.app.push_screen(VisualCheckScreen(heading), self._visual_answer)

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
        """An answer from the panel; a method chosen before its question opened is kept;
        the card-wait screen's choice (no check-in asks it: it comes before the card)."""
        if kind is ChooseMedium and isinstance(value, Medium):
            self.choose_medium(value)
            return
        if not self.interaction.answer(kind, value) and isinstance(value, Method):
            self.type_ahead(value)

    def type_ahead(self, method: Method) -> bool:
        """A method key while the check-in is on its way to the method question (reading
        the card, the screen switching): it answers that question when it opens."""
        if method is Method.VISUAL and not self.visual_check:
            # 目視 asked for (key 3) on a reader that cannot: staff are told where to go
            self.notify(NO_VISUAL_MESSAGE, severity="warning", timeout=10)
            return True
        busy = self.running or self.start_when_ready or self.placing
        if busy and self.interaction.asking is None:
            self.interaction.type_ahead(ChooseMethod, method)
            return True
        return False

    def choose_medium(self, medium: Medium) -> None:
        """マイナンバーカード / スマートフォン chosen on the card-wait screen: the panel
        says where to hold it. The check-in then reads whichever reader has it, and the
        card's own applications tell what it is (automatic detection, as before)."""
        self.chosen = medium.value
        self.panel.show_medium(medium)
        self.note(f"wait: the patient chose {medium.value}")

    def switch_model(self, model: ReaderModel) -> None:
        """The demo's reader model: from the next check-in on (one under way keeps its
        own), and the card-wait screen asks what that reader asks."""
        self.services.set_reader_model(model)
        if self.panel.view == "wait" and not self.running:
            self.offer_medium()
        self.note(f"reader model: {model.value}")

    def reserve(self) -> bool:
        """The demo puts a card on the reader: none other until it is there. False when a
        check-in is under way or a card is on its way already."""
        if self.running or self.placing:
            return False
        self.placing = True
        return True

    def release(self) -> None:
        """The demo could not place its card."""
        self.placing = False

    def start(self, medium: str = "card") -> None:
        if self.running:
            return
        self.medium = medium
        self.left_during_checkin = False
        if not self.panel.warmed:  # the card came before the screen was ready
            self.start_when_ready = True
            return
        self.running = True
        self._run()

    @work(exclusive=True, group="checkin", exit_on_error=False)
    async def _run(self) -> None:
        s = self.services
        request = CheckinRequest(Method.PIN, staff="受付")
        self.checkin_model = s.settings.reader.model
        self.started_mark = s.store.change_mark()  # its reception is written after this
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
        if self.left_during_checkin and outcome.state is not State.CARD_REMOVED:
            self.card_left()  # its card is gone: the panel waits for the next
        # a card taken away half-way: its screen (【S02】 … もう一度置いてください) stays
        # until 「閉じる」 or the next card (on_card_placed)

    def _done(self, outcome: CheckinOutcome) -> None:
        """The patient's last screen, a word for staff, and the APDU trace for developers."""
        flow = outcome.flow
        detail = flow.message or ""
        if outcome.result is not None and outcome.result.entries and flow.state is State.CONFIRMED:
            detail = f"負担割合 {outcome.result.entries[0].ratio}"
            if flow.registering:  # registered on the spot: the patient should know
                detail = f"保険証利用登録をしました ・ {detail}"
        wrong_card = flow.state is State.WRONG_CARD
        self.panel.show_outcome(outcome)  # the patient's words, from the outcome
        confirmed = outcome.status is ReceptionStatus.CONFIRMED
        if wrong_card:  # staff must act: the card on the reader is someone else's
            self.notify(safe(f"受付 {outcome.reception_id}: {detail}"), severity="error")
        else:
            number = f" {outcome.screen.number}" if outcome.screen is not None else ""
            self.notify(
                f"受付 {outcome.reception_id}: {STATUS_LABELS[outcome.status]}{number}",
                severity="information" if confirmed else "warning",
            )
        for line in self.services.last_trace():
            self.note(line)
        if outcome.detail:
            self.note(f"check-in {outcome.reception_id}: {outcome.detail}")

    def failed(self, error: str) -> None:
        """The check-in's worker crashed: the panel is left clean, never half-way."""
        self.running = False
        self.panel.show_failed()

    # -- cards arriving and leaving ---------------------------------------------------

    def on_card_placed(self, message: CardPlaced) -> None:
        message.stop()
        self.present[message.medium] = True
        if message.medium == "counter":  # the staff-held reader: the counter screen's
            self.app.screen.post_message(CardPlaced("counter", persona=message.persona))
        elif message.persona is not None:  # the demo placed it: the check-in starts now
            self.placing = False
            self._after_removed()
            self.start(message.medium)
        else:
            self._after_removed()
            self._start_if_waiting()

    def _after_removed(self) -> None:
        """A card arriving while the panel still says the last one was taken away
        half-way: that screen gives way to the new card's check-in."""
        shown = self.panel.outcome
        if not self.running and shown is not None and shown.state is State.CARD_REMOVED:
            self._back_to_wait()

    def _back_to_wait(self) -> None:
        """The panel at its card-wait screen, asking what this reader asks (the reader
        model the demo may have switched meanwhile)."""
        self.panel.show("wait", None)
        self.offer_medium()

    def on_card_taken(self, message: CardTaken) -> None:
        message.stop()
        for medium in [message.medium] if message.medium is not None else list(self.present):
            self.present[medium] = False
        if message.medium is None or message.medium == self.medium:
            # the reader of the (last) check-in is empty: the other one being empty too
            # must not end a check-in on this one, nor take its done screen away
            self.card_left()

    def _start_if_waiting(self) -> None:
        """A card on a reader while the panel waits for one starts its check-in — also
        a card that stayed on the other reader, once the panel is back to waiting."""
        if self.running or self.placing or self.panel.view != "wait":
            return
        for medium in ("card", "phone"):
            if self.present.get(medium):
                self.start(medium)
                return

    def card_left(self) -> None:
        if self.running:
            self.left_during_checkin = True
            # the check-in ends as CARD_REMOVED (and is recorded), as when a command
            # fails for the same reason
            self.interaction.fail(CardRemoved("the card was removed from the reader"))
        elif self.panel.view == "done":
            self._back_to_wait()
            self._start_if_waiting()
