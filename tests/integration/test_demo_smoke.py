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

from tests.support.tmux import Tmux

ROOT = Path(__file__).resolve().parents[2]
# scripts/demo serves its cards into vpcd's slot 0 where pcscd runs (loopback where it does
# not): with the other tests of the machine's readers, one at a time (tests/conftest.py)
pytestmark = pytest.mark.xdist_group("pcscd")


@pytest.fixture
def term(tmp_path: Path) -> Iterator[Tmux]:
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed (scripts/setup installs it)")
    tmux = Tmux("myna-demo-smoke", tmp_path / "tmux.sock")
    yield tmux
    tmux.close()


def wait_for(term: Tmux, text: str, seconds: float = 60.0) -> float:
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        if text in term.screen():
            return time.monotonic() - start
        time.sleep(0.2)
    raise AssertionError(f"{text!r} never appeared; the screen:\n{term.screen()}")


def test_demo_runs_one_checkin_and_stops_everything(term: Tmux, tmp_path: Path) -> None:
    world = tmp_path / "world"
    command = (
        f"cd {ROOT} && RECEPTION_CONFIG={tmp_path}/none.toml "
        f"RECEPTION_DATA_DIR={tmp_path}/data scripts/demo --world {world}; "
        "echo DEMO-EXITED $?"
    )
    term.send(command, "Enter")
    launch = wait_for(term, "マイナンバーカードを置いてください", seconds=120)
    index = json.loads((world / "world.json").read_text(encoding="utf-8"))
    pin = next(p["pin"] for p in index["personas"] if p["id"] == "adult-kyokai")
    term.send("F6")  # no persona chosen yet: it says so and places nothing
    wait_for(term, "ペルソナが選ばれていません")
    term.send("C-p")  # the palette: 「デモ: カードを置く adult-kyokai」, by keyboard alone
    time.sleep(0.5)
    term.send("adult-kyokai")
    wait_for(term, "カードを置く adult-kyokai")
    term.send("Enter")
    wait_for(term, "本人確認の方法を選んでください")
    term.send("2")  # 暗証番号
    wait_for(term, "残り3回")
    term.send(pin, "Enter")
    wait_for(term, "情報の提供に同意しますか")
    term.send("y")  # まとめて同意
    wait_for(term, "処方箋の受け取り方")  # the demo clinic issues electronic prescriptions
    term.send("1")
    wait_for(term, "受付が完了しました")
    assert "3割" in term.screen() and "確認済" in term.screen()
    assert pin not in term.screen().replace("残り3回", "")  # the PIN is never on screen
    term.send("C-q")
    wait_for(term, "DEMO-EXITED 0", seconds=30)
    leftovers = subprocess.run(
        ["pgrep", "-f", f"--world {world}"], capture_output=True, text=True, check=False
    ).stdout.strip()
    assert not leftovers, f"still running after quit: {leftovers}"
    assert launch < 120
