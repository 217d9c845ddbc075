"""Benchmark of the Textual terminal: time to a usable screen, and the longest
event-loop stall during a check-in (target: under 50 ms).

A world is seeded and served by `mock-oqs serve` (its own process, as in the demo); the
app runs headless (Textual's test driver) with the persona's card over loopback and is
driven like a patient would: card, 暗証番号, PIN, consents. A watchdog task on the app's
event loop sleeps 2 ms at a time and records how late it wakes: the longest delay is the
longest stall the screen saw.

Then a busy day: 3,000 receptions in the store (copies of a real result under many
names) when the terminal starts. The same watchdog measures the longest stall (a) while
one more check-in completes and appears in the list, and (b) while staff type three
characters into the list's filter, until the list shows what they match. A run's
figures share its machine's load: the check-in with an empty list is the floor (mostly
Textual repainting the screen) that the busy day's are to be read against.

With ``--busy`` a CPU-bound process occupies a core for the whole run (a clinic PC does
other work too): the stall target holds then as well.

Then a card seen arriving (needs pcscd with vsmartcard-vpcd; said and skipped without):
the terminal as deployed — no demo, its card reader vpcd's slot 0 — and a persona's card
served into the slot in process, as a patient places it, ``--rounds`` times. Printed:
the time from pcscd taking the card (vpcd's first word to it; vpcd's driver has no
card-event thread of its own — vsmartcard's ifd-vpcd.c answers ``IFDHICCPresence`` when
asked — so pcscd asks every 0.4 s, ``PCSCLITE_STATUS_POLL_RATE`` in pcsc-lite: from
serving to that moment is pcscd's part, shown apart) to the card's first command
APDU — the terminal's part, target ≤ 50 ms — and the PC/SC calls the idle terminal
makes in ``--idle`` seconds, counted by wrapping every ``SCard…`` function of pyscard's
``smartcard.scard``, per minute. It uses nothing but what the terminal had before
(issue 21 §3), so it runs as well against an older checkout (``PYTHONPATH=<checkout>
.venv/bin/python scripts/bench_tui.py``) to compare.

Run: scripts/bench-tui [--rounds 5] [--busy] [--idle 60] [--presence-only]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import random
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from textual.pilot import Pilot
from textual.widgets import DataTable, Input

from reader.children import spawn
from reader.virtual.card import VirtualCard
from reader.virtual.profile import load_profile
from reader.virtual.vpcd import VpcdCardServer, vpcd_port, vpcd_reader
from reception.cards import PcscCards
from reception.present import reception_row
from reception.results import QualificationResult
from reception.settings import ReceptionSettings
from reception.sim.demo import demo_services
from reception.sim.world import WorldFiles, served
from reception.store import Store, now_jst
from reception.tui.app import ReceptionApp, make_app
from reception.vocabulary import Method

PERSONA = "adult-kyokai"
CROWD = 3000  # receptions in the store when the terminal starts
NEEDLE = "田中花"  # typed into the filter a character at a time


class Watchdog:
    """A task on the app's loop that sleeps 2 ms at a time: how late it wakes is how
    long the loop could not run anything else."""

    def __init__(self) -> None:
        self.worst = 0.0
        self._running = False
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.worst, self._running = 0.0, True
        self._task = asyncio.create_task(self._watch())

    async def _watch(self) -> None:
        while self._running:
            before = time.perf_counter()
            await asyncio.sleep(0.002)
            self.worst = max(self.worst, time.perf_counter() - before - 0.002)

    async def stop(self) -> float:
        self._running = False
        if self._task is not None:
            await self._task
        return self.worst


async def check_in(pilot: Pilot[None], app: ReceptionApp, pin: str) -> None:
    """Card, 暗証番号, PIN, consents: until the reader panel says done."""

    async def until(view: str) -> None:
        while app.panel.view != view:
            await asyncio.sleep(0.01)

    app.place_card(PERSONA)
    await until("method")
    await pilot.press("2")
    await until("pin")
    for digit in pin:
        await pilot.press(digit)
    await pilot.press("enter")
    await until("consents")
    await pilot.press("y")
    await until("done")


async def until(check: Callable[[], bool]) -> None:
    while not check():
        await asyncio.sleep(0.01)


async def one_round(files: WorldFiles, url: str, data: Path, pin: str) -> tuple[float, float]:
    settings = ReceptionSettings(data_dir=data)
    started = time.perf_counter()
    app = make_app(demo_services(files, url, settings, pcsc_slot=None))
    async with app.run_test(size=(140, 44)) as pilot:
        while not app.panel.warmed:
            await pilot.pause()
        ready = time.perf_counter() - started
        dog = Watchdog()
        dog.start()
        await check_in(pilot, app, pin)
        worst = await dog.stop()
        app.remove_card()
        await pilot.pause()
    return ready, worst


def seed_crowd(store_path: Path, template: QualificationResult, count: int) -> None:
    """``count`` confirmed receptions of today, each with a copy of a real result under
    one of many names (the world's family and given names)."""
    from mock_oqs.world import FAMILY_NAMES, GIVEN_NAMES

    names = [f"{f} {g}" for f, _ in FAMILY_NAMES for g, _, _ in GIVEN_NAMES]
    entry, body = template.entries[0], template.message_body
    store = Store(store_path)
    for i in range(count):
        named = entry.model_copy(update={"name": names[i % len(names)]})
        listed = body.result_list.model_copy(
            update={"result_of_qualification_confirmation": [named]}
        )
        result = template.model_copy(
            update={"message_body": body.model_copy(update={"result_list": listed})}
        )
        rid = store.begin_reception()
        store.finish_reception(rid, status="confirmed", method=Method.PIN, result=result)
    store.close()


@dataclass
class CrowdFigures:
    ready: float  # launch → reader panel usable
    listed: float  # launch → the whole list shown
    checkin_stall: float  # (a)
    filter_stall: float  # (b)
    filter_shown: float  # first keystroke → the list shows what the three match


def kept_by_filter(store_path: Path, needle: str) -> int:
    """How many of today's receptions the filter keeps (as the list words them)."""
    store = Store(store_path)
    try:
        rows = (reception_row(store, r) for r in store.receptions_on(now_jst().date()))
        return sum(1 for row in rows if any(needle in cell for cell in row))
    finally:
        store.close()


async def crowded_round(files: WorldFiles, url: str, data: Path, pin: str) -> CrowdFigures:
    settings = ReceptionSettings(data_dir=data)
    started = time.perf_counter()
    app = make_app(demo_services(files, url, settings, pcsc_slot=None))
    async with app.run_test(size=(140, 44)) as pilot:
        table = app.query_one("#receptions", DataTable)
        while not app.panel.warmed:
            await pilot.pause()
        ready = time.perf_counter() - started
        await until(lambda: table.row_count == CROWD)
        listed = time.perf_counter() - started

        def last_status() -> str:
            return str(table.get_row_at(table.row_count - 1)[3])

        dog = Watchdog()
        dog.start()
        await check_in(pilot, app, pin)
        await until(lambda: table.row_count == CROWD + 1 and last_status() == "確認済")
        checkin_stall = await dog.stop()
        app.remove_card()
        await pilot.pause()

        expected = kept_by_filter(settings.store_path, NEEDLE)
        app.query_one("#filter", Input).focus()
        await pilot.pause()
        dog.start()
        typed = time.perf_counter()
        for character in NEEDLE:
            await pilot.press(character)
        await until(lambda: table.row_count == expected)
        filter_shown = time.perf_counter() - typed
        filter_stall = await dog.stop()
    return CrowdFigures(ready, listed, checkin_stall, filter_stall, filter_shown)


class PcscCalls:
    """Every PC/SC call of this process, counted: each ``SCard…`` function of pyscard's
    ``smartcard.scard`` wrapped (reader/pcsc.py looks them up there at each call)."""

    def __init__(self) -> None:
        from smartcard import scard

        self.count = 0
        self._lock = threading.Lock()
        for name in dir(scard):
            real = getattr(scard, name)
            if name.startswith("SCard") and callable(real):
                setattr(scard, name, self._counted(real))

    def _counted(self, real: Callable[..., Any]) -> Callable[..., Any]:
        def counted(*args: Any) -> Any:
            with self._lock:
                self.count += 1
            return real(*args)

        return counted


class TimedCard:
    """A persona's card that notes when pcscd takes it and when its first APDU comes."""

    def __init__(self, card: VirtualCard) -> None:
        self.card = card
        self.taken: float | None = None
        self.first_apdu: float | None = None

    @property
    def atr(self) -> bytes:
        return self.card.atr

    def power_on(self) -> None:
        self.card.power_on()

    def power_off(self) -> None:
        self.card.power_off()

    def reset(self) -> None:
        self.card.reset()

    def process(self, apdu: bytes) -> bytes:
        if self.first_apdu is None:
            self.first_apdu = time.perf_counter()
        return self.card.process(apdu)

    def on_taken(self, taken: bool) -> None:
        if taken and self.taken is None:
            self.taken = time.perf_counter()


@dataclass
class PresenceFigures:
    to_taken: list[float]  # serving the card → pcscd takes it (pcscd's poll of vpcd)
    to_apdu: list[float]  # pcscd takes it → its first command APDU (the terminal's part)
    idle_calls: int
    idle_seconds: float


def pcscd_with_vpcd(slot: int) -> str | None:
    """None when pcscd answers and lists vpcd's reader, else why not."""
    from reader.errors import ReaderError
    from reader.pcsc import PcscContext

    try:
        with PcscContext() as ctx:
            names = ctx.readers()
    except ReaderError as exc:
        return str(exc)
    return None if vpcd_reader(slot) in names else f"no {vpcd_reader(slot)!r} in {names}"


async def presence_rounds(
    files: WorldFiles, url: str, data: Path, rounds: int, idle: float, slot: int = 0
) -> PresenceFigures:
    calls = PcscCalls()
    settings = ReceptionSettings(data_dir=data)
    demo = demo_services(files, url, settings, pcsc_slot=None)
    services = dataclasses.replace(  # as deployed: no demo, vpcd's slot the card reader
        demo, cards=PcscCards(vpcd_reader(slot)), demo=None, counter=None, phones=None
    )
    app = make_app(services)
    figures = PresenceFigures([], [], 0, idle)
    async with app.run_test(size=(140, 44)) as pilot:
        while not app.panel.warmed:
            await pilot.pause()
        await asyncio.sleep(1.0)  # start-up done: what follows is the idle terminal
        before = calls.count
        await asyncio.sleep(idle)
        figures.idle_calls = calls.count - before
        phase = random.Random(21)
        for _ in range(rounds):
            # cards come at any moment: a poll (if any) meets each at another phase
            await asyncio.sleep(phase.uniform(0.0, 0.5))
            to_taken, to_apdu = await one_card(app, files, slot)
            figures.to_taken.append(to_taken)
            figures.to_apdu.append(to_apdu)
    return figures


async def one_card(app: ReceptionApp, files: WorldFiles, slot: int) -> tuple[float, float]:
    """A persona's card served into the slot until its check-in asks the method, then
    taken away: (serving → pcscd takes it, pcscd takes it → first APDU)."""
    card = TimedCard(VirtualCard(load_profile(files.card(PERSONA))))
    server = VpcdCardServer(card, port=vpcd_port(slot), on_taken=card.on_taken)
    served_at = time.perf_counter()
    server.start()
    try:
        await until(lambda: card.first_apdu is not None)
        await until(lambda: app.panel.view == "method")
    finally:
        server.stop()
    await until(lambda: app.panel.view == "wait")
    await asyncio.sleep(0.5)
    assert card.taken is not None and card.first_apdu is not None
    return card.taken - served_at, card.first_apdu - card.taken


def measure_presence(rounds: int, idle: float) -> str:
    problem = pcscd_with_vpcd(0)
    if problem is not None:
        return f"card seen arriving: not measured (pcscd with vsmartcard-vpcd: {problem})\n"
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        from mock_oqs.world import seed_world

        world = seed_world(tmp / "world", seed=3)
        files = WorldFiles.open(world.directory)
        with served(files) as url:
            f = asyncio.run(presence_rounds(files, url, tmp / "data", rounds, idle))
    per_minute = f.idle_calls * 60 / f.idle_seconds
    return (
        f"card seen arriving (pcscd + vpcd, {rounds} cards): pcscd takes it → its first "
        f"APDU {ms(max(f.to_apdu))} ms at most, {ms(sum(f.to_apdu) / len(f.to_apdu))} ms on "
        f"average (per card: "
        f"{', '.join(ms(t) for t in f.to_apdu)}; target ≤ 50 ms); serving it → pcscd takes "
        f"it (pcscd's own 0.4 s look at vpcd) {', '.join(ms(t) for t in f.to_taken)} ms\n"
        f"PC/SC calls of the idle terminal: {f.idle_calls} in {f.idle_seconds:g} s "
        f"({per_minute:.0f} a minute)\n"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--busy", action="store_true", help="a CPU-bound process runs meanwhile")
    parser.add_argument(
        "--idle", type=float, default=60.0, help="seconds the idle terminal's calls are counted"
    )
    parser.add_argument("--presence-only", action="store_true", help="only the card seen arriving")
    args = parser.parse_args()
    busy = spawn([sys.executable, "-c", "while True: pass"]) if args.busy else None
    try:
        if not args.presence_only:
            measure(args.rounds, busy is not None)
        sys.stdout.write(measure_presence(args.rounds, args.idle))
        return 0
    finally:
        if busy is not None:
            busy.kill()
            busy.wait()


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def measure(rounds: int, busy: bool) -> int:
    readies: list[float] = []
    stalls: list[float] = []
    crowds: list[CrowdFigures] = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        from mock_oqs.world import seed_world

        world = seed_world(tmp / "world", seed=3)
        files = WorldFiles.open(world.directory)
        pin = str(world.persona(PERSONA)["pin"])
        with served(files) as url:
            for i in range(rounds):
                ready, stall = asyncio.run(one_round(files, url, tmp / f"data{i}", pin))
                readies.append(ready)
                stalls.append(stall)
            first = Store(ReceptionSettings(data_dir=tmp / "data0").store_path)
            [reception] = first.receptions_on(now_jst().date())
            template = first.results_of(reception.reception_id)[-1]
            first.close()
            for i in range(rounds):
                data = tmp / f"crowd{i}"
                seed_crowd(ReceptionSettings(data_dir=data).store_path, template, CROWD)
                crowds.append(asyncio.run(crowded_round(files, url, data, pin)))
    note = "; a CPU-bound process busy meanwhile" if busy else ""
    sys.stdout.write(
        f"TUI usable after {min(readies) * 1000:.0f}–{max(readies) * 1000:.0f} ms "
        f"(app made and mounted, services injected; {rounds} launches)\n"
        f"longest event-loop stall during a check-in: {ms(max(stalls))} ms "
        f"(per round: {', '.join(ms(s) for s in stalls)}; target: under 50 ms{note})\n"
        f"with {CROWD:,} receptions in the store: TUI usable after "
        f"{min(c.ready for c in crowds) * 1000:.0f}–{max(c.ready for c in crowds) * 1000:.0f} ms,"
        f" the whole list shown after "
        f"{min(c.listed for c in crowds) * 1000:.0f}–{max(c.listed for c in crowds) * 1000:.0f}"
        " ms\n"
        f"  longest event-loop stall while a check-in completes and joins the list: "
        f"{ms(max(c.checkin_stall for c in crowds))} ms "
        f"(per round: {', '.join(ms(c.checkin_stall) for c in crowds)}; target: under 50 ms)\n"
        f"  longest event-loop stall while typing {len(NEEDLE)} characters into the filter: "
        f"{ms(max(c.filter_stall for c in crowds))} ms "
        f"(per round: {', '.join(ms(c.filter_stall) for c in crowds)}; target: under 50 ms;"
        f" the list showed the match after "
        f"{', '.join(f'{c.filter_shown * 1000:.0f}' for c in crowds)} ms{note})\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
