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

Run: scripts/bench-tui [--rounds 5] [--busy]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from textual.pilot import Pilot
from textual.widgets import DataTable, Input

from reader.children import spawn
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--busy", action="store_true", help="a CPU-bound process runs meanwhile")
    args = parser.parse_args()
    busy = spawn([sys.executable, "-c", "while True: pass"]) if args.busy else None
    try:
        return measure(args.rounds, busy is not None)
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
