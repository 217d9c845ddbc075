"""Benchmark of the Textual terminal: time to a usable screen, and the longest
event-loop stall during a check-in (target: under 50 ms).

A world is seeded and served by `mock-oqs serve` (its own process, as in the demo); the
app runs headless (Textual's test driver) with the persona's card over loopback and is
driven like a patient would: card, 暗証番号, PIN, consents. A watchdog task on the app's
event loop sleeps 2 ms at a time and records how late it wakes: the longest delay is the
longest stall the screen saw.

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
from pathlib import Path

from reader.children import spawn
from reception.settings import ReceptionSettings
from reception.sim.demo import demo_services
from reception.sim.world import WorldFiles, served
from reception.tui.app import make_app

PERSONA = "adult-kyokai"


async def one_round(files: WorldFiles, url: str, data: Path, pin: str) -> tuple[float, float]:
    settings = ReceptionSettings(data_dir=data)
    started = time.perf_counter()
    app = make_app(demo_services(files, url, settings, pcsc_slot=None))
    async with app.run_test(size=(140, 44)) as pilot:
        while not app.panel.warmed:
            await pilot.pause()
        ready = time.perf_counter() - started
        worst = 0.0
        running = True

        async def watchdog() -> None:
            nonlocal worst
            while running:
                before = time.perf_counter()
                await asyncio.sleep(0.002)
                worst = max(worst, time.perf_counter() - before - 0.002)

        dog = asyncio.create_task(watchdog())

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
        running = False
        await dog
        app.remove_card()
        await pilot.pause()
    return ready, worst


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


def measure(rounds: int, busy: bool) -> int:
    args = argparse.Namespace(rounds=rounds)
    readies: list[float] = []
    stalls: list[float] = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        from mock_oqs.world import seed_world

        world = seed_world(tmp / "world", seed=3)
        files = WorldFiles.open(world.directory)
        pin = str(world.persona(PERSONA)["pin"])
        with served(files) as url:
            for i in range(args.rounds):
                ready, stall = asyncio.run(one_round(files, url, tmp / f"data{i}", pin))
                readies.append(ready)
                stalls.append(stall)
    sys.stdout.write(
        f"TUI usable after {min(readies) * 1000:.0f}–{max(readies) * 1000:.0f} ms "
        f"(app made and mounted, services injected; {args.rounds} launches)\n"
        f"longest event-loop stall during a check-in: {max(stalls) * 1000:.1f} ms "
        f"(per round: {', '.join(f'{s * 1000:.1f}' for s in stalls)}; target: under 50 ms"
        f"{'; a CPU-bound process busy meanwhile' if busy else ''})\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
