"""scripts/setup's virtualenv step (scripts/ensure-venv): a first run interrupted inside
`python3 -m venv` left .venv/bin/python without pip, and every later scripts/setup,
scripts/test and scripts/demo failed with "No module named pip" until someone deleted
.venv by hand."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ENSURE_VENV = Path(__file__).resolve().parents[2] / "scripts" / "ensure-venv"

pytestmark = pytest.mark.skipif(shutil.which("python3") is None, reason="no python3 on PATH")


def ensure(venv: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ENSURE_VENV), str(venv)], capture_output=True, text=True, timeout=300, check=False
    )


def pip_works(venv: Path) -> bool:
    proc = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "--version"], capture_output=True, check=False
    )
    return proc.returncode == 0


def test_a_venv_an_interrupted_run_left_without_pip_is_made_again(tmp_path: Path) -> None:
    venv = tmp_path / ".venv"
    # what `python3 -m venv` leaves when stopped before it installs pip
    subprocess.run(["python3", "-m", "venv", "--without-pip", str(venv)], check=True)
    assert (venv / "bin" / "python").exists() and not pip_works(venv)
    made = ensure(venv)
    assert made.returncode == 0, made.stderr
    assert "making it again" in made.stderr
    assert pip_works(venv)


def test_a_working_venv_is_left_as_it_is(tmp_path: Path) -> None:
    venv = tmp_path / ".venv"
    first = ensure(venv)
    assert first.returncode == 0 and "creating" in first.stderr and pip_works(venv)
    marker = venv / "something-installed"
    marker.write_text("kept")
    again = ensure(venv)
    assert again.returncode == 0 and again.stderr == ""
    assert marker.read_text() == "kept"  # not made again
