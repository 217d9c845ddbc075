"""The reader panel: what the patient sees on the card reader.

Large, high-contrast, keyboard-only friendly. Japanese by default, English on request.
Every view is a container in a ContentSwitcher. :meth:`ReaderPanel.ask` shows a question
of the check-in (reception/questions.py) on its widget (reception/tui/widgets/questions.py,
pin.py); the widget's message comes back up as :class:`ReaderPanel.Answered` — the
question's kind and its typed answer — which the app hands to the check-in.
:meth:`ReaderPanel.show` shows what lies between questions: the card wait, 「お待ちください」,
the last screen.
"""

from __future__ import annotations

import enum
from typing import Any, Generic, Protocol, TypeVar

from textual import events, on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Button, ContentSwitcher, Static

from reception.checkin import CheckinOutcome
from reception.flow import CheckinFlow, ConsentFlow, Method, Prescription, State, Variant
from reception.present import patient_notices
from reception.questions import (
    CaptureFace,
    ChooseMedium,
    ChooseMethod,
    ChoosePrescription,
    ConfirmVisually,
    EnterPin,
    GiveConsents,
    Question,
    YesNo,
    YesNoKind,
)
from reception.reader_models import Medium
from reception.store import ReceptionStatus
from reception.tui.panel_text import REASON_KEYS, TEXT, ratio_text, variant_title
from reception.tui.widgets.error_screen import ErrorScreenBox
from reception.tui.widgets.medium import prescription_texts, wait_texts
from reception.tui.widgets.pin import PinPad
from reception.tui.widgets.questions import (
    ConsentChoice,
    ConsentItems,
    FaceCapture,
    MethodChoice,
    PrescriptionChoice,
    YesNoChoice,
)
from reception.vocabulary import METHOD_BUTTON_LABELS

__all__ = ["TEXT", "ReaderPanel", "View"]

A = TypeVar("A")


class Keyed(Protocol):
    """A question's widget that answers keys too."""

    def key(self, key: str) -> bool: ...


METHOD_LABELS = METHOD_BUTTON_LABELS


class View(enum.StrEnum):
    """What the reader panel shows: a view per question of the check-in (every yes/no
    question has its own, named by its :class:`YesNoKind`), and between."""

    WAIT = "wait"
    METHOD = "method"
    PIN = "pin"
    FACE = "face"
    VISUAL = "visual"
    CONSENTS = "consents"
    PRESCRIPTION = "prescription"
    WORKING = "working"
    DONE = "done"


QUESTION_VIEWS: dict[type[Question[Any]], View] = {
    ChooseMethod: View.METHOD,
    EnterPin: View.PIN,
    CaptureFace: View.FACE,
    ConfirmVisually: View.VISUAL,
    GiveConsents: View.CONSENTS,
    ChoosePrescription: View.PRESCRIPTION,
}

# laid out once at start, in this order (the last is what shows)
WARMED_VIEWS = [
    View.METHOD,
    View.PIN,
    View.FACE,
    View.CONSENTS,
    View.PRESCRIPTION,
    *YesNoKind,
    View.DONE,
    View.WAIT,
]


PHONES = (Variant.ANDROID, Variant.IPHONE)
NARROW = 60  # columns: under this the panel stacks its choices


def view_of(question: Question[Any]) -> str:
    """The view that shows ``question``."""
    if isinstance(question, YesNo):
        return str(question.kind)
    return QUESTION_VIEWS[type(question)]


class ReaderPanel(Vertical):
    """The patient's side: shows the question the check-in asks, posts the answer."""

    class Answered(Message, Generic[A]):
        """The patient (or staff) answered the ``kind`` of question the panel shows
        (None: back / cancel)."""

        def __init__(self, kind: type[Question[A]], value: A | None) -> None:
            super().__init__()
            self.kind = kind
            self.value = value

    class Ready(Message):
        """Every view has been laid out once: the panel is ready for a check-in."""

    def __init__(
        self, *, demo: bool, language: str, consent_flow: ConsentFlow = ConsentFlow.CURRENT
    ) -> None:
        super().__init__(id="reader-panel")
        self.demo = demo
        self.consent_flow = consent_flow
        self.language = language if language in TEXT else "ja"
        self.view: str = View.WAIT
        self.question: Question[Any] | None = None  # the one on screen
        self.variant: Variant | None = None  # what was placed (the top line)
        self.medium: Medium | None = None  # chosen on the card-wait screen
        # the card-wait screen's question on this reader (None: the reader reads phones
        # itself and asks nothing; the desk sets it, reception/reader_models.py)
        self.medium_question: ChooseMedium | None = ChooseMedium()
        self.outcome: CheckinOutcome | None = None  # the last screen's
        self.warmed = False

    def t(self, key: str, **kwargs: Any) -> str:
        return TEXT[self.language][key].format(**kwargs)

    def compose(self) -> ComposeResult:
        yield Static("", id="panel-variant")
        with ContentSwitcher(initial="view-wait", id="views"):
            with VerticalScroll(id="view-wait"):
                yield Static("", id="wait-title", classes="big")
                with Horizontal(id="wait-choices"):
                    yield Button("", id="wait-card", classes="method")
                    yield Button("", id="wait-phone", classes="method")
                yield Static("", id="wait-sub", classes="hint")
                yield Static("", id="wait-keys", classes="keys")
            with VerticalScroll(id="view-method"):
                yield Static("", id="method-title", classes="big")
                yield Static("", id="method-message", classes="message")
                yield MethodChoice(
                    (Method.FACE, Method.PIN, Method.VISUAL),  # 目視 is for staff: last
                    prefix="method",
                    id="method-buttons",
                    cancel="",
                    button_classes="method",
                )
                yield Static("", id="method-keys", classes="keys")
            yield PinPad()
            yield FaceCapture(demo=self.demo)
            with VerticalScroll(id="view-visual"):
                yield Static("", id="visual-title", classes="big")
            with VerticalScroll(id="view-consents"):
                yield Static("", id="consents-title", classes="big")
                yield Static("", id="consents-items")
                yield ConsentChoice(prefix="consent", id="consent-choices")
                yield ConsentItems(id="consent-one-by-one")
                yield Static("", id="consents-keys", classes="keys")
            with VerticalScroll(id="view-prescription"):
                yield Static("", id="prescription-title", classes="big")
                yield Static("", id="prescription-sub")
                yield PrescriptionChoice(
                    prefix="prescription", id="prescription-choices", button_classes="method"
                )
                yield Static("", id="prescription-keys", classes="keys")
            for kind in YesNoKind:  # a question answered yes (y) or no (n)
                yield YesNoChoice(kind)
            with VerticalScroll(id="view-working"):
                yield Static("", id="working-title", classes="big")
            with VerticalScroll(id="view-done"):
                yield ErrorScreenBox()  # the reader's numbered screen first, where there is one
                yield Static("", id="done-title", classes="big")
                yield Static("", id="done-detail")
                yield Static("", id="done-notice", classes="message")

    def on_mount(self) -> None:
        self.retext()
        # lay every view out once now, so that the first PIN pad or consent screen does
        # not cost a ~100 ms first layout in the middle of a check-in — unseen: a method
        # screen flashing by before any card is placed would invite a key press that no
        # question is there to take
        self.query_one("#views", ContentSwitcher).styles.visibility = "hidden"
        self._warm(list(WARMED_VIEWS))

    def _warm(self, views: list[str]) -> None:
        if not views:
            return
        self.query_one("#views", ContentSwitcher).current = f"view-{views[0]}"
        if len(views) == 1:
            switcher = self.query_one("#views", ContentSwitcher)
            switcher.current = f"view-{self.view}"
            switcher.styles.visibility = "visible"
            self.warmed = True
            self.post_message(self.Ready())
            return
        self.call_after_refresh(self._warm, views[1:])

    def on_resize(self, event: events.Resize) -> None:
        """Under 60 columns a row of choices no longer fits: they stack (CSS ``narrow``)."""
        self.set_class(event.size.width < NARROW, "narrow")

    def toggle_language(self) -> None:
        self.language = "en" if self.language == "ja" else "ja"
        self.retext()

    def retext(self) -> None:
        """(Re)write every text in the current language — the widgets', and what the view
        on screen says now (its question's note, the last screen), so that F2 in the
        middle of a check-in leaves nothing in the other language."""
        t = self.t
        for view in ("method", "visual", "consents", "prescription", "working"):
            self.query_one(f"#{view}-title", Static).update(t(view))
        for key in (
            "consents_items",
            "consents_keys",
            "prescription_sub",
            "prescription_keys",
        ):
            self.query_one(f"#{key.replace('_', '-')}", Static).update(t(key))
        self.query_one("#wait-card", Button).label = t("wait_card")
        self.query_one("#wait-phone", Button).label = t("wait_phone")
        self._wait_texts()
        self.query_one(PinPad).retext(t)
        self.query_one(FaceCapture).retext(t)
        self.query_one(ConsentChoice).relabel(t("bundle"), t("each"), t("none"))
        self.query_one(ConsentItems).retext(t, self.language)
        forms = {form: t(f"prescription_{form.value}") for form in Prescription}
        self.query_one(PrescriptionChoice).relabel(forms)
        for choice in self.query(YesNoChoice):
            choice.retext(t)
        self._relabel_methods()
        self._variant_line()
        self._note()
        if isinstance(self.question, ChoosePrescription):
            self._prescription_texts(self.question)
        if self.outcome is not None:
            self._outcome_texts(self.outcome)

    # -- showing ----------------------------------------------------------------------------

    def show(self, view: View | str, flow: CheckinFlow | None = None) -> None:
        """What lies between questions: the card wait, お待ちください, the last screen."""
        self.question = None
        self._switch(View(view), flow.variant if flow is not None else None)

    def _switch(self, view: str, variant: Variant | None) -> None:
        self.view = view
        self.query_one("#views", ContentSwitcher).current = f"view-{view}"
        if view == View.WAIT:  # the next patient: nothing of the last one stays
            self.variant = None
            self.outcome = None
            self.query_one(FaceCapture).reset()
            self.show_medium(None)
        elif variant is not None:
            self.variant = variant
        if view != View.DONE:
            self.outcome = None
            self.query_one(ErrorScreenBox).show_screen(None, self.language)
        self._variant_line()

    def _variant_line(self) -> None:
        variant = self.variant
        label = variant_title(variant, self.language) if variant is not None else ""
        self.query_one("#panel-variant", Static).update(label)

    def ask(self, question: Question[Any]) -> str:
        """Show ``question`` on its widget; returns the view it is on."""
        view = view_of(question)
        self._switch(view, question.variant)
        self.question = question
        match question:
            case ChooseMethod():
                self._offer_methods(question)
            case EnterPin():
                self.query_one(PinPad).open(question.tries_left, "")
            case CaptureFace():
                self.query_one(FaceCapture).open("")
            case GiveConsents():
                self._consent_view(question)
            case ChoosePrescription():
                self._prescription_texts(question)
                self.query_one("#prescription-1", Button).focus()
            case YesNo():
                self.query_one(f"#view-{question.kind}", YesNoChoice).open()
        self._note()
        return view

    def note(self, question: Question[Any]) -> str:
        """What the patient reads with ``question``: why it is asked again (a wrong PIN,
        a face not matched, a locked PIN and where the lock is undone) — the panel's own
        words for the flow's state, never the flow's message (staff words)."""
        lines: list[str] = []
        # what is left to go on with: the methods offered (a reader without 目視 has none)
        offered = set(question.methods) if isinstance(question, ChooseMethod) else None
        if question.state is State.FACE_NOT_MATCHED and question.face_tries_left is not None:
            left = question.face_tries_left
            closed = "face_closed"
            if offered is not None and not {Method.PIN, Method.VISUAL} <= offered:
                closed = "face_closed_pin" if Method.PIN in offered else "face_closed_visual"
            lines.append(self.t("face_failed", n=left) if left else self.t(closed))
        if isinstance(question, EnterPin) and question.state is State.PIN_WRONG:
            lines.append(self.t("pin_wrong", n=question.tries_left))
        if isinstance(question, ChooseMethod) and question.pin_tries_left == 0:
            if question.variant in PHONES:
                lines.append(self.t("pin_locked_phone"))
            else:
                locked = "pin_locked" if Method.VISUAL in question.methods else "pin_locked_face"
                lines += [self.t(locked), self.t("pin_unlock")]
        return "\n".join(lines)

    def _note(self) -> None:
        question = self.question
        if question is None:
            return
        target = {
            ChooseMethod: "#method-message",
            EnterPin: "#pin-message",
            CaptureFace: "#face-message",
        }.get(type(question))
        if target is not None:
            self.query_one(target, Static).update(self.note(question))

    def offer_medium(self, question: ChooseMedium | None) -> None:
        """The card-wait screen's question on this reader (None: it asks nothing — the
        next-generation reader reads a smartphone itself): its choices shown or not."""
        self.medium_question = question
        self.medium = None
        self.query_one("#wait-choices").display = question is not None
        self._wait_texts()

    def show_medium(self, medium: Medium | None) -> None:
        """The card-wait screen after the patient chose (None: before any choice)."""
        self.medium = medium
        self._wait_texts()

    def _wait_texts(self) -> None:
        title, sub, keys = wait_texts(self.language, self.medium_question, self.medium)
        self.query_one("#wait-title", Static).update(title)
        self.query_one("#wait-sub", Static).update(sub)
        self.query_one("#wait-keys", Static).update(keys)

    def _prescription_texts(self, question: ChoosePrescription) -> None:
        title, sub = prescription_texts(self.language, question.covers)
        self.query_one("#prescription-title", Static).update(title)
        self.query_one("#prescription-sub", Static).update(sub)

    def _offer_methods(self, question: ChooseMethod) -> None:
        choice = self.query_one(MethodChoice)
        first = choice.offer(question.methods)
        self._relabel_methods()
        if first is not None:
            first.focus()

    def _relabel_methods(self) -> None:
        choice = self.query_one(MethodChoice)
        choice.relabel(METHOD_LABELS[self.language], cancel=self.t("cancel"))
        if self.variant is Variant.IPHONE:
            # the holder authenticates on the phone (Face ID / Touch ID): no PIN pad here
            choice.button(Method.PIN).label = self.t("method_iphone")
        # the keys line names the methods offered (a phone: PIN only; no-visual: no 3)
        iphone = self.variant is Variant.IPHONE
        keys = [
            self.t(
                f"method_key_{method.value}"
                + ("_iphone" if iphone and method is Method.PIN else "")
            )
            for method in choice.methods
            if choice.button(method).display
        ]
        keys.append(self.t("method_key_cancel"))
        line = self.t("method_keys", keys=self.t("method_keys_sep").join(keys))
        self.query_one("#method-keys", Static).update(line)

    def _consent_view(self, question: GiveConsents) -> None:
        """Today's flow: まとめて同意 / 個別に選ぶ / 同意しない, no 限度額 question. The pre-2024
        flow: each item, すべて同意する and 「限度額情報を提供しますか」."""
        self.query_one(ConsentChoice).question = question
        old = self.consent_flow is ConsentFlow.PRE_2024
        self.query_one(ConsentItems).reset(pre_2024=old)
        self.query_one("#consent-choices").display = not old
        self.query_one("#consents-keys").display = not old
        self.query_one("#consents-items").display = not old
        self.query_one("#consent-one-by-one").display = old
        if old:
            self.query_one("#consent-medication").focus()
        else:
            self.query_one("#consent-bundle", Button).focus()

    def show_outcome(self, outcome: CheckinOutcome) -> None:
        """The last screen, in patient words: done (the share of the cost), or what to do
        — 「受付窓口にお声がけください」 and why in a word; staff read the ladder on their
        console. The certificate's notices (renewal, grace period, lapsed) are shown here
        and not only to staff (oqs.md §5)."""
        self.show(View.DONE)
        self.query_one(FaceCapture).reset()  # the next patient starts at 本人, whatever comes
        self.variant = outcome.flow.variant
        self._variant_line()
        self.outcome = outcome
        self._outcome_texts(outcome)
        self.query_one(ErrorScreenBox).focus_close()

    def show_failed(self) -> None:
        """The check-in could not finish (the terminal's fault): the patient asks the desk."""
        self.show(View.DONE)
        what = self.t("card_word")
        self.query_one("#done-title", Static).update(self.t("error", what=what))
        self.query_one("#done-detail", Static).update("")
        self.query_one("#done-notice", Static).update("")

    def _outcome_texts(self, outcome: CheckinOutcome) -> None:
        t, flow = self.t, outcome.flow
        what = t("phone_word" if flow.variant in PHONES else "card_word")
        status = outcome.status
        detail: list[str] = []
        if flow.state is State.CONFIRMED:
            title = t("done", what=what)
            if flow.registering:  # registered on the spot: the patient should know
                detail.append(t("registered"))
            entries = outcome.result.entries if outcome.result is not None else []
            ratio = ratio_text(entries[0].ratio_code, self.language) if entries else None
            if ratio is not None:
                detail.append(t("ratio", ratio=ratio))
        elif flow.state is State.WRONG_CARD:
            title = t("wrong_card", what=what)
        elif flow.state is State.CARD_REMOVED:
            title = t("removed", what=what)
        elif status in (ReceptionStatus.FALLBACK, ReceptionStatus.PENDING):
            title = t("desk", what=what)
            reason = flow.fallback_reason
            key = REASON_KEYS.get(reason) if reason is not None else None
            if key is not None:
                detail.append(t(key))
        else:
            title = t("error", what=what)
        notices = [
            t(f"notice_{code}")
            for code in patient_notices(outcome.result, flow.fallback_reason)
            if f"notice_{code}" in TEXT["ja"]
        ]
        self.query_one("#done-title", Static).update(title)
        self.query_one("#done-detail", Static).update("\n".join(detail))
        self.query_one("#done-notice", Static).update("\n".join(notices))
        self.query_one(ErrorScreenBox).show_screen(outcome.screen, self.language)

    # -- answers -----------------------------------------------------------------------------

    def answer(self, kind: type[Question[A]], value: A | None) -> None:
        self.post_message(self.Answered(kind, value))

    def shortcut(self, key: str) -> bool:
        """Keyboard alone: c/s pick カード/スマートフォン on the card-wait screen; on a
        question, its widget's keys (1/2/3 a method, digits and Enter the PIN, y/n …)."""
        if self.view == View.WAIT and key in ("c", "s"):
            return self._choose_medium(Medium.CARD if key == "c" else Medium.PHONE)
        widget = self._keyed_widget()
        return widget is not None and widget.key(key)

    def _keyed_widget(
        self,
    ) -> (
        MethodChoice
        | PinPad
        | ConsentChoice
        | ConsentItems
        | PrescriptionChoice
        | YesNoChoice
        | None
    ):
        match self.question:
            case ChooseMethod():
                return self.query_one(MethodChoice)
            case EnterPin():
                return self.query_one(PinPad)
            case GiveConsents():
                old = self.consent_flow is ConsentFlow.PRE_2024
                return self.query_one(ConsentItems) if old else self.query_one(ConsentChoice)
            case ChoosePrescription():
                return self.query_one(PrescriptionChoice)
            case YesNo():
                return self.query_one(f"#view-{self.question.kind}", YesNoChoice)
        return None

    @on(ErrorScreenBox.Closed)
    def _error_closed(self, event: ErrorScreenBox.Closed) -> None:
        """「閉じる」: the reader is back at its start (the card stays where it is)."""
        event.stop()
        self.show(View.WAIT)

    @on(Button.Pressed, "#wait-card, #wait-phone")
    def _medium(self, event: Button.Pressed) -> None:
        event.stop()
        self._choose_medium(Medium((event.button.id or "").removeprefix("wait-")))

    def _choose_medium(self, medium: Medium) -> bool:
        """The card-wait screen's answer, where this reader asks it."""
        question = self.medium_question
        if question is None or not question.accepts(medium):
            return False
        self.answer(ChooseMedium, medium)
        return True

    @on(MethodChoice.Chosen)
    def _method(self, event: MethodChoice.Chosen) -> None:
        event.stop()
        self.answer(ChooseMethod, event.method)

    @on(PinPad.Entered)
    def _pin(self, event: PinPad.Entered) -> None:
        event.stop()
        self.answer(EnterPin, event.pin)

    @on(PinPad.Left)
    def _pin_left(self, event: PinPad.Left) -> None:
        event.stop()
        self.answer(EnterPin, None)

    @on(FaceCapture.Shot)
    def _face(self, event: FaceCapture.Shot) -> None:
        event.stop()
        self.answer(CaptureFace, event.scenario)

    @on(ConsentChoice.Chosen)
    @on(ConsentItems.Chosen)
    def _consents(self, event: ConsentChoice.Chosen | ConsentItems.Chosen) -> None:
        event.stop()
        self.answer(GiveConsents, event.consents)

    @on(ConsentChoice.OneByOne)
    def _one_by_one(self, event: ConsentChoice.OneByOne) -> None:
        event.stop()
        self.query_one("#consent-choices").display = False
        self.query_one("#consents-keys").display = False
        self.query_one("#consent-one-by-one").display = True
        self.query_one("#consent-medication").focus()

    @on(PrescriptionChoice.Chosen)
    def _prescription(self, event: PrescriptionChoice.Chosen) -> None:
        event.stop()
        self.answer(ChoosePrescription, event.prescription)

    @on(YesNoChoice.Answered)
    def _yes_no(self, event: YesNoChoice.Answered) -> None:
        event.stop()
        question = self.question
        if isinstance(question, YesNo) and question.kind is event.kind:
            self.answer(YesNo, event.yes)
