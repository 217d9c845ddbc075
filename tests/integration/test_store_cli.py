"""Every `reception` command (and the TUI's start) on a store it cannot use: one clear
message — which file, what is wrong, what to do —, exit 1, no traceback, and not one byte
of the store changed. And a store or a form put in a directory that exists (/tmp, one the
user shares) leaves that directory exactly as it was."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from mock_oqs.world import World
from reception.store import StoreUnusable
from tests.support.forms import valid
from tests.support.stores import DAMAGES, a_store, snapshot

RECEPTION = str(Path(sys.executable).parent / "reception")
TITLE = StoreUnusable.title


def reception(
    args: list[str], data: Path, world: World, *, stdin: str = "", prefix: list[str] | None = None
) -> subprocess.CompletedProcess[str]:
    """The real program, as staff run it, with the store in ``data``."""
    env = os.environ | {
        "RECEPTION_CONFIG": str(data.parent / "none.toml"),
        "RECEPTION_DATA_DIR": str(data),
        # for the TUI's start: a service configured (never reached: the store comes first)
        "RECEPTION_OQS__URL": "https://127.0.0.1:9",
        "RECEPTION_OQS__CLIENT_CERT": str(world.terminal_cert),
        "RECEPTION_OQS__CLIENT_KEY": str(world.terminal_key),
        "RECEPTION_OQS__CA": str(world.facility_ca),
    }
    return subprocess.run(
        [*(prefix or []), RECEPTION, *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=90,
        check=False,
    )


def refused(proc: subprocess.CompletedProcess[str], store: Path, problem: str) -> None:
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr  # one message
    assert TITLE in lines[0] and str(store) in lines[0] and problem in lines[0], lines[0]


def commands(world: World, tmp_path: Path) -> dict[str, tuple[list[str], str]]:
    """Every command that opens the store: its arguments and what it reads on stdin."""
    w = str(world.directory)
    form = tmp_path / "form.json"
    form.write_text(json.dumps(valid()), encoding="utf-8")
    entry = world.persona("adult-kyokai")
    numbers = entry["numbers"]
    return {
        "checkin": (
            [
                *("checkin", "--world", w, "--persona", "adult-kyokai"),
                *("--transport", "loopback", "--method", "pin", "--pin-stdin"),
            ],
            f"{entry['pin']}\n",
        ),
        "declare": (["declare", "--json-file", str(form)], ""),
        "list": (["list"], ""),
        "pending": (["pending"], ""),
        "reverify": (["reverify", "--world", w], ""),
        "step": (["step", "R-1", "notice", "--detail", "お知らせを確認"], ""),
        "confirm-number": (
            [
                *("confirm-number", "--world", w),
                *("--insurer-number", numbers["current_insurer_number"]),
                *("--symbol", numbers["current_symbol"], "--number", numbers["current_number"]),
                *("--birth-date", entry["birth_date"]),
            ],
            "",
        ),
        "no-card": (["no-card"], ""),
        "records": (["records", "R-1", "--world", w], ""),
        "export": (["export", "--date", "2026-11-24", "--format", "csv", "--out", "x"], ""),
        "tui": ([], ""),
        "demo": (["demo", "--loopback", "--world", w], ""),
    }


COMMANDS = [
    "checkin",
    "declare",
    "list",
    "pending",
    "reverify",
    "step",
    "confirm-number",
    "no-card",
    "records",
    "export",
    "tui",
    "demo",
]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_refuses_a_damaged_store_with_one_message(
    own_world: World, tmp_path: Path, command: str
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    store = a_store(data)
    make, problem = DAMAGES["truncated"]
    make(store)
    before = snapshot(data)
    args, stdin = commands(own_world, tmp_path)[command]
    proc = reception(args, data, own_world, stdin=stdin)
    refused(proc, store, problem)
    assert snapshot(data) == before


@pytest.mark.parametrize("damage", list(DAMAGES))
def test_each_kind_of_damage_is_named(own_world: World, tmp_path: Path, damage: str) -> None:
    data = tmp_path / "data"
    data.mkdir()
    store = a_store(data)
    make, problem = DAMAGES[damage]
    make(store)
    before = snapshot(data)
    refused(reception(["no-card"], data, own_world), store, problem)
    assert snapshot(data) == before


def read_only(target: Path) -> list[str]:
    """A command prefix under which ``target`` cannot be written: root writes through any
    mode, so it gets a read-only bind mount of its own (a private mount namespace)."""
    if os.geteuid() != 0:
        target.chmod(target.stat().st_mode & ~0o222)
        return []
    if shutil.which("unshare") is None:
        pytest.skip("root needs unshare(1) to make a file read-only")
    probe = subprocess.run(["unshare", "--mount", "true"], capture_output=True, check=False)
    if probe.returncode != 0:
        pytest.skip(f"no mount namespace here: {probe.stderr.decode().strip()}")
    script = 'mount --bind -o ro "$1" "$1" && shift && exec "$@"'
    return ["unshare", "--mount", "sh", "-c", script, "sh", str(target)]


@pytest.mark.parametrize("what", ["file", "directory"])
def test_a_store_that_cannot_be_written_is_said_so(
    own_world: World, tmp_path: Path, what: str
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    store = a_store(data)
    before = snapshot(data)
    prefix = read_only(store if what == "file" else data)
    try:
        proc = reception(["no-card"], data, own_world, prefix=prefix)
    finally:
        data.chmod(0o700)
        store.chmod(0o600)
    refused(proc, store, "書き込めません")
    assert str(data) in proc.stderr  # where to give the right to write
    assert snapshot(data) == before


@pytest.mark.parametrize("shared_mode", [0o1777, 0o755], ids=["sticky-1777", "plain-0755"])
def test_a_store_and_a_form_in_a_directory_that_exists_leave_it_alone(
    own_world: World, tmp_path: Path, shared_mode: int
) -> None:
    """`--store /tmp/x.sqlite` and `declare --out /tmp/x.pdf` once made /tmp 0700."""
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(shared_mode)
    form = tmp_path / "form.json"
    form.write_text(json.dumps(valid()), encoding="utf-8")
    args = ["--store", str(shared / "x.sqlite"), "declare", "--json-file", str(form)]
    proc = reception([*args, "--out", str(shared / "x.pdf")], tmp_path / "data", own_world)
    assert proc.returncode == 0, proc.stderr
    assert stat.S_IMODE(shared.stat().st_mode) == shared_mode
    for name in ("x.sqlite", "x.pdf"):
        assert stat.S_IMODE((shared / name).stat().st_mode) == 0o600, name
