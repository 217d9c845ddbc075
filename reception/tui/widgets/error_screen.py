"""The reader's numbered error screen on the panel (reception/error_screens.py): the
number in 【】 and its title, the patient's words, 「受付窓口にご連絡ください」 and 「閉じる」.

It sits on the panel's last screen (the done view) of a check-in that ended with a screen
(:attr:`reception.checkin.CheckinOutcome.screen`), and stays until the patient closes it
(「閉じる」, clicked or Enter: :class:`ErrorScreenBox.Closed`) or the card leaves the reader.
Staff read the same number, with what to do, in the reception's detail.
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Button, Static

from reception.error_screens import CONTACT_DESK_EN, CONTACT_DESK_JA, ErrorScreen
from reception.tui.text import safe

CLOSE = {"ja": "閉じる", "en": "Close"}
CONTACT = {"ja": CONTACT_DESK_JA, "en": CONTACT_DESK_EN}


class ErrorScreenBox(Vertical):
    """The numbered screen, hidden when the last screen has none."""

    DEFAULT_CSS = """
    ErrorScreenBox {
        height: auto;
        border: heavy $error;
        padding: 0 1;
        margin: 0 0 1 0;
        display: none;
    }
    ErrorScreenBox #error-heading { text-style: bold; color: $error; }
    ErrorScreenBox #error-contact { text-style: bold; }
    ErrorScreenBox #error-close { margin: 1 0 0 0; }
    """

    class Closed(Message):
        """The patient closed the screen (「閉じる」)."""

    def __init__(self) -> None:
        super().__init__(id="error-screen")
        self.shown: ErrorScreen | None = None

    def compose(self) -> ComposeResult:
        yield Static("", id="error-heading")
        yield Static("", id="error-patient")
        yield Static("", id="error-contact")
        yield Button("", id="error-close", variant="error")

    def show_screen(self, screen: ErrorScreen | None, language: str) -> None:
        """Show ``screen`` in ``language`` (None: hide the box)."""
        self.shown = screen
        self.display = screen is not None
        if screen is None:
            return
        language = language if language in CLOSE else "ja"
        self.query_one("#error-heading", Static).update(safe(screen.heading(language)))
        self.query_one("#error-patient", Static).update(safe(screen.patient(language)))
        self.query_one("#error-contact", Static).update(safe(CONTACT[language]))
        self.query_one("#error-close", Button).label = CLOSE[language]

    def focus_close(self) -> None:
        if self.shown is not None:
            # it stands first on the screen: no scrolling (the patient reads from the top)
            self.query_one("#error-close", Button).focus(scroll_visible=False)

    @on(Button.Pressed, "#error-close")
    def _close(self, event: Button.Pressed) -> None:
        event.stop()
        self.post_message(self.Closed())
