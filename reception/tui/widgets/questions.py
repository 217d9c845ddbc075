"""The check-in's questions as widgets (reception/questions.py has them as data).

Each widget shows the controls that answer one kind of question and posts a typed
message with the answer (past tense: what the patient or staff did); its parent — the
patient's reader panel or the staff-held counter screen — sets what it shows (the
methods offered, the question's consent items, the texts of the language) and hands the
answer to the check-in. Attributes down, messages up: a widget never reaches out.

Child ids are ``{prefix}-…``, so both screens keep their own (``#method-pin`` on the
reader panel, ``#counter-method-pin`` at the counter). Keyboard alone: the parent gives a
key to the widget of the question on screen (:meth:`key`), which answers as the buttons do.
The PIN's widgets are in :mod:`reception.tui.widgets.pin`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Button, RadioSet, Static

from reception.camera import FaceScenario
from reception.flow import ConsentsGiven, Method, Prescription
from reception.questions import GiveConsents, YesNoKind
from reception.tui.widgets.ticks import RadioChoice, TickBox
from reception.vocabulary import SCREEN_CONSENTS

Texts = Callable[..., str]
"""The texts of the current language by key (the reader panel's ``t``)."""

METHOD_KEYS = {"1": Method.FACE, "2": Method.PIN, "3": Method.VISUAL}
"""Keyboard alone: 1/2/3 pick 顔認証/暗証番号/目視 on the method screen."""

CONSENT_ITEMS = SCREEN_CONSENTS  # the consent screen's items (reception.vocabulary)


class MethodChoice(Horizontal):
    """One button a method (the question's own shown, the others hidden), and — on the
    patient's panel — a way back (やめる, Escape). Posts :class:`Chosen`."""

    class Chosen(Message):
        """A method was chosen (None: やめる)."""

        def __init__(self, method: Method | None) -> None:
            super().__init__()
            self.method = method

    def __init__(
        self,
        methods: Iterable[Method],
        *,
        prefix: str,
        id: str,  # noqa: A002 (Textual's name)
        cancel: str | None = None,
        primary: Method | None = None,
        button_classes: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self.methods = tuple(methods)
        self.prefix = prefix
        self.cancel = cancel
        self.primary = primary
        self.button_classes = button_classes

    def compose(self) -> ComposeResult:
        for method in self.methods:
            yield Button(
                method.label,
                id=f"{self.prefix}-{method.value}",
                classes=self.button_classes,
                variant="primary" if method is self.primary else "default",
            )
        if self.cancel is not None:
            yield Button(self.cancel, id=f"{self.prefix}-cancel")

    def button(self, method: Method) -> Button:
        return self.query_one(f"#{self.prefix}-{method.value}", Button)

    def offer(self, methods: Iterable[Method]) -> Button | None:
        """Show the buttons of ``methods`` only; returns the first shown."""
        offered = set(methods)
        first: Button | None = None
        for method in self.methods:
            button = self.button(method)
            button.display = method in offered
            if button.display and first is None:
                first = button
        return first

    def relabel(self, labels: Mapping[Method, str], cancel: str | None = None) -> None:
        for method in self.methods:
            self.button(method).label = labels[method]
        if cancel is not None and self.cancel is not None:
            self.query_one(f"#{self.prefix}-cancel", Button).label = cancel

    def key(self, key: str) -> bool:
        method = METHOD_KEYS.get(key)
        if method in self.methods and self.button(method).display:
            self.post_message(self.Chosen(method))
            return True
        if key == "escape" and self.cancel is not None:
            self.post_message(self.Chosen(None))
            return True
        return False

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        event.stop()
        name = (event.button.id or "").removeprefix(f"{self.prefix}-")
        self.post_message(self.Chosen(None if name == "cancel" else Method(name)))


class ConsentChoice(Horizontal):
    """まとめて同意 (every record the question asks about), 個別に選ぶ (where the screen
    has the items one by one: :class:`ConsentItems`), 同意しない. Posts :class:`Chosen`,
    or :class:`OneByOne` for 個別に選ぶ."""

    class Chosen(Message):
        def __init__(self, consents: ConsentsGiven) -> None:
            super().__init__()
            self.consents = consents

    class OneByOne(Message):
        """個別に選ぶ: the parent shows the items one by one."""

    def __init__(self, *, prefix: str, id: str, each: bool = True) -> None:  # noqa: A002
        super().__init__(id=id)
        self.prefix = prefix
        self.each = each
        self.question: GiveConsents | None = None  # what まとめて同意 agrees to

    def compose(self) -> ComposeResult:
        yield Button("まとめて同意", id=f"{self.prefix}-bundle", variant="primary")
        if self.each:
            yield Button("個別に選ぶ", id=f"{self.prefix}-each")
        yield Button("同意しない", id=f"{self.prefix}-none")

    def relabel(self, bundle: str, each: str, none: str) -> None:
        self.query_one(f"#{self.prefix}-bundle", Button).label = bundle
        if self.each:
            self.query_one(f"#{self.prefix}-each", Button).label = each
        self.query_one(f"#{self.prefix}-none", Button).label = none

    def key(self, key: str) -> bool:
        """y: まとめて同意; n: 同意しない."""
        if key not in ("y", "n"):
            return False
        self._choose(agreed=key == "y")
        return True

    def _choose(self, *, agreed: bool) -> None:
        if self.question is not None:
            self.post_message(self.Chosen(self.question.bundle() if agreed else ConsentsGiven()))

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        event.stop()
        name = (event.button.id or "").removeprefix(f"{self.prefix}-")
        if name == "each":
            self.post_message(self.OneByOne())
        else:
            self._choose(agreed=name == "bundle")


class ConsentItems(Vertical):
    """Each consent item ticked on its own, 確定; in the pre-2024 flow also すべて同意する
    and 「限度額情報を提供しますか」 (class ``pre-2024``). Posts :class:`Chosen`.

    The boxes are :class:`TickBox` (☑ / ☐) and the 限度額 choice :class:`RadioChoice`
    (◉ / ◌): Textual's own draw both states alike (``▐X▌``, colour only), and a trainee
    shared the opposite of what they meant (issue 22 §4)."""

    class Chosen(Message):
        def __init__(self, consents: ConsentsGiven) -> None:
            super().__init__()
            self.consents = consents

    def compose(self) -> ComposeResult:
        for key, ja, _ in CONSENT_ITEMS:
            yield TickBox(ja, id=f"consent-{key}")
        yield Button("すべて同意する", id="consent-all", classes="pre-2024")
        yield Static("", id="limit-title", classes="pre-2024")
        with RadioSet(id="consent-limit", classes="pre-2024"):
            yield RadioChoice("提供する", id="limit-yes")
            yield RadioChoice("提供しない", value=True, id="limit-no")
        yield Button("確定", id="consent-ok", variant="primary")
        yield Static("", id="each-keys", classes="keys")

    def reset(self, *, pre_2024: bool) -> None:
        """Nothing ticked, 限度額 not provided; the pre-2024 parts shown or not."""
        self.tick_all(False)
        self.query_one("#limit-no", RadioChoice).value = True
        for widget in self.query(".pre-2024"):
            widget.display = pre_2024

    def tick_all(self, value: bool) -> None:
        for key, _, _ in CONSENT_ITEMS:
            self.query_one(f"#consent-{key}", TickBox).value = value

    def retext(self, t: Texts, language: str) -> None:
        self.query_one("#limit-title", Static).update(t("limit"))
        self.query_one("#consent-all", Button).label = t("all")
        self.query_one("#consent-ok", Button).label = t("ok")
        self.query_one("#each-keys", Static).update(t("each_keys"))
        self.query_one("#limit-yes", RadioChoice).label = t("limit_yes")
        self.query_one("#limit-no", RadioChoice).label = t("limit_no")
        for key, ja, en in CONSENT_ITEMS:
            self.query_one(f"#consent-{key}", TickBox).label = ja if language == "ja" else en

    def key(self, key: str) -> bool:
        """y / n: every item or none, confirmed (限度額 left as it is)."""
        if key not in ("y", "n"):
            return False
        self.tick_all(key == "y")
        self.query_one("#consent-ok", Button).press()
        return True

    @on(Button.Pressed, "#consent-all")
    def _all(self, event: Button.Pressed) -> None:
        event.stop()
        self.tick_all(True)

    @on(Button.Pressed, "#consent-ok")
    def _ok(self, event: Button.Pressed) -> None:
        event.stop()
        ticked = {
            key: self.query_one(f"#consent-{key}", TickBox).value for key, *_ in CONSENT_ITEMS
        }
        given = ConsentsGiven(
            medication=ticked["medication"],
            checkup=ticked["checkup"],
            operation=ticked["operation"],
            limit=self.query_one("#limit-yes", RadioChoice).value,
        )
        self.post_message(self.Chosen(given))


class PrescriptionChoice(Horizontal):
    """電子処方箋 (1) / 紙の処方箋 (2). Posts :class:`Chosen`."""

    class Chosen(Message):
        def __init__(self, prescription: Prescription) -> None:
            super().__init__()
            self.prescription = prescription

    def __init__(
        self,
        *,
        prefix: str,
        id: str,  # noqa: A002 (Textual's name)
        button_classes: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self.prefix = prefix
        self.button_classes = button_classes

    def compose(self) -> ComposeResult:
        for form in Prescription:
            yield Button(form.label, id=f"{self.prefix}-{form.value}", classes=self.button_classes)

    def relabel(self, labels: Mapping[Prescription, str]) -> None:
        for form in Prescription:
            self.query_one(f"#{self.prefix}-{form.value}", Button).label = labels[form]

    def key(self, key: str) -> bool:
        if key not in {form.value for form in Prescription}:
            return False
        self.post_message(self.Chosen(Prescription(key)))
        return True

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.post_message(self.Chosen(Prescription((event.button.id or "").split("-")[-1])))


class YesNoChoice(VerticalScroll):
    """A question answered yes (y) or no (n), one widget for every :class:`YesNoKind`:
    its texts are the kind's (``{kind}``, ``{kind}_sub``, ``{kind}_yes`` …). Posts
    :class:`Answered`."""

    class Answered(Message):
        def __init__(self, kind: YesNoKind, yes: bool) -> None:
            super().__init__()
            self.kind = kind
            self.yes = yes

    def __init__(self, kind: YesNoKind) -> None:
        super().__init__(id=f"view-{kind}")
        self.kind = kind

    def compose(self) -> ComposeResult:
        kind = self.kind
        yield Static("", id=f"{kind}-title", classes="big")
        yield Static("", id=f"{kind}-sub")
        with Horizontal(id=f"{kind}-choices"):
            yield Button("", id=f"{kind}-yes", variant="primary")
            yield Button("", id=f"{kind}-no")
        yield Static("", id=f"{kind}-keys")

    def retext(self, t: Texts) -> None:
        kind = self.kind
        self.query_one(f"#{kind}-title", Static).update(t(str(kind)))
        for part in ("sub", "keys"):
            self.query_one(f"#{kind}-{part}", Static).update(t(f"{kind}_{part}"))
        for answer in ("yes", "no"):
            self.query_one(f"#{kind}-{answer}", Button).label = t(f"{kind}_{answer}")

    def open(self) -> None:
        self.query_one(f"#{self.kind}-yes", Button).focus()

    def key(self, key: str) -> bool:
        if key not in ("y", "n"):
            return False
        self.post_message(self.Answered(self.kind, key == "y"))
        return True

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.post_message(self.Answered(self.kind, event.button.id == f"{self.kind}-yes"))


class FaceCapture(VerticalScroll):
    """The camera (simulated): 撮影する, or やめる; in demo mode the trainer picks what
    the camera sees (本人 / 別人 / 撮影不良) — back to 本人 for every patient
    (:meth:`reset`). Posts :class:`Shot`."""

    class Shot(Message):
        """A picture was taken (None: やめる, back to the choice of method)."""

        def __init__(self, scenario: FaceScenario | None) -> None:
            super().__init__()
            self.scenario = scenario

    def __init__(self, *, demo: bool) -> None:
        super().__init__(id="view-face")
        self.demo = demo

    def compose(self) -> ComposeResult:
        yield Static("", id="face-title", classes="big")
        yield Static("", id="face-message", classes="message")
        label = Static("", id="face-demo")
        scenarios = RadioSet(
            RadioChoice("本人", value=True, id="scenario-same"),
            RadioChoice("別人", id="scenario-other"),
            RadioChoice("撮影不良", id="scenario-poor"),
            id="face-scenario",
        )
        label.display = scenarios.display = self.demo
        yield label
        yield scenarios
        with Horizontal(id="face-buttons"):
            yield Button("撮影する", id="face-shoot", variant="primary")
            yield Button("やめる", id="face-back")

    def retext(self, t: Texts) -> None:
        self.query_one("#face-title", Static).update(t("face"))
        self.query_one("#face-demo", Static).update(t("face_demo"))
        self.query_one("#face-shoot", Button).label = t("face_shoot")
        self.query_one("#face-back", Button).label = t("cancel")
        for scenario in ("same", "other", "poor"):
            self.query_one(f"#scenario-{scenario}", RadioChoice).label = t(f"scenario_{scenario}")

    def reset(self) -> None:
        """本人 again: what the trainer chose for one patient never carries to the next."""
        self.query_one("#scenario-same", RadioChoice).value = True

    def open(self, message: str) -> None:
        self.query_one("#face-message", Static).update(message)
        self.query_one("#face-shoot", Button).focus()

    @on(Button.Pressed, "#face-back")
    def _back(self, event: Button.Pressed) -> None:
        event.stop()
        self.post_message(self.Shot(None))

    @on(Button.Pressed, "#face-shoot")
    def _shoot(self, event: Button.Pressed) -> None:
        event.stop()
        pressed = self.query_one("#face-scenario", RadioSet).pressed_button
        scenario = {
            "scenario-other": FaceScenario.OTHER,
            "scenario-poor": FaceScenario.POOR,
        }.get(pressed.id if pressed is not None and pressed.id else "", FaceScenario.SAME)
        self.post_message(self.Shot(scenario))
