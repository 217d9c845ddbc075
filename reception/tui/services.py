"""What the Textual app is given (style.md: inject, don't reach): settings, the store,
the OQS settings, the terminal, where cards come from, and — in demo mode — the demo's
controls (reception/sim builds them; the app knows them only by the :class:`Demo`
protocol, so the terminal against a real reader loads nothing of the simulator)."""

from __future__ import annotations

import asyncio
import dataclasses
from dataclasses import dataclass, field
from typing import Protocol

import httpx

from reader.transport import TracingTransport, bounded
from reception.cards import CardSource
from reception.checkin import (
    CheckinOutcome,
    CheckinRequest,
    Interaction,
    Terminal,
    check_in,
    open_card,
)
from reception.oqs_client import OqsClient
from reception.reader_models import ReaderModel
from reception.settings import OqsSettings, ReceptionSettings
from reception.store import Store


class Demo(Protocol):
    """What a trainer can do in demo mode (reception/sim/cards.py, DemoControls)."""

    personas: list[tuple[str, str]]  # (id, description)

    def place(self, persona: str) -> None: ...

    def remove(self) -> None: ...

    def is_phone(self, persona: str) -> bool:
        """Whether the persona's "card" is a smartphone (held to the phone reader)."""
        ...

    def place_phone(self, persona: str) -> None:
        """Hold a persona's smartphone to the phone reader."""
        ...

    def place_on_counter(self, persona: str) -> None:
        """Put a persona's card on the staff-held reader (居宅同意取得型)."""
        ...

    def remove_from_counter(self) -> None: ...

    def toggle_reader(self) -> bool:
        """Unplug (True) or plug back (False) the reader; NotImplementedError if it can't."""
        ...

    def faults(self, *args: str) -> str:
        """Change the service's faults (``mock-oqs faults`` arguments)."""
        ...


@dataclass
class Services:
    settings: ReceptionSettings
    store: Store
    oqs: OqsSettings
    terminal: Terminal
    cards: CardSource
    demo: Demo | None = None
    counter: CardSource | None = None  # the staff-held reader (居宅同意取得型), if any
    phones: CardSource | None = None  # a second reader for smartphones, if the clinic has one
    oqs_transport: httpx.AsyncBaseTransport | None = None  # tests: the service in process
    _tracer: TracingTransport | None = field(default=None, repr=False)

    async def check_in(
        self,
        source: CardSource,
        client: OqsClient,
        request: CheckinRequest,
        interaction: Interaction,
    ) -> CheckinOutcome:
        """One check-in with the card in ``source`` and this terminal's store, certificates
        and settings (the face match, the counter's rules, the link's face/ folder).

        The check-in owns its connection to the card: opened off the event loop (a PC/SC
        connect waits while another program holds the card), its APDUs recorded for the
        developer view (VERIFY redacted), and closed at the end whatever happened — a
        connection left open holds a PC/SC handle and keeps every exclusive connection
        (``myna-reader``'s default) off the reader."""
        settings = self.settings
        if request.expected is None and source.expected is not None:
            # the simulator placed a persona's card: the check-in makes sure it is that one
            request = dataclasses.replace(request, expected=source.expected)
        # a card that does not let itself be connected in time (it went silent in the
        # middle of an exchange and still holds the reader) ends the check-in as a card
        # fault, recorded: the connect returns within the deadline (PcscTransport)
        tracer = await asyncio.to_thread(lambda: TracingTransport(open_card(source.transport)))
        self._tracer = tracer
        # the check-in's channel runs on this one (bounded: as is), and so does the close
        # below: behind a call the card did not answer in time, after the reset queued
        # for a card whose PIN was verified (DeadlineTransport)
        transport = bounded(tracer, settings.reader.answer_timeout)
        try:
            return await check_in(
                transport,
                client,
                self.store,
                self.terminal,
                request,
                face=settings.face,
                face_folder=settings.link.face_folder,
                face_privacy=settings.link.privacy,
                interaction=interaction,
                rules=settings.counter_rules(),
                deadline=settings.reader.answer_timeout,
            )
        finally:
            await asyncio.to_thread(transport.close)  # never waits for a silent card

    def source(self, medium: str) -> CardSource:
        """Where a check-in's card is: the phone reader for ``phone`` (when the clinic has
        one and its reader does not read phones itself), else the card reader."""
        if medium == "phone" and self.phones is not None and self.phones_apart:
            return self.phones
        return self.cards

    @property
    def phones_apart(self) -> bool:
        """Smartphones go to a reader of their own: there is one, and the clinic's reader
        does not read them itself (reception/reader_models.py)."""
        return self.phones is not None and not self.settings.reader.model.reads_phones

    def set_reader_model(self, model: ReaderModel) -> None:
        """The demo's switch: the next check-in runs with ``model`` (its rules and
        questions); one under way keeps the one it began with."""
        reader = self.settings.reader.model_copy(update={"model": model})
        self.settings = self.settings.model_copy(update={"reader": reader})

    def last_trace(self) -> list[str]:
        if self._tracer is None:
            return []
        return [f"> {e.command}\n< {e.response}" for e in self._tracer.exchanges]
