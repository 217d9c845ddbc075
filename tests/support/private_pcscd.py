"""A pcscd of a test's own, to stop, restart and start without readers — never the
machine's, which other programs use (tests/support).

:func:`run_isolated` runs :func:`scenario` in a child process in new network and mount
namespaces (``unshare``, root only): a private ``/run/pcscd`` (tmpfs) and loopback, so
its pcscd and vpcd's ports are its own. The child starts each pcscd itself, with a
reader configuration directory of its own (``pcscd -c``: empty — no reader at all — or
vpcd's file), and ends it by its process id. It prints one JSON document: what the
:class:`~reader.pcsc.CardPresenceMonitor` reported, step by step, and how many PC/SC
calls it made meanwhile."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

VPCD_CONF = Path("/etc/reader.conf.d/vpcd")
SOCKET = Path("/run/pcscd/pcscd.comm")
SLOT0 = "Virtual PCD 00 00"


def isolation_unavailable() -> str | None:
    """None when a private pcscd can be run here, else why not."""
    if os.geteuid() != 0:
        return "a private pcscd needs root (new mount and network namespaces)"
    for tool in ("unshare", "pcscd", "mount", "ip"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    if not VPCD_CONF.exists():
        return f"{VPCD_CONF} is missing (vsmartcard-vpcd is not installed)"
    return None


def run_isolated(timeout: float = 120.0) -> dict[str, Any]:
    """Run :func:`scenario` in its own namespaces; its report."""
    root = Path(__file__).resolve().parents[2]
    code = "from tests.support.private_pcscd import scenario; scenario()"
    run = subprocess.run(
        ["unshare", "--net", "--mount", "--fork", sys.executable, "-c", code],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if run.returncode != 0:
        raise AssertionError(f"the scenario failed ({run.returncode}):\n{run.stderr}")
    report: dict[str, Any] = json.loads(run.stdout)
    return report


class _Pcscd:
    """One pcscd at a time, started and stopped by this process (by its id)."""

    def __init__(self, conf: Path, log: Path) -> None:
        self.conf = conf
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, *, readers: bool) -> None:
        for old in self.conf.iterdir():
            old.unlink()
        if readers:
            shutil.copy(VPCD_CONF, self.conf / "vpcd")
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                ["pcscd", "-f", "-c", str(self.conf)], stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + 10
        while not SOCKET.exists():
            if time.monotonic() > deadline:
                raise RuntimeError("pcscd did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=10)
            self.proc = None
        deadline = time.monotonic() + 5
        while SOCKET.exists() and time.monotonic() < deadline:
            time.sleep(0.05)


class _Recorder:
    """What the monitor said, and a way to wait for a particular thing to be said."""

    def __init__(self) -> None:
        self.events: list[list[Any]] = []
        self.seen = threading.Condition()

    def add(self, *event: Any) -> None:
        with self.seen:
            self.events.append(list(event))
            self.seen.notify_all()

    def wait_for(self, check: Callable[[list[list[Any]]], bool], seconds: float = 15) -> bool:
        with self.seen:
            return self.seen.wait_for(lambda: check(self.events), timeout=seconds)


class _EchoCard:
    """The least card vpcd can serve: an ATR, and 9000 to anything."""

    atr = bytes.fromhex("3B888001000041E0B381A1003B")

    def power_on(self) -> None:
        pass

    def power_off(self) -> None:
        pass

    def reset(self) -> None:
        pass

    def process(self, apdu: bytes) -> bytes:
        return b"\x90\x00"


def _counting_status_calls() -> Callable[[], int]:
    """Every ``SCardGetStatusChange`` call from now on is counted."""
    from smartcard import scard

    calls = [0]
    real = scard.SCardGetStatusChange

    def counted(*args: Any) -> Any:
        calls[0] += 1
        return real(*args)

    scard.SCardGetStatusChange = counted
    return lambda: calls[0]


def _last(kind: str) -> Callable[[list[list[Any]]], Any]:
    def last(events: list[list[Any]]) -> Any:
        said = [e[1:] for e in events if e[0] == kind]
        return said[-1] if said else None

    return last


def scenario() -> None:  # pragma: no cover - runs in the child (run_isolated)
    """Inside the namespaces: no reader at all, pcscd gone, pcscd back with vpcd's
    readers, a card in and out, pcscd restarted under the card, the readers gone."""
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    subprocess.run(["mount", "-t", "tmpfs", "tmpfs", "/run/pcscd"], check=True)
    from reader.pcsc import CardPresenceMonitor

    steps: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        conf = Path(tmp) / "reader.conf.d"
        conf.mkdir()
        pcscd = _Pcscd(conf, Path(tmp) / "pcscd.log")
        said = _Recorder()
        calls = _counting_status_calls()
        try:
            pcscd.start(readers=False)
            monitor = CardPresenceMonitor(
                lambda reader, present, atr: said.add("card", reader, present),
                on_readers=lambda names: said.add("readers", names),
                on_trouble=lambda problem: said.add("trouble", problem),
            ).start()
            for step in _steps(pcscd, said, calls):
                steps.update(step)
            stopping = time.monotonic()
            steps["stopped"] = monitor.stop()
            steps["stop_ms"] = (time.monotonic() - stopping) * 1000
            steps["monitor_threads_left"] = [
                t.name for t in threading.enumerate() if t.name == "card-monitor"
            ]
        finally:
            pcscd.stop()
    steps["events"] = said.events
    sys.stdout.write(json.dumps(steps))


def _steps(
    pcscd: _Pcscd, said: _Recorder, calls: Callable[[], int]
) -> Iterator[dict[str, Any]]:  # pragma: no cover - runs in the child
    from reader.virtual.vpcd import VpcdCardServer

    readers, trouble = _last("readers"), _last("trouble")
    yield {"no_reader_said": said.wait_for(lambda e: readers(e) == [[]])}
    before = calls()
    time.sleep(1.0)
    yield {"calls_idle_without_readers": calls() - before}

    pcscd.stop()
    yield {"pcscd_gone_said": said.wait_for(lambda e: trouble(e) not in (None, [None]))}
    before = calls()
    time.sleep(2.0)
    yield {"calls_while_pcscd_gone": calls() - before}

    pcscd.start(readers=True)
    yield {
        "readers_back": said.wait_for(lambda e: readers(e) == [[SLOT0, "Virtual PCD 00 01"]]),
        "trouble_cleared": said.wait_for(lambda e: trouble(e) == [None]),
    }
    server = VpcdCardServer(_EchoCard(), port=35963, ask_pcscd=False).start()
    try:
        yield {"card_in": said.wait_for(lambda e: e[-1] == ["card", SLOT0, True])}
        time.sleep(0.5)  # pcscd powers the card up: its state settles
        before = calls()
        time.sleep(1.0)
        yield {"calls_idle_with_card": calls() - before}
        server.remove()
        yield {"card_out": said.wait_for(lambda e: e[-1][:3] == ["card", SLOT0, False])}
        server.insert()
        yield {"card_in_again": said.wait_for(lambda e: e[-1] == ["card", SLOT0, True])}
        mark = len(said.events)
        pcscd.stop()
        yield {
            "card_gone_with_pcscd": said.wait_for(
                lambda e: ["card", SLOT0, False] in e[mark:] and trouble(e[mark:]) is not None
            )
        }
        pcscd.start(readers=True)  # the card reconnects by itself (vcard serve does)
        yield {
            "card_back_after_restart": said.wait_for(lambda e: ["card", SLOT0, True] in e[mark:])
        }
    finally:
        server.stop()
    mark = len(said.events)
    pcscd.stop()
    pcscd.start(readers=False)  # both readers gone
    yield {
        "watching_no_reader": said.wait_for(
            lambda e: trouble(e[mark:]) == [None] and readers(e) == [[]]
        )
    }
