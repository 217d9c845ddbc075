"""The reader panel: what the patient sees on the card reader.

Large, high-contrast, keyboard-only friendly. Japanese by default, English on request.
Every view is a container in a ContentSwitcher; :meth:`ReaderPanel.show` switches and
fills it. Answers go up as :class:`ReaderPanel.Answered` messages; the app hands them
to the check-in.
"""

from __future__ import annotations

import enum
from typing import Any

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Button, Checkbox, ContentSwitcher, RadioButton, RadioSet, Static

from reception.camera import FaceScenario
from reception.flow import CheckinFlow, ConsentFlow, ConsentsGiven, Method, Prescription, Variant
from reception.store import ReceptionStatus
from reception.tui.text import safe
from reception.vocabulary import METHOD_BUTTON_LABELS, SCREEN_CONSENTS

METHOD_KEYS = {"1": Method.FACE, "2": Method.PIN, "3": Method.VISUAL}
"""Keyboard alone: 1/2/3 pick 顔認証/暗証番号/目視 on the method screen."""

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
CONSENT_ITEMS = SCREEN_CONSENTS


# questions the patient answers yes or no: the same view for each, its texts by name
YES_NO_VIEWS = ("subsidy", "register")

# laid out once at start, in this order (the last is what shows)
WARMED_VIEWS = [
    "method",
    "pin",
    "face",
    "consents",
    "prescription",
    "register",
    "subsidy",
    "done",
    "wait",
]


class View(enum.StrEnum):
    """What the reader panel shows: one view per question of the check-in, and between."""

    WAIT = "wait"
    METHOD = "method"
    PIN = "pin"
    FACE = "face"
    VISUAL = "visual"
    CONSENTS = "consents"
    PRESCRIPTION = "prescription"
    REGISTER = "register"
    SUBSIDY = "subsidy"
    WORKING = "working"
    DONE = "done"


class ReaderPanel(Vertical):
    """The patient's side: shows the question the check-in asks, posts the answer."""

    class Answered(Message):
        """The patient (or staff) answered what the panel shows (None: back / cancel)."""

        def __init__(self, value: Any) -> None:
            super().__init__()
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
        self.view = View.WAIT
        self.pin_digits = ""
        self.tries_left: int | None = None
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
                with Horizontal(id="method-buttons"):
                    for method in (Method.FACE, Method.PIN, Method.VISUAL):
                        yield Button(method.label, id=f"method-{method.value}", classes="method")
                    yield Button("やめる", id="method-cancel")
                yield Static("", id="method-message", classes="message")
            with Vertical(id="view-pin"):
                yield Static("", id="pin-title", classes="big")
                yield Static("", id="pin-dots", classes="huge")
                yield Static("", id="pin-tries")
                yield Static("", id="pin-message", classes="message")
                with Horizontal(id="pin-pad"):
                    for digit in "1234567890":
                        yield Button(digit, id=f"pin-{digit}", classes="digit")
                with Horizontal():
                    yield Button("訂正", id="pin-clear")
                    yield Button("確定", id="pin-ok", variant="primary")
                    yield Button("戻る", id="pin-back")
                yield Static("", id="pin-keys")
            with Vertical(id="view-face"):
                yield Static("", id="face-title", classes="big")
                yield Static("", id="face-message", classes="message")
                with RadioSet(id="face-scenario"):
                    yield RadioButton("本人", value=True, id="scenario-same")
                    yield RadioButton("別人", id="scenario-other")
                    yield RadioButton("撮影不良", id="scenario-poor")
                with Horizontal():
                    yield Button("撮影する", id="face-shoot", variant="primary")
                    yield Button("やめる", id="face-back")
            with Vertical(id="view-visual"):
                yield Static("", id="visual-title", classes="big")
            with Vertical(id="view-consents"):
                yield Static("", id="consents-title", classes="big")
                yield Static("", id="consents-items")
                with Horizontal(id="consent-choices"):
                    yield Button("まとめて同意", id="consent-bundle", variant="primary")
                    yield Button("個別に選ぶ", id="consent-each")
                    yield Button("同意しない", id="consent-none")
                with Vertical(id="consent-one-by-one"):
                    for key, ja, _ in CONSENT_ITEMS:
                        yield Checkbox(ja, id=f"consent-{key}")
                    yield Button("すべて同意する", id="consent-all", classes="pre-2024")
                    yield Static("", id="limit-title", classes="pre-2024")
                    with RadioSet(id="consent-limit", classes="pre-2024"):
                        yield RadioButton("提供する", id="limit-yes")
                        yield RadioButton("提供しない", value=True, id="limit-no")
                    yield Button("確定", id="consent-ok", variant="primary")
                yield Static("", id="consents-keys")
            with Vertical(id="view-prescription"):
                yield Static("", id="prescription-title", classes="big")
                yield Static("", id="prescription-sub")
                with Horizontal(id="prescription-choices"):
                    yield Button("電子処方箋", id="prescription-1", classes="method")
                    yield Button("紙の処方箋", id="prescription-2", classes="method")
                yield Static("", id="prescription-keys")
            for view in YES_NO_VIEWS:  # a question answered yes (y) or no (n)
                with Vertical(id=f"view-{view}"):
                    yield Static("", id=f"{view}-title", classes="big")
                    yield Static("", id=f"{view}-sub")
                    with Horizontal(id=f"{view}-choices"):
                        yield Button("", id=f"{view}-yes", variant="primary")
                        yield Button("", id=f"{view}-no")
                    yield Static("", id=f"{view}-keys")
            with Vertical(id="view-working"):
                yield Static("", id="working-title", classes="big")
            with Vertical(id="view-done"):
                yield Static("", id="done-title", classes="big")
                yield Static("", id="done-detail")
                yield Static("", id="done-notice", classes="message")

    def on_mount(self) -> None:
        self.query_one("#face-scenario").display = self.demo
        self.retext()
        # lay every view out once now, so that the first PIN pad or consent screen does
        # not cost a ~100 ms first layout in the middle of a check-in — unseen: a method
        # screen flashing by before any card is placed would invite a key press that no
        # question is there to take
        self.query_one("#views", ContentSwitcher).styles.visibility = "hidden"
        self._warm(WARMED_VIEWS)

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
        """(Re)write every fixed text in the current language."""
        for view in (
            "wait",
            "method",
            "pin",
            "face",
            "visual",
            "consents",
            "prescription",
            "register",
            "subsidy",
            "working",
        ):
            self.query_one(f"#{view}-title", Static).update(self.t(view))
        for static, key in (
            ("#consents-items", "consents_items"),
            ("#consents-keys", "consents_keys"),
            ("#prescription-sub", "prescription_sub"),
            ("#prescription-keys", "prescription_keys"),
            *((f"#{v}-{part}", f"{v}_{part}") for v in YES_NO_VIEWS for part in ("sub", "keys")),
        ):
            self.query_one(static, Static).update(self.t(key))
        self.query_one("#wait-sub", Static).update(self.t("wait_sub"))
        self.query_one("#wait-card", Button).label = self.t("wait_card")
        self.query_one("#wait-phone", Button).label = self.t("wait_phone")
        self.query_one("#pin-keys", Static).update(self.t("pin_keys"))
        self.query_one("#limit-title", Static).update(self.t("limit"))
        self.query_one("#face-shoot", Button).label = self.t("face_shoot")
        self.query_one("#consent-all", Button).label = self.t("all")
        for button_id, key in (
            ("#pin-ok", "ok"),
            ("#consent-ok", "ok"),
            ("#pin-back", "back"),
            ("#face-back", "cancel"),
            ("#consent-bundle", "bundle"),
            ("#consent-each", "each"),
            ("#consent-none", "none"),
            ("#prescription-1", "prescription_1"),
            ("#prescription-2", "prescription_2"),
            *(
                (f"#{v}-{answer}", f"{v}_{answer}")
                for v in YES_NO_VIEWS
                for answer in ("yes", "no")
            ),
        ):
            self.query_one(button_id, Button).label = self.t(key)
        for key, ja, en in CONSENT_ITEMS:
            self.query_one(f"#consent-{key}", Checkbox).label = ja if self.language == "ja" else en
        if self.tries_left is not None:
            self.query_one("#pin-tries", Static).update(self.t("tries", n=self.tries_left))

    # -- showing ----------------------------------------------------------------------------

    def show(self, view: View | str, flow: CheckinFlow | None, **context: Any) -> None:
        view = View(view)
        self.view = view
        self.query_one("#views", ContentSwitcher).current = f"view-{view}"
        if flow is not None and flow.variant is not None:
            label = flow.variant.label if self.language == "ja" else flow.variant.value
            self.query_one("#panel-variant", Static).update(safe(label))
        elif view is View.WAIT:
            self.query_one("#panel-variant", Static).update("")
        message = safe(flow.message) if flow is not None and flow.message else ""
        if view is View.WAIT:
            self.show_medium(None)
        if view is View.METHOD:
            self._method_buttons(context.get("methods", []), flow)
            self.query_one("#method-message", Static).update(message)
        elif view is View.PIN:
            self.pin_digits = ""
            self.tries_left = int(context.get("tries_left", 0))
            self._dots()
            self.query_one("#pin-tries", Static).update(self.t("tries", n=self.tries_left))
            self.query_one("#pin-message", Static).update(message)
            self.query_one("#pin-ok", Button).focus()
        elif view is View.FACE:
            self.query_one("#face-message", Static).update(message)
            self.query_one("#face-shoot", Button).focus()
        elif view is View.CONSENTS:
            self._consent_view()
        elif view is View.PRESCRIPTION:
            self.query_one("#prescription-1", Button).focus()
        elif view in YES_NO_VIEWS:
            self.query_one(f"#{view}-yes", Button).focus()
        elif view is View.WORKING:
            self.query_one("#working-title", Static).update(self.t("working"))

    def show_medium(self, medium: str | None, *, separate_reader: bool = False) -> None:
        """The card-wait screen after the patient chose (None: before any choice)."""
        title, sub = {
            None: ("wait", "wait_sub"),
            "card": ("card", "wait_sub"),
            "phone": ("phone_separate" if separate_reader else "phone", "phone_sub"),
        }[medium]
        self.query_one("#wait-title", Static).update(self.t(title))
        self.query_one("#wait-sub", Static).update(self.t(sub))

    def _consent_view(self) -> None:
        """Today's flow: まとめて同意 / 個別に選ぶ / 同意しない, no 限度額 question. The pre-2024
        flow: each item, すべて同意する and 「限度額情報を提供しますか」."""
        for key, _, _ in CONSENT_ITEMS:
            self.query_one(f"#consent-{key}", Checkbox).value = False
        self.query_one("#limit-no", RadioButton).value = True
        old = self.consent_flow is ConsentFlow.PRE_2024
        self.query_one("#consent-choices").display = not old
        self.query_one("#consents-keys").display = not old
        self.query_one("#consents-items").display = not old
        self.query_one("#consent-one-by-one").display = old
        for widget in self.query(".pre-2024"):
            widget.display = old
        if old:
            self.query_one("#consent-medication", Checkbox).focus()
        else:
            self.query_one("#consent-bundle", Button).focus()

    def _one_by_one(self) -> None:
        self.query_one("#consent-choices").display = False
        self.query_one("#consents-keys").display = False
        self.query_one("#consent-one-by-one").display = True
        self.query_one("#consent-medication", Checkbox).focus()

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
        self.show("done", None)
        self.query_one("#done-title", Static).update(self.t(key))
        self.query_one("#done-detail", Static).update(safe(detail))
        lines = [
            self.t(f"notice_{code}") for code in notices or [] if f"notice_{code}" in TEXT["ja"]
        ]
        self.query_one("#done-notice", Static).update("\n".join(lines))

    def _method_buttons(self, methods: list[Method], flow: CheckinFlow | None) -> None:
        labels = METHOD_LABELS[self.language]
        first: Button | None = None
        # the patient chooses 顔認証 / 暗証番号; 目視 is for staff, shown last
        for method in (Method.FACE, Method.PIN, Method.VISUAL):
            button = self.query_one(f"#method-{method.value}", Button)
            button.label = labels[method]
            button.display = method in methods
            if button.display and first is None:
                first = button
        self.query_one("#method-cancel", Button).label = self.t("cancel")
        if first is not None:
            first.focus()
        if flow is not None and flow.variant is Variant.IPHONE:
            # the holder authenticates on the phone (Face ID / Touch ID): no PIN pad here
            phone = "iPhone で認証する" if self.language == "ja" else "Authenticate on the iPhone"
            self.query_one("#method-pin", Button).label = phone
            self.query_one("#method-message", Static).update(
                "iPhone の画面の案内に従ってください"
                if self.language == "ja"
                else "Follow the instructions on the iPhone"
            )

    def _dots(self) -> None:
        dots = "●" * len(self.pin_digits) + "○" * (4 - len(self.pin_digits))
        self.query_one("#pin-dots", Static).update(" ".join(dots))

    # -- input -----------------------------------------------------------------------------

    def answer(self, value: Any) -> None:
        self.post_message(self.Answered(value))

    def shortcut(self, key: str) -> bool:
        """Keyboard alone: c/s pick カード/スマートフォン on the card-wait screen; 1/2/3 pick
        顔認証/暗証番号/目視; y/n answer all consents."""
        if self.view is View.WAIT and key in ("c", "s"):
            self.post_message(self.MediumChosen("card" if key == "c" else "phone"))
            return True
        if self.view is View.METHOD:
            method = METHOD_KEYS.get(key)
            if method is not None and self.query_one(f"#method-{method.value}").display:
                self.answer(method)
                return True
            if key == "escape":
                self.answer(None)
                return True
        if self.view is View.CONSENTS and key in ("y", "n"):
            if self.consent_flow is ConsentFlow.PRE_2024:
                for item, _, _ in CONSENT_ITEMS:
                    self.query_one(f"#consent-{item}", Checkbox).value = key == "y"
                self.query_one("#consent-ok", Button).press()
            else:
                agreed = key == "y"  # まとめて同意, or none
                self.answer(ConsentsGiven(medication=agreed, checkup=agreed, operation=agreed))
            return True
        if self.view is View.PRESCRIPTION and key in ("1", "2"):
            self.answer(Prescription(key))
            return True
        if self.view in YES_NO_VIEWS and key in ("y", "n"):
            self.answer(key == "y")
            return True
        return self.pin_key(key)

    def pin_key(self, key: str) -> bool:
        """Digits, Backspace and Enter while the PIN pad is shown (keyboard or buttons)."""
        if self.view is not View.PIN:
            return False
        if key.isdigit() and len(key) == 1:
            if len(self.pin_digits) < 4:
                self.pin_digits += key
        elif key == "backspace":
            self.pin_digits = self.pin_digits[:-1]
        elif key == "enter":
            if len(self.pin_digits) != 4:
                self.query_one("#pin-message", Static).update("4桁を入力してください")
                return True
            digits, self.pin_digits = self.pin_digits, ""
            self._dots()
            self.answer(digits)
            return True
        else:
            return False
        self._dots()
        return True

    def on_button_pressed(self, event: Button.Pressed) -> None:
        button = event.button.id or ""
        event.stop()
        if button.startswith("pin-") and button[4:].isdigit():
            self.pin_key(button[4:])
        elif button == "pin-clear":
            self.pin_digits = ""
            self._dots()
        elif button == "pin-ok":
            self.pin_key("enter")
        elif button in ("pin-back", "face-back", "method-cancel"):
            self.answer(None)
        elif button.startswith("method-"):
            self.answer(Method(button.removeprefix("method-")))
        elif button == "face-shoot":
            pressed = self.query_one("#face-scenario", RadioSet).pressed_button
            scenario = {
                "scenario-other": FaceScenario.OTHER,
                "scenario-poor": FaceScenario.POOR,
            }.get(pressed.id if pressed is not None and pressed.id else "", FaceScenario.SAME)
            self.answer(scenario)
        elif button == "consent-bundle":
            self.answer(ConsentsGiven(medication=True, checkup=True, operation=True))
        elif button == "consent-none":
            self.answer(ConsentsGiven())
        elif button == "consent-each":
            self._one_by_one()
        elif button.startswith("prescription-"):
            self.answer(Prescription(button.removeprefix("prescription-")))
        elif button in ("wait-card", "wait-phone"):
            self.post_message(self.MediumChosen(button.removeprefix("wait-")))
        elif button.removesuffix("-yes").removesuffix("-no") in YES_NO_VIEWS:
            self.answer(button.endswith("-yes"))
        elif button == "consent-all":
            for key, _, _ in CONSENT_ITEMS:
                self.query_one(f"#consent-{key}", Checkbox).value = True
        elif button == "consent-ok":
            values = {
                key: self.query_one(f"#consent-{key}", Checkbox).value
                for key, _, _ in CONSENT_ITEMS
            }
            limit = self.query_one("#limit-yes", RadioButton).value
            self.answer(
                ConsentsGiven(
                    medication=values["medication"],
                    checkup=values["checkup"],
                    operation=values["operation"],
                    limit=limit,
                )
            )
