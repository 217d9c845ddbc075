"""Replaying a morning into the folder interface (issue 25 §2): ``reception train run
SET_OR_FILE --play-into DIR``.

The scenario's patients arrive one after another — every ``clinic.arrival_every``
seconds, answering the reader with human delays, or (``fast``) as fast as the terminal
goes — and each case is handled as its model answer says, through the terminal's own
core, on the run's own store and world (never the clinic's). The run's clinic has its
folder interface at ``DIR``: every card confirmation of the morning is written into
``DIR/face`` as a real terminal writes it, and the link's watcher runs beside the
morning in the same process, answering what the clinic program drops into ``DIR/req``
(into ``DIR/res``) until the last patient is settled. A レセコン's CI replays a day
against the simulator this way.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import stat
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reader.clock import now_jst
from reader.safe_text import printable
from reception.link import Link
from reception.link.terms import LinkEvent, LinkFolderError, shown_name
from reception.oqs_client import OqsClient
from reception.settings import ReceptionSettings
from reception.training.journal import Journal
from reception.training.play import handle, model_actions
from reception.training.run import TrainingRun
from reception.training.scenario import EndState, Loaded

if TYPE_CHECKING:
    from reception.sim.training import TrainingClinic

TRAINEE = "模範解答（--play-into）"


@dataclass(frozen=True)
class SettledPatient:
    """One patient of the morning, once settled: what the case came to and the face/
    files its check-ins wrote (names relative to the link's folder)."""

    at: str  # the wall clock when settled, HH:MM:SS
    case_id: str
    title: str
    end: EndState | None
    model_end: EndState
    status: str | None
    reception_id: str | None
    face_files: list[str]

    @property
    def reached(self) -> bool:
        """The case ended as its model answer says."""
        return self.end is self.model_end

    def line(self) -> str:
        """The line printed as the patient is settled."""
        end = self.end.value if self.end is not None else "未到達"
        missed = "" if self.reached else f"（模範は {self.model_end.value}）"
        files = "  " + " ".join(self.face_files) if self.face_files else ""
        # a trainer's file: nothing in it reaches the terminal as a control (design.md §6.6)
        return f"{self.at}  {self.case_id}  {end}{missed}  {printable(self.title)}{files}"

    def as_json(self) -> dict[str, Any]:
        return {
            "case_id": self.case_id,
            "title": self.title,
            "settled_at": self.at,
            "end": self.end.value if self.end is not None else None,
            "model_end": self.model_end.value,
            "reached": self.reached,
            "status": self.status,
            "reception_id": self.reception_id,
            "face_files": self.face_files,
        }


@dataclass
class Morning:
    """What the morning did: the patients settled, the requests answered."""

    folder: Path
    run_folder: Path
    scenario_id: str
    patients: list[SettledPatient] = field(default_factory=list)
    answered: list[tuple[str, str]] = field(default_factory=list)  # (request, answer)
    interrupted_by: int | None = None  # the signal that ended it early (SIGINT, SIGTERM)

    @property
    def interrupted(self) -> bool:
        return self.interrupted_by is not None

    @property
    def face_files(self) -> list[str]:
        return [name for p in self.patients for name in p.face_files]

    def as_json(self) -> dict[str, Any]:
        return {
            "training": True,
            "scenario_id": self.scenario_id,
            "folder": str(self.folder),
            "run_folder": str(self.run_folder),
            "interrupted": self.interrupted,
            "cases": [p.as_json() for p in self.patients],
            "face_files": self.face_files,
            "requests_answered": [{"request": q, "answer": a} for q, a in self.answered],
        }


class AnsweringLink(Link):
    """The folder interface of the run, keeping what it answered (the summary's
    ``requests_answered``): a request and the answer delivered for it in res/."""

    def __init__(self, folder: Path, client: OqsClient, **options: Any) -> None:
        super().__init__(folder, client, **options)
        self.answered: list[tuple[str, str]] = []

    async def handle(self, name: str | Path) -> Path | None:
        answer = await super().handle(name)
        if answer is not None:
            request = name.name if isinstance(name, Path) else name
            self.answered.append((f"req/{shown_name(request)}", f"res/{shown_name(answer.name)}"))
        return answer


def link_folder(folder: Path) -> Path:
    """``DIR`` made ready for the link: made when absent (the link makes req/, res/ and
    face/ in it); refused with a clear message when it is a symlink (a shared folder is
    hostile: design.md §6.8), not a directory, or not writable."""
    try:
        status = os.lstat(folder)
    except FileNotFoundError:
        try:
            folder.mkdir(parents=True)
        except OSError as exc:
            raise LinkFolderError(f"{folder}: 作れません（{exc.strerror or exc}）") from None
        status = os.lstat(folder)
    if stat.S_ISLNK(status.st_mode):
        raise LinkFolderError(
            f"{folder}: シンボリックリンクです。連携フォルダには実際のディレクトリを指定して"
            "ください（リンクはたどりません）"
        )
    if not stat.S_ISDIR(status.st_mode):
        raise LinkFolderError(f"{folder}: ディレクトリではありません")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise LinkFolderError(f"{folder}: 書き込めません（権限がありません）")
    return folder


async def play_morning(
    run: TrainingRun,
    clinic: TrainingClinic,
    *,
    fast: bool,
    on_settled: Callable[[SettledPatient], None] | None = None,
) -> list[SettledPatient]:
    """Every case not yet settled, its model answer played: the patient arrives on the
    scenario's pacing (``fast``: at once, answering at once), checks in at the reader,
    and is handled. The score's time is the model's (``fast``) or the real one."""
    every = 0.0 if fast else run.loaded.scenario.clinic.arrival_every
    pace = 0.0 if fast else 1.0
    loop = asyncio.get_running_loop()
    opened = loop.time()
    clock = float(run.journal.meta().get("clock", "0"))  # fast: the simulated clock
    first: int | None = None
    settled: list[SettledPatient] = []
    while (found := run.next_case()) is not None:
        position, case = found
        first = position if first is None else first
        arrival = (position - first) * every
        await asyncio.sleep(max(0.0, opened + arrival - loop.time()))
        if fast:
            arrival = position * run.loaded.scenario.clinic.arrival_every
            start = max(arrival, clock)
        else:
            start = loop.time() - opened
        desk = run.begin(waited=max(0.0, start - arrival))
        if desk is None:  # pragma: no cover (next_case said there is one)
            break
        began, written = loop.time(), len(clinic.face_files)
        await handle(desk, model_actions(case, desk.persona, run.day), pace=pace)
        seconds = case.model.seconds / 2 if fast else loop.time() - began
        desk.settle(seconds)
        clock = start + seconds
        run.journal.set_meta(clock=str(clock))
        patient = SettledPatient(
            at=now_jst().strftime("%H:%M:%S"),
            case_id=case.id,
            title=case.title,
            end=desk.outcome.end,
            model_end=case.model.end,
            status=desk.outcome.status,
            reception_id=desk.outcome.reception_id,
            face_files=[f"face/{p.name}" for p in clinic.face_files[written:]],
        )
        settled.append(patient)
        if on_settled is not None:
            on_settled(patient)
    run.finish()
    return settled


def fresh_run_folder(run_dir: Path, restart: bool) -> bool:
    """Empty ``run_dir`` when asked (``restart``) or when the morning it holds was played
    to its end (a replay plays the whole morning again); an interrupted one resumes.
    Only a training run's folder is emptied. Whether it was."""
    from reception.sim.training import MARKER

    journal_path = run_dir / "journal.sqlite"
    if not restart:
        if not journal_path.exists():
            return False
        journal = Journal(journal_path)
        try:
            finished = bool(journal.meta().get("finished"))
        finally:
            journal.close()
        if not finished:
            return False
    if not run_dir.exists():
        return False
    if not (run_dir / MARKER).exists():
        raise LinkFolderError(
            f"{run_dir}: 研修のフォルダではないので空にしません（別の --out を指定してください）"
        )
    shutil.rmtree(run_dir)
    return True


async def replay(
    loaded: Loaded,
    run_dir: Path,
    folder: Path,
    settings: ReceptionSettings,
    *,
    fast: bool,
    trainee: str = TRAINEE,
    on_settled: Callable[[SettledPatient], None] | None = None,
    on_event: Callable[[LinkEvent], None] | None = None,
) -> Morning:
    """The morning of ``loaded`` played into the folder interface at ``folder`` (checked
    by :func:`link_folder` first), the link answering meanwhile; the run in ``run_dir``.
    SIGINT and SIGTERM end it early (``Morning.interrupted``): the patient at the reader
    is cancelled, the link stops, the mock service is stopped, the run resumes later."""
    from reception.home_visit.mode import refused_kinds
    from reception.sim.training import training_clinic

    morning = Morning(folder, run_dir, loaded.scenario.id)
    with training_clinic(run_dir, loaded.scenario, settings, link_folder=folder) as clinic:
        mine = clinic.settings  # the run's: its data_dir holds the link's journal
        link = AnsweringLink(
            folder,
            clinic.client,
            institution_code=clinic.services.terminal.institution_code,
            private_dir=mine.data_dir,
            keep_done=not mine.link.remove_done,
            on_event=on_event,
            privacy=mine.link.privacy,
            answer_forms=mine.link.answer_form,
            zip_password=mine.link.password(),
            refused=refused_kinds(mine.mode),
        )
        morning.answered = link.answered
        journal = Journal(run_dir / "journal.sqlite")
        try:
            link.prepare()  # another link on DIR, a subfolder that is a symlink: said now
            run = TrainingRun(loaded, journal, clinic, trainee)
            played = play_morning(run, clinic, fast=fast, on_settled=_kept(morning, on_settled))
            morning.interrupted_by = await _beside_the_link(link, played)
        finally:
            link.close(wait=True)
            journal.close()
            await clinic.aclose()
    return morning


def _kept(
    morning: Morning, on_settled: Callable[[SettledPatient], None] | None
) -> Callable[[SettledPatient], None]:
    def settled(patient: SettledPatient) -> None:
        morning.patients.append(patient)
        if on_settled is not None:
            on_settled(patient)

    return settled


async def _beside_the_link(
    link: Link, played: Coroutine[Any, Any, list[SettledPatient]]
) -> int | None:
    """Play the morning (``played``) while the link watches; the signal that ended it
    early, if one did. After the last patient, what waits in req/ is answered, then the
    link stops. A link that stops on its own (another took the folder) ends the morning
    with its error."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    watcher = asyncio.create_task(link.run(stop))
    player = asyncio.create_task(played)
    signals = (signal.SIGINT, signal.SIGTERM)
    caught: list[int] = []

    def interrupt(signum: int) -> None:
        if not player.done():
            caught.append(signum)
            player.cancel()

    for signum in signals:
        loop.add_signal_handler(signum, interrupt, signum)
    try:
        await asyncio.wait({watcher, player}, return_when=asyncio.FIRST_COMPLETED)
        if watcher.done() and not player.done():
            player.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await player
            watcher.result()  # its error
            raise LinkFolderError(f"{link.folder}: 連携が止まりました")  # pragma: no cover
        try:
            await player
        except asyncio.CancelledError:
            if not caught:
                raise  # cancelled from outside, not by a signal
            return caught[0]
        if link.started:
            await link.sweep()  # dropped just before the last patient was settled
        return None
    finally:
        stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
        if not player.done():
            player.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await player
        for signum in signals:
            loop.remove_signal_handler(signum)
