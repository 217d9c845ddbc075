"""Benchmark of a training room (issue 26 §2): N desks of a real ``reception room``
driven through whole check-ins by headless browsers, and what it costs the machine.

A room is started as a trainer starts it (``reception room --desks N --scenario SET``
in a temporary folder), every desk's trainee named (the desk page's form), and each
desk's websocket opened by a headless client speaking textual-serve's browser protocol
(tests/support/room.py's DeskClient: the screen read through pyte). Each desk then does
what a trainee does at it: the simulated patient plays the reader at a person's pace by
itself; the trainee — this script — clicks (the mouse reports xterm.js sends) and types
on the console as the case's model answer wants: 目視確認 when the console asks it, the
patient's words answered with a good phrase, 受け付ける / 受け付けない for each document,
the 負担割合, 対応完了 (F8) and 次へ (n), a moment's thought (``--think``) between.

Phases, in one run:
  1. solo: desk 1 alone does ``--solo`` cases (the floor, nothing else running);
  2. ramp: the other desks open one every ``--ramp`` seconds (as trainees arrive), each
     showing its first case (start-up time and CPU per desk);
  3. rest: every desk's first patient done at the reader, nobody typing (``--rest`` s);
  4. load: every desk does a check-in each ``--every`` seconds, the desks staggered
     evenly over that interval, for ``--rounds`` rounds (or ``--duration`` seconds).

Printed: key-to-screen latency (the seconds from a key or click sent to the first screen
bytes back, DeskClient.key) p50/p99/max alone and under load and their ratio; errors (a
desk closed, a wait timed out, a desk process started again, the room not ending
cleanly); each desk process's CPU and memory (RSS; PSS from /proc/PID/smaps_rollup, the
fair share of pages shared between desks) at rest and under load; the mock service's
and the room server's; the whole machine's CPU use; this script's own CPU and its event
loop's lag (the headless browsers share the machine with the room: their cost is the
bench's, not the room's — a classroom's browsers run on the trainees' PCs).

Target (issue 26): 40 desks, a check-in each 30 s, key-to-screen p99 < 150 ms, no errors.

Run: scripts/bench-room [--desks 40] [--every 30] [--rounds 4 | --duration S]
     [--scenario kihon] [--ramp 3] [--rest 20] [--think 0.5] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from wcwidth import wcwidth  # noqa: E402

from reception.training.phrases import UTTERANCES  # noqa: E402
from reception.training.scenario import Case, load  # noqa: E402
from reception.tui.text import plain  # noqa: E402
from reception.tui.training.words import phrase_order  # noqa: E402
from tests.support.processes import command_line, descendants, running  # noqa: E402
from tests.support.room import DeskClient, RoomProcess  # noqa: E402

TARGET_P99 = 0.150  # seconds, key to screen (issue 26 §2)
TICK = os.sysconf("SC_CLK_TCK")
F8, NEXT = "\x1b[19~", "n"
READER_DONE = "受付が完了しました"  # the reader panel when the patient's check-in is over
VISUAL_OK = "本人と確認しました"  # the 目視確認 dialog's button (staff's part)
READER_WAIT = 120.0  # seconds a patient may take at the reader before it is an error
SCREEN_WAIT = 30.0  # seconds a screen may take to show what a key brought


# -- the machine and its processes ------------------------------------------------------


def cpu_seconds(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime


def memory_kib(pid: int) -> dict[str, int]:
    """RSS and its peak (VmHWM) from status, PSS from smaps_rollup, in KiB."""
    found: dict[str, int] = {}
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                found[key] = int(value.split()[0])
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                found["Pss"] = int(line.split()[1])
    return found


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far (/proc/stat)."""
    numbers = [int(n) for n in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = numbers[3] + numbers[4]
    total = sum(numbers[:8])
    return (total - idle) / TICK, total / TICK


def machine() -> dict[str, Any]:
    meminfo = dict(
        line.split(":", 1) for line in Path("/proc/meminfo").read_text().splitlines() if ":" in line
    )
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        "?",
    )
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "memory_mib": int(meminfo["MemTotal"].split()[0]) // 1024,
        "python": sys.version.split()[0],
    }


@dataclass
class Proc:
    pid: int
    kind: str  # desk, service, room, other
    desk: str = ""  # the desk's code


def room_processes(room_pid: int) -> list[Proc]:
    found = [Proc(room_pid, "room")]
    for pid in descendants(room_pid):
        line = command_line(pid).split()
        if "reception.room.desk" in line and "--desk" in line:
            found.append(Proc(pid, "desk", line[line.index("--desk") + 1]))
        elif "serve" in line and any("mock" in part for part in line[:3]):
            found.append(Proc(pid, "service"))
        elif line:
            found.append(Proc(pid, "other"))
    return found


@dataclass
class Snapshot:
    at: float
    busy: tuple[float, float]
    cpu: dict[int, float]
    procs: list[Proc]
    bench: float  # this script's CPU seconds


def snapshot(room_pid: int) -> Snapshot:
    procs = room_processes(room_pid)
    cpu = {p.pid: c for p in procs if (c := cpu_seconds(p.pid)) is not None}
    return Snapshot(time.monotonic(), machine_busy(), cpu, procs, time.process_time())


def window(first: Snapshot, last: Snapshot) -> dict[str, Any]:
    """CPU % of each kind of process between two snapshots (a process in both), memory
    as of the last; the machine's CPU use (100 % = every core busy)."""
    seconds = last.at - first.at
    desks: list[float] = []
    totals: dict[str, float] = {}
    for proc in last.procs:
        if proc.pid not in last.cpu:
            continue
        # a process born in the window: all its CPU is the window's
        percent = 100 * (last.cpu[proc.pid] - first.cpu.get(proc.pid, 0.0)) / seconds
        totals[proc.kind] = totals.get(proc.kind, 0.0) + percent
        if proc.kind == "desk":
            desks.append(percent)
    busy = (last.busy[0] - first.busy[0]) / max(last.busy[1] - first.busy[1], 1e-9)
    bench = 100 * (last.bench - first.bench) / seconds
    cores = os.cpu_count() or 1
    ours = sum(totals.values()) + bench  # % of one core
    return {
        "seconds": round(seconds, 1),
        "desk_cpu_percent": spread(desks),
        "desks_cpu_percent_total": round(totals.get("desk", 0.0), 1),
        "service_cpu_percent": round(totals.get("service", 0.0), 1),
        "room_cpu_percent": round(totals.get("room", 0.0), 1),
        "bench_cpu_percent": round(bench, 1),
        "machine_busy_percent": round(100 * busy, 1),
        # what else ran on the machine meanwhile (another program's load), % of all cores
        "others_busy_percent": round(max(0.0, 100 * busy - ours / cores), 1),
        "memory": memory_of(last.procs),
    }


def memory_of(procs: list[Proc]) -> dict[str, Any]:
    desk_rss, desk_pss, desk_peak = [], [], []
    shown: dict[str, Any] = {}
    for proc in procs:
        kib = memory_kib(proc.pid)
        if proc.kind == "desk":
            desk_rss.append(kib.get("VmRSS", 0) / 1024)
            desk_pss.append(kib.get("Pss", 0) / 1024)
            desk_peak.append(kib.get("VmHWM", 0) / 1024)
        elif proc.kind in ("service", "room"):
            shown[f"{proc.kind}_rss_mib"] = round(kib.get("VmRSS", 0) / 1024, 1)
            shown[f"{proc.kind}_pss_mib"] = round(kib.get("Pss", 0) / 1024, 1)
    shown |= {
        "desk_rss_mib": spread(desk_rss),
        "desk_pss_mib": spread(desk_pss),
        "desk_peak_rss_mib": spread(desk_peak),
        "desks_pss_mib_total": round(sum(desk_pss), 1),
    }
    return shown


def spread(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    return {
        "mean": round(statistics.fmean(values), 2),
        "max": round(max(values), 2),
        "n": len(values),
    }


def percentiles(seconds: list[float]) -> dict[str, float]:
    if not seconds:
        return {"n": 0}
    ordered = sorted(seconds)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    return {
        "n": len(ordered),
        "p50_ms": round(1000 * at(0.50), 1),
        "p99_ms": round(1000 * at(0.99), 1),
        "max_ms": round(1000 * ordered[-1], 1),
    }


# -- a light screen ----------------------------------------------------------------------

TOKENS = re.compile(
    r"\x1b\[([0-9;?<>=]*)[ -/]*([@-~])|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[^\[\]]"
    r"|([^\x1b\n\r\x07\x08]+)|(\n)|(\r)|[\x07\x08]"
)
NARROW = re.compile(r"[\x20-\x7e]*\Z")


class LightScreen:
    """The text of a Textual screen from its output, as xterm.js draws it, for the
    sequences Textual writes (cursor position, text, line feed; colours and modes
    skipped): ~13 times cheaper than pyte, the same text (checked on a check-in's
    output) — 40 browsers' screens must not eat the cores the desks are measured on."""

    def __init__(self, columns: int, lines: int) -> None:
        self.columns, self.lines = columns, lines
        self.rows = [[" "] * columns for _ in range(lines)]
        self.x = self.y = 0
        self._rest = b""
        self._widths: dict[str, int] = {}

    def feed(self, data: bytes) -> None:
        data = self._rest + data
        cut = len(data)
        while cut > 0 and (data[cut - 1] & 0xC0) == 0x80:
            cut -= 1
        if cut > 0 and data[cut - 1] >= 0xC0:  # a character split between messages
            self._rest, data = data[cut - 1 :], data[: cut - 1]
        else:
            self._rest = b""
        for m in TOKENS.finditer(data.decode("utf-8", "replace")):
            if m.group(3) is not None:
                self._draw(m.group(3))
            elif m.group(2) in ("H", "f"):
                params = m.group(1).split(";")
                row = int(params[0]) if params[0].isdigit() else 1
                col = int(params[1]) if len(params) > 1 and params[1].isdigit() else 1
                self.y = min(max(row, 1), self.lines) - 1
                self.x = min(max(col, 1), self.columns) - 1
            elif m.group(4) is not None:
                self.y = min(self.y + 1, self.lines - 1)
            elif m.group(5) is not None:
                self.x = 0

    def _draw(self, run: str) -> None:
        row, x = self.rows[self.y], self.x
        if NARROW.match(run):
            end = min(x + len(run), self.columns)
            row[x:end] = run[: end - x]
            self.x = end
            return
        for ch in run:
            w = self._widths.get(ch)
            if w is None:
                w = self._widths[ch] = max(wcwidth(ch), 0)
            if w == 0:
                if x > 0:
                    row[x - 1] += ch
                continue
            if x + w > self.columns:
                break
            row[x] = ch
            if w == 2:
                row[x + 1] = ""  # the second column of a wide character
            x += w
        self.x = x


class LightDesk(DeskClient):
    """DeskClient with the light screen (its pyte screen unused)."""

    def __init__(self, url: str, code: str, *, width: int, height: int) -> None:
        super().__init__(url, code, width=width, height=height)
        self.light = LightScreen(width, height)
        self._text: str | None = None

    def feed(self, data: bytes) -> None:
        self.light.feed(data)
        self._text = None

    def text(self) -> str:
        if self._text is None:
            self._text = "\n".join("".join(row) for row in self.light.rows)
        return self._text


# -- a trainee at a desk ------------------------------------------------------------------


def cells(client: LightDesk) -> Iterator[tuple[int, str, list[int]]]:
    """Each row of the screen: (row, its text, the column of each character) — a wide
    character takes two columns (the second cell left empty)."""
    for y, row in enumerate(client.light.rows):
        text, columns = [], []
        for x, data in enumerate(row):
            if data:
                text.append(data)
                columns.append(x)
        yield y, "".join(text), columns


def find(client: LightDesk, text: str, *, below: str | None = None, nth: int = 0) -> Any:
    """Where ``text`` is on the screen, (column, row), the ``nth`` found (rows after the
    one showing ``below``, if given); None when it is not shown."""
    seen = below is None
    count = 0
    for y, line, columns in cells(client):
        if not seen:
            seen = below is not None and below in line
            continue
        start = line.find(text)
        while start >= 0:
            if count == nth:
                return columns[start], y
            count += 1
            start = line.find(text, start + 1)
    return None


@dataclass
class Tally:
    """What the run saw: latencies by phase, errors, per-desk start-up."""

    latency: dict[str, list[float]] = field(default_factory=dict)
    by_key: dict[str, list[float]] = field(default_factory=dict)  # under load, per key
    errors: list[str] = field(default_factory=list)
    startup_s: list[float] = field(default_factory=list)
    startup_cpu_s: list[float] = field(default_factory=list)
    late_s: list[float] = field(default_factory=list)  # a check-in begun after its time
    cases: int = 0
    phase: str = "solo"

    def key(self, seconds: float, label: str) -> None:
        self.latency.setdefault(self.phase, []).append(seconds)
        if self.phase == "load":
            self.by_key.setdefault(label, []).append(seconds)

    def error(self, desk: str, what: str) -> None:
        line = f"desk {desk}: {what}"
        self.errors.append(line)
        sys.stderr.write(f"bench-room: {line}\n")


class Trainee:
    """One desk's trainee: the case on screen handled as its model answer says."""

    def __init__(self, client: LightDesk, cases: list[Case], tally: Tally, think: float):
        self.client = client
        self.cases = cases
        self.tally = tally
        self.think = think
        self.position = 0  # the case on screen (0-based)
        self.reader: asyncio.Task[None] | None = None  # the patient at the reader

    @property
    def code(self) -> str:
        return self.client.code

    async def arrive(self) -> float:
        """The desk opened: until its first case shows (seconds)."""
        await self.client.connect()
        seconds = await self.client.wait_for("研修 1/", 120.0)
        self.watch_reader()
        return seconds

    def watch_reader(self) -> None:
        """The patient at the reader (the case's, by itself): its end watched from now,
        as staff see it; 目視確認 done when the console asks for it."""
        if self.position < len(self.cases) and self.cases[self.position].situation.places_card:
            self.reader = asyncio.create_task(self._reader())
        else:
            self.reader = None

    async def _reader(self) -> None:
        shown = (READER_DONE, VISUAL_OK)
        while True:
            await self.client.wait_until(
                lambda s: any(t in s for t in shown), READER_WAIT, what="the reader's end"
            )
            if READER_DONE in self.client.text():
                return
            await asyncio.sleep(self.think)
            await self.click(VISUAL_OK)
            await self.client.wait_until(lambda s: VISUAL_OK not in s, SCREEN_WAIT)

    async def reader_done(self) -> None:
        if self.reader is not None:
            await asyncio.shield(self.reader)

    async def press(self, keys: str, label: str) -> None:
        self.tally.key(await self.client.key(keys), label)

    async def click(
        self, text: str, *, below: str | None = None, nth: int = 0, label: str = ""
    ) -> None:
        """A click on ``text`` (as xterm.js reports a mouse: moved there, pressed,
        released — SGR coordinates from 1)."""
        spot = None

        def shown(_screen: str) -> bool:
            nonlocal spot
            spot = find(self.client, text, below=below, nth=nth)
            return spot is not None

        await self.client.wait_until(shown, SCREEN_WAIT, what=repr(text))
        assert spot is not None
        x, y = spot[0] + 2, spot[1] + 1
        label = label or text.strip()
        await self.press(f"\x1b[<35;{x};{y}M\x1b[<0;{x};{y}M\x1b[<0;{x};{y}m", label)

    async def check_in(self) -> None:
        """The case on screen, from the patient at the reader to 次へ."""
        case = self.cases[self.position]
        count = len(self.cases)
        await self.reader_done()
        for uid in case.situation.says:
            await asyncio.sleep(self.think)
            good = case.good_words(uid)[0]
            order = phrase_order(case.id, UTTERANCES[uid])
            index = next(i for i, p in enumerate(order, start=1) if p.id == good)
            phrase = next(p for p in order if p.id == good)
            await self.click(f"{index}．{plain(phrase.text)[:6]}", label="phrase")
        for nth, doc in enumerate(case.situation.brings):
            if doc in case.model.accept or doc in case.model.refuse:
                await asyncio.sleep(self.think)
                label = "受け付ける" if doc in case.model.accept else "受け付けない"
                await self.click(f" {label}", nth=nth)
        await asyncio.sleep(self.think)
        await self.click(f" {case.model.ratio}割 ", below="会計 — 負担割合", label="負担割合")
        await self.client.wait_for(f"負担割合: {case.model.ratio}割", SCREEN_WAIT)
        await asyncio.sleep(self.think)
        await self.press(F8, "F8 対応完了")
        await self.client.wait_for(f"研修 {self.position + 1}/{count} ・ {case.title} —")
        await asyncio.sleep(self.think)
        await self.press(NEXT, "n 次へ")
        self.position += 1
        ahead = f"研修 {self.position + 1}/{count} ・" if self.position < count else "研修報告"
        await self.client.wait_for(ahead, SCREEN_WAIT)
        self.tally.cases += 1
        self.watch_reader()

    async def guarded(self, work: Callable[[], Awaitable[Any]]) -> bool:
        """``work``; a timeout, a closed desk or a lost screen is the run's error."""
        try:
            await work()
        except (TimeoutError, ConnectionError, AssertionError) as exc:
            first, _, screen = str(exc).partition("\n")
            self.tally.error(self.code, first or type(exc).__name__)
            if screen:  # what the desk showed: said once here, not in the figures
                sys.stderr.write(screen + "\n")
            return False
        return True


# -- the run --------------------------------------------------------------------------


@dataclass
class Options:
    desks: int
    every: float
    rounds: int
    scenario: str
    ramp: float
    rest: float
    think: float
    solo: int
    size: tuple[int, int]


class Watchdog:
    """This script's own event loop: how late a 10 ms sleep wakes (its lag inflates the
    latencies measured: a key's answer is noticed only when the loop runs)."""

    def __init__(self) -> None:
        self.lags: list[float] = []
        self.running = True

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while self.running:
            before = loop.time()
            await asyncio.sleep(0.01)
            self.lags.append(loop.time() - before - 0.01)


async def drive(room: RoomProcess, options: Options, tally: Tally) -> dict[str, Any]:
    cases = list(load(options.scenario).scenario.cases)
    codes = room.desk_codes()
    for number, code in enumerate(codes, start=1):
        answer = room.name_desk(code, f"研修生 {number:02d}")
        if answer.status_code != 302:
            raise RuntimeError(f"desk {code}: naming answered {answer.status_code}")
    width, height = options.size
    trainees = [
        Trainee(LightDesk(room.url, code, width=width, height=height), cases, tally, options.think)
        for code in codes
    ]
    watchdog = Watchdog()
    dog = asyncio.create_task(watchdog.run())
    figures: dict[str, Any] = {}
    try:
        figures |= await solo(room, trainees[0], options, tally)
        figures |= await ramp(room, trainees[1:], options, tally)
        figures |= await rest(room, trainees, options, tally)
        figures |= await loaded(room, trainees, options, tally)
    finally:
        watchdog.running = False
        await dog
        for trainee in trainees:
            if trainee.client.closed is not None:
                tally.error(trainee.code, f"its websocket closed ({trainee.client.closed})")
            if trainee.reader is not None and not trainee.reader.done():
                trainee.reader.cancel()
        await asyncio.gather(*(t.client.close() for t in trainees), return_exceptions=True)
    figures["bench_loop_lag"] = percentiles(watchdog.lags)
    return figures


async def solo(
    room: RoomProcess, trainee: Trainee, options: Options, tally: Tally
) -> dict[str, Any]:
    tally.phase = "solo"
    say(f"solo: desk {trainee.code} alone, {options.solo} case(s)")
    seconds = await trainee.arrive()
    tally.startup_s.append(seconds)
    started = snapshot(room.proc.pid)
    for _ in range(options.solo):
        if not await trainee.guarded(trainee.check_in):
            break
    return {"solo": window(started, snapshot(room.proc.pid))}


async def ramp(
    room: RoomProcess, trainees: list[Trainee], options: Options, tally: Tally
) -> dict[str, Any]:
    tally.phase = "ramp"
    say(f"ramp: {len(trainees)} more desk(s), one each {options.ramp:g} s")
    started = snapshot(room.proc.pid)

    async def arrive(trainee: Trainee, delay: float) -> None:
        await asyncio.sleep(delay)
        try:
            tally.startup_s.append(await trainee.arrive())
        except (TimeoutError, ConnectionError, OSError) as exc:
            tally.error(trainee.code, f"did not open: {str(exc).splitlines()[0]}")
            return
        pid = next((p.pid for p in room_processes(room.proc.pid) if p.desk == trainee.code), None)
        cpu = cpu_seconds(pid) if pid is not None else None
        if cpu is not None:
            tally.startup_cpu_s.append(cpu)

    await asyncio.gather(*(arrive(t, i * options.ramp) for i, t in enumerate(trainees)))
    return {"ramp": window(started, snapshot(room.proc.pid))}


async def rest(
    room: RoomProcess, trainees: list[Trainee], options: Options, tally: Tally
) -> dict[str, Any]:
    tally.phase = "rest"
    waiting = [t for t in trainees if t.reader is not None]
    say(f"rest: waiting for {len(waiting)} patient(s) at the reader, then {options.rest:g} s")
    for trainee in waiting:
        await trainee.guarded(trainee.reader_done)
    await asyncio.sleep(5.0)  # the patients take their cards (4 s)
    started = snapshot(room.proc.pid)
    await asyncio.sleep(options.rest)
    return {"rest": window(started, snapshot(room.proc.pid))}


async def loaded(
    room: RoomProcess, trainees: list[Trainee], options: Options, tally: Tally
) -> dict[str, Any]:
    tally.phase = "load"
    gap = options.every / len(trainees)
    say(
        f"load: {len(trainees)} desk(s), a check-in each {options.every:g} s "
        f"(one every {gap:.2f} s in the room), {options.rounds} round(s)"
    )
    loop = asyncio.get_running_loop()
    begin = loop.time() + 1.0
    restarts = Restarts(room.proc.pid)
    watching = asyncio.create_task(restarts.watch())
    started = snapshot(room.proc.pid)

    async def desk(trainee: Trainee, offset: float) -> None:
        for round_ in range(options.rounds):
            due = begin + offset + round_ * options.every
            await asyncio.sleep(max(0.0, due - loop.time()))
            tally.late_s.append(max(0.0, loop.time() - due))
            if trainee.position >= len(trainee.cases):
                return
            if not await trainee.guarded(trainee.check_in):
                return

    await asyncio.gather(*(desk(t, i * gap) for i, t in enumerate(trainees)))
    figures = {"load": window(started, snapshot(room.proc.pid))}
    restarts.running = False
    await watching
    for code, count in restarts.counted.items():
        tally.error(code, f"its process was started again {count} time(s)")
    return figures


class Restarts:
    """A desk whose process changed (another pid for its code): started again."""

    def __init__(self, room_pid: int) -> None:
        self.room_pid = room_pid
        self.running = True
        self.counted: dict[str, int] = {}

    async def watch(self) -> None:
        pids: dict[str, int] = {}
        while self.running:
            for proc in room_processes(self.room_pid):
                if proc.kind != "desk":
                    continue
                if proc.desk in pids and pids[proc.desk] != proc.pid:
                    self.counted[proc.desk] = self.counted.get(proc.desk, 0) + 1
                pids[proc.desk] = proc.pid
            await asyncio.sleep(1.0)


def say(line: str) -> None:
    sys.stderr.write(f"bench-room: {line}\n")
    sys.stderr.flush()


def run(options: Options) -> dict[str, Any]:
    tally = Tally()
    with tempfile.TemporaryDirectory(prefix="bench-room-") as tmp:
        folder = Path(tmp) / "room"
        say(f"starting reception room --desks {options.desks} --scenario {options.scenario}")
        begun = time.monotonic()
        room = RoomProcess(folder, desks=options.desks, scenario=options.scenario)
        bench_cpu = time.process_time()
        try:
            room.wait_ready(180.0)
            ready = time.monotonic() - begun
            figures = asyncio.run(drive(room, options, tally))
        finally:
            left = {pid: start for pid, start in descendants(room.proc.pid).items()}
            code = room.stop()
            stragglers = [pid for pid, start in left.items() if running(pid, start)]
        bench_cpu = time.process_time() - bench_cpu
        if code != 0:
            tally.errors.append(f"the room ended with exit code {code}")
        if stragglers:
            tally.errors.append(f"processes left running after the room: {stragglers}")
        restarted = room.output().count("started again")
        if restarted:
            tally.errors.append(f"the room's log says a desk started again {restarted} time(s)")
    solo_p99 = percentiles(tally.latency.get("solo", [])).get("p99_ms")
    load_p99 = percentiles(tally.latency.get("load", [])).get("p99_ms")
    return {
        "machine": machine(),
        "options": asdict(options),
        "room_ready_s": round(ready, 1),
        "latency": {phase: percentiles(values) for phase, values in tally.latency.items()},
        "latency_by_key": {key: percentiles(values) for key, values in tally.by_key.items()},
        "latency_ratio_load_to_solo_p99": (
            round(load_p99 / solo_p99, 2) if solo_p99 and load_p99 else None
        ),
        "startup_s": spread(tally.startup_s),
        "startup_cpu_s": spread(tally.startup_cpu_s),
        "late_start_s": spread(tally.late_s),
        "cases_done": tally.cases,
        "errors": tally.errors,
        "bench_cpu_s": round(bench_cpu, 1),
        **figures,
        "target_met": bool(load_p99 is not None and load_p99 < 1000 * TARGET_P99)
        and not tally.errors,
    }


# -- printing -------------------------------------------------------------------------


def table(figures: dict[str, Any]) -> str:
    m, o = figures["machine"], figures["options"]
    lines = [
        f"machine: {m['cpus']} CPU ({m['cpu_model']}), {m['memory_mib']} MiB, Python {m['python']}",
        f"room: {o['desks']} desks, scenario {o['scenario']}, a check-in per desk each "
        f"{o['every']:g} s for {o['rounds']} round(s); ready in {figures['room_ready_s']} s; "
        f"{figures['cases_done']} cases done",
        "",
        "key-to-screen latency    n      p50 ms   p99 ms   max ms",
    ]
    for phase, p in figures["latency"].items():
        if p.get("n"):
            lines.append(
                f"  {phase:<22}{p['n']:>5}  {p['p50_ms']:>8}  {p['p99_ms']:>7}  {p['max_ms']:>7}"
            )
    for key, p in sorted(figures["latency_by_key"].items(), key=lambda kv: -kv[1]["p99_ms"]):
        lines.append(
            f"    load: {key:<18}{p['n']:>5}  {p['p50_ms']:>8}  {p['p99_ms']:>7}  {p['max_ms']:>7}"
        )
    ratio = figures["latency_ratio_load_to_solo_p99"]
    if ratio is not None:
        lines.append(f"  p99 with {o['desks']} desks / p99 with 1 desk: {ratio}×")
    lines.append(f"  (target: p99 < {1000 * TARGET_P99:.0f} ms under load, no errors)")
    s, c = figures["startup_s"], figures["startup_cpu_s"]
    if s:
        lines.append(
            f"desk start-up: first case shown after {s['mean']} s mean, {s['max']} s max; "
            + (f"CPU {c['mean']} s mean, {c['max']} s max" if c else "")
        )
    late = figures["late_start_s"]
    if late:
        lines.append(f"check-ins begun late: {late['mean']} s mean, {late['max']} s max")
    lines += [
        "",
        "CPU (% of one core)  desk each      all desks service  room  bench  machine busy %",
        "phase      seconds   mean    max                                   (all cores, others)",
    ]
    for phase in ("solo", "ramp", "rest", "load"):
        w = figures.get(phase)
        if w is None:
            continue
        d = w["desk_cpu_percent"] or {"mean": 0, "max": 0}
        lines.append(
            f"  {phase:<8}{w['seconds']:>8}  {d['mean']:>6}  {d['max']:>6}  "
            f"{w['desks_cpu_percent_total']:>8}  {w['service_cpu_percent']:>7}  "
            f"{w['room_cpu_percent']:>5}  {w['bench_cpu_percent']:>5}  "
            f"{w['machine_busy_percent']:>6} ({w['others_busy_percent']})"
        )
    lines += ["", "memory (MiB)    desk RSS mean/max  desk PSS mean/max  desks PSS  service  room"]
    for phase in ("rest", "load"):
        w = figures.get(phase)
        if w is None:
            continue
        mem = w["memory"]
        rss, pss = mem["desk_rss_mib"], mem["desk_pss_mib"]
        if not rss:
            continue
        lines.append(
            f"  {phase:<8}      {rss['mean']:>7}/{rss['max']:<8}  {pss['mean']:>7}/{pss['max']:<8}"
            f"  {mem['desks_pss_mib_total']:>9}  {mem.get('service_rss_mib', '?'):>7}"
            f"  {mem.get('room_rss_mib', '?'):>5}"
        )
    lag = figures["bench_loop_lag"]
    lines += [
        "",
        f"this bench: {figures['bench_cpu_s']} s CPU (its headless browsers); its loop's lag "
        f"p99 {lag.get('p99_ms', '?')} ms, max {lag.get('max_ms', '?')} ms",
        f"errors: {len(figures['errors'])}",
        *(f"  {e}" for e in figures["errors"][:20]),
        f"target met: {'yes' if figures['target_met'] else 'no'}",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="scripts/bench-room", description=__doc__.split("\n\n", 1)[0] if __doc__ else ""
    )
    parser.add_argument("--desks", type=int, default=40)
    parser.add_argument(
        "--every", type=float, default=30.0, help="seconds between a desk's check-ins"
    )
    parser.add_argument("--rounds", type=int, default=4, help="check-ins per desk under load")
    parser.add_argument("--duration", type=float, help="seconds under load (instead of --rounds)")
    parser.add_argument("--scenario", default="kihon", help="the set the room plays")
    parser.add_argument("--ramp", type=float, default=3.0, help="seconds between desks opening")
    parser.add_argument("--rest", type=float, default=20.0, help="seconds measured at rest")
    parser.add_argument("--think", type=float, default=0.5, help="seconds between a trainee's keys")
    parser.add_argument("--solo", type=int, default=2, help="cases desk 1 does alone first")
    parser.add_argument("--size", default="120x40", help="each browser's terminal, COLSxROWS")
    parser.add_argument("--json", action="store_true", help="the figures as JSON")
    args = parser.parse_args(argv)
    if args.desks < 1:
        parser.error("--desks: at least 1")
    cases = len(load(args.scenario).scenario.cases)
    rounds = int(args.duration // args.every) if args.duration else args.rounds
    room_for = cases - args.solo
    if rounds > room_for:
        say(f"{args.scenario} has {cases} cases: {room_for} round(s) after the solo ones")
        rounds = room_for
    width, _, height = args.size.partition("x")
    options = Options(
        desks=args.desks,
        every=args.every,
        rounds=max(rounds, 0),
        scenario=args.scenario,
        ramp=args.ramp,
        rest=args.rest,
        think=args.think,
        solo=args.solo,
        size=(int(width), int(height)),
    )
    figures = run(options)
    print(json.dumps(figures, ensure_ascii=False, indent=2) if args.json else table(figures))
    return 0 if not figures["errors"] else 1


if __name__ == "__main__":
    sys.exit(main())
