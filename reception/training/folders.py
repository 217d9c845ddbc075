"""Where a trainee's run lives (issue 25 §2): ``<data_dir>/training/<set>-<trainee>`` —
the same folder for ``reception train run`` and the TUI's 研修 mode, so either resumes
what the other began."""

from __future__ import annotations

import re
from pathlib import Path

JOURNAL = "journal.sqlite"


def slug(text: str) -> str:
    """A folder name from a trainee's name (letters of any script kept)."""
    cleaned = re.sub(r"[\s/\\:*?\"<>|\x00-\x1f\x7f]+", "_", text).strip("._")
    return cleaned[:40] or "trainee"


def run_folder(data_dir: Path, scenario_id: str, trainee: str) -> Path:
    """The run's folder of ``trainee`` for the scenario ``scenario_id``."""
    return data_dir / "training" / f"{scenario_id}-{slug(trainee)}"


def has_run(folder: Path) -> bool:
    """A run was begun in ``folder`` (its journal is there): it resumes."""
    return (folder / JOURNAL).is_file()
