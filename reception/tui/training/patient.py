"""The simulated patient on the reader panel (研修 mode): the case's patient comes to
the reader, chooses カード / スマートフォン where the reader asks, places the card (a
phone on the phone reader), answers each question the panel shows after
:meth:`PatientScript.delay` — through the desk's broker, the same answers the headless
``PatientInteraction`` gives — and takes the card back when the check-in is over. The
trainee watches the screens change; a widget without a face."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from textual import work
from textual.timer import Timer

from reception.questions import ChooseMedium, ConfirmVisually, Question
from reception.reader_models import Medium
from reception.training.patient import PatientScript
from reception.tui.desk import CheckinDesk
from reception.tui.services import Demo
from reception.tui.widgets.messages import CardPlaced, CardTaken, ReportsFailedWorkers

TAKES_CARD = 4.0  # seconds the patient takes to pick the card up at the end (× pace)


class PatientAtReader(ReportsFailedWorkers):
    DEFAULT_CSS = "PatientAtReader { display: none; }"

    def __init__(self, desk: CheckinDesk, demo: Demo, pace: float) -> None:
        super().__init__()
        self.desk = desk
        self.demo = demo
        self.pace = pace
        self.script: PatientScript | None = None
        self.persona: str | None = None
        self.did: Callable[[str], None] = lambda _words: None  # the 研修 tab's caption
        self._patient_timers: list[Timer] = []
        self.card_out = False  # the patient's card is on a reader

    def later(self, seconds: float, then: Callable[[], None]) -> None:
        """``then`` after ``seconds`` × pace (at once, after a refresh, at pace 0)."""
        if seconds * self.pace <= 0:
            self.call_after_refresh(then)
        else:
            self._patient_timers.append(self.set_timer(seconds * self.pace, then))

    def leave(self) -> None:
        """The patient goes (the case is settled): nothing of theirs happens later."""
        for timer in self._patient_timers:
            timer.stop()
        self._patient_timers.clear()
        self.script = None
        self.take_card()

    def come(self, script: PatientScript, persona: str, *, check_in: bool) -> None:
        """A new patient; ``check_in``: they go to the reader with their card."""
        self.leave()
        self.script, self.persona = script, persona
        if check_in:
            self.later(PatientScript.delay(ChooseMedium()), self._choose_medium)

    def _phone(self) -> bool:
        assert self.script is not None and self.persona is not None
        return self.script.situation.holds_phone and self.demo.is_phone(self.persona)

    def _choose_medium(self) -> None:
        """The card-wait screen's カード / スマートフォン, where this reader asks it."""
        if self.script is None:
            return
        question = self.desk.panel.medium_question
        medium = Medium.PHONE if self._phone() else Medium.CARD
        if question is not None and question.accepts(medium):
            self.script.log.append("スマートフォンを選ぶ" if self._phone() else "カードを選ぶ")
            self.did(self.script.log[-1])
            self.desk.answer(ChooseMedium, medium)
        self.later(1.5, self._place)

    def _place(self) -> None:
        if self.script is None or self.persona is None:
            return
        if not self.desk.reserve():  # a check-in under way: the patient waits a moment
            self.later(1.0, self._place)
            return
        phone = self._phone()
        self.did("スマートフォンをかざす" if phone else "カードを置く")
        self._put(self.persona, phone and self.desk.services.phones_apart)

    @work(thread=True, exclusive=True, group="training-card", exit_on_error=False)
    def _put(self, persona: str, phone_reader: bool) -> None:
        """Serving the card takes a moment: off the event loop (as the デモ tab does)."""
        try:
            if phone_reader:
                self.demo.place_phone(persona)
            else:
                self.demo.place(persona)
        except Exception:
            self.app.call_from_thread(self.desk.release)
            raise
        self.card_out = True
        self.desk.post_message(CardPlaced("phone" if phone_reader else "card", persona=persona))

    def question(self, question: Question[Any]) -> None:
        """The panel shows ``question``: the patient answers it after a moment (目視確認
        is staff's: the trainee confirms it on the console)."""
        if self.script is None or isinstance(question, ConfirmVisually):
            return
        self.later(PatientScript.delay(question), partial(self._answer, question))

    def _answer(self, question: Question[Any]) -> None:
        if self.script is None or self.desk.interaction.asking is not question:
            return  # answered or gone meanwhile (the card left, the check-in ended)
        value, said = self.script.answer_said(question)
        for words in said:
            self.did(words)
        self.desk.answer(type(question), value)

    def checked_in(self) -> None:
        """The check-in is over: the patient takes the card back after a moment."""
        self.later(TAKES_CARD, self.take_card)

    def take_card(self) -> None:
        if not self.card_out:
            return
        self.card_out = False
        self.desk.post_message(CardTaken())
        self._take()

    @work(thread=True, exclusive=True, group="training-card", exit_on_error=False)
    def _take(self) -> None:
        self.demo.remove()
