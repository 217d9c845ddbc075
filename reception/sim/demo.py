"""The demo: a seeded world, the mock service for it, the personas' cards in pcscd's
virtual reader (or in process), and the terminal's TUI — everything embedded."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import tempfile
from pathlib import Path

from reception.checkin import Terminal
from reception.errors import InputError
from reception.reader_models import PrescriptionQuestion
from reception.settings import ReceptionSettings
from reception.sim.cards import DemoControls, LoopbackCards, VpcdCards
from reception.sim.world import WorldFiles, seed, served
from reception.store import Store
from reception.tui.app import make_app
from reception.tui.services import Services


def pcscd_ready(reader: str) -> bool:
    """pcscd answers and lists the vpcd reader."""
    if not Path("/run/pcscd/pcscd.comm").exists():
        return False
    try:
        from reader.pcsc import PcscContext

        with PcscContext() as ctx:
            return reader in ctx.readers()
    except Exception:
        return False


def demo_services(
    world: WorldFiles, url: str, settings: ReceptionSettings, *, pcsc_slot: int | None
) -> Services:
    """The TUI's services for a world served at ``url``: cards into vpcd slot
    ``pcsc_slot`` (or in process when None), the demo's controls."""
    cards: LoopbackCards | VpcdCards = (
        VpcdCards(pcsc_slot) if pcsc_slot is not None else LoopbackCards()
    )
    # the clinic's second reader, for smartphones (a generic NFC reader): vpcd's other
    # slot, or in process; the staff-held reader of the 居宅同意取得型 route: in process
    phones: LoopbackCards | VpcdCards = (
        VpcdCards(1 - pcsc_slot) if pcsc_slot is not None else LoopbackCards()
    )
    counter = LoopbackCards()
    demo = DemoControls(
        world,
        cards,
        [(str(p["id"]), str(p.get("description", ""))) for p in world.index["personas"]]
        # the cards that are not My Number cards (a transit card …: their error screens)
        + [
            (str(c["id"]), str(c.get("description", "")))
            for c in world.index.get("other_cards") or []
        ],
        counter,
        phones,
    )
    settings = settings.model_copy(update={"face": world.face_settings(settings.face)})
    oqs = world.oqs_settings(settings.oqs, url)  # the clinic's certificate, or the world's
    assert oqs.client_cert is not None and oqs.client_key is not None
    return Services(
        settings=settings,
        store=Store(settings.store_path),
        oqs=oqs,
        terminal=Terminal.load(oqs.client_cert, oqs.client_key, settings.face.terminal_certificate),
        cards=cards,
        demo=demo,
        counter=counter,
        phones=phones,
    )


def run_demo(
    settings: ReceptionSettings,
    world_dir: Path | None,
    *,
    loopback: bool,
    today: dt.date | None = None,
) -> int:
    """Seed (or reuse) a world, serve it, put the cards in the virtual reader, run the TUI.
    ``today``: the world's day (a new world is seeded on it, a reused one served on it;
    the terminal plays its rules). Whatever it started stops when the TUI quits. The
    palette's 「研修: 開始」 closes the demo's terminal for the chosen run's (its own
    store and world, reception.sim.training_app) and opens the demo again after it."""
    base = settings  # the configured data_dir keeps trainees' runs (resumable)
    with contextlib.ExitStack() as stack:
        if world_dir is None:
            world_dir = Path(stack.enter_context(tempfile.TemporaryDirectory())) / "world"
        world = seed(world_dir, today)
        day = today or settings.today or world.seeded_on
        settings = settings.model_copy(update={"today": day})  # the terminal's rules' day
        serve_on = world.serve_options(day)
        if settings.data_dir == ReceptionSettings.model_fields["data_dir"].get_default(
            call_default_factory=True
        ) and not os.environ.get("RECEPTION_DATA_DIR"):
            settings = settings.model_copy(update={"data_dir": world_dir.parent / "reception"})
        if settings.link.folder is None and "RECEPTION_LINK__FOLDER" not in os.environ:
            # the folder clinic software talks to (oqs.md §7), inside the world
            link = settings.link.model_copy(update={"folder": world_dir / "clinic"})
            settings = settings.model_copy(update={"link": link})
        told = settings.reader.model_fields_set & {"prescription", "electronic_prescriptions"}
        if not told and not {
            "RECEPTION_READER__PRESCRIPTION",
            "RECEPTION_READER__ELECTRONIC_PRESCRIPTIONS",
        } & set(os.environ):
            # the demo clinic issues electronic prescriptions (院外): trainers see the choice
            reader = settings.reader.model_copy(
                update={"prescription": PrescriptionQuestion.OUTSIDE}
            )
            settings = settings.model_copy(update={"reader": reader})
        url = stack.enter_context(served(world, options=serve_on))
        slot = None if loopback or not pcscd_ready("Virtual PCD 00 00") else 0
        services = demo_services(world, url, settings, pcsc_slot=slot)
        problem: str | None = None
        while True:
            app = make_app(services)
            app.training_data_dir = base.data_dir
            app.startup_problem = problem
            try:
                app.run()
            finally:
                assert services.demo is not None
                services.demo.remove()
            if app.training_chosen is None:
                break
            from reception.sim.training_app import play_in_terminal  # (it imports this)

            try:
                play_in_terminal(base, app.training_chosen)
                problem = None
            except InputError as exc:  # the run could not open: the demo says why
                problem = f"研修を始められません: {exc}"
    return 0
