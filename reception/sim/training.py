"""The simulated clinic of a training run (issue 25 §3): a world seeded on the scenario's
day in the run's own folder, the mock service for it, the patients' cards in process
(no hardware, no pcscd), the faults a case breaks — and the run's own store, never the
clinic's. Everything it started stops when the ``with`` ends.

The run's folder::

    RUN/研修-TRAINING.txt     says what the folder is (every file in it is training)
    RUN/journal.sqlite        the run (reception.training.journal)
    RUN/world/                the world (reused when the run resumes)
    RUN/reception/            the run's store (reception.sqlite) and its 申立書 PDFs
    RUN/report.html, .csv     the report, when the run ends

The clinic has no folder interface (``link.folder`` none) unless the run is given one
(``link_folder``: ``reception train run --play-into DIR``): then each card confirmation
is written into ``DIR/face`` as a check-in at a real terminal writes it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reader.virtual.world import FACE_AUTH_FILE
from reception.checkin import CheckinRequest
from reception.flow import ConsentsGiven, Method, Route
from reception.oqs_client import OqsClient
from reception.questions import Interaction
from reception.settings import ReceptionSettings
from reception.sim.cards import DemoControls
from reception.sim.demo import demo_services
from reception.sim.world import WorldFiles, seed, served
from reception.store import Store
from reception.training.run import ACTOR
from reception.training.scenario import Fault, Scenario
from reception.tui.services import Services

MARKER = "研修-TRAINING.txt"
MARKER_TEXT = (
    "研修用のフォルダです。ここにある受付・申立書・報告はすべて研修のもので、"
    "医療機関の実際の記録ではありません。\n"
    "A training run's folder: every reception, form and report in it is training, "
    "never the clinic's records.\n"
)
FAULT_ARGS = {
    Fault.OUTAGE: (("--outage", "on"), ("--outage", "off")),
    Fault.CONNECTION_LOST: (("--hang", "on"), ("--hang", "off")),
    Fault.SLOW: (("--latency-ms", "2500"), ("--latency-ms", "0")),
}


def training_settings(
    base: ReceptionSettings, scenario: Scenario, run_dir: Path, link_folder: Path | None = None
) -> ReceptionSettings:
    """The clinic's settings for a run: the scenario's clinic and day, the run's store,
    a service that gives up soon (a trainee waits seconds, not minutes), and the folder
    interface at ``link_folder`` (none: no link)."""
    clinic = scenario.clinic
    reader = base.reader.model_copy(
        update={"prescription": clinic.prescription, "model": clinic.reader_model}
    )
    oqs = base.oqs.model_copy(update={"read_timeout": 4.0, "connect_timeout": 2.0})
    link = base.link.model_copy(update={"folder": link_folder})
    return base.model_copy(
        update={
            "data_dir": run_dir / "reception",
            "today": scenario.day or base.today,
            "reader": reader,
            "oqs": oqs,
            "link": link,
            "public_expense_pilot": clinic.pilot_area,
        }
    )


class TrainingClinic:
    """:class:`reception.training.run.Simulator` for a run: the services of the demo,
    with the run's store and settings, and the cards in process."""

    def __init__(self, world: WorldFiles, services: Services) -> None:
        self.world = world
        self.services = services
        self.store: Store = services.store
        self.settings: ReceptionSettings = services.settings
        self.client = OqsClient(services.oqs, transport=services.oqs_transport)
        demo = services.demo
        assert isinstance(demo, DemoControls)
        self.demo = demo
        self._unplugged = False
        self.face_files: list[Path] = []  # written into the link's face/ (none: no link)

    def persona(self, persona_id: str) -> dict[str, Any]:
        entry: dict[str, Any] = self.world.persona(persona_id)
        return entry

    def personas(self) -> list[str]:
        return [str(p["id"]) for p in self.world.index["personas"]]

    def fault(self, fault: Fault, on: bool) -> None:
        if fault is Fault.READER:
            if self._unplugged != on:
                self._unplugged = self.demo.toggle_reader()
            return
        args = FAULT_ARGS.get(fault)
        if args is not None:
            self.demo.faults(*args[0 if on else 1])

    async def check_in(
        self,
        persona: str,
        interaction: Interaction,
        *,
        route: Route = Route.READER,
        resume: str | None = None,
        method: Method = Method.PIN,
    ) -> str:
        demo, svc = self.demo, self.services
        request = CheckinRequest(
            method,
            consents=ConsentsGiven(medication=True, checkup=True, operation=True),
            route=route,
            resume=resume,
            staff=ACTOR,
            expected=demo.expected(persona),
        )
        phone = demo.is_phone(persona)
        if route is Route.COUNTER:
            demo.place_on_counter(persona)
            source = svc.counter
        elif phone:
            demo.place_phone(persona)
            source = svc.source("phone")
        else:
            demo.place(persona)
            source = svc.cards
        assert source is not None
        try:
            outcome = await svc.check_in(source, self.client, request, interaction)
        finally:
            demo.remove()
        if outcome.face_file is not None:
            self.face_files.append(outcome.face_file)
        return outcome.reception_id

    async def aclose(self) -> None:
        await self.client.aclose()


@dataclass(frozen=True)
class ClinicIdentity:
    """A clinic of its own in a shared world (a training room's desk): its 医療機関コード
    and the folder of its terminal certificate (``mock-oqs terminal``: cert.pem,
    key.pem, face-auth.cvc)."""

    code: str
    folder: Path

    def settings(self, base: ReceptionSettings) -> ReceptionSettings:
        oqs = base.oqs.model_copy(
            update={
                "client_cert": self.folder / "cert.pem",
                "client_key": self.folder / "key.pem",
            }
        )
        face = base.face.model_copy(update={"terminal_certificate": self.folder / FACE_AUTH_FILE})
        return base.model_copy(update={"oqs": oqs, "face": face})


def _marked(run_dir: Path) -> None:
    run_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    marker = run_dir / MARKER
    if not marker.exists():
        marker.write_text(MARKER_TEXT, encoding="utf-8")


@contextlib.contextmanager
def training_clinic(
    run_dir: Path, scenario: Scenario, base: ReceptionSettings, link_folder: Path | None = None
) -> Iterator[TrainingClinic]:
    """The clinic of a run in ``run_dir`` (made, marked as training): its world served,
    its store open; stopped and closed at the end. ``link_folder``: the folder interface
    whose face/ its check-ins write into (the caller runs the link itself)."""
    _marked(run_dir)
    world = seed(run_dir / "world", scenario.day, scenario.generated)
    day = scenario.day or base.today or world.seeded_on
    with contextlib.ExitStack() as stack:
        url = stack.enter_context(served(world, options=world.serve_options(day)))
        yield stack.enter_context(
            clinic_on(run_dir, scenario, base, world, url, link_folder=link_folder)
        )


@contextlib.contextmanager
def clinic_on(
    run_dir: Path,
    scenario: Scenario,
    base: ReceptionSettings,
    world: WorldFiles,
    url: str,
    *,
    link_folder: Path | None = None,
    identity: ClinicIdentity | None = None,
) -> Iterator[TrainingClinic]:
    """The clinic of a run in ``run_dir`` on ``world`` served at ``url`` (by the caller):
    the world's own clinic, or ``identity``'s (a room's desk: its faults its own)."""
    _marked(run_dir)
    settings = training_settings(base, scenario, run_dir, link_folder)
    settings = settings.model_copy(update={"today": settings.today or world.seeded_on})
    if identity is not None:
        settings = identity.settings(settings)
    services = demo_services(world, url, settings, pcsc_slot=None)
    clinic = TrainingClinic(world, services)
    if identity is not None:
        # a room's desk: what the trainer broke for it stays broken when its process is
        # started again (a case's own fault is set again when the case resumes)
        clinic.demo.facility = identity.code
    else:
        clinic.demo.faults("--clear")  # a run killed with a fault on left it in the world
    try:
        yield clinic
    finally:
        clinic.demo.remove()
        services.store.close()
