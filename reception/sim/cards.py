"""Persona cards for the simulator: a virtual card put into vpcd's reader (through
pcscd, as any PC/SC program sees it) or into a loopback reader in process, the
unpluggable reader, and the demo's controls for trainers."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from reader.errors import NoCard, ReaderUnavailable
from reader.pcsc import PcscTransport
from reader.transport import Transport, TransportDecorator
from reader.virtual.card import Honeypot, VirtualCard
from reader.virtual.loopback import LoopbackTransport
from reader.virtual.other_cards import OtherCard, OtherCardError, is_other_card, load_other_card
from reader.virtual.profile import ProfileError, load_profile
from reader.virtual.vpcd import card_in_slot, vpcd_port, vpcd_reader
from reception.cards import PcscCards
from reception.checkin import ExpectedCard
from reception.sim.world import WorldError, WorldFiles, change_faults


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


def virtual_card(profile: Path) -> VirtualCard | OtherCard:
    """The card of a profile file (its PIN counter written back) or of an other-card file
    (a transit card …: reader/virtual/other_cards.py), WorldError if unusable."""
    try:
        if is_other_card(profile):
            return load_other_card(profile)
        return VirtualCard(load_profile(profile), path=profile, honeypot=Honeypot())
    except (ProfileError, OtherCardError) as exc:
        raise WorldError(str(exc)) from None


class LoopbackCards:
    """Virtual cards in process: the demo places and removes a persona's card."""

    description = "仮想カード（プロセス内ループバック）"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._transport: UnpluggableReader | None = None
        self.persona: str | None = None
        self.expected: ExpectedCard | None = None
        self.unplugged = False

    def toggle_reader(self) -> bool:
        self.unplugged = not self.unplugged
        if self._transport is not None:
            self._transport.unplugged = self.unplugged
        return self.unplugged

    def place(self, persona: str, profile: Path, expected: ExpectedCard | None = None) -> None:
        """Put the card of ``profile`` on the reader, as ``persona``'s; ``expected``: the
        card the check-in must find (the persona's, from the world)."""
        with self._lock:
            self._transport = UnpluggableReader(LoopbackTransport(virtual_card(profile)))
            self._transport.unplugged = self.unplugged
            self.persona = persona
            self.expected = expected

    def remove(self) -> None:
        with self._lock:
            if self._transport is not None:
                self._transport.remove_card()  # a command in flight fails: CardRemoved
            self._transport = None
            self.persona = None
            self.expected = None

    def present(self) -> bool:
        return self._transport is not None

    def transport(self) -> Transport:
        with self._lock:
            if self._transport is None:
                raise NoCard("no card on the reader")
            return self._transport


class VpcdCards(PcscCards):
    """Demo through pcscd: a persona's card is served into a vpcd slot."""

    def __init__(self, slot: int = 0) -> None:
        super().__init__(vpcd_reader(slot))
        self.slot = slot
        self.description = f"pcscd + vsmartcard-vpcd（{self.reader}）"
        self._served = contextlib.ExitStack()
        self.persona: str | None = None

    def place(self, persona: str, profile: Path, expected: ExpectedCard | None = None) -> None:
        """Serve the card of ``profile`` into the slot, as ``persona``'s: SlotTaken (and
        nothing served) when the slot already holds a card — ``vcard serve`` left from
        earlier work, another program's; ``expected``: the card the check-in must find."""
        self.remove()
        self._served.enter_context(card_in_slot(profile, self.slot))
        self.persona = persona
        self.expected = expected

    def remove(self) -> None:
        self._served.close()
        self.persona = None
        self.expected = None


@dataclass
class DemoControls:
    """What a trainer can do in demo mode: place/remove cards, break the service."""

    world: WorldFiles
    cards: LoopbackCards | VpcdCards
    personas: list[tuple[str, str]] = field(default_factory=list)  # (id, description)
    counter: LoopbackCards | VpcdCards | None = None  # the staff-held reader (居宅同意取得型)
    phones: LoopbackCards | VpcdCards | None = None  # the clinic's NFC reader for phones
    # a desk of a training room: its faults are its own clinic's (a service shared by
    # many clinics), never every desk's
    facility: str | None = None

    def expected(self, persona: str) -> ExpectedCard | None:
        """The persona's card as the world has it: the check-in must find that one (an
        other card — a transit card … — has no certificate to expect)."""
        if self.world.other_card(persona) is not None:
            return None
        return ExpectedCard(self.world.certificate_sha256(persona), persona)

    def place(self, persona: str) -> None:
        self.cards.place(persona, self.world.card(persona), self.expected(persona))

    def is_phone(self, persona: str) -> bool:
        if self.world.other_card(persona) is not None:
            return False
        return str(self.world.persona(persona).get("variant")) in ("android", "iphone")

    def place_phone(self, persona: str) -> None:
        (self.phones or self.cards).place(persona, self.world.card(persona), self.expected(persona))

    def remove(self) -> None:
        self.cards.remove()
        if self.phones is not None:
            self.phones.remove()
        self.remove_from_counter()

    def place_on_counter(self, persona: str) -> None:
        if self.counter is None:
            raise NotImplementedError("職員の読み取り機がありません")
        self.counter.place(persona, self.world.card(persona), self.expected(persona))

    def remove_from_counter(self) -> None:
        if self.counter is not None:
            self.counter.remove()

    def toggle_reader(self) -> bool:
        """Unplug (True) or plug back (False) the virtual reader."""
        if isinstance(self.cards, VpcdCards):
            raise NotImplementedError(
                "pcscd の仮想リーダーは外せません（`reception demo --loopback` で試せます）"
            )
        return self.cards.toggle_reader()

    def faults(self, *args: str) -> str:
        """Change the service's faults through `mock-oqs faults`: this clinic's alone when
        it is one desk of a room (``facility``)."""
        return change_faults(self.world.directory, *args, facility=self.facility)


@contextlib.contextmanager
def persona_transport(
    card_path: Path, *, loopback: bool, slot: int, wait: float = 10.0
) -> Iterator[Transport]:
    """A persona's card on a reader for one headless check-in: in process (``loopback``)
    or served into vpcd ``slot`` and reached through pcscd like any card."""
    if loopback:
        yield LoopbackTransport(virtual_card(card_path))
        return
    vpcd_port(slot)  # a bad slot fails before anything starts
    with card_in_slot(card_path, slot, seconds=max(wait, 10.0)) as reader:
        transport = PcscTransport(reader)
        try:
            yield transport
        finally:
            transport.close()
