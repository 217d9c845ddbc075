"""A training room's folder (issue 26): the room's state, its desks, their files.

::

    ROOM/room.json                 the state (0600): the scenario played, the service's URL,
                                   the desks (code, number, 医療機関コード, trainee), the
                                   room code and trainer password when not loopback
    ROOM/room.lock                 one room per folder (flock)
    ROOM/scenarios/<id>/world/     the world of a scenario (seeded on its day), served by the
                                   room's one mock service while the scenario is played
    ROOM/desks/<code>/             a desk's own files (0700): nobody's but its own
        terminal/<scenario id>/    its terminal certificate from that world's facility CA
        runs/<scenario id>/        its run: journal, store, 申立書 (reception.sim.training)
        clinic/                    its folder interface (oqs.md §7)
        control.json               what the trainer set for it (its reader unplugged)
        desk.log                   its terminal process's errors

Everything here is plain files and small JSON written atomically (a temporary file
renamed over), so a desk process, the server and a trainer's tool read the same state.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import ipaddress
import json
import os
import re
import secrets
import unicodedata
from pathlib import Path
from typing import IO

from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from reader.files import write_private
from reception.errors import InputError

ROOM_FILE = "room.json"
CONTROL_FILE = "control.json"
# desk codes: no 0/O, 1/l/i — read aloud and typed from a whiteboard
CODE_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"
CODE_LENGTH = 6
CODE_PATTERN = re.compile(f"[{CODE_ALPHABET}]{{{CODE_LENGTH}}}")
MAX_DESKS = 60
NAME_MAX = 40


class RoomError(InputError):
    title = "研修室を開けません"


class NameError_(ValueError):
    """A trainee's name that cannot be used (the message says why, in Japanese)."""


def new_code(length: int = CODE_LENGTH) -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(length))


def check_digit(six: str) -> str:
    """The check digit of a 7-digit 医療機関番号 (modulus 10, weights 2 and 1)."""
    total = 0
    for i, ch in enumerate(reversed(six)):
        product = int(ch) * (2 if i % 2 == 0 else 1)
        total += product // 10 + product % 10
    return str((10 - total % 10) % 10)


def facility_code(number: int) -> str:
    """Desk ``number``'s 医療機関コード: 東京都 (13), 医科 (1), 医療機関番号 90NNNN with
    its check digit — never the world's clinic (1312345678)."""
    six = f"{900000 + number:06d}"
    return f"131{six}{check_digit(six)}"


def clean_name(text: str) -> str:
    """A trainee's name as typed, made safe to show and store: NFC, spaces collapsed;
    ValueError (Japanese) for an empty, too long or control-character name."""
    normal = unicodedata.normalize("NFC", text)
    # before the spaces are collapsed: str.split() takes some controls (U+001C–U+001F,
    # U+0085) for spaces; tabs and line breaks (a pasted name) are spaces
    if any(
        unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn") and ch not in "\t\n\r"
        for ch in normal
    ):
        raise NameError_("名前に使えない文字（制御文字など）が入っています")
    name = " ".join(normal.split())
    if not name:
        raise NameError_("名前を入れてください")
    if len(name) > NAME_MAX:
        raise NameError_(f"名前は{NAME_MAX}文字までです")
    return name


class Desk(BaseModel):
    code: str = Field(pattern=CODE_PATTERN.pattern)
    number: int = Field(ge=1, le=MAX_DESKS)
    facility: str = Field(pattern=r"\d{10}")
    trainee: str | None = None

    @field_validator("trainee")
    @classmethod
    def _clean_trainee(cls, value: str | None) -> str | None:
        """A name in room.json is shown in pages and terminals: as clean as one typed."""
        return None if value is None else clean_name(value)


class Scenario(BaseModel):
    """The scenario the room plays: what ``reception train`` takes, its id, since when."""

    set_or_file: str
    scenario_id: str
    title: str
    started: dt.datetime


class RoomState(BaseModel):
    desks: list[Desk] = Field(default_factory=list)
    scenario: Scenario | None = None
    service_url: str | None = None
    room_code: str | None = None  # trainees type it (not loopback)
    trainer_password: str | None = None  # the trainer's page (not loopback)

    @model_validator(mode="after")
    def _distinct_desks(self) -> RoomState:
        codes = [d.code for d in self.desks]
        if len(set(codes)) != len(codes):
            raise ValueError("a desk code appears twice")
        return self


class Room:
    """The room's folder: its state and where each desk's files go. ``lock``: this
    process runs the room (a second ``reception room`` on the folder is refused)."""

    def __init__(self, folder: Path, *, lock: bool = False) -> None:
        self.folder = folder
        self._lock: IO[bytes] | None = None
        if lock:
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            handle = open(folder / "room.lock", "a+b")  # noqa: SIM115 (held while the room runs)
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                handle.close()
                raise RoomError(
                    f"{folder}: この研修室は別の `reception room` が使っています"
                ) from None
            self._lock = handle

    def close(self) -> None:
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    # -- the state ----------------------------------------------------------------------

    @property
    def state_path(self) -> Path:
        return self.folder / ROOM_FILE

    def load(self) -> RoomState:
        try:
            return RoomState.model_validate_json(self.state_path.read_bytes())
        except FileNotFoundError:
            return RoomState()
        except (ValidationError, ValueError, OSError) as exc:
            raise RoomError(f"{self.state_path}: 読めません ({exc})") from None

    def save(self, state: RoomState) -> None:
        write_private(self.state_path, (state.model_dump_json(indent=2) + "\n").encode())

    def prepare(self, desks: int, *, protect: bool) -> RoomState:
        """The state for ``desks`` desks (desks beyond are kept: their runs stay theirs),
        and the room code and trainer password when ``protect`` (kept across restarts)."""
        if not 1 <= desks <= MAX_DESKS:
            raise RoomError(f"デスクの数は 1〜{MAX_DESKS} です（{desks} が指定されました）")
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        state = self.load()
        taken = {d.code for d in state.desks}
        for number in range(len(state.desks) + 1, desks + 1):
            code = new_code()
            while code in taken:
                code = new_code()
            taken.add(code)
            state.desks.append(Desk(code=code, number=number, facility=facility_code(number)))
        if protect:
            state.room_code = state.room_code or new_code()
            state.trainer_password = state.trainer_password or secrets.token_urlsafe(9)
        self.save(state)
        for desk in state.desks:
            self.desk_folder(desk.code).mkdir(parents=True, exist_ok=True, mode=0o700)
        return state

    def desk(self, code: str) -> Desk | None:
        """The desk of ``code`` (None: no such desk; a malformed code is none either)."""
        if not CODE_PATTERN.fullmatch(code):
            return None
        return next((d for d in self.load().desks if d.code == code), None)

    # -- a desk's files -------------------------------------------------------------------

    def desk_folder(self, code: str) -> Path:
        if not CODE_PATTERN.fullmatch(code):
            raise ValueError(f"not a desk code: {code!r}")
        return self.folder / "desks" / code

    def identity_folder(self, code: str, scenario_id: str) -> Path:
        return self.desk_folder(code) / "terminal" / scenario_id

    def run_folder(self, code: str, scenario_id: str) -> Path:
        return self.desk_folder(code) / "runs" / scenario_id

    def link_folder(self, code: str) -> Path:
        return self.desk_folder(code) / "clinic"

    def log_path(self, code: str) -> Path:
        return self.desk_folder(code) / "desk.log"

    def world_folder(self, scenario_id: str) -> Path:
        return self.folder / "scenarios" / scenario_id / "world"

    def control(self, code: str) -> dict[str, object]:
        """What the trainer set for desk ``code`` (``reader_unplugged``)."""
        try:
            data = json.loads((self.desk_folder(code) / CONTROL_FILE).read_text("utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def set_control(self, code: str, **values: object) -> None:
        path = self.desk_folder(code) / CONTROL_FILE
        write_private(path, json.dumps(self.control(code) | values).encode())


def default_folder(data_dir: Path) -> Path:
    return data_dir / "room"


def is_loopback(host: str) -> bool:
    """Only this machine can reach ``host`` (a name other than localhost may resolve to
    anything: not loopback)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True
