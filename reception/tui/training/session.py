"""What the app is given in 研修 mode, and what the start screen chose."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from reception.training.run import TrainingRun


@dataclass(frozen=True)
class TrainingChoice:
    """The start screen's answer: the set (a built-in set's id or a file's path), the
    trainee, and the run's folder — ``resume`` when a run is there already,
    ``restart`` when the trainee chose to start it over (its folder emptied)."""

    set_or_file: str
    trainee: str
    folder: Path
    resume: bool = False
    restart: bool = False


@dataclass
class TrainingSession:
    """A run for the app: the engine's run (its own store and world: the app's services
    are the training clinic's, never the clinic's store), the folder its report goes
    to, the patient's pace (1 as a person, 0 at once: tests), and what to close when
    the app ends (the run's service client, on the app's own event loop)."""

    run: TrainingRun
    folder: Path
    pace: float = 1.0
    closing: Callable[[], Awaitable[None]] | None = None
