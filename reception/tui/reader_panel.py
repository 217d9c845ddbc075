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

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Button, ContentSwitcher, Static

from reception.flow import CheckinFlow, ConsentFlow, Method, Prescription, Variant
from reception.questions import (
    CaptureFace,
    ChooseMethod,
    ChoosePrescription,
    ConfirmVisually,
    EnterPin,
    GiveConsents,
    Question,
    YesNo,
    YesNoKind,
)
from reception.store import ReceptionStatus
from reception.tui.text import safe
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

A = TypeVar("A")


class Keyed(Protocol):
    """A question's widget that answers keys too."""

    def key(self, key: str) -> bool: ...


TEXT: dict[str, dict[str, str]] = {
    "ja": {
        "wait": "マイナンバーカードを置いてください",
        "wait_sub": "スマートフォンの方は「スマートフォン」を選んでください"
        "（c: マイナンバーカード ・ s: スマートフォン）",
        "wait_card": "マイナンバーカード",
        "wait_phone": "スマートフォン",
        "phone": "スマートフォンを読み取り部にかざしてください",
        "phone_separate": "スマートフォンを、スマートフォン用の読み取り部にかざしてください",
        "phone_sub": "Android：暗証番号はこの画面で入力 ・ iPhone：iPhone の画面で認証します",
        "card": "マイナンバーカードを読み取り部に置いてください",
        "method": "本人確認の方法を選んでください",
        "method_iphone": "iPhone で認証する",
        "pin": "暗証番号（数字4桁）を入力してください",
        "tries": "残り{n}回",
        "pin_keys": "数字キーで入力 ・ Enter で確定 ・ Backspace で訂正",
        "face": "カメラの方を向いてください",
        "face_shoot": "撮影する",
        "visual": "職員が確認しています。しばらくお待ちください",
        "consents": "情報の提供に同意しますか",
        "consents_items": "診療情報・薬剤情報 ／ 特定健診情報 ／ 手術情報",
        "bundle": "まとめて同意",
        "each": "個別に選ぶ",
        "none": "同意しない",
        "consents_keys": "y: まとめて同意 ・ n: 同意しない",
        "prescription": "処方箋の受け取り方を選んでください",
        "prescription_sub": "電子処方箋：薬局でマイナ保険証を提示して受け取ります",
        "prescription_1": "電子処方箋",
        "prescription_2": "紙の処方箋",
        "prescription_keys": "1: 電子処方箋 ・ 2: 紙の処方箋",
        "subsidy": "医療費助成の各種受給者証を利用しますか",
        "subsidy_sub": "子ども医療費・難病など、お住まいの自治体の受給者証の情報を使います",
        "subsidy_yes": "利用する",
        "subsidy_no": "利用しない",
        "subsidy_keys": "y: 利用する ・ n: 利用しない",
        "register": "マイナンバーカードの保険証利用登録がされていません",
        "register_sub": "このまま登録すると、今日から健康保険証として使えます。登録しますか",
        "register_yes": "登録する",
        "register_no": "登録しない",
        "register_keys": "y: 登録する ・ n: 登録しない",
        "notice_certificate-renewal-due": "電子証明書の有効期限が近づいています。"
        "お住まいの市区町村の窓口で更新してください",
        "notice_certificate-grace": "電子証明書の有効期限が切れています。"
        "今すぐお住まいの市区町村の窓口で更新してください（今回は保険資格のみ確認しました）",
        "notice_certificate-lapsed": "電子証明書の有効期限が切れ、猶予期間も過ぎています。"
        "市区町村の窓口で更新してください",
        "all": "すべて同意する",
        "limit": "限度額情報を提供しますか",
        "limit_yes": "提供する",
        "limit_no": "提供しない",
        "ok": "確定",
        "back": "戻る",
        "cancel": "やめる",
        "working": "お待ちください…",
        "done": "受付が完了しました。カードをお取りください",
        "fallback": "受付にお声がけください。カードをお取りください",
        "error": "確認できませんでした。受付にお声がけください",
        "wrong_card": "予定のカードではありません。カードをお取りのうえ、受付にお声がけください",
    },
    "en": {
        "wait": "Please place your My Number card",
        "wait_sub": "Smartphone users: choose 「Smartphone」 (c: card · s: smartphone)",
        "wait_card": "My Number card",
        "wait_phone": "Smartphone",
        "phone": "Hold your smartphone over the reader",
        "phone_separate": "Hold your smartphone over the smartphone reader",
        "phone_sub": "Android: enter the PIN here · iPhone: authenticate on the iPhone",
        "card": "Place your My Number card on the reader",
        "method": "Choose how to confirm your identity",
        "method_iphone": "Authenticate on the iPhone",
        "pin": "Enter your 4-digit PIN",
        "tries": "{n} tries left",
        "pin_keys": "Digits to type · Enter to confirm · Backspace to correct",
        "face": "Please face the camera",
        "face_shoot": "Take picture",
        "visual": "A staff member is checking. Please wait",
        "consents": "Do you agree to share your information?",
        "consents_items": "Medical and medication / Health checkup / Surgery records",
        "bundle": "Agree to all at once",
        "each": "Choose item by item",
        "none": "Do not agree",
        "consents_keys": "y: agree to all · n: do not agree",
        "prescription": "How would you like your prescription?",
        "prescription_sub": "Electronic: collected at a pharmacy with your card",
        "prescription_1": "Electronic",
        "prescription_2": "Paper",
        "prescription_keys": "1: electronic · 2: paper",
        "subsidy": "Use your medical subsidy certificates?",
        "subsidy_sub": "Your municipality's certificates (children, intractable diseases …)",
        "subsidy_yes": "Use them",
        "subsidy_no": "Do not use",
        "subsidy_keys": "y: use · n: do not use",
        "register": "Your card is not registered for use as a health insurance card",
        "register_sub": "Register it now to use it as your health insurance card from today?",
        "register_yes": "Register",
        "register_no": "Not now",
        "register_keys": "y: register · n: not now",
        "notice_certificate-renewal-due": "Your card's certificate expires soon. "
        "Please renew it at your municipal office",
        "notice_certificate-grace": "Your card's certificate has expired. Please renew it "
        "at your municipal office now (only your insurance was confirmed today)",
        "notice_certificate-lapsed": "Your card's certificate has expired and can no longer "
        "be used. Please renew it at your municipal office",
        "all": "Agree to all",
        "limit": "Share your limit (高額療養費) information?",
        "limit_yes": "Share",
        "limit_no": "Do not share",
        "ok": "OK",
        "back": "Back",
        "cancel": "Cancel",
        "working": "Please wait…",
        "done": "Done. Please take your card",
        "fallback": "Please ask the reception desk. Take your card",
        "error": "Could not confirm. Please ask the reception desk",
        "wrong_card": "Not the card expected. Please take it and ask the reception desk",
    },
}
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

    class MediumChosen(Message):
        """マイナンバーカード or スマートフォン, chosen on the card-wait screen (real
        readers ask it first; placing a card without choosing works all the same)."""

        def __init__(self, medium: str) -> None:
            super().__init__()
            self.medium = medium  # "card" or "phone"

    def __init__(
        self, *, demo: bool, language: str, consent_flow: ConsentFlow = ConsentFlow.CURRENT
    ) -> None:
        super().__init__(id="reader-panel")
        self.demo = demo
        self.consent_flow = consent_flow
        self.language = language if language in TEXT else "ja"
        self.view: str = View.WAIT
        self.question: Question[Any] | None = None  # the one on screen
        self.warmed = False

    def t(self, key: str, **kwargs: Any) -> str:
        return TEXT[self.language][key].format(**kwargs)

    def compose(self) -> ComposeResult:
        yield Static("", id="panel-variant")
        with ContentSwitcher(initial="view-wait", id="views"):
            with Vertical(id="view-wait"):
                yield Static("", id="wait-title", classes="big")
                with Horizontal(id="wait-choices"):
                    yield Button("マイナンバーカード", id="wait-card", classes="method")
                    yield Button("スマートフォン", id="wait-phone", classes="method")
                yield Static("", id="wait-sub")
            with Vertical(id="view-method"):
                yield Static("", id="method-title", classes="big")
                yield MethodChoice(
                    (Method.FACE, Method.PIN, Method.VISUAL),  # 目視 is for staff: last
                    prefix="method",
                    id="method-buttons",
                    cancel="やめる",
                    button_classes="method",
                )
                yield Static("", id="method-message", classes="message")
            yield PinPad()
            yield FaceCapture(demo=self.demo)
            with Vertical(id="view-visual"):
                yield Static("", id="visual-title", classes="big")
            with Vertical(id="view-consents"):
                yield Static("", id="consents-title", classes="big")
                yield Static("", id="consents-items")
                yield ConsentChoice(prefix="consent", id="consent-choices")
                yield ConsentItems(id="consent-one-by-one")
                yield Static("", id="consents-keys")
            with Vertical(id="view-prescription"):
                yield Static("", id="prescription-title", classes="big")
                yield Static("", id="prescription-sub")
                yield PrescriptionChoice(
                    prefix="prescription", id="prescription-choices", button_classes="method"
                )
                yield Static("", id="prescription-keys")
            for kind in YesNoKind:  # a question answered yes (y) or no (n)
                yield YesNoChoice(kind)
            with Vertical(id="view-working"):
                yield Static("", id="working-title", classes="big")
            with Vertical(id="view-done"):
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

    def toggle_language(self) -> None:
        self.language = "en" if self.language == "ja" else "ja"
        self.retext()

    def retext(self) -> None:
        """(Re)write every fixed text in the current language, the widgets' too."""
        t = self.t
        for view in ("wait", "method", "visual", "consents", "prescription", "working"):
            self.query_one(f"#{view}-title", Static).update(t(view))
        for key in ("consents_items", "consents_keys", "prescription_sub", "prescription_keys"):
            self.query_one(f"#{key.replace('_', '-')}", Static).update(t(key))
        self.query_one("#wait-sub", Static).update(t("wait_sub"))
        self.query_one("#wait-card", Button).label = t("wait_card")
        self.query_one("#wait-phone", Button).label = t("wait_phone")
        self.query_one(PinPad).retext(t)
        self.query_one(FaceCapture).retext(t)
        self.query_one(ConsentChoice).relabel(t("bundle"), t("each"), t("none"))
        self.query_one(ConsentItems).retext(t, self.language)
        forms = {form: t(f"prescription_{form.value}") for form in Prescription}
        self.query_one(PrescriptionChoice).relabel(forms)
        for choice in self.query(YesNoChoice):
            choice.retext(t)

    # -- showing ----------------------------------------------------------------------------

    def show(self, view: View | str, flow: CheckinFlow | None = None) -> None:
        """What lies between questions: the card wait, お待ちください, the last screen."""
        self.question = None
        self._switch(View(view), flow.variant if flow is not None else None)

    def _switch(self, view: str, variant: Variant | None) -> None:
        self.view = view
        self.query_one("#views", ContentSwitcher).current = f"view-{view}"
        if variant is not None:
            label = variant.label if self.language == "ja" else variant.value
            self.query_one("#panel-variant", Static).update(safe(label))
        elif view == View.WAIT:
            self.query_one("#panel-variant", Static).update("")
        if view == View.WAIT:
            self.show_medium(None)
        elif view == View.WORKING:
            self.query_one("#working-title", Static).update(self.t("working"))

    def ask(self, question: Question[Any]) -> str:
        """Show ``question`` on its widget; returns the view it is on."""
        view = view_of(question)
        self._switch(view, question.variant)
        self.question = question
        message = safe(question.message) if question.message else ""
        match question:
            case ChooseMethod():
                self._offer_methods(question, message)
            case EnterPin():
                self.query_one(PinPad).open(question.tries_left, message)
            case CaptureFace():
                self.query_one(FaceCapture).open(message)
            case GiveConsents():
                self._consent_view(question)
            case ChoosePrescription():
                self.query_one("#prescription-1", Button).focus()
            case YesNo():
                self.query_one(f"#view-{question.kind}", YesNoChoice).open()
        return view

    def show_medium(self, medium: str | None, *, separate_reader: bool = False) -> None:
        """The card-wait screen after the patient chose (None: before any choice)."""
        title, sub = {
            None: ("wait", "wait_sub"),
            "card": ("card", "wait_sub"),
            "phone": ("phone_separate" if separate_reader else "phone", "phone_sub"),
        }[medium]
        self.query_one("#wait-title", Static).update(self.t(title))
        self.query_one("#wait-sub", Static).update(self.t(sub))

    def _offer_methods(self, question: ChooseMethod, message: str) -> None:
        choice = self.query_one(MethodChoice)
        choice.relabel(METHOD_LABELS[self.language], cancel=self.t("cancel"))
        first = choice.offer(question.methods)
        if first is not None:
            first.focus()
        if question.variant is Variant.IPHONE:
            # the holder authenticates on the phone (Face ID / Touch ID): no PIN pad here
            choice.button(Method.PIN).label = self.t("method_iphone")
        self.query_one("#method-message", Static).update(message)

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

    def show_done(
        self,
        status: ReceptionStatus | str,
        detail: str,
        notices: list[str] | None = None,
        *,
        wrong_card: bool = False,
    ) -> None:
        """The last screen; ``notices``: codes of what the patient must be told (the
        certificate's renewal or grace period), shown here and not only to staff.
        ``wrong_card``: the card was not the one expected (nothing was sent to it)."""
        key = {
            ReceptionStatus.CONFIRMED: "done",
            ReceptionStatus.FALLBACK: "fallback",
            ReceptionStatus.PENDING: "fallback",
        }.get(ReceptionStatus(status), "error")
        if wrong_card:
            key = "wrong_card"
        self.show(View.DONE)
        self.query_one("#done-title", Static).update(self.t(key))
        self.query_one("#done-detail", Static).update(safe(detail))
        lines = [
            self.t(f"notice_{code}") for code in notices or [] if f"notice_{code}" in TEXT["ja"]
        ]
        self.query_one("#done-notice", Static).update("\n".join(lines))

    # -- answers -----------------------------------------------------------------------------

    def answer(self, kind: type[Question[A]], value: A | None) -> None:
        self.post_message(self.Answered(kind, value))

    def shortcut(self, key: str) -> bool:
        """Keyboard alone: c/s pick カード/スマートフォン on the card-wait screen; on a
        question, its widget's keys (1/2/3 a method, digits and Enter the PIN, y/n …)."""
        if self.view == View.WAIT and key in ("c", "s"):
            self.post_message(self.MediumChosen("card" if key == "c" else "phone"))
            return True
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

    @on(Button.Pressed, "#wait-card, #wait-phone")
    def _medium(self, event: Button.Pressed) -> None:
        event.stop()
        self.post_message(self.MediumChosen((event.button.id or "").removeprefix("wait-")))

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
