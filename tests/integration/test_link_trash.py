"""Clinic software moves the face/ files it has read into ``trash/``, and the answers it
has read out of res/, the moment it has them — two readers racing each other (oqs.md §7).
The link does not mind: no error, no retry, nothing said to staff; it never writes a file
again once it was taken, and never touches ``trash/``. A real `reception link`, real
`reception checkin` processes writing face/, the real mock service."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mock_oqs.world import World
from reception.link import describe_answer
from tests.support.link import RECEPTION, Running, drop, persona_request

QUERIES = 24
CHECKINS = ("adult-kyokai", "family")


class Mover:
    """Clinic software: every visible file of face/ and res/ into trash/ as soon as it is
    there; two of them race for the same files."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.trash = folder / "trash"
        self.trash.mkdir(exist_ok=True)  # the clinic's own folder, made by it
        self.moved: list[str] = []
        self.stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(2)]

    def __enter__(self) -> Mover:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        for thread in self._threads:
            thread.join(timeout=5)

    def _run(self) -> None:
        while not self.stop.is_set():
            for sub in ("face", "res"):
                try:
                    entries = list(os.scandir(self.folder / sub))
                except FileNotFoundError:
                    continue
                for entry in entries:
                    if entry.name.startswith(".") or not entry.is_file(follow_symlinks=False):
                        continue  # a writer's temp file: not a file yet
                    try:
                        os.rename(entry.path, self.trash / entry.name)
                    except FileNotFoundError:
                        continue  # the other reader took it first
                    with self._lock:
                        self.moved.append(f"{sub}/{entry.name}")
            time.sleep(0.001)


@pytest.fixture(scope="module")
def trashing(link_world: World, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    tmp = tmp_path_factory.mktemp("trash")
    running = Running(link_world, tmp / "clinic", tmp)
    with running.serving():
        yield running


def checkin(world: World, folder: Path, tmp: Path, persona: str) -> subprocess.Popen[bytes]:
    """`reception checkin` at the reader: its card confirmation lands in face/."""
    env = os.environ | {
        "RECEPTION_CONFIG": str(tmp / "none.toml"),
        "RECEPTION_DATA_DIR": str(tmp / f"data-{persona}"),
        "RECEPTION_LINK__FOLDER": str(folder),
    }
    command = [
        *(RECEPTION, "checkin", "--world", str(world.directory), "--persona", persona),
        *("--transport", "loopback", "--slot", "1", "--method", "pin", "--pin-stdin"),
        *("--consent", "all", "--json"),
    ]
    proc = subprocess.Popen(
        command, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert proc.stdin is not None
    proc.stdin.write(f"{world.persona(persona)['pin']}\n".encode())
    proc.stdin.close()
    proc.stdin = None  # given: communicate() only reads
    return proc


def test_files_taken_into_trash_at_once_trouble_no_one(trashing: Running, tmp_path: Path) -> None:
    folder, world = trashing.folder, trashing.world
    names = [f"OQSsiquc01req_trash_{n:04d}.xml" for n in range(QUERIES)]
    with Mover(folder) as mover:
        checkins = [checkin(world, folder, tmp_path, persona) for persona in CHECKINS]
        for name in names:
            drop(folder, name, persona_request(world, "adult-kyokai", file_id=name[-8:-4]))
        for proc in checkins:
            _, err = proc.communicate(timeout=60)
            assert proc.returncode == 0, err.decode()
        deadline = time.monotonic() + 20
        answers = {n.replace("req", "res", 1) for n in names}
        while not answers <= {m.split("/", 1)[1] for m in mover.moved}:
            assert time.monotonic() < deadline, "not every request was answered"
            time.sleep(0.02)
        faces = [m for m in mover.moved if m.startswith("face/")]
        assert len(faces) == len(CHECKINS)  # each check-in's confirmation, taken
        time.sleep(2.5)  # two sweeps of the link: nothing comes back, nothing is redone
    moved = [m.split("/", 1)[1] for m in mover.moved]
    assert len(moved) == len(set(moved))  # each file once: none written again after
    assert sorted(moved) == sorted(p.name for p in (folder / "trash").iterdir())  # ours only
    assert sorted(p.name for p in (folder / "res").iterdir()) == []  # not even a temp file
    assert not list((folder / "face").iterdir())
    assert sorted(p.name for p in (folder / "req" / "done").iterdir()) == sorted(names)
    said = [line for line in trashing.lines if " error " in line or "LINK-E" in line]
    assert said == []  # nothing said to staff as a fault
    assert len([line for line in trashing.lines if " answer " in line]) == QUERIES
    # the 連携 pane, asked to show an answer or a face/ file that was taken: not a fault
    for taken in (folder / "res" / sorted(answers)[0], folder / faces[0]):
        assert describe_answer(taken) == ["レセコンが取り込みました（もうフォルダにありません）"]
