"""The PIN, as the patient gives it: on the reader panel's pad (:class:`PinPad`), or
typed into a masked field at the staff-held reader (:class:`PinField`). Either posts the
four digits once, never keeps them on screen, and sends nothing shorter: a malformed PIN
never reaches the card (no try spent). The messages carry the PIN only as far as the
check-in's question; nothing logs them (a Textual message shows no attributes)."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.widgets import Button, Input, Static

from reception.tui.widgets.questions import Texts

PIN_LENGTH = 4


def well_formed(digits: str) -> bool:
    """Four ASCII digits (a full-width ４ is a digit to Python, not to the card)."""
    return len(digits) == PIN_LENGTH and digits.isascii() and digits.isdigit()


class PinPad(VerticalScroll):
    """The reader panel's PIN screen: masked dots, the tries left shown before every
    attempt (design.md §6.4), digit buttons or keys, 訂正 / 確定 / 戻る. Posts
    :class:`Entered` with four digits, or :class:`Left` (back to the choice of method)."""

    class Entered(Message):
        def __init__(self, pin: str) -> None:
            super().__init__()
            self.pin = pin

    class Left(Message):
        """戻る: not this way."""

    def __init__(self) -> None:
        super().__init__(id="view-pin")
        self.digits = ""
        self.tries_left: int | None = None
        self._t: Texts | None = None

    def compose(self) -> ComposeResult:
        yield Static("", id="pin-title", classes="big")
        yield Static("", id="pin-dots", classes="huge")
        yield Static("", id="pin-tries")
        yield Static("", id="pin-message", classes="message")
        with Horizontal(id="pin-pad"):
            for digit in "1234567890":
                yield Button(digit, id=f"pin-{digit}", classes="digit")
        with Horizontal(id="pin-actions"):
            yield Button("訂正", id="pin-clear")
            yield Button("確定", id="pin-ok", variant="primary")
            yield Button("戻る", id="pin-back")
        yield Static("", id="pin-keys")

    def retext(self, t: Texts) -> None:
        self._t = t
        self.query_one("#pin-title", Static).update(t("pin"))
        self.query_one("#pin-keys", Static).update(t("pin_keys"))
        self.query_one("#pin-ok", Button).label = t("ok")
        self.query_one("#pin-clear", Button).label = t("clear")
        self.query_one("#pin-back", Button).label = t("back")
        self._tries()

    def open(self, tries_left: int, message: str) -> None:
        """A new attempt: nothing typed, the tries left and the flow's message shown."""
        self.digits = ""
        self.tries_left = tries_left
        self._dots()
        self._tries()
        self.query_one("#pin-message", Static).update(message)
        self.query_one("#pin-ok", Button).focus()

    def key(self, key: str) -> bool:
        """Digits, Backspace and Enter (the keyboard's or the buttons')."""
        if key.isdigit() and len(key) == 1:
            if len(self.digits) < PIN_LENGTH:
                self.digits += key
        elif key == "backspace":
            self.digits = self.digits[:-1]
        elif key == "enter":
            if len(self.digits) != PIN_LENGTH:
                short = self._t("pin_short") if self._t is not None else "4桁を入力してください"
                self.query_one("#pin-message", Static).update(short)
                return True
            digits, self.digits = self.digits, ""
            self._dots()
            self.post_message(self.Entered(digits))
            return True
        else:
            return False
        self._dots()
        return True

    def _dots(self) -> None:
        dots = "●" * len(self.digits) + "○" * (PIN_LENGTH - len(self.digits))
        self.query_one("#pin-dots", Static).update(" ".join(dots))

    def _tries(self) -> None:
        if self.tries_left is not None and self._t is not None:
            self.query_one("#pin-tries", Static).update(self._t("tries", n=self.tries_left))

    @on(Button.Pressed, "#pin-pad Button")
    def _digit(self, event: Button.Pressed) -> None:
        event.stop()
        self.key((event.button.id or "").removeprefix("pin-"))

    @on(Button.Pressed, "#pin-clear")
    def _clear(self, event: Button.Pressed) -> None:
        event.stop()
        self.digits = ""
        self._dots()

    @on(Button.Pressed, "#pin-ok")
    def _ok(self, event: Button.Pressed) -> None:
        event.stop()
        self.key("enter")

    @on(Button.Pressed, "#pin-back")
    def _back(self, event: Button.Pressed) -> None:
        event.stop()
        self.post_message(self.Left())


class PinField(Horizontal):
    """A masked field and 確定, for the staff-held reader: the patient types the PIN.
    Posts :class:`Entered` with four digits, or :class:`Malformed` (the field is emptied
    either way: never kept on screen)."""

    class Entered(Message):
        def __init__(self, pin: str) -> None:
            super().__init__()
            self.pin = pin

    class Malformed(Message):
        """Not four digits: nothing was sent to the card."""

    def __init__(self, *, prefix: str, id: str) -> None:  # noqa: A002 (Textual's name)
        super().__init__(id=id)
        self.prefix = prefix

    def compose(self) -> ComposeResult:
        yield Input(placeholder="暗証番号（4桁）", password=True, id=f"{self.prefix}-input")
        yield Button("確定", id=f"{self.prefix}-ok", variant="primary")

    def open(self) -> None:
        """Focus the field once it shows."""
        self.call_after_refresh(self.query_one(f"#{self.prefix}-input", Input).focus)

    def submit(self) -> None:
        field = self.query_one(f"#{self.prefix}-input", Input)
        digits, field.value = field.value, ""  # never kept on screen
        self.post_message(self.Entered(digits) if well_formed(digits) else self.Malformed())

    @on(Button.Pressed)
    def _ok(self, event: Button.Pressed) -> None:
        event.stop()
        self.submit()

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.submit()
