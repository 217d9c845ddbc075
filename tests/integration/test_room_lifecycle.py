"""A training room's life (issue 26 §1, §2): SIGTERM, Ctrl+C and kill -9 leave nothing
running; a desk process that dies comes back with its run and the tab gets its screen,
other desks unaffected; a desk that keeps crashing stays down; a tab closed and opened
again, a second tab, the room restarted — each desk keeps its run."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import pytest

from tests.support.processes import descendants, kill_all, mentioning, still_running
from tests.support.room import DeskClient, RoomProcess, free_port, running_room
from tests.support.room_watch import F8, desk_pid, desk_processes, service_pids, world_faults

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(autouse=True)
def nothing_left(tmp_path: Path) -> Iterator[None]:
    """Whatever happens in the test, no process naming its folder outlives it."""
    yield
    left = still_running(mentioning(str(tmp_path)), seconds=15)
    kill_all({pid: "" for pid in left})  # start unknown: kill_all checks running(pid, "")
    for pid in left:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    assert not left, f"left running: {left}"


async def seated(room: RoomProcess, code: str, name: str = "研修 花子") -> DeskClient:
    """A trainee named at desk ``code`` with the first case on the screen."""
    assert room.name_desk(code, name).status_code == 302
    client = await DeskClient(room.url, code).connect()
    await client.wait_for("研修 1/", 60)
    return client


async def finish_case(client: DeskClient, number: int) -> None:
    """F8 (対応完了) on the case shown; the next one (``number``) after "n" (次へ).
    A key may come while the screen is still being laid out: sent again then."""
    for attempt in range(5):
        await client.key(F8)
        try:
            await client.wait_for("解説", 5 + 5 * attempt)
            break
        except TimeoutError:
            continue
    await client.key("n")
    await client.wait_for(f"研修 {number}/", 30)


async def pid_of(room: RoomProcess, code: str, **options: float) -> int:
    return await asyncio.to_thread(desk_pid, room, code, **options)  # type: ignore[arg-type]


def everything_below(room: RoomProcess) -> dict[int, str]:
    found = descendants(room.proc.pid)
    assert desk_processes(room), "the desks' processes were not running"
    assert service_pids(room), "the mock service was not running"
    return found


@pytest.mark.parametrize("how", ["sigterm", "ctrl-c"])
def test_sigterm_and_ctrl_c_stop_the_room_and_everything_it_started(
    tmp_path: Path, how: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if how == "ctrl-c":  # the room in a terminal of its own: Ctrl+C signals its group
        monkeypatch.setattr(
            subprocess, "Popen", functools.partial(subprocess.Popen, start_new_session=True)
        )
    room = RoomProcess(tmp_path / "room", desks=2).wait_ready()
    monkeypatch.undo()
    try:
        codes = room.desk_codes()

        async def connected() -> dict[int, str]:
            clients = [await seated(room, code) for code in codes]
            below = everything_below(room)
            assert len(desk_processes(room)) == 2
            if how == "sigterm":
                room.proc.send_signal(signal.SIGTERM)
            else:
                os.killpg(room.proc.pid, signal.SIGINT)
            for client in clients:  # each tab is told and closed
                with contextlib.suppress(ConnectionError):
                    await client.wait_for("never shown", 30)
                assert client.closed is not None
                await client.close()
            return below

        below = asyncio.run(connected())
        assert room.proc.wait(60) == 0
        assert still_running(below) == {}
        assert "Traceback" not in room.output()
    finally:
        room.stop()


def test_kill_9_of_the_room_takes_its_desks_and_service_with_it(tmp_path: Path) -> None:
    with running_room(tmp_path / "room", desks=2) as room:

        async def connected() -> dict[int, str]:
            clients = [await seated(room, code) for code in room.desk_codes()]
            below = everything_below(room)
            room.proc.kill()
            for client in clients:
                await client.close()
            return below

        below = asyncio.run(connected())
        room.proc.wait(30)
        assert still_running(below) == {}  # pdeathsig: no orphan desk, no orphan service


def trainer_fault(room: RoomProcess, code: str, change: str) -> None:
    answer = httpx.post(
        f"{room.url}/trainer/fault",
        data={"desk": code, "change": change},
        headers={"Accept": "application/json"},
        timeout=60,
    )
    assert answer.status_code == 200, answer.text


def desk_faults(room: RoomProcess, code: str) -> dict[str, Any]:
    facility = next(d["facility"] for d in room.state()["desks"] if d["code"] == code)
    found: dict[str, Any] = world_faults(room)["facilities"].get(facility, {})
    return found


def test_a_killed_desk_comes_back_with_its_run_and_the_others_do_not_notice(
    tmp_path: Path,
) -> None:
    with running_room(tmp_path / "room", desks=2) as room:
        first, second = room.desk_codes()

        async def play() -> None:
            a = await seated(room, first, "一番 花子")
            b = await seated(room, second, "二番 太郎")
            await finish_case(a, 2)
            a_pid, b_pid = await pid_of(room, first), await pid_of(room, second)
            # what the trainer broke for the desk stays broken when its process comes back
            trainer_fault(room, first, "slow:on")
            os.kill(a_pid, signal.SIGKILL)
            a_new = await pid_of(room, first, other_than=a_pid)
            await asyncio.sleep(3)  # the new process is up (its clinic opened)
            assert desk_faults(room, first).get("latency_ms", 0) > 0
            trainer_fault(room, first, "slow:off")
            a.screen.reset()
            await a.wait_for("研修 2/", 60)  # the same tab gets its screen back, same case
            assert a.closed is None
            assert "一番 花子" in a.text()
            # the other desk: the same process, the same tab, still answering
            assert await pid_of(room, second) == b_pid and b.closed is None
            b.screen.reset()
            await b.key("\x1b[15~")  # F5: drawn again (its trainee's name in the title)
            await b.wait_for("二番 太郎", 30)
            # and the desk that came back plays on
            await finish_case(a, 3)
            assert await pid_of(room, first) == a_new
            await a.close()
            await b.close()

        asyncio.run(play())
        assert "started again" in room.output()


def test_a_desk_that_keeps_crashing_stays_down(tmp_path: Path) -> None:
    with running_room(tmp_path / "room", desks=2) as room:
        code, other = room.desk_codes()

        async def crash() -> None:
            client = await seated(room, code)
            neighbour = await seated(room, other, "隣の 太郎")
            pid = await pid_of(room, code)
            for _ in range(10):  # more than RESTARTS_AT_MOST in a minute
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                for _ in range(60):  # started again, or down (its tab closed)
                    if client.closed is not None:
                        break
                    with contextlib.suppress(AssertionError):
                        pid = await pid_of(room, code, other_than=pid, seconds=0.5)
                        break
                if client.closed is not None:
                    break
            with contextlib.suppress(ConnectionError):
                await client.wait_for("never shown", 30)
            assert client.closed is not None  # the tab is told: the desk is down
            assert not [p for p, line in desk_processes(room).items() if line.split()[-1] == code]
            assert neighbour.closed is None, room.output()
            neighbour.screen.reset()
            await neighbour.key("\x1b[15~")
            await neighbour.wait_for("隣の 太郎", 30)
            await client.close()
            await neighbour.close()

        asyncio.run(crash())


def test_a_tab_closed_and_opened_again_resumes_the_same_run(tmp_path: Path) -> None:
    with running_room(tmp_path / "room", desks=1) as room:
        (code,) = room.desk_codes()

        async def come_back() -> None:
            client = await seated(room, code)
            await finish_case(client, 2)
            await client.close()
            again = await DeskClient(room.url, code).connect()
            await again.wait_for("研修 2/", 60)
            await again.close()

        asyncio.run(come_back())


def test_a_second_tab_takes_the_desk_and_the_first_is_told_why(tmp_path: Path) -> None:
    with running_room(tmp_path / "room", desks=1) as room:
        (code,) = room.desk_codes()

        async def two_tabs() -> None:
            assert room.name_desk(code, "二重 花子").status_code == 302
            async with aiohttp.ClientSession() as session:
                ws_url = room.url.replace("http", "ws", 1) + f"/ws/{code}"
                first = await session.ws_connect(ws_url)
                said: list[str] = []

                async def read_first() -> str:
                    async for message in first:
                        if message.type == aiohttp.WSMsgType.TEXT:
                            said.append(str(json.loads(message.data)))
                    return str(first.close_code)

                reading = asyncio.create_task(read_first())
                old = await pid_of(room, code)
                second = await DeskClient(room.url, code).connect()
                await second.wait_for("研修 1/", 60)
                await asyncio.wait_for(reading, 30)
                assert any("別のタブで開かれました" in s for s in said), said
                assert first.closed
                # one process for the desk: the first tab's is gone
                now = await pid_of(room, code)
                assert [p for p, line in desk_processes(room).items() if code in line] == [now]
                assert now != old
                await second.close()

        asyncio.run(two_tabs())


def test_the_room_restarted_resumes_its_scenario_and_the_desks_runs(tmp_path: Path) -> None:
    folder = tmp_path / "room"
    with running_room(folder, desks=2) as room:
        codes = room.desk_codes()

        async def first_day() -> None:
            client = await seated(room, codes[0])
            await finish_case(client, 2)
            await client.close()

        asyncio.run(first_day())
    with running_room(folder, desks=2, scenario=None) as room:
        assert room.desk_codes() == codes
        assert room.state()["scenario"]["set_or_file"] == "kihon"

        async def next_day() -> None:
            client = await DeskClient(room.url, codes[0]).connect()
            await client.wait_for("研修 2/", 60)
            await client.close()

        asyncio.run(next_day())


def test_a_room_with_no_scenario_keeps_its_desks_waiting(tmp_path: Path) -> None:
    import httpx

    with running_room(tmp_path / "room", desks=1, scenario=None) as room:
        (code,) = room.desk_codes()
        page = httpx.get(f"{room.url}/desk/{code}")
        assert page.status_code == 200 and "研修はまだ始まっていません" in page.text
        assert room.name_desk(code, "待機 花子").status_code == 302
        page = httpx.get(f"{room.url}/desk/{code}")
        assert "研修はまだ始まっていません" in page.text and "待機 花子" in page.text
        assert not desk_processes(room)
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            asyncio.run(DeskClient(room.url, code).connect())
        assert refused.value.status == 409
        assert not service_pids(room)  # no scenario: no service either
        assert "研修はまだ始まっていません" in room.output()


@pytest.mark.parametrize(
    ("scenario", "said"),
    [
        ("no-such-set", "no-such-set"),
        ("{file}", "scenario.toml"),
    ],
)
def test_a_scenario_that_cannot_be_played_is_a_clear_error(
    tmp_path: Path, scenario: str, said: str
) -> None:
    bad = tmp_path / "scenario.toml"
    bad.write_text('id = "x"\ntitle = "壊れた"\n[[case]]\nid = 3\n', encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "reception.cli", "room", "--folder", str(tmp_path / "room"),
         "--desks", "1", "--port", str(free_port()), "--scenario", scenario.format(file=bad)],
        capture_output=True, text=True, timeout=120, check=False,
        env=os.environ | {"RECEPTION_DATA_DIR": str(tmp_path / "data")},
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert said in proc.stderr and "Traceback" not in proc.stderr


def test_the_trainer_stops_and_starts_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The scenario stopped: no service, the desks' certificates and runs kept; started
    again: served again, nothing issued twice, nothing left when the room closes."""
    from reception.room.control import RoomControl
    from reception.room.layout import Room
    from reception.settings import load_settings

    monkeypatch.setenv("RECEPTION_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.setenv("RECEPTION_DATA_DIR", str(tmp_path / "data"))
    room = Room(tmp_path / "room", lock=True)
    control = RoomControl(room, load_settings())
    try:
        room.prepare(2, protect=False)
        first = control.start("kihon")
        world = room.world_folder(first.scenario_id)
        serving = mentioning(str(world))
        assert serving and room.load().service_url
        certs = {d.code: room.identity_folder(d.code, first.scenario_id) / "cert.pem"
                 for d in room.load().desks}  # fmt: skip
        issued = {code: path.read_bytes() for code, path in certs.items()}
        control.stop()
        assert still_running(serving) == {}
        state = room.load()
        assert state.scenario is None and state.service_url is None
        with pytest.raises(RuntimeError):
            control.faults("--outage", "on")  # nothing to break while nothing is played
        again = control.start("kihon")
        assert again.scenario_id == first.scenario_id
        assert room.load().service_url and mentioning(str(world))
        assert {code: path.read_bytes() for code, path in certs.items()} == issued
        assert control.resume() is not None  # the room restarted: the same scenario
        assert len(mentioning(f"serve --world {world}")) == 1  # one service, not two
    finally:
        control.close()
        room.close()
    assert still_running(mentioning(str(tmp_path))) == {}
