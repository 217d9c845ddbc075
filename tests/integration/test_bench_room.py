"""scripts/bench-room runs (issue 26 §2): two desks of a real room through a check-in
each, the figures printed as JSON — a smoke test, no timed assertion."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_room_bench_drives_two_desks_and_prints_its_figures() -> None:
    args = ["--desks", "2", "--rounds", "1", "--solo", "0", "--ramp", "1", "--rest", "1"]
    args += ["--every", "6", "--think", "0.1", "--json"]
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "bench_room.py"), *args],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    figures = json.loads(done.stdout)
    assert figures["errors"] == []
    assert figures["cases_done"] == 2  # each desk's first case, by clicks and keys
    assert figures["latency"]["load"]["n"] >= 8  # 受け付ける, 負担割合, F8, n at each desk
    assert figures["rest"]["memory"]["desk_pss_mib"]["n"] == 2
