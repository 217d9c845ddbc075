"""A training room's protection and isolation (issue 26 §1): off loopback the desks need
the room code (and the trainer's page its password); a desk's files are its own, its
process knows no other desk, no route reads another desk's store; garbage from a
browser, a bad name, a bad desk code change nothing; a desk checks in with its own
医療機関コード; mistakes starting a room get clear messages and leave nothing running."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import httpx
import pytest

from tests.support.processes import mentioning, still_running
from tests.support.room import DeskClient, RoomProcess, free_port, running_room
from tests.support.room_watch import desk_pid

pytestmark = pytest.mark.timeout(300)
WORLD_CLINIC = "1312345678"
OUTSIDE = "0.0.0.0"  # noqa: S104 (what a trainer types for a classroom)


def files_of(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*") if "mock-oqs.log" not in p.name}


@pytest.fixture(scope="module")
def open_room(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RoomProcess]:
    folder = tmp_path_factory.mktemp("open") / "room"
    with running_room(folder, desks=5) as room:  # a desk or two per test
        yield room
    assert still_running(mentioning(str(folder))) == {}


@pytest.fixture(scope="module")
def guarded_room(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RoomProcess]:
    folder = tmp_path_factory.mktemp("guarded") / "room"
    with running_room(folder, desks=2, host=OUTSIDE) as room:
        yield room
    assert still_running(mentioning(str(folder))) == {}


def joined(room: RoomProcess) -> dict[str, str]:
    """The cookie a trainee's browser gets from the landing page's form."""
    state = room.state()
    answer = httpx.post(
        f"{room.url}/join", data={"room": state["room_code"], "desk": state["desks"][0]["code"]}
    )
    assert answer.status_code == 302
    return dict(answer.cookies)


# -- off loopback: the room code --------------------------------------------------------------


def test_serving_off_loopback_warns_and_prints_the_codes(guarded_room: RoomProcess) -> None:
    state = guarded_room.state()
    said = guarded_room.output()
    assert "注意" in said and OUTSIDE in said and "研修室コード" in said
    assert "warning: serving on 0.0.0.0" in said
    assert state["room_code"] and f"研修室コード（研修生に示す）: {state['room_code']}" in said
    assert state["trainer_password"] and state["trainer_password"] in said
    assert (guarded_room.folder / "room.json").stat().st_mode & 0o777 == 0o600


def test_a_loopback_room_has_no_codes(open_room: RoomProcess) -> None:
    state = open_room.state()
    assert state["room_code"] is None and state["trainer_password"] is None
    assert "注意" not in open_room.output()


def test_desks_are_refused_without_the_room_code(guarded_room: RoomProcess) -> None:
    code = guarded_room.desk_codes()[0]
    wrong = {"room_code": "zzzzzz"}
    for cookies in ({}, wrong):
        with httpx.Client(base_url=guarded_room.url, cookies=cookies) as browser:
            for path in (f"/desk/{code}", f"/desk/{code}/name"):
                answer = browser.get(path)
                assert answer.status_code == 302 and answer.headers["location"] == "/"
            posted = browser.post(f"/desk/{code}/name", data={"trainee": "侵入 者"})
            assert posted.status_code == 302 and posted.headers["location"] == "/"
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            asyncio.run(DeskClient(guarded_room.url, code).connect(cookies=cookies))
        assert refused.value.status == 403
    for disguised in (
        f"/%64esk/{code}",
        f"/desk/{code}/",
        f"/desk/{code}/%6eame",
        "//desk/" + code,
    ):
        answer = httpx.get(httpx.URL(guarded_room.url + disguised))
        assert answer.status_code in (302, 404), disguised
        assert "研修生の名前" not in answer.text
    assert all(d["trainee"] is None for d in guarded_room.state()["desks"])


def test_join_with_a_wrong_code_is_refused_and_sets_nothing(guarded_room: RoomProcess) -> None:
    for given in ("", "wrong1", guarded_room.state()["trainer_password"]):
        answer = httpx.post(f"{guarded_room.url}/join", data={"room": given, "desk": ""})
        assert answer.status_code == 403
        assert "研修室コードが違います" in answer.text
        assert "set-cookie" not in answer.headers


def test_join_with_the_right_code_seats_a_trainee(guarded_room: RoomProcess) -> None:
    room_code = guarded_room.state()["room_code"]
    answer = httpx.post(
        f"{guarded_room.url}/join", data={"room": f" {room_code.upper()} ", "desk": ""}
    )
    assert answer.status_code == 302
    assert answer.headers["location"].startswith("/desk/")
    cookie = answer.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    with httpx.Client(base_url=guarded_room.url, cookies=answer.cookies) as browser:
        page = browser.get(answer.headers["location"], follow_redirects=True)
        assert page.status_code == 200 and "研修生の名前" in page.text


def test_the_trainer_page_is_not_open_without_its_password(guarded_room: RoomProcess) -> None:
    with httpx.Client(base_url=guarded_room.url, cookies=joined(guarded_room)) as browser:
        answer = browser.get("/trainer")  # a trainee's cookie is not the trainer's
        assert (
            answer.status_code != 200
            or "研修室コード" in answer.text
            or "パスワード" in (answer.text)
        )


def test_a_protected_desk_plays_with_the_cookie(guarded_room: RoomProcess) -> None:
    cookies = joined(guarded_room)
    code = guarded_room.desk_codes()[1]
    with httpx.Client(base_url=guarded_room.url, cookies=cookies) as browser:
        assert browser.post(f"/desk/{code}/name", data={"trainee": "守り 花子"}).status_code == 302

    async def play() -> None:
        client = await DeskClient(guarded_room.url, code).connect(cookies=cookies)
        await client.wait_for("守り 花子", 60)
        await client.close()

    asyncio.run(play())


# -- desks' codes in URLs ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/desk/..%2F..%2Froom.json",
        "/desk/%2e%2e",
        "/desk/%2e%2e/name",
        "/desk/..%2fdesks",
        "/desk/{upper}",
        "/desk/{code}x",
        "/desk/" + "a" * 300,
        "/desk/{code}%00",
        "/desk/{code}%2F..%2F{other}",
        "/ws/%2e%2e",
        "/ws/{upper}",
    ],
)
def test_a_malformed_desk_code_is_404_and_touches_nothing(
    open_room: RoomProcess, path: str
) -> None:
    code, other = open_room.desk_codes()[:2]
    before = files_of(open_room.folder)
    url = open_room.url + path.format(code=code, upper=code.upper(), other=other)
    answer = httpx.get(httpx.URL(url))
    assert answer.status_code == 404, answer.text
    posted = httpx.post(httpx.URL(url.rstrip("/") + "/name"), data={"trainee": "迷子"})
    assert posted.status_code in (404, 405)
    assert files_of(open_room.folder) == before
    assert '"trainee": "迷子"' not in (open_room.folder / "room.json").read_text()


@pytest.mark.parametrize(
    "path",
    ["/static/../room.json", "/static/%2e%2e/%2e%2e/room.json", "/static/..%2f..%2froom.json",
     "/desks", "/room.json", "/scenarios"],
)  # fmt: skip
def test_no_route_serves_the_rooms_files(open_room: RoomProcess, path: str) -> None:
    answer = httpx.get(httpx.URL(open_room.url + path))
    assert answer.status_code in (403, 404)
    assert open_room.desk_codes()[0] not in answer.text


# -- a desk's own files and process -----------------------------------------------------------


def test_each_desk_process_knows_only_its_own_desk(open_room: RoomProcess) -> None:
    first, second, *others = open_room.desk_codes()
    for code in (first, second):
        assert open_room.name_desk(code, f"分離 {code}").status_code == 302

    async def two_desks() -> None:
        clients = [await DeskClient(open_room.url, c).connect() for c in (first, second)]
        for client in clients:
            await client.wait_for(f"分離 {client.code}", 60)
        for code, not_its in ((first, [second, *others]), (second, [first, *others])):
            pid = await asyncio.to_thread(desk_pid, open_room, code)
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode()
            environ = Path(f"/proc/{pid}/environ").read_bytes().decode(errors="replace")
            assert code in argv
            for other in not_its:
                assert other not in argv and other not in environ
            assert str(open_room.log) not in environ
        for client in clients:
            await client.close()

    asyncio.run(two_desks())
    for code in open_room.desk_codes():
        folder = open_room.folder / "desks" / code
        assert folder.stat().st_mode & 0o777 == 0o700
    for code in (first, second):  # its run (journal, store) inside its own folder
        assert list((open_room.folder / "desks" / code / "runs").rglob("journal.sqlite"))


def test_a_desk_checks_in_with_its_own_clinic_code(open_room: RoomProcess) -> None:
    """The simulated patient puts the card and types the PIN by itself: the service sees
    the desk's own 医療機関コード — never the world's clinic's, only the room's desks'."""
    state = open_room.state()
    desk = state["desks"][2]
    assert open_room.name_desk(desk["code"], "医療機関 花子").status_code == 302
    (log,) = open_room.folder.glob("scenarios/*/world/mock-oqs.log")

    def facilities() -> set[str]:  # of every request the service logged
        lines = log.read_text("utf-8").splitlines()
        return {json.loads(line).get("facility") or "" for line in lines} - {""}

    async def check_in() -> set[str]:
        client = await DeskClient(open_room.url, desk["code"]).connect()
        await client.wait_for("医療機関 花子", 60)
        seen: set[str] = set()
        for _ in range(600):  # the patient's card and PIN: the desk asks for a nonce
            seen = await asyncio.to_thread(facilities)
            if desk["facility"] in seen:
                break
            await asyncio.sleep(0.1)
        await client.close()
        return seen

    seen = asyncio.run(check_in())
    assert desk["facility"] in seen
    assert WORLD_CLINIC not in seen
    assert seen <= {d["facility"] for d in state["desks"]}


# -- a browser's garbage ----------------------------------------------------------------------


def test_garbage_on_a_desks_websocket_leaves_the_desk_running(open_room: RoomProcess) -> None:
    code = open_room.desk_codes()[3]
    assert open_room.name_desk(code, "頑丈 太郎").status_code == 302

    async def attack() -> None:
        client = await DeskClient(open_room.url, code).connect()
        await client.wait_for("頑丈 太郎", 60)
        pid = await asyncio.to_thread(desk_pid, open_room, code)
        ws = client.ws
        assert ws is not None
        for garbage in (
            "not json",
            "{",
            "[]",
            "{}",
            "42",
            "null",
            '"stdin"',
            '["no-such-kind", 1]',
            '["stdin"]',
            '["stdin", 5]',
            '["stdin", null]',
            '["resize", "big"]',
            '["resize", {"width": "80", "height": 24}]',
            '["resize", {"width": 100000, "height": 100000}]',
            '["resize", {"width": -5, "height": 0}]',
            '["resize", {"width": true, "height": 1e309}]',
            '["ping", {"deep": [[[[[[]]]]]]}]',
            "[" * 5000 + "]" * 5000,
            json.dumps(["stdin", "x" * (100 * 1024)]),  # more than a browser's message
            json.dumps(["stdin", "\x00\x1b[999999;999999H\x1b]52;c;AAAA\x07"]),
        ):
            await ws.send_str(garbage)
        await ws.send_bytes(b"\x00\xff binary")
        await ws.send_bytes(os.urandom(70 * 1024))
        await ws.send_str(json.dumps(["resize", {"width": 120, "height": 40}]))
        client.screen.reset()
        await client.key("\x1b[15~")  # F5: the screen drawn again
        await client.wait_for("頑丈 太郎", 30)
        assert client.closed is None
        assert await asyncio.to_thread(desk_pid, open_room, code) == pid  # never restarted
        await client.close()

    asyncio.run(attack())
    assert "Traceback" not in open_room.output()


def test_a_message_beyond_any_limit_closes_the_tab_but_not_the_desk(
    open_room: RoomProcess,
) -> None:
    code = open_room.desk_codes()[3]
    assert open_room.name_desk(code, "頑丈 太郎").status_code == 302

    async def flood() -> None:
        client = await DeskClient(open_room.url, code).connect()
        await client.wait_for("頑丈 太郎", 60)
        assert client.ws is not None
        with contextlib.suppress(ConnectionError):  # the server hangs up mid-message
            await client.ws.send_str("x" * (8 * 1024 * 1024))
        for _ in range(100):
            if client.closed is not None:
                break
            await asyncio.sleep(0.1)
        await client.close()
        again = await DeskClient(open_room.url, code).connect()
        await again.wait_for("頑丈 太郎", 60)
        assert again.closed is None
        await again.close()

    asyncio.run(flood())


# -- the name form ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"trainee": "山田\x1b[2J花子"}, "制御文字"),
        ({"trainee": "山田\u202e子花"}, "制御文字"),
        ({"trainee": "名" * 10_000}, "40文字まで"),
        ({"trainee": ""}, "名前を入れてください"),
        ({}, "名前を入れてください"),
        ({"name": "別の欄"}, "名前を入れてください"),
        ({"trainee": "x" * 100_000}, "長すぎます"),
    ],
)
def test_a_bad_name_gets_a_japanese_reason_and_nothing_is_stored(
    open_room: RoomProcess, form: dict[str, str], message: str
) -> None:
    code = open_room.desk_codes()[4]
    before = open_room.state()
    answer = httpx.post(f"{open_room.url}/desk/{code}/name", data=form)
    assert answer.status_code in (400, 413)
    assert message in answer.text
    assert "text/html" in answer.headers["content-type"]
    assert open_room.state() == before
    assert "\x1b" not in answer.text and "\u202e" not in answer.text


def test_a_name_is_escaped_where_it_is_shown(open_room: RoomProcess) -> None:
    code = open_room.desk_codes()[0]
    assert open_room.name_desk(code, "<script>alert(1)</script>").status_code == 302
    page = httpx.get(f"{open_room.url}/desk/{code}/name")
    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;" in page.text
    assert open_room.name_desk(code, "分離 " + code).status_code == 302


# -- starting a room: mistakes ----------------------------------------------------------------


def room_command(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reception.cli", "room", "--folder", str(tmp_path / "room"),
         *args],
        capture_output=True, text=True, timeout=120, check=False,
        env=os.environ | {"RECEPTION_DATA_DIR": str(tmp_path / "data")},
    )  # fmt: skip


@pytest.mark.parametrize("desks", ["0", "61", "abc", "-1", "1.5"])
def test_a_bad_desk_count_is_refused(tmp_path: Path, desks: str) -> None:
    proc = room_command(tmp_path, "--desks", desks, "--port", str(free_port()))
    assert proc.returncode == 2
    assert "--desks" in proc.stderr or "desks" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "room").exists()


@pytest.mark.parametrize("port", ["0", "65536", "http", "-80"])
def test_a_bad_port_is_refused(tmp_path: Path, port: str) -> None:
    proc = room_command(tmp_path, "--desks", "1", "--port", port)
    assert proc.returncode == 2 and "port" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "room").exists()


def test_a_port_in_use_is_a_clear_error_and_nothing_stays(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        started = time.monotonic()
        proc = room_command(tmp_path, "--desks", "1", "--port", str(port), "--scenario", "kihon")
    assert proc.returncode == 1, proc.stderr
    assert f"{port}" in proc.stderr and "待ち受けできません" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert still_running(mentioning(str(tmp_path))) == {}
    assert time.monotonic() - started < 120


def test_a_second_room_on_the_same_folder_is_refused(open_room: RoomProcess) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "reception.cli", "room", "--folder", str(open_room.folder),
         "--desks", "1", "--port", str(free_port())],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 2
    assert "別の `reception room` が使っています" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert httpx.get(open_room.url + "/").status_code == 200  # the first goes on


def test_a_garbage_room_json_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "room").mkdir()
    (tmp_path / "room" / "room.json").write_text("{garbage", encoding="utf-8")
    proc = room_command(tmp_path, "--desks", "1", "--port", str(free_port()))
    assert proc.returncode == 2
    assert "room.json" in proc.stderr and "Traceback" not in proc.stderr


def test_trainees_joining_at_once_get_a_desk_each(tmp_path: Path) -> None:
    with running_room(tmp_path / "room", desks=3) as room:
        given = [
            httpx.post(f"{room.url}/join", data={"desk": ""}).headers.get("location")
            for _ in range(3)
        ]
        assert len(set(given)) == 3 and all(g and g.startswith("/desk/") for g in given)
        full = httpx.post(f"{room.url}/join", data={"desk": ""})
        assert full.status_code == 409 and "空いているデスクがありません" in full.text
        # a desk asked for by its code is still given (the trainee coming back)
        own = httpx.post(f"{room.url}/join", data={"desk": given[0][len("/desk/") :]})
        assert own.status_code == 302 and own.headers["location"] == given[0]


def test_a_desk_certificate_that_cannot_be_issued_is_a_clear_error(tmp_path: Path) -> None:
    with running_room(tmp_path / "room", desks=1):
        pass
    (key,) = (tmp_path / "room").glob("scenarios/*/world/facility-ca/key.pem")
    key.write_text("broken")
    proc = room_command(tmp_path, "--desks", "2", "--port", str(free_port()))  # a new desk
    assert proc.returncode == 2, proc.stderr
    assert "端末証明書を発行できません" in proc.stderr and "facility CA" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert still_running(mentioning(str(tmp_path))) == {}
    assert json.loads((tmp_path / "room" / "room.json").read_text())["service_url"] is None
