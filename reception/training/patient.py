"""The simulated patient at the reader (issue 25 §2): answers the reader's questions as
the case's situation says — the method they choose, a PIN typed wrong before the right
one, a face that does not match, the consents, the prescription — with human pacing.

:class:`PatientScript` decides; :class:`PatientInteraction` is the headless check-in's
``Interaction`` (reception.questions) that asks it, and the TUI's 研修 mode answers the
reader panel's open question with the same script after :meth:`PatientScript.delay`,
so the trainee sees what the patient does.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from reception.camera import FaceScenario
from reception.flow import CheckinFlow, ConsentsGiven, Method, Prescription, State
from reception.questions import (
    CaptureFace,
    ChooseMedium,
    ChooseMethod,
    ChoosePrescription,
    ConfirmVisually,
    EnterPin,
    GiveConsents,
    Question,
    ShowErrorScreen,
    YesNo,
    YesNoKind,
    checked,
)
from reception.reader_models import Medium
from reception.training.scenario import PatientMethod, Situation

log = logging.getLogger(__name__)
A = TypeVar("A")

PACE = {  # seconds a patient takes for each kind of question (human pacing)
    ChooseMedium: 1.5,
    ChooseMethod: 2.0,
    EnterPin: 3.0,
    CaptureFace: 2.5,
    ConfirmVisually: 1.0,
    GiveConsents: 2.5,
    ChoosePrescription: 2.0,
    YesNo: 2.0,
    ShowErrorScreen: 3.0,
}

_METHOD = {PatientMethod.PIN: Method.PIN, PatientMethod.FACE: Method.FACE}


def wrong_pin(pin: str) -> str:
    """A PIN that is not ``pin`` (each digit moved by one)."""
    return "".join(str((int(d) + 1) % 10) for d in pin)


class PatientScript:
    """What one patient does at the reader. ``staff``: who does a 目視確認 (the trainee)."""

    def __init__(self, situation: Situation, pin: str, *, staff: str = "研修") -> None:
        self.situation = situation
        self._pin = pin
        self._staff = staff
        self._wrong_left = situation.wrong_pins
        self._methods_chosen = 0
        self._face_tries = 0
        self.log: list[str] = []  # what the patient did, in words (the panel's caption)

    @staticmethod
    def delay(question: Question[Any], pace: float = 1.0) -> float:
        return PACE.get(type(question), 1.5) * pace

    def answer_said(self, question: Question[Any]) -> tuple[object, list[str]]:
        """:meth:`answer`, and what the patient did for it in words (the caption)."""
        before = len(self.log)
        value = self.answer(question)
        return value, self.log[before:]

    def answer(self, question: Question[Any]) -> object:
        """The patient's answer to ``question`` (None: they do not go on this way)."""
        s = self.situation
        match question:
            case ChooseMedium():
                if s.holds_phone:
                    return self._did(Medium.PHONE, "スマートフォンを選ぶ")
                return self._did(Medium.CARD, "カードを選ぶ")
            case ChooseMethod():
                return self._method(question)
            case EnterPin():
                if self._wrong_left > 0:
                    self._wrong_left -= 1
                    self.log.append("暗証番号を入力（間違い）")
                    return wrong_pin(self._pin)
                self.log.append("暗証番号を入力")
                return self._pin
            case CaptureFace():
                self._face_tries += 1
                self.log.append("カメラを見る")
                return FaceScenario(s.face.value)
            case ConfirmVisually():
                return self._staff
            case GiveConsents():
                self.log.append("同意する" if s.consents == "all" else "同意しない")
                if s.consents == "all":
                    return question.bundle()
                return ConsentsGiven(medication=False, checkup=False, operation=False)
            case ChoosePrescription():
                chosen = Prescription.ELECTRONIC
                if s.prescription == "paper":
                    chosen = Prescription.PAPER
                return self._did(
                    chosen, "処方箋: " + ("電子" if s.prescription == "electronic" else "紙")
                )
            case YesNo(kind=YesNoKind.REGISTER):
                return self._did(
                    s.registers, "保険証利用登録: " + ("はい" if s.registers else "いいえ")
                )
            case YesNo(kind=YesNoKind.SUBSIDY):
                return self._did(
                    s.subsidy, "受給者証をカードで: " + ("はい" if s.subsidy else "いいえ")
                )
            case ShowErrorScreen():
                return self._did(True, "エラー画面を閉じる")
        return None

    def _did(self, value: object, words: str) -> object:
        self.log.append(words)
        return value

    def _method(self, question: ChooseMethod) -> Method | None:
        s = self.situation
        self._methods_chosen += 1
        first = self._methods_chosen == 1
        if not first and question.state is State.FACE_NOT_MATCHED and s.then is None:
            wanted = s.method  # the patient tries the camera again, as asked
        else:
            wanted = s.method if first or s.then is None else s.then
        if wanted is PatientMethod.VISUAL:
            return self._chose(Method.VISUAL) if Method.VISUAL in question.methods else None
        method = _METHOD[wanted]
        if method not in question.methods:
            fallback = _METHOD.get(s.then) if s.then else None
            if fallback is not None and fallback in question.methods:
                return self._chose(fallback)
            if Method.VISUAL in question.methods and s.then is PatientMethod.VISUAL:
                return self._chose(Method.VISUAL)
            return None
        return self._chose(method)

    def _chose(self, method: Method) -> Method:
        self.log.append(f"{method.label}を選ぶ")
        return method


class PatientInteraction:
    """The headless check-in's answers from a :class:`PatientScript`, each after its
    pacing (``pace`` 0: at once); ``on_step`` hears each question and answer's words."""

    def __init__(
        self,
        script: PatientScript,
        *,
        pace: float = 0.0,
        on_step: Callable[[str], None] | None = None,
    ) -> None:
        self.script = script
        self.pace = pace
        self.on_step = on_step

    async def ask(self, question: Question[A]) -> A | None:
        if self.pace > 0:
            await asyncio.sleep(self.script.delay(question, self.pace))
        value, said = self.script.answer_said(question)
        answer = checked(question, value)
        if self.on_step is not None:
            for words in said:
                self.on_step(words)
        return answer

    def progress(self, flow: CheckinFlow, doing: str) -> None:
        log.debug("training patient: %s (%s)", doing, flow.state.value)
