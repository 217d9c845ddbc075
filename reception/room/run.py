"""Running a room: the folder locked, the desks made, the scenario resumed, the server
up until Ctrl+C or SIGTERM — then every desk process and the service stopped."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

from aiohttp import web

from reception.room.control import RoomControl
from reception.room.layout import Room, RoomState, is_loopback
from reception.room.server import RoomServer
from reception.settings import ReceptionSettings


def _say(line: str = "") -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def room_url(host: str, port: int) -> str:
    shown = socket.gethostname() if host in ("0.0.0.0", "::") else host  # noqa: S104
    shown = f"[{shown}]" if ":" in shown else shown
    return f"http://{shown}:{port}"


def announce(state: RoomState, url: str, folder: Path) -> None:
    _say(f"研修室: {url}/  （研修生はこのURLを開きます）")
    _say(f"講師の画面: {url}/trainer")
    if state.room_code:
        _say(f"研修室コード（研修生に示す）: {state.room_code}")
        _say(f"講師用パスワード（講師だけ）: {state.trainer_password}")
    _say(f"デスク {len(state.desks)} 台:")
    for desk in state.desks:
        who = f"  {desk.trainee}" if desk.trainee else ""
        _say(f"  {desk.number:>2}  {url}/desk/{desk.code}  医療機関コード {desk.facility}{who}")
    if state.scenario is not None:
        _say(f"研修: 「{state.scenario.title}」（{state.scenario.set_or_file}）")
    else:
        _say("研修はまだ始まっていません: 講師の画面で開始します")
    _say(f"フォルダ: {folder}")
    _say("終了: Ctrl+C")


def run_room(
    folder: Path,
    settings: ReceptionSettings,
    *,
    desks: int,
    host: str,
    port: int,
    scenario: str | None,
) -> int:
    room = Room(folder, lock=True)
    control = RoomControl(room, settings)
    try:
        room.prepare(desks, protect=not is_loopback(host))
        if scenario is not None:
            control.start(scenario)
        else:
            control.resume()
        server = RoomServer(room, control, protected=not is_loopback(host))
        announce(room.load(), room_url(host, port), folder)
        try:
            web.run_app(server.app(), host=host, port=port, print=None, access_log=None)
        except OSError as exc:
            sys.stderr.write(f"reception room: {host}:{port} で待ち受けできません: {exc}\n")
            return 1
        return 0
    finally:
        control.close()
        room.close()
