"""The room's folder (issue 26): desk codes, 医療機関コード, trainees' names, room.json
and the one-room-per-folder lock — what a trainer or a trainee can get wrong."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from reception.declaration import insurer_check_digit
from reception.room.layout import (
    CODE_ALPHABET,
    CODE_LENGTH,
    MAX_DESKS,
    NAME_MAX,
    NameError_,
    Room,
    RoomError,
    clean_name,
    facility_code,
    is_loopback,
    new_code,
)

WORLD_CLINIC = "1312345678"


def test_desk_codes_are_unique_and_read_aloud_safely(tmp_path: Path) -> None:
    state = Room(tmp_path / "room").prepare(MAX_DESKS, protect=False)
    codes = [d.code for d in state.desks]
    assert len(set(codes)) == MAX_DESKS
    for code in codes:
        assert len(code) == CODE_LENGTH
        assert set(code) <= set(CODE_ALPHABET)
        assert not set(code) & set("01oil")  # not confused on a whiteboard
    assert [d.number for d in state.desks] == list(range(1, MAX_DESKS + 1))


def test_new_code_draws_from_the_alphabet_only() -> None:
    for _ in range(200):
        code = new_code()
        assert len(code) == CODE_LENGTH and set(code) <= set(CODE_ALPHABET)


def test_facility_codes_are_distinct_valid_and_never_the_worlds() -> None:
    codes = [facility_code(n) for n in range(1, MAX_DESKS + 1)]
    assert len(set(codes)) == MAX_DESKS
    assert WORLD_CLINIC not in codes
    for code in codes:
        assert len(code) == 10 and code.isdigit()
        assert code.startswith("131")  # 東京都, 医科
        # the 医療機関番号's 検証番号: modulus 10, weights 2-1 (the terminal's own rule)
        assert insurer_check_digit(code[3:9]) == int(code[9])


def test_facility_check_digit_known_value() -> None:
    # 900001: weights from the right 2,1,2,1,2,1 → 2+0+0+0+0+9 = 11 → 9
    assert facility_code(1) == "1319000019"


def test_desks_made_earlier_are_kept_with_their_codes(tmp_path: Path) -> None:
    room = Room(tmp_path / "room")
    first = room.prepare(3, protect=False)
    again = room.prepare(5, protect=False)
    assert [d.code for d in again.desks][:3] == [d.code for d in first.desks]
    fewer = room.prepare(2, protect=False)  # desks beyond are kept: their runs stay theirs
    assert [d.code for d in fewer.desks] == [d.code for d in again.desks]


def test_desk_folders_are_private(tmp_path: Path) -> None:
    room = Room(tmp_path / "room")
    state = room.prepare(2, protect=False)
    for desk in state.desks:
        assert room.desk_folder(desk.code).stat().st_mode & 0o777 == 0o700
    assert room.state_path.stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize("count", [0, -1, MAX_DESKS + 1])
def test_prepare_refuses_a_desk_count_out_of_range(tmp_path: Path, count: int) -> None:
    with pytest.raises(RoomError, match="デスクの数は"):
        Room(tmp_path / "room").prepare(count, protect=False)


def test_protection_codes_are_made_once_and_kept(tmp_path: Path) -> None:
    room = Room(tmp_path / "room")
    state = room.prepare(2, protect=True)
    assert state.room_code and state.trainer_password
    assert state.room_code != state.trainer_password
    again = room.prepare(2, protect=True)
    assert (again.room_code, again.trainer_password) == (state.room_code, state.trainer_password)


@pytest.mark.parametrize(
    "bad",
    ["", "../etc", "%2e%2e", "ABCDEF", "abcdef0", "abcde", "abcdefg", "abc/de", "abcdeo",
     "a" * 500, "ａｂｃｄｅｆ"],
)  # fmt: skip
def test_a_malformed_desk_code_is_no_desk_and_no_folder(tmp_path: Path, bad: str) -> None:
    room = Room(tmp_path / "room")
    room.prepare(1, protect=False)
    assert room.desk(bad) is None
    with pytest.raises(ValueError, match="not a desk code"):
        room.desk_folder(bad)


# -- trainees' names ----------------------------------------------------------------------


def test_clean_name_normalises_and_collapses_spaces() -> None:
    assert clean_name("  山田\u3000 花子 ") == "山田 花子"
    # NFC: a decomposed が (か + ゛) is stored composed
    assert clean_name("か\u3099ん") == "がん"
    assert clean_name("A" * NAME_MAX) == "A" * NAME_MAX


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("", "名前を入れてください"),
        ("   \u3000 ", "名前を入れてください"),
        ("A" * (NAME_MAX + 1), f"{NAME_MAX}文字まで"),
        ("山田\x1b[31m花子", "制御文字"),
        ("山田\x00花子", "制御文字"),
        ("山田\x7f", "制御文字"),
        ("山田\x9b花子", "制御文字"),  # C1 CSI
        ("山田\u202e子花", "制御文字"),  # bidi override
        ("山田\u2066花子", "制御文字"),  # bidi isolate
        ("山田\u200b花子", "制御文字"),  # zero width space
        ("山田\x1f花子", "制御文字"),  # unit separator: whitespace to str.split, not a space
        ("山田\x1c花子", "制御文字"),
        ("山田\x85花子", "制御文字"),  # NEL
        ("山田\ue000", "制御文字"),  # private use
    ],
)
def test_clean_name_refuses_with_a_japanese_reason(typed: str, message: str) -> None:
    with pytest.raises(NameError_, match=message):
        clean_name(typed)


def test_clean_name_length_counts_after_normalising() -> None:
    # 40 composed characters typed decomposed (80 code points): still 40
    assert clean_name("か\u3099" * NAME_MAX) == "が" * NAME_MAX


# -- room.json and the lock ---------------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [
        b"not json",
        b"\xff\xfe garbage",
        b"[]",
        b'{"desks": [{"code": "../../x", "number": 1, "facility": "1319000019"}]}',
        b'{"desks": [{"code": "abcdef", "number": 99, "facility": "1319000019"}]}',
        b'{"desks": "many"}',
        b'{"desks": [{"code": "abcdef", "number": 1, "facility": "1319000019", '
        b'"trainee": "\\u001b[2J\\u202e"}]}',
    ],
)
def test_garbage_room_json_is_a_clear_room_error(tmp_path: Path, content: bytes) -> None:
    room = Room(tmp_path / "room")
    room.folder.mkdir()
    room.state_path.write_bytes(content)
    with pytest.raises(RoomError, match=r"room\.json"):
        room.load()
    with pytest.raises(RoomError, match=r"room\.json"):
        room.prepare(2, protect=False)


def test_room_json_with_one_desk_code_twice_is_refused(tmp_path: Path) -> None:
    room = Room(tmp_path / "room")
    state = room.prepare(2, protect=False)
    data = json.loads(room.state_path.read_text())
    data["desks"][1]["code"] = state.desks[0].code
    room.state_path.write_text(json.dumps(data))
    with pytest.raises(RoomError, match=r"room\.json"):
        room.load()


def test_room_json_unreadable_is_a_clear_room_error(tmp_path: Path) -> None:
    room = Room(tmp_path / "room")
    room.state_path.mkdir(parents=True)  # a directory where the file should be
    with pytest.raises(RoomError, match=r"room\.json"):
        room.load()


def test_a_second_room_on_the_same_folder_is_refused(tmp_path: Path) -> None:
    first = Room(tmp_path / "room", lock=True)
    try:
        with pytest.raises(RoomError, match="別の `reception room` が使っています"):
            Room(tmp_path / "room", lock=True)
        # another process too (flock is per open file: the same in another program)
        probe = subprocess.run(
            [sys.executable, "-c",
             "import sys; from pathlib import Path; from reception.room.layout import Room\n"
             "try:\n Room(Path(sys.argv[1]), lock=True)\n"
             "except Exception as e:\n print(type(e).__name__); sys.exit(3)",
             str(tmp_path / "room")],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert probe.returncode == 3 and "RoomError" in probe.stdout
    finally:
        first.close()
    Room(tmp_path / "room", lock=True).close()  # free again once the first is closed


def test_loopback_hosts() -> None:
    for host in ("127.0.0.1", "127.0.1.1", "::1", "localhost"):
        assert is_loopback(host)
    for host in ("0.0.0.0", "::", "192.168.1.10", "127.example.com", "localhost.evil"):  # noqa: S104
        assert not is_loopback(host), host


def test_control_json_garbage_reads_as_nothing_set(tmp_path: Path) -> None:
    room = Room(tmp_path / "room")
    code = room.prepare(1, protect=False).desks[0].code
    (room.desk_folder(code) / "control.json").write_text("[1, 2")
    assert room.control(code) == {}
    room.set_control(code, reader_unplugged=True)
    assert room.control(code) == {"reader_unplugged": True}
    assert os.stat(room.desk_folder(code) / "control.json").st_mode & 0o777 == 0o600
