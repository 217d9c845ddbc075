"""The staff console's day list (受付一覧) on a busy day (issue 19): a change reads and
touches only its own row, the filter is matched off the event loop and a stale keystroke
never wins, and the highlighted reception stays highlighted when rows arrive."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable, Input

from mock_oqs.world import World
from reception.present import reception_row
from reception.results import QualificationResult
from reception.store import Reception, Store, now_jst
from reception.tui.app import ReceptionApp
from reception.tui.widgets import receptions as list_module
from reception.tui.widgets.messages import ReceptionsChanged
from tests.support.desk import confirmed, result_named
from tests.support.desk import shown_rows as shown
from tests.support.tui import at_view, drive, pin_to, services, until


def highlighted(app: ReceptionApp) -> str:
    table = app.query_one("#receptions", DataTable)
    return str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)


async def listed(pilot: Pilot[None], app: ReceptionApp, ids: list[str]) -> None:
    """Wait until the list shows exactly these receptions (read, matched, added)."""
    await until(pilot, lambda: shown(app) == ids)


class Spy:
    """Which receptions' results the store was asked for, and what the table was told."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, app: ReceptionApp) -> None:
        self.read: list[str] = []
        self.added: list[str] = []
        self.updated: list[str] = []
        self.cleared = 0
        results_of = Store.results_of

        def reading(store: Store, reception_id: str) -> list[QualificationResult]:
            self.read.append(reception_id)
            return results_of(store, reception_id)

        monkeypatch.setattr(Store, "results_of", reading)
        table = app.query_one("#receptions", DataTable)
        self._wrap(monkeypatch, table, "add_row", lambda *a, **k: self.added.append(k["key"]))
        self._wrap(monkeypatch, table, "update_cell", lambda key, *a, **k: self.updated.append(key))
        self._wrap(monkeypatch, table, "clear", lambda *a, **k: self._clear())

    def _clear(self) -> None:
        self.cleared += 1

    @staticmethod
    def _wrap(
        monkeypatch: pytest.MonkeyPatch, table: Any, name: str, note: Callable[..., None]
    ) -> None:
        method = getattr(table, name)

        def noted(*args: Any, **kwargs: Any) -> Any:
            note(*args, **kwargs)
            return method(*args, **kwargs)

        monkeypatch.setattr(table, name, noted)


def test_a_checkin_reads_and_adds_only_its_own_row(
    tui_world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With many receptions listed, a check-in reads the store for its own reception
    alone and adds its one row; before, every row of the day was read and rebuilt."""
    svc = services(tui_world, tmp_path)
    earlier = confirmed(svc.store, *(f"架空 {i}郎" for i in range(40)))
    pin = tui_world.persona("adult-kyokai")["pin"]
    spy: Spy | None = None

    async def scenario(pilot: Pilot[None], app: ReceptionApp) -> None:
        nonlocal spy
        await listed(pilot, app, earlier)
        spy = Spy(monkeypatch, app)
        await pin_to(pilot, app, "adult-kyokai", pin, "consents")
        await pilot.press("y")
        await at_view(pilot, app, "done")
        await until(pilot, lambda: len(shown(app)) == len(earlier) + 1)
        await pilot.pause()

    asyncio.run(drive(svc, scenario))
    [new] = {r.reception_id for r in svc.store.receptions_on(now_jst().date())} - set(earlier)
    assert spy is not None
    assert set(spy.read) == {new}  # the list's row and the detail beside it
    assert spy.added == [new] and spy.cleared == 0


def test_a_changed_reception_updates_only_its_row(
    tui_world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A result added to one reception (a 資格確認書 query, a re-verification): that row
    is read and its changed cells updated; no other row is read or touched."""
    svc = services(tui_world, tmp_path)
    ids = confirmed(svc.store, *(f"架空 {i}郎" for i in range(30)))
    target = ids[7]
    spy: Spy | None = None

    async def scenario(pilot: Pilot[None], app: ReceptionApp) -> None:
        nonlocal spy
        await listed(pilot, app, ids)
        spy = Spy(monkeypatch, app)
        svc.store.add_result(target, result_named("確認 花子"))
        app.post_message(ReceptionsChanged(target))
        table = app.query_one("#receptions", DataTable)
        await until(pilot, lambda: str(table.get_row(target)[1]) == "確認 花子")
        assert shown(app) == ids

    asyncio.run(drive(svc, scenario))
    assert spy is not None
    assert set(spy.read) == {target}
    assert set(spy.updated) == {target} and spy.added == [] and spy.cleared == 0


class Gate:
    """Holds the matching of one filter text until released (or 5 s, once)."""

    def __init__(self, needle: str) -> None:
        self.needle = needle
        self.released = threading.Event()
        self.timed_out = False

    def cell(self, text: str) -> str:
        """The text, as a cell whose matching against the held filter text waits."""
        gate = self

        class HeldCell(str):
            def __contains__(self, needle: object) -> bool:  # `needle in cell`
                if needle == gate.needle and not gate.timed_out:
                    gate.timed_out = not gate.released.wait(timeout=5)
                return isinstance(needle, str) and str.__contains__(self, needle)

        return HeldCell(text)


def test_an_earlier_keystrokes_filter_never_overwrites_a_later_one(
    tui_world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Staff type 「田」 then 「中」: while 「田」 is still being matched, 「田中」's result
    shows, and 「田」's, when it is done, does not replace it. Before, the matching ran on
    the event loop: the second keystroke waited for the first."""
    svc = services(tui_world, tmp_path)
    tanaka, yamada, sato = confirmed(svc.store, "田中 太郎", "山田 花子", "佐藤 健")
    gate = Gate("田")

    def held_row(store: Store, reception: Reception) -> list[str]:
        return [gate.cell(cell) for cell in reception_row(store, reception)]

    monkeypatch.setattr(list_module, "reception_row", held_row)

    async def scenario(pilot: Pilot[None], app: ReceptionApp) -> None:
        await listed(pilot, app, [tanaka, yamada, sato])
        app.query_one("#filter", Input).focus()
        await pilot.press("田")  # its matching waits at the gate
        await pilot.press("中")
        await listed(pilot, app, [tanaka])
        assert not gate.timed_out, "the second keystroke waited for the first's filter"
        gate.released.set()
        filters = [w for w in app.workers if w.group == "reception-list-filter"]
        await until(pilot, lambda: all(w.is_finished for w in filters))
        await pilot.pause()
        assert shown(app) == [tanaka]
        await pilot.press("backspace", "backspace")
        await listed(pilot, app, [tanaka, yamada, sato])

    asyncio.run(drive(svc, scenario))


def test_the_highlighted_reception_stays_when_rows_arrive(tui_world: World, tmp_path: Path) -> None:
    """Staff leave the cursor on a reception; a check-in elsewhere adds a row: the cursor
    is still on that reception, and Enter opens it — not the first row's patient."""
    svc = services(tui_world, tmp_path)
    ids = confirmed(svc.store, "架空 一郎", "架空 二郎", "架空 三郎", "架空 四郎")

    async def scenario(pilot: Pilot[None], app: ReceptionApp) -> None:
        await listed(pilot, app, ids)
        app.query_one("#receptions", DataTable).focus()
        await pilot.press("down", "down")
        assert highlighted(app) == ids[2]
        [new] = confirmed(svc.store, "架空 五郎")
        app.refresh_lists()  # as a finished check-in does
        await listed(pilot, app, [*ids, new])
        assert highlighted(app) == ids[2]
        await pilot.press("enter")
        await until(pilot, lambda: app.selected == ids[2])

    asyncio.run(drive(svc, scenario))


def test_the_highlighted_reception_stays_when_a_row_joins_above_it(
    tui_world: World, tmp_path: Path
) -> None:
    """With a filter on, a reception above the cursor comes to match it (its result
    arrived): the row joins in its place and the cursor stays on the same patient."""
    svc = services(tui_world, tmp_path)
    first, later, last = confirmed(svc.store, "田中 一郎", "佐藤 二郎", "田中 三郎")

    async def scenario(pilot: Pilot[None], app: ReceptionApp) -> None:
        await listed(pilot, app, [first, later, last])
        app.query_one("#filter", Input).focus()
        await pilot.press("田", "中")
        await listed(pilot, app, [first, last])
        app.query_one("#receptions", DataTable).focus()
        await pilot.press("down")
        assert highlighted(app) == last
        svc.store.add_result(later, result_named("田中 二郎"))
        app.post_message(ReceptionsChanged(later))
        await listed(pilot, app, [first, later, last])
        assert highlighted(app) == last
        await pilot.press("enter")
        await until(pilot, lambda: app.selected == last)

    asyncio.run(drive(svc, scenario))


def test_receptions_another_program_wrote_appear(tui_world: World, tmp_path: Path) -> None:
    """The list catches up with the store, not only with this terminal: one reception
    another program wrote is read on its own; a batch, by reading the day anew (F5 too)."""
    svc = services(tui_world, tmp_path)
    ids = confirmed(svc.store, "架空 一郎")
    elsewhere = Store(svc.settings.store_path)

    async def scenario(pilot: Pilot[None], app: ReceptionApp) -> None:
        await listed(pilot, app, ids)
        one = confirmed(elsewhere, "他端末 一郎")
        app.refresh_lists()
        await listed(pilot, app, ids + one)
        batch = confirmed(elsewhere, *(f"他端末 {i}" for i in range(25)))
        app.refresh_lists()
        await listed(pilot, app, ids + one + batch)
        more = confirmed(elsewhere, "他端末 最後")
        await pilot.press("f5")
        await listed(pilot, app, ids + one + batch + more)

    asyncio.run(drive(svc, scenario))


def test_a_new_day_starts_an_empty_list(
    tui_world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    svc = services(tui_world, tmp_path)
    ids = confirmed(svc.store, "架空 一郎")

    async def scenario(pilot: Pilot[None], app: ReceptionApp) -> None:
        await listed(pilot, app, ids)
        tomorrow = now_jst() + dt.timedelta(days=1)
        monkeypatch.setattr(list_module, "now_jst", lambda: tomorrow)
        app.refresh_lists()
        await listed(pilot, app, [])

    asyncio.run(drive(svc, scenario))
