"""研修 at the terminal (issue 25 §2): the demo's TUI in 研修 mode for one trainee's run.

The start screen (reception.tui.training.start) chooses the set and the trainee; the
run's clinic (reception.sim.training: a world on the scenario's day, the mock service,
the cards in process, the run's own store) is built for that choice, and the app runs
with *its* services — the training clinic's, never the clinic's store — and the run
(reception.training.run), which the 研修 tab drives. A run killed half-way resumes
from its folder (``<data_dir>/training/<set>-<trainee>``, as ``reception train run``).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from reception.settings import ReceptionSettings
from reception.sim.training import training_clinic
from reception.training.folders import run_folder
from reception.training.journal import Journal
from reception.training.run import TrainingRun
from reception.training.scenario import Loaded, load
from reception.tui.app import make_app
from reception.tui.training.session import TrainingChoice, TrainingSession
from reception.tui.training.start import TrainingStartApp


def play_in_terminal(base: ReceptionSettings, choice: TrainingChoice, *, pace: float = 1.0) -> None:
    """The run of ``choice`` in the terminal, until the trainee closes it (the report
    shown, or Ctrl+Q half-way: the journal keeps what was done)."""
    loaded = load(choice.set_or_file)
    run_in_terminal(base, loaded, choice, pace=pace)


def run_in_terminal(
    base: ReceptionSettings, loaded: Loaded, choice: TrainingChoice, *, pace: float = 1.0
) -> None:
    folder = choice.folder
    if choice.restart and folder.exists():
        shutil.rmtree(folder)
    with training_clinic(folder, loaded.scenario, base) as clinic:
        journal = Journal(folder / "journal.sqlite")
        try:
            run = TrainingRun(loaded, journal, clinic, choice.trainee)
            session = TrainingSession(run, folder, pace=pace, closing=clinic.aclose)
            make_app(clinic.services, training=session).run()
        finally:
            journal.close()


def run_training_terminal(
    settings: ReceptionSettings,
    set_or_file: str,
    loaded: Loaded,
    *,
    name: str | None = None,
    out: Path | None = None,
    restart: bool = False,
    pace: float = 1.0,
) -> int:
    """``reception train run SET_OR_FILE`` without ``--trainee``: the start screen for
    the set (unless ``name`` says who trains), then the run in the terminal."""
    if name is None:
        chosen = TrainingStartApp(settings.data_dir, preset=set_or_file).run()
        if chosen is None:
            return 0
        choice = chosen
        if out is not None:
            choice = TrainingChoice(choice.set_or_file, choice.trainee, out, restart=choice.restart)
        loaded = load(choice.set_or_file)
    else:
        folder = out or run_folder(settings.data_dir, loaded.scenario.id, name)
        choice = TrainingChoice(set_or_file, name, folder, restart=restart)
    run_in_terminal(settings, loaded, choice, pace=pace)
    return 0
