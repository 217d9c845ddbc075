"""The trainer's page of a real ``reception room`` (issue 26 §1): a desk's case and score
as its trainee settles it on the desk's screen, the room's report, a scenario started and
stopped for every desk, a fault for one desk that leaves the others alone, the password
when the room is on the LAN, and what garbage gets."""

from __future__ import annotations

import asyncio
import csv
import io
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.room import DeskClient, RoomProcess, running_room
from tests.support.room_watch import world_faults

F8 = "\x1b[19~"  # 対応完了
JSON = {"Accept": "application/json"}


def status(room: RoomProcess, **options: Any) -> dict[str, Any]:
    response = httpx.get(f"{room.url}/trainer/status.json", **options)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


def desk_of(data: dict[str, Any], code: str) -> dict[str, Any]:
    found: dict[str, Any] = next(d for d in data["desks"] if d["code"] == code)
    return found


def post(room: RoomProcess, path: str, **fields: str) -> httpx.Response:
    return httpx.post(f"{room.url}/trainer/{path}", data=fields, headers=JSON, timeout=60)


async def settle_first_case(room: RoomProcess, code: str) -> str:
    """The desk's trainee waits for the patient's check-in and presses F8 (対応完了) on the
    研修 tab: the feedback's title line."""
    desk = await DeskClient(room.url, code).connect()
    try:
        await desk.wait_for("研修 1/", 60)
        for _ in range(30):  # refused while the card is being read: pressed again
            await desk.key(F8)
            try:
                await desk.wait_for("次へ", 2)
                break
            except TimeoutError:
                continue
        return next(line for line in desk.text().splitlines() if " 点（" in line).strip()
    finally:
        await desk.close()


def test_the_trainer_sees_a_desks_case_score_report_and_breaks_one_desk_alone(
    tmp_path: Path,
) -> None:
    with running_room(tmp_path / "room", desks=2) as room:
        first, second = room.desk_codes()
        assert room.name_desk(first, "<script>alert(1)</script>山田").status_code == 302
        room.name_desk(second, "佐藤 花子")

        feedback = asyncio.run(settle_first_case(room, first))
        points = feedback.split("— ")[1].split("/")[0]  # "研修 1/9 ・ … — 65/100 点（65 %）"

        data = status(room)
        assert data["scenario"]["title"] == "基本"
        mine = desk_of(data, first)
        assert mine["trainee"] == "<script>alert(1)</script>山田"
        assert mine["case_text"].startswith("2/9 ・ 暗証番号がわからない → 顔認証")
        assert mine["score"]["points"] == int(points) and mine["score"]["max"] == 100
        assert desk_of(data, second)["score"]["text"] == "—"

        page = httpx.get(f"{room.url}/trainer")
        assert page.status_code == 200
        assert f'<tr id="desk-{first}">' in page.text and 'id="start-button"' in page.text
        assert "<script>alert(1)</script>" not in page.text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;山田" in page.text
        assert "2/9 ・ 暗証番号がわからない → 顔認証" in page.text

        report = httpx.get(f"{room.url}/trainer/report.csv")
        assert report.content.startswith("\ufeff".encode())
        rows = list(csv.reader(io.StringIO(report.content.decode("utf-8-sig"))))
        pin = rows[0].index("pin 暗証番号で受付 得点")
        by_trainee = {row[2]: row for row in rows[1:]}
        assert by_trainee["<script>alert(1)</script>山田"][pin : pin + 2] == [points, "100"]
        assert by_trainee["佐藤 花子"][pin] == ""
        html = httpx.get(f"{room.url}/trainer/report.html").text
        assert f'<tr id="report-{first}">' in html and "<script>alert" not in html

        # one desk's service down and its reader out: the other desk's stay as they were
        facility = {d["code"]: d["facility"] for d in room.state()["desks"]}
        done = post(room, "fault", desk=first, change="outage:on")
        assert done.json() == {"ok": True, "message": "デスク 1: サービス停止を入れました"}
        post(room, "fault", desk=first, change="reader:on")
        plan = world_faults(room)
        assert plan["facilities"][facility[first]]["outage"] is True
        assert plan["global"]["outage"] is False
        assert not plan["facilities"].get(facility[second], {}).get("outage")
        data = status(room)
        assert desk_of(data, first)["broken_text"] == "サービス停止・リーダー未接続"
        assert desk_of(data, second)["broken_text"] == "なし"
        control = room.folder / "desks" / second / "control.json"
        assert not control.exists() or "true" not in control.read_text()

        # for everyone: the global entry and every desk's own
        post(room, "fault", desk="all", change="slow:on")
        plan = world_faults(room)
        assert plan["global"]["latency_ms"] > 0
        assert all(plan["facilities"][facility[c]]["latency_ms"] > 0 for c in (first, second))
        assert status(room)["service"]["text"] == "応答が遅い"
        post(room, "fault", desk="all", change="slow:off")
        post(room, "fault", desk=first, change="outage:off")
        assert desk_of(status(room), first)["broken_text"] == "リーダー未接続"


def test_garbage_and_foreign_posts_get_a_clear_answer_and_change_nothing(tmp_path: Path) -> None:
    with running_room(tmp_path / "room", desks=1) as room:
        before = room.state()
        huge = httpx.post(
            f"{room.url}/trainer/start", content=b"set=" + b"a" * 100_000, headers=JSON | {
                "Content-Type": "application/x-www-form-urlencoded"
            },
        )  # fmt: skip
        assert huge.status_code == 413 and "大きすぎます" in huge.json()["message"]
        cases = [
            ("start", {"set": "nope"}, 400, "「nope」という研修セットはありません"),
            ("start", {"file": "/no/such/scenario.toml"}, 400, "ファイルがありません"),
            ("start", {"colour": "red"}, 400, "研修セットを選ぶか"),
            ("fault", {"desk": "all", "change": "fire:on"}, 400, "どの故障"),
            ("fault", {"desk": "zzzzzz", "change": "outage:on"}, 404, "ありません"),
            ("fault", {"desk": "all", "change": "outage:maybe"}, 400, "どの故障"),
        ]
        for path, fields, code, says in cases:
            answer = post(room, path, **fields)
            assert answer.status_code == code, (fields, answer.text)
            assert says in answer.json()["message"], (fields, answer.text)
        # a form sent without the page's script: the page again with the message
        plain = httpx.post(f"{room.url}/trainer/start", data={"set": "nope"})
        assert plain.status_code == 400 and "「nope」という研修セットはありません" in plain.text
        assert 'id="desks"' in plain.text
        # another site's page posting to the trainer's page (CSRF), a rebound host name
        foreign = httpx.post(f"{room.url}/trainer/stop", headers={"Origin": "http://evil.example"})
        assert foreign.status_code == 403 and "別のサイト" in foreign.text
        rebound = httpx.get(f"{room.url}/trainer", headers={"Host": "evil.example"})
        assert rebound.status_code == 403
        assert room.state() == before  # the scenario still played, nothing broken


def test_the_trainer_starts_switches_and_stops_the_scenario_for_every_desk(
    tmp_path: Path,
) -> None:
    with running_room(tmp_path / "room", desks=2, scenario=None) as room:
        assert status(room)["scenario"] is None
        assert httpx.get(f"{room.url}/trainer/report.csv").status_code == 404
        assert post(room, "stop").json()["message"] == "研修は行われていません"

        started = post(room, "start", set="kihon")
        assert started.json() == {"ok": True, "message": "「基本」を開始しました（デスク 2 台）"}
        assert room.state()["scenario"]["scenario_id"] == "kihon"
        code = room.desk_codes()[0]
        room.name_desk(code, "鈴木")

        async def switched() -> str | None:
            desk = await DeskClient(room.url, code).connect()
            try:
                await desk.wait_for("研修 1/", 60)
                answer = post(room, "start", set="daitai")  # the desks stop first
                assert answer.json()["message"].startswith("「代替手段」を開始しました")
                with pytest.raises(ConnectionError):
                    await desk.wait_for("（出ない文字）", 15)
                return desk.closed
            finally:
                await desk.close()

        assert asyncio.run(switched()) is not None  # the desk's session was ended
        data = status(room)
        assert data["scenario"]["id"] == "daitai" and data["scenario"]["title"] == "代替手段"
        assert desk_of(data, code)["process"]["connected"] is False

        stopped = post(room, "stop")
        assert stopped.json()["ok"] is True and room.state()["scenario"] is None
        data = status(room)
        assert data["scenario"] is None and data["report_of"] == "代替手段"
        assert httpx.get(f"{room.url}/trainer/report.csv").status_code == 200
        answer = post(room, "fault", desk="all", change="outage:on")
        assert answer.status_code == 409 and "研修が行われていない" in answer.json()["message"]


def test_on_the_lan_the_trainers_page_needs_the_password(tmp_path: Path) -> None:
    paths = ["/trainer", "/trainer/status.json", "/trainer/report.csv"]
    with running_room(tmp_path / "room", desks=1, host="0.0.0.0") as room:  # noqa: S104
        state = room.state()
        for path in paths:
            assert httpx.get(room.url + path).status_code in (303, 401), path
            # the trainees' room code is not the trainer's password
            as_trainee = httpx.get(room.url + path, cookies={"room_code": state["room_code"]})
            assert as_trainee.status_code in (303, 401), path
        assert httpx.get(f"{room.url}/trainer").headers["Location"] == "/trainer/login"
        assert post(room, "stop").status_code == 401
        assert room.state()["scenario"] is not None
        wrong = httpx.post(f"{room.url}/trainer/login", data={"password": "guess"})
        assert wrong.status_code == 403 and "パスワードが違います" in wrong.text

        login = httpx.post(
            f"{room.url}/trainer/login", data={"password": state["trainer_password"]}
        )
        assert login.status_code == 303
        cookie = login.headers["Set-Cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
        for path in paths:
            assert httpx.get(room.url + path, cookies=login.cookies).status_code == 200, path
        page = httpx.get(f"{room.url}/trainer", cookies=login.cookies).text
        assert f'<strong id="room-code">{state["room_code"]}</strong>' in page
