"""A child service ends with the program that started it — also on kill -9, which no
clean-up code sees: `reception link --world`, the demo, any program serving a world with
workers, a card served into vpcd. (A full test run once left a `mock-oqs serve` running
for half an hour: test_link's kill -9 test killed the link, and the service it had started
lived on.)"""

from __future__ import annotations

import os
import pty
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mock_oqs.world import World
from reader.children import spawn
from tests.support.processes import (
    command_line,
    descendants,
    kill_all,
    still_running,
    wait_for_descendant,
)
from tests.support.stack import TEST_SLOT_PORT

BIN = Path(sys.executable).parent


@pytest.fixture
def started() -> Iterator[list[subprocess.Popen[bytes]]]:
    """What a test starts: whatever it leaves (a failure half-way) is killed at the end."""
    procs: list[subprocess.Popen[bytes]] = []
    yield procs
    for proc in procs:
        kill_all(descendants(proc.pid))
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def kill_9_leaves_nothing(proc: subprocess.Popen[bytes], below: dict[int, str]) -> None:
    """kill -9 ``proc``; then none of the processes it had started may still run."""
    assert below, "nothing was running below the program"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    left = still_running(below)
    kill_all(below)  # a failing run leaves nothing behind either
    assert not left, f"still running after kill -9 of their parent: {left}"


def env_for(tmp_path: Path) -> dict[str, str]:
    return os.environ | {
        "RECEPTION_CONFIG": str(tmp_path / "none.toml"),
        "RECEPTION_DATA_DIR": str(tmp_path / "data"),
    }


def test_a_killed_link_takes_its_service_with_it(
    own_world: World, tmp_path: Path, started: list[subprocess.Popen[bytes]]
) -> None:
    command = [str(BIN / "reception"), "link", "--folder", str(tmp_path / "clinic")]
    link = spawn(
        [*command, "--world", str(own_world.directory)],
        env=env_for(tmp_path),
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
    )
    started.append(link)
    assert link.stderr is not None
    assert b"watching" in link.stderr.readline()  # the service answers by now
    wait_for_descendant(link.pid, "serve")
    kill_9_leaves_nothing(link, descendants(link.pid))


SERVED = """
import sys, time
from pathlib import Path
from reception.sim.world import WorldFiles, served
with served(WorldFiles.open(Path(sys.argv[1])), workers=2) as url:
    print(url, flush=True)
    time.sleep(600)
"""


def test_a_service_with_workers_goes_with_its_parent_workers_and_all(
    own_world: World, started: list[subprocess.Popen[bytes]]
) -> None:
    """uvicorn's workers are the service's own children: they go too."""
    parent = spawn([sys.executable, "-c", SERVED, str(own_world.directory)], stdout=subprocess.PIPE)
    started.append(parent)
    assert parent.stdout is not None
    assert parent.stdout.readline().startswith(b"https://")
    wait_for_descendant(parent.pid, "serve")
    below = descendants(parent.pid)
    workers = [pid for pid in below if "spawn_main" in command_line(pid)]
    assert len(workers) == 2, {pid: command_line(pid) for pid in below}
    kill_9_leaves_nothing(parent, below)


def test_a_service_whose_supervisor_is_killed_takes_its_workers(
    own_world: World, started: list[subprocess.Popen[bytes]]
) -> None:
    parent = spawn([sys.executable, "-c", SERVED, str(own_world.directory)], stdout=subprocess.PIPE)
    started.append(parent)
    assert parent.stdout is not None
    assert parent.stdout.readline().startswith(b"https://")
    service = wait_for_descendant(parent.pid, "serve")
    workers = descendants(service)
    assert len([pid for pid in workers if "spawn_main" in command_line(pid)]) == 2
    os.kill(service, signal.SIGKILL)
    left = still_running(workers)
    kill_all(workers)
    assert not left, f"workers still running after kill -9 of mock-oqs serve: {left}"


def test_the_demo_killed_takes_its_service_with_it(
    own_world: World, tmp_path: Path, started: list[subprocess.Popen[bytes]]
) -> None:
    primary, secondary = pty.openpty()  # the demo's TUI wants a terminal
    try:
        demo = spawn(
            [str(BIN / "reception"), "demo", "--loopback", "--world", str(own_world.directory)],
            env=env_for(tmp_path) | {"TERM": "xterm-256color"},
            stdin=secondary,
            stdout=secondary,
            stderr=secondary,
        )
        started.append(demo)
        drain = threading.Thread(target=_drain, args=(primary,), daemon=True)
        drain.start()
        wait_for_descendant(demo.pid, "serve")
        kill_9_leaves_nothing(demo, descendants(demo.pid))
    finally:
        os.close(secondary)
        os.close(primary)


def _drain(fd: int) -> None:
    """Read what the TUI draws, so that it never blocks on a full terminal."""
    try:
        while os.read(fd, 65536):
            pass
    except OSError:
        pass


CARD_IN_SLOT = """
import sys, time
from pathlib import Path
from reader.virtual.vpcd import card_in_slot
with card_in_slot(Path(sys.argv[1]), int(sys.argv[2])):
    print("in", flush=True)
    time.sleep(600)
"""


@pytest.mark.usefixtures("pcscd")
def test_a_card_served_by_a_killed_program_leaves_the_reader(
    own_world: World, started: list[subprocess.Popen[bytes]]
) -> None:
    slot = TEST_SLOT_PORT - 35963
    parent = spawn(
        [sys.executable, "-c", CARD_IN_SLOT, str(own_world.card("adult-kyokai")), str(slot)],
        stdout=subprocess.PIPE,
    )
    started.append(parent)
    assert parent.stdout is not None
    assert parent.stdout.readline() == b"in\n"
    wait_for_descendant(parent.pid, "vcard")
    kill_9_leaves_nothing(parent, descendants(parent.pid))


ECHO = "import sys\nfor line in sys.stdin:\n    print(line, end='', flush=True)\n"


def test_a_child_started_from_a_thread_that_ends_lives_on(
    started: list[subprocess.Popen[bytes]],
) -> None:
    """The kernel's parent-death signal follows the *thread* that forked: a card placed
    from a TUI worker thread must not vanish when that thread ends."""
    children: list[subprocess.Popen[bytes]] = []

    def worker() -> None:
        children.append(
            spawn([sys.executable, "-c", ECHO], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        )

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    (child,) = children
    started.append(child)
    task = Path(f"/proc/{os.getpid()}/task/{thread.native_id}")
    deadline = time.monotonic() + 30
    while task.exists():  # gone for the kernel too: a parent-death signal is sent by then
        assert time.monotonic() < deadline, "the thread never left"
        time.sleep(0.01)
    assert child.stdin is not None and child.stdout is not None
    child.stdin.write(b"still here\n")
    child.stdin.flush()
    assert child.stdout.readline() == b"still here\n"
    child.stdin.close()
    assert child.wait() == 0


SCRIPT = """
"$1" -m reader.children $$ "$1" -c 'import time; time.sleep(600)' &
echo started
wait
"""


def test_a_scripts_background_child_goes_with_the_script(
    started: list[subprocess.Popen[bytes]],
) -> None:
    """scripts/demo --headless serves its card in the background the same way."""
    script = spawn(["bash", "-c", SCRIPT, "bash", sys.executable], stdout=subprocess.PIPE)
    started.append(script)
    assert script.stdout is not None and script.stdout.readline() == b"started\n"
    wait_for_descendant(script.pid, "time.sleep(600)")
    kill_9_leaves_nothing(script, descendants(script.pid))
