"""One desk of a training room: the terminal in 研修 mode for the desk's trainee, run by
the room's server for a browser (textual-serve's web driver) — ``python -m
reception.room.desk --room DIR --desk CODE``.

The desk is a clinic of its own on the room's one service: its 医療機関コード and
terminal certificate (issued by the scenario world's facility CA when the trainer
started the scenario), its own store and run under ``desks/<code>/runs/<scenario>``,
its own folder interface; the cards are in process (no pcscd). A desk process that
ends — a closed tab, a crash — resumes from the run's journal when it starts again.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from reception.errors import InputError
from reception.room.layout import Room, RoomError
from reception.settings import ReceptionSettings, load_settings
from reception.sim.training import ClinicIdentity, clinic_on
from reception.sim.world import WorldFiles
from reception.training.folders import JOURNAL
from reception.training.journal import Journal
from reception.training.run import TrainingRun
from reception.training.scenario import load
from reception.tui import app as app_module
from reception.tui.app import ReceptionApp
from reception.tui.services import Services
from reception.tui.training.session import TrainingSession

CONTROL_EVERY = 1.0  # seconds between looks at what the trainer set for the desk
# a desk's link folder looked at 20 times a second, not 1,000: each look wakes the
# process (~2 % of a core idle, 40 desks most of one), and a trainee's request is
# answered 50 ms later instead of 1 ms (scripts/bench-room); set: the setting's
LINK_STEP_MS = 50


class RoomDeskApp(ReceptionApp):
    """The 研修 terminal of a room's desk: what the trainer sets for the desk (its
    reader unplugged) reaches it within a second."""

    CSS_PATH = str(Path(app_module.__file__).with_name("app.tcss"))  # the terminal's own

    def __init__(self, services: Services, training: TrainingSession, room: Room, code: str):
        super().__init__(services, training)
        self.room = room
        self.code = code
        self.reader_unplugged = False

    def on_mount(self) -> None:
        # Textual calls ReceptionApp.on_mount after this one (each class's handler, the
        # most derived first): the title is made once that one has made its own
        self.call_after_refresh(self._title)
        self.follow_trainer()
        self.set_interval(CONTROL_EVERY, self.follow_trainer)

    def _title(self) -> None:
        # the trainee's browser: no server path (the link's folder) in the title
        said = self.sub_title.split(" — 連携 ", 1)[0]
        desk = self.room.desk(self.code)
        number = desk.number if desk is not None else self.code
        # who sits at the desk first: the rest (another day's rules …) may be cut off
        trainee = self.training.run.trainee if self.training is not None else ""
        said = said.removesuffix(f" — {trainee}")
        self.sub_title = f"デスク {number} ・ {trainee} — {said}"

    def follow_trainer(self) -> None:
        wanted = bool(self.room.control(self.code).get("reader_unplugged"))
        demo = self.services.demo
        if demo is not None and wanted != self.reader_unplugged:
            self.reader_unplugged = demo.toggle_reader()


def desk_settings(base: ReceptionSettings) -> ReceptionSettings:
    """``base`` with a room desk's link step (unless set: ``link.watch_step_ms``)."""
    if "watch_step_ms" in base.link.model_fields_set:
        return base
    link = base.link.model_copy(update={"watch_step_ms": LINK_STEP_MS})
    return base.model_copy(update={"link": link})


def run_desk(room_dir: Path, code: str, base: ReceptionSettings) -> int:
    base = desk_settings(base)
    room = Room(room_dir)
    state = room.load()
    desk = room.desk(code)
    if desk is None:
        raise RoomError(f"デスク {code!r} はこの研修室にありません")
    if state.scenario is None or state.service_url is None:
        raise RoomError("研修はまだ始まっていません（講師の画面で開始します）")
    if not desk.trainee:
        raise RoomError("このデスクの研修生の名前がありません")
    scenario_id = state.scenario.scenario_id
    loaded = load(state.scenario.set_or_file)
    world = WorldFiles.open(room.world_folder(scenario_id))
    identity = ClinicIdentity(desk.facility, room.identity_folder(code, scenario_id))
    folder = room.run_folder(code, scenario_id)
    with clinic_on(
        folder,
        loaded.scenario,
        base,
        world,
        state.service_url,
        link_folder=room.link_folder(code),
        identity=identity,
    ) as clinic:
        journal = Journal(folder / JOURNAL)
        try:
            if journal.meta().get("trainee", desk.trainee) != desk.trainee:
                # the name corrected on the desk's name form: the run, its report and the
                # trainer's page carry the name the room has
                journal.set_meta(trainee=desk.trainee)
            run = TrainingRun(loaded, journal, clinic, desk.trainee)
            session = TrainingSession(run, folder, closing=clinic.aclose)
            app = RoomDeskApp(clinic.services, session, room, code)
            app.run()
        finally:
            journal.close()
    return app.return_code or 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m reception.room.desk",
        description="one desk of a training room (started by `reception room`)",
    )
    parser.add_argument("--room", type=Path, required=True, metavar="DIR")
    parser.add_argument("--desk", required=True, metavar="CODE")
    args = parser.parse_args(argv)
    log = os.environ.get("RECEPTION_ROOM_DESK_LOG")
    if log:  # the desk's errors in its own folder, not in the room's console
        fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        os.dup2(fd, 2)
        os.close(fd)
    try:
        return run_desk(args.room, args.desk, load_settings())
    except InputError as exc:
        sys.stderr.write(f"reception room desk: {exc}\n")
        return 2


if __name__ == "__main__":
    sys.exit(main())
