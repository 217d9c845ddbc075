"""Smoke test of the README's first command: `scripts/demo` in tmux, one check-in driven
with send-keys, the screen read with capture-pane; quitting stops what it started."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SESSION = "myna-demo-smoke"


def tmux(*args: str) -> str:
    proc = subprocess.run(["tmux", *args], capture_output=True, text=True, check=False)
    return proc.stdout


def screen() -> str:
    return tmux("capture-pane", "-p", "-t", SESSION)


def wait_for(text: str, seconds: float = 60.0) -> float:
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        if text in screen():
            return time.monotonic() - start
        time.sleep(0.2)
    raise AssertionError(f"{text!r} never appeared; the screen:\n{screen()}")


@pytest.fixture
def session(tmp_path: Path) -> Iterator[Path]:
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed (scripts/setup installs it)")
    tmux("kill-session", "-t", SESSION)
    tmux("new-session", "-d", "-s", SESSION, "-x", "160", "-y", "48")
    yield tmp_path / "world"
    tmux("kill-session", "-t", SESSION)


def test_demo_runs_one_checkin_and_stops_everything(session: Path, tmp_path: Path) -> None:
    world = session
    command = (
        f"cd {ROOT} && RECEPTION_CONFIG={tmp_path}/none.toml "
        f"RECEPTION_DATA_DIR={tmp_path}/data scripts/demo --world {world}; "
        "echo DEMO-EXITED $?"
    )
    tmux("send-keys", "-t", SESSION, command, "Enter")
    launch = wait_for("マイナンバーカードを置いてください", seconds=120)
    index = json.loads((world / "world.json").read_text(encoding="utf-8"))
    pin = next(p["pin"] for p in index["personas"] if p["id"] == "adult-kyokai")
    tmux("send-keys", "-t", SESSION, "F6")  # the first persona's card: adult-kyokai
    wait_for("本人確認の方法を選んでください")
    tmux("send-keys", "-t", SESSION, "2")  # 暗証番号
    wait_for("残り3回")
    tmux("send-keys", "-t", SESSION, pin, "Enter")
    wait_for("情報の提供に同意しますか")
    tmux("send-keys", "-t", SESSION, "y")  # まとめて同意
    wait_for("処方箋の受け取り方")  # the demo clinic issues electronic prescriptions
    tmux("send-keys", "-t", SESSION, "1")
    wait_for("受付が完了しました")
    assert "3割" in screen() and "確認済" in screen()
    assert pin not in screen().replace("残り3回", "")  # the PIN is never on screen
    tmux("send-keys", "-t", SESSION, "C-q")
    wait_for("DEMO-EXITED 0", seconds=30)
    leftovers = subprocess.run(
        ["pgrep", "-f", f"--world {world}"], capture_output=True, text=True, check=False
    ).stdout.strip()
    assert not leftovers, f"still running after quit: {leftovers}"
    assert launch < 120
