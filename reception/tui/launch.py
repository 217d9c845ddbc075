"""Starting the TUI against the configured reader and service (the demo: reception/sim)."""

from __future__ import annotations

from reception.cards import PcscCards
from reception.checkin import Terminal, TerminalError
from reception.settings import ReceptionSettings
from reception.store import Store
from reception.tui.app import make_app
from reception.tui.services import Services


def run_terminal(settings: ReceptionSettings) -> int:
    """The TUI against the configured reader and service."""
    oqs = settings.oqs
    if oqs.url is None or oqs.client_cert is None or oqs.client_key is None:
        raise TerminalError(
            "no service configured: set oqs.url, oqs.client_cert and oqs.client_key in "
            "reception.toml (or RECEPTION_OQS__*), or run `reception demo`"
        )
    terminal = Terminal.load(oqs.client_cert, oqs.client_key, settings.face.terminal_certificate)
    deadline = settings.reader.answer_timeout
    services = Services(
        settings=settings,
        store=Store(settings.store_path),
        oqs=oqs,
        terminal=terminal,
        cards=PcscCards(settings.reader.name, deadline),
        counter=PcscCards(counter, deadline) if (counter := settings.reader.counter_name) else None,
        # a next-generation reader reads phones itself: phone_name is not used (the desk
        # says so at start, ReaderSettings.notes)
        phones=PcscCards(phone, deadline)
        if (phone := settings.reader.phone_name) and not settings.reader.model.reads_phones
        else None,
    )
    make_app(services).run()
    return 0
