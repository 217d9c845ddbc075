"""The README's `scripts/demo --headless` runs to its end (issue 22 §6: it ended with exit 2,
its 申立書 lacking `--card-shown`): a card read by myna-reader through pcscd + vpcd,
headless check-ins, and the ladder — a 申立書 on the reception the service could not
confirm, which the list then shows as 申立書受付."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.usefixtures("pcscd"), pytest.mark.timeout(300)]


def test_the_headless_demo_walks_the_ladder_and_exits_0(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "HOME": str(tmp_path),  # the reader's memory and any settings: this test's own
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "TMPDIR": str(tmp_path),  # the demo's work directory: inside the test's
    }
    done = subprocess.run(
        [str(ROOT / "scripts" / "demo"), "--headless"],
        env=env,
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )
    out = done.stdout
    assert done.returncode == 0, f"exit {done.returncode}\n{out[-3000:]}\n{done.stderr[-3000:]}"
    assert "honeypot: 0 accesses" in out
    assert "被保険者資格申立書を受け付けました" in out
    assert "代替確認を待つ受付はありません" in out  # the 申立書 settled the reception
    listed = out.split("== today's receptions and their status", 1)[1].splitlines()
    assert [line.split()[-2] for line in listed if line.startswith("R")] == [
        "確認済",
        "確認済",
        "確認済",
        "申立書受付",
    ]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("tmp.")]  # removed
