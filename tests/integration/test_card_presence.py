"""A card is seen when it arrives, not at the next poll (issue 21 §3): the terminal
hears pcscd's status changes — one PC/SC context, a blocked ``SCardGetStatusChange`` —
and an idle terminal makes no PC/SC call. The watch outlives pcscd restarting, readers
going and coming, no reader at all; and the app quits at once with it running."""

from __future__ import annotations

import asyncio
import os
import threading
from pathlib import Path
from typing import Any

import pytest
from smartcard import scard
from textual.pilot import Pilot

from mock_oqs.world import World
from reception.cards import PcscCards
from reception.store import now_jst
from reception.tui.app import ReceptionApp
from reception.tui.services import Services
from tests.support.checkin import card_of
from tests.support.private_pcscd import isolation_unavailable, run_isolated
from tests.support.stack import TEST_READER, in_test_slot
from tests.support.tui import at_view, drive, services


class PcscCalls:
    """Counts the terminal's PC/SC calls (wrapped where reader/pcsc.py calls them)."""

    NAMES = ("SCardEstablishContext", "SCardReleaseContext", "SCardGetStatusChange")

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.counts = dict.fromkeys(self.NAMES, 0)
        for name in self.NAMES:
            monkeypatch.setattr(scard, name, self._counted(name, getattr(scard, name)))

    def _counted(self, name: str, real: Any) -> Any:
        def counted(*args: Any) -> Any:
            self.counts[name] += 1
            return real(*args)

        return counted

    def total(self) -> int:
        return sum(self.counts.values())


def at_a_real_reader(world: World, tmp_path: Path) -> Services:
    """The terminal as deployed (no demo): the tests' vpcd slot is its card reader."""
    base = services(world, tmp_path)
    return Services(
        settings=base.settings,
        store=base.store,
        oqs=base.oqs,
        terminal=base.terminal,
        cards=PcscCards(TEST_READER),
        oqs_transport=base.oqs_transport,
    )


def monitor_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "card-monitor"]


@pytest.mark.usefixtures("pcscd")
def test_the_desk_hears_a_card_come_and_go_and_is_silent_meanwhile(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through pcscd + vpcd: a card in the reader at start is read; taken away, the
    check-in ends (【S02】 on the panel); placed again, it starts again — and while
    nothing happens the terminal makes no PC/SC call at all (it polled every 0.5 s, a new
    context each time). Quitting ends the watch then and there: no thread, no PC/SC
    context left."""
    calls = PcscCalls(monkeypatch)
    svc = at_a_real_reader(world, tmp_path)

    async def scenario(pilot: Pilot[None], app: ReceptionApp) -> None:
        await at_view(pilot, app, "method")  # the card was there before the terminal
        served.remove()  # taken away: its 【S02】 screen until 閉じる or the next card
        await at_view(pilot, app, "done")
        await asyncio.sleep(0.3)  # the watch blocks in pcscd again
        idle = calls.total()
        await asyncio.sleep(1.5)
        await pilot.pause()
        assert calls.total() == idle, calls.counts  # idle: not one call
        served.insert()  # placed again
        await at_view(pilot, app, "method")
        served.remove()
        await at_view(pilot, app, "done")
        assert monitor_threads()

    with in_test_slot(card_of(world, "adult-kyokai")) as served:
        asyncio.run(drive(svc, scenario))
    assert not monitor_threads()
    assert calls.counts["SCardEstablishContext"] == calls.counts["SCardReleaseContext"]
    receptions = svc.store.receptions_on(now_jst().date())
    assert [r.status for r in receptions] == ["error", "error"]  # both cards left mid-way


@pytest.mark.timeout(180)
def test_the_watch_outlives_pcscd_restarts_and_readers_coming_and_going() -> None:
    """In a pcscd of the test's own: with no reader at all the monitor waits (one call,
    no spinning); pcscd gone, it says so and retries gently; pcscd back with vpcd's
    readers, it sees them and the card in and out; pcscd restarted under the card, the
    card counts as gone, then back; the readers gone, it says so and waits. It stops
    at once, its thread gone."""
    problem = isolation_unavailable()
    if problem is not None:
        if os.environ.get("MYNA_REQUIRE_PCSCD") == "1":
            pytest.fail(f"a private pcscd is required here: {problem}")
        pytest.skip(problem)
    report = run_isolated()
    events = report.pop("events")
    for step in (
        "no_reader_said",
        "pcscd_gone_said",
        "readers_back",
        "trouble_cleared",
        "card_in",
        "card_out",
        "card_in_again",
        "card_gone_with_pcscd",
        "card_back_after_restart",
        "watching_no_reader",
        "stopped",
    ):
        assert report[step] is True, (step, report, events)
    assert report["calls_idle_without_readers"] == 0, report
    assert report["calls_idle_with_card"] == 0, report
    assert report["calls_while_pcscd_gone"] == 0, report  # no context: no wait to call
    assert report["monitor_threads_left"] == [], report
    troubles = [e[1] for e in events if e[0] == "trouble"]
    assert "pcscd" in troubles[0]  # said in words: the service is not running
