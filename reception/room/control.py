"""The room's one mock service and the scenario it plays (issue 26 §1): start a scenario
for every desk at once (its world seeded in the room's folder on the scenario's day,
served, a terminal certificate issued for each desk's clinic), stop it, break it.

Blocking (seeding takes seconds): the server calls these from a worker thread, one at
a time (the room's lock).
"""

from __future__ import annotations

import contextlib
import subprocess
import threading

from reader.clock import now_jst
from reception.room.layout import Room, RoomError, RoomState, Scenario
from reception.settings import ReceptionSettings
from reception.sim.world import WorldFiles, change_faults, mock_oqs_command, seed, served
from reception.training.scenario import Loaded, load


class RoomControl:
    """The scenario played and the service serving its world; ``close`` stops it."""

    def __init__(self, room: Room, base: ReceptionSettings) -> None:
        self.room = room
        self.base = base
        self.lock = threading.Lock()
        self._service: contextlib.ExitStack | None = None
        self.world: WorldFiles | None = None

    def start(self, set_or_file: str) -> Scenario:
        """Play ``set_or_file`` (a built-in set's id or a scenario file) in every desk:
        InputError (the message for the trainer) when it cannot be loaded or served.
        A scenario playing already is stopped first (its runs stay in the desks)."""
        loaded = load(set_or_file)
        with self.lock:
            self._stop_service()
            world = self._serve(loaded)
            state = self.room.load()
            try:
                self._issue(world, loaded, state)
            except BaseException:  # no service left serving a scenario not played
                self._stop_service()
                state.service_url = None
                self.room.save(state)
                raise
            state.scenario = Scenario(
                set_or_file=set_or_file,
                scenario_id=loaded.scenario.id,
                title=loaded.scenario.title,
                started=now_jst(),
            )
            self.room.save(state)
            return state.scenario

    def resume(self) -> Scenario | None:
        """The scenario the room played when it was stopped (the room restarted): served
        again, the desks resume their runs."""
        state = self.room.load()
        if state.scenario is None:
            return None
        return self.start(state.scenario.set_or_file)

    def stop(self) -> None:
        """No scenario: the desks wait for the next (their runs stay in their folders)."""
        with self.lock:
            state = self.room.load()
            state.scenario = None
            state.service_url = None
            self.room.save(state)
            self._stop_service()

    def close(self) -> None:
        with self.lock:
            self._stop_service()

    def faults(self, *args: str, facility: str | None = None) -> str:
        """``mock-oqs faults`` on the world served (one clinic's with ``facility``)."""
        if self.world is None:
            raise RuntimeError("no scenario is played: no service to break")
        return change_faults(self.world.directory, *args, facility=facility)

    # -- inside ---------------------------------------------------------------------------

    def _serve(self, loaded: Loaded) -> WorldFiles:
        scenario = loaded.scenario
        world = seed(self.room.world_folder(scenario.id), scenario.day, scenario.generated)
        day = scenario.day or self.base.today or world.seeded_on
        stack = contextlib.ExitStack()
        url = stack.enter_context(served(world, options=world.serve_options(day)))
        state = self.room.load()
        state.service_url = url
        self.room.save(state)
        self._service, self.world = stack, world
        return world

    def _issue(self, world: WorldFiles, loaded: Loaded, state: RoomState) -> None:
        """Each desk's clinic in this world: a terminal certificate of its own."""
        sid = loaded.scenario.id
        wanted = [
            f"{d.facility}={self.room.identity_folder(d.code, sid)}"
            for d in state.desks
            if not (self.room.identity_folder(d.code, sid) / "cert.pem").exists()
        ]
        if not wanted:
            return
        proc = subprocess.run(
            [*mock_oqs_command(), "terminal", "--world", str(world.directory), *wanted],
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            raise RoomError(
                f"デスクの端末証明書を発行できません（mock-oqs terminal: {proc.stderr.strip()}）"
            )

    def _stop_service(self) -> None:
        if self._service is not None:
            self._service.close()
        self._service, self.world = None, None
