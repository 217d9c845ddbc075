"""What the Textual app is given (style.md: inject, don't reach): settings, the store,
the OQS settings, the terminal, where cards come from, and — in demo mode — the demo's
controls. :func:`demo_services` builds them for a seeded world."""

from __future__ import annotations

import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import httpx

from reader.errors import ReaderError, ReaderUnavailable
from reader.pcsc import PcscTransport, list_readers, wait_for_card
from reader.transport import TracingTransport, Transport, TransportDecorator
from reader.virtual.card import VirtualCard
from reader.virtual.loopback import LoopbackTransport
from reader.virtual.profile import load_profile
from reception.checkin import Terminal
from reception.settings import OqsSettings, ReceptionSettings
from reception.store import Store
from reception.world import WorldFiles


class CardSource(Protocol):
    """Where the card comes from: ``transport()`` once one is present."""

    description: str

    def present(self) -> bool: ...

    def transport(self) -> Transport: ...


class UnpluggableReader(TransportDecorator):
    """A loopback reader that can be unplugged: every command then fails as with a lost
    USB reader (ReaderUnavailable)."""

    def __init__(self, inner: LoopbackTransport) -> None:
        super().__init__(inner)
        self.loopback = inner
        self.unplugged = False

    def transmit(self, command: bytes) -> bytes:
        if self.unplugged:
            raise ReaderUnavailable("the card reader was unplugged")
        return self.inner.transmit(command)

    def remove_card(self) -> None:
        self.loopback.remove_card()


class LoopbackCards:
    """Virtual cards in process: the demo places and removes a persona's card."""

    description = "仮想カード（プロセス内ループバック）"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._transport: UnpluggableReader | None = None
        self.persona: str | None = None
        self.unplugged = False

    def toggle_reader(self) -> bool:
        self.unplugged = not self.unplugged
        if self._transport is not None:
            self._transport.unplugged = self.unplugged
        return self.unplugged

    def place(self, persona: str, profile: Path) -> None:
        with self._lock:
            card = VirtualCard(load_profile(profile), path=profile)
            self._transport = UnpluggableReader(LoopbackTransport(card))
            self._transport.unplugged = self.unplugged
            self.persona = persona

    def remove(self) -> None:
        with self._lock:
            if self._transport is not None:
                self._transport.remove_card()  # a command in flight fails: CardRemoved
            self._transport = None
            self.persona = None

    def present(self) -> bool:
        return self._transport is not None

    def transport(self) -> Transport:
        with self._lock:
            if self._transport is None:
                from reader.errors import NoCard

                raise NoCard("no card on the reader")
            return self._transport


class PcscCards:
    """A PC/SC reader (a USB reader, or vpcd's virtual one)."""

    def __init__(self, reader: str | None) -> None:
        self.reader = reader
        self.description = f"PC/SC: {reader or '最初のリーダー'}"

    def present(self) -> bool:
        try:
            statuses = list_readers()
        except ReaderError:
            return False
        for status in statuses:
            if self.reader is None or status.name == self.reader:
                return status.card_present
        return False

    def transport(self) -> Transport:
        return PcscTransport(self.reader)


class VpcdCards(PcscCards):
    """Demo through pcscd: a persona's card is served into a vpcd slot by `vcard serve`."""

    def __init__(self, slot: int = 0) -> None:
        super().__init__(f"Virtual PCD 00 {slot:02d}")
        self.port = 35963 + slot
        self.description = f"pcscd + vsmartcard-vpcd（{self.reader}）"
        self._proc: subprocess.Popen[bytes] | None = None
        self.persona: str | None = None

    def place(self, persona: str, profile: Path) -> None:
        self.remove()
        vcard = Path(sys.executable).parent / "vcard"
        self._proc = subprocess.Popen(
            [str(vcard), "serve", "--profile", str(profile), "--port", str(self.port), "--quiet"]
        )
        self.persona = persona
        assert self.reader is not None
        wait_for_card(self.reader, True, seconds=10)

    def remove(self) -> None:
        if self._proc is not None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
            self._proc = None
            assert self.reader is not None
            wait_for_card(self.reader, False, seconds=5)
        self.persona = None


@dataclass
class DemoControls:
    """What a trainer can do in demo mode: place/remove cards, break the service."""

    world: WorldFiles
    cards: LoopbackCards | VpcdCards
    personas: list[tuple[str, str]] = field(default_factory=list)  # (id, description)

    def place(self, persona: str) -> None:
        self.cards.place(persona, self.world.card(persona))

    def remove(self) -> None:
        self.cards.remove()

    def toggle_reader(self) -> bool:
        """Unplug (True) or plug back (False) the virtual reader."""
        if isinstance(self.cards, VpcdCards):
            raise NotImplementedError(
                "pcscd の仮想リーダーは外せません（`reception demo --loopback` で試せます）"
            )
        return self.cards.toggle_reader()

    def faults(self, *args: str) -> str:
        """Change the service's faults through `mock-oqs faults` (a program, not an import)."""
        mock_oqs = Path(sys.executable).parent / "mock-oqs"
        proc = subprocess.run(
            [str(mock_oqs), "faults", "--world", str(self.world.directory), *args],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if proc.returncode != 0:
            raise RuntimeError(proc.stderr.strip() or f"mock-oqs faults exited {proc.returncode}")
        return proc.stdout


@dataclass
class Services:
    settings: ReceptionSettings
    store: Store
    oqs: OqsSettings
    terminal: Terminal
    cards: CardSource
    demo: DemoControls | None = None
    oqs_transport: httpx.AsyncBaseTransport | None = None  # tests: the service in process
    _tracer: TracingTransport | None = field(default=None, repr=False)

    def traced(self) -> TracingTransport:
        """The card's transport, recording the APDUs (VERIFY redacted) of this check-in."""
        self._tracer = TracingTransport(self.cards.transport())
        return self._tracer

    def last_trace(self) -> list[str]:
        if self._tracer is None:
            return []
        return [f"> {e.command}\n< {e.response}" for e in self._tracer.exchanges]


def demo_services(
    world: WorldFiles, url: str, settings: ReceptionSettings, *, pcsc_slot: int | None
) -> Services:
    cards: LoopbackCards | VpcdCards = (
        VpcdCards(pcsc_slot) if pcsc_slot is not None else LoopbackCards()
    )
    demo = DemoControls(
        world, cards,
        [(str(p["id"]), str(p.get("description", ""))) for p in world.index["personas"]],
    )  # fmt: skip
    d = world.terminal_dir
    return Services(
        settings=settings,
        store=Store(settings.store_path),
        oqs=world.oqs_settings(settings.oqs, url),
        terminal=Terminal.load(d / "cert.pem", d / "key.pem", d / "face-auth.cvc"),
        cards=cards,
        demo=demo,
    )
