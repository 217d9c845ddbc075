"""``reception train run SET_OR_FILE --play-into DIR`` (issue 25 §2): a morning of patients
played through the terminal into the folder interface at DIR, as a レセコン's CI replays
a day — the face/ files of the card check-ins appear in the link's real format, and the
requests the clinic program drops into DIR/req are answered meanwhile. Run as the real
command, in a process of its own: nothing of it may outlive it."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import stat
import subprocess
import time
from pathlib import Path

import pytest

from mock_oqs.world import World
from reader.children import spawn
from reception.link.terms import LinkFolderError
from reception.training.play_into import link_folder
from tests.support.link import RECEPTION, answer, drop, moved_aside, persona_request
from tests.support.processes import kill_all, mentioning, still_running
from tests.support.stack import WORLD_TODAY
from tests.support.xmlmsg import check_xmlmsg

FACE_NAME = re.compile(r"OQSsiquc01res_face_1312345678[0-9a-f]{20}_\d{14}\.xml")


def case(case_id: str, persona: str, end: str, *, situation: str = "", ratio: int = 3) -> str:
    accept = '["card"]' if end == "card" else '["kakunin"]' if end == "certificate" else "[]"
    return f"""
[[case]]
id = "{case_id}"
title = "{case_id} の患者さん"
persona = "{persona}"
{f"[case.situation]{chr(10)}{situation}" if situation else ""}
[case.model]
end = "{end}"
ratio = {ratio}
accept = {accept}
explain = "模範のとおり。"
source = "厚生労働省 オンライン資格確認 運用マニュアル"
"""


def scenario(tmp_path: Path, *cases: str, every: int = 0) -> Path:
    path = tmp_path / "morning.toml"
    head = f'id = "morning"\ntitle = "朝の受付"\nday = "{WORLD_TODAY.isoformat()}"\n'
    path.write_text(f"{head}\n[clinic]\narrival_every = {every}\n{''.join(cases)}")
    return path


# four patients: two check in by card (PIN, face), one brings a 資格確認書, one nothing
MORNING = (
    case("pin", "adult-kyokai", "card"),
    case("face", "adult-kyokai", "card", situation='method = "face"'),
    case("kakunin", "kakunin-expiring", "certificate", situation='brings = ["kakunin"]'),
    case(
        "nothing",
        "adult-kyokai",
        "self-pay",
        situation='brings = []\nsays = ["forgot-card"]',
        ratio=10,
    ),
)


def env(tmp_path: Path) -> dict[str, str]:
    return os.environ | {
        "RECEPTION_CONFIG": str(tmp_path / "none.toml"),
        "RECEPTION_DATA_DIR": str(tmp_path / "data"),
    }


def run_folder(world: World, tmp_path: Path) -> Path:
    """The run's folder, with a copy of the session's world on the scenario's day (the
    run reuses a world it finds there instead of seeding one)."""
    out = tmp_path / "run"
    out.mkdir()
    shutil.copytree(world.directory, out / "world")
    return out


def patients(stdout: str) -> list[str]:
    """The case ids of the lines printed as each patient is settled (time, case, end)."""
    return [m[1] for m in re.finditer(r"^\d\d:\d\d:\d\d  (\S+)  ", stdout, re.MULTILINE)]


def train(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [RECEPTION, "train", "run", *args],
        env=env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_a_fast_morning_writes_face_files_and_answers_the_clinic(
    world: World, tmp_path: Path
) -> None:
    out, folder = run_folder(world, tmp_path), tmp_path / "clinic"
    (folder / "req").mkdir(parents=True)  # the clinic program asks before the morning starts
    drop(folder, "OQSsiquc01req_20261124_0001.xml", persona_request(world, "adult-kyokai"))
    path = scenario(tmp_path, *MORNING)
    done = train(
        tmp_path, str(path), "--play-into", str(folder), "--out", str(out), "--fast", "--json"
    )
    try:
        assert done.returncode == 0, done.stderr
        summary = json.loads(done.stdout)
        ends = {c["case_id"]: (c["end"], c["reached"]) for c in summary["cases"]}
        assert ends == {
            "pin": ("card", True),
            "face": ("card", True),
            "kakunin": ("certificate", True),
            "nothing": ("self-pay", True),
        }
        # one face/ file a check-in by card, none for the others, in the link's format
        per_case = {c["case_id"]: c["face_files"] for c in summary["cases"]}
        assert [len(per_case[c]) for c in ("pin", "face", "kakunin", "nothing")] == [1, 1, 0, 0]
        written = sorted(p.name for p in (folder / "face").iterdir())
        assert written == sorted(Path(f).name for f in summary["face_files"])
        for name in written:
            assert FACE_NAME.fullmatch(name), name
            face = folder / "face" / name
            assert stat.S_IMODE(face.stat().st_mode) == 0o600  # personal data: private
            root = check_xmlmsg(face.read_bytes())
            assert root.findtext("MessageHeader/ReferenceClassification") == "1"  # by card
            assert root.findtext("MessageHeader/SegmentOfResult") == "1"
            assert root.findtext("MessageBody/QualificationValidity") == "1"
        # the request waiting at the start was answered and moved aside
        reply = answer(folder, "OQSsiquc01req_20261124_0001.xml", seconds=0)
        assert reply.findtext("MessageHeader/SegmentOfResult") == "1"
        assert reply.findtext("MessageBody/QualificationValidity") == "1"
        assert moved_aside(folder, "OQSsiquc01req_20261124_0001.xml", seconds=0)
        assert summary["requests_answered"] == [
            {
                "request": "req/OQSsiquc01req_20261124_0001.xml",
                "answer": "res/OQSsiquc01res_20261124_0001.xml",
            }
        ]
        assert summary["run_folder"] == str(out)  # the run's own store, not the clinic's
        assert (out / "reception" / "reception.sqlite").exists()
        assert not (tmp_path / "data").exists()
    finally:
        left = mentioning(str(out))
        kill_all(left)
    assert left == {}  # the mock service stopped with the command


def test_a_request_dropped_mid_morning_is_answered_and_sigterm_stops_everything(
    world: World, tmp_path: Path
) -> None:
    out, folder = run_folder(world, tmp_path), tmp_path / "clinic"
    # paced: each patient answers the reader as a person does (seconds a question)
    path = scenario(tmp_path, *MORNING[:2], case("third", "adult-kyokai", "card"), every=1)
    proc = spawn(
        [RECEPTION, "train", "run", str(path), "--play-into", str(folder), "--out", str(out)],
        env=env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    below: dict[int, str] = {}
    try:
        deadline = time.monotonic() + 60
        while not (folder / "face").is_dir() or not any((folder / "face").iterdir()):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "no face/ file from the first patient"
            time.sleep(0.05)
        below = mentioning(str(out))  # the mock service, serving the run's world
        assert below
        # the first patient is settled, the second one is at the reader: the clinic asks
        drop(folder, "OQSsiquc01req_20261124_0002.xml", persona_request(world, "adult-kyokai"))
        reply = answer(folder, "OQSsiquc01req_20261124_0002.xml")
        assert reply.findtext("MessageBody/QualificationValidity") == "1"
        proc.send_signal(signal.SIGTERM)  # the CI job is cancelled mid-morning
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 128 + signal.SIGTERM, stderr
    assert "中断しました" in stderr.decode()
    assert still_running(below) == {}  # nothing of the run left running
    assert mentioning(str(out)) == {}
    settled = patients(stdout.decode())
    assert settled[:1] == ["pin"] and "third" not in settled
    # the same command again plays the rest of the morning (--fast now)
    again = train(tmp_path, str(path), "--play-into", str(folder), "--out", str(out), "--fast")
    assert again.returncode == 0, again.stderr
    rest = patients(again.stdout)
    assert rest[-1] == "third" and "pin" not in rest
    assert mentioning(str(out)) == {}


def test_a_folder_that_is_a_symlink_is_refused(world: World, tmp_path: Path) -> None:
    real = tmp_path / "elsewhere"
    real.mkdir()
    (tmp_path / "clinic").symlink_to(real)
    path = scenario(tmp_path, MORNING[0])
    done = train(tmp_path, str(path), "--play-into", str(tmp_path / "clinic"), "--fast")
    assert done.returncode == 2
    assert "シンボリックリンクです" in done.stderr
    assert list(real.iterdir()) == []  # nothing written through it
    assert not (tmp_path / "data").exists()  # no run begun


def test_a_folder_that_is_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "clinic").write_text("")
    with pytest.raises(LinkFolderError, match="ディレクトリではありません"):
        link_folder(tmp_path / "clinic")


def test_play_into_is_not_a_trainee_run(tmp_path: Path) -> None:
    path = scenario(tmp_path, MORNING[0])
    trainee = tmp_path / "trainee.toml"
    trainee.write_text('trainee = "研修 太郎"\n')
    folder = str(tmp_path / "c")
    done = train(tmp_path, str(path), "--play-into", folder, "--trainee", str(trainee))
    assert done.returncode == 2
    assert "not allowed with argument" in done.stderr
    assert not (tmp_path / "c").exists()
