"""Starting the TUI: the demo (everything embedded) or a configured terminal."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from reception.checkin import Terminal
from reception.settings import ReceptionSettings
from reception.store import Store
from reception.tui.app import make_app
from reception.tui.services import PcscCards, Services, demo_services
from reception.world import WorldError, WorldFiles, served


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


def run_demo(settings: ReceptionSettings, world_dir: Path | None, *, loopback: bool) -> int:
    """Seed (or reuse) a world, serve it, put the cards in the virtual reader, run the TUI.
    Whatever it started stops when the TUI quits."""
    with contextlib.ExitStack() as stack:
        if world_dir is None:
            world_dir = Path(stack.enter_context(tempfile.TemporaryDirectory())) / "world"
        if not (world_dir / "world.json").exists():
            mock_oqs = Path(sys.executable).parent / "mock-oqs"
            proc = subprocess.run(
                [str(mock_oqs), "seed", "--out", str(world_dir), "--seed", "1"],
                capture_output=True, text=True, check=False,
            )  # fmt: skip
            if proc.returncode != 0:
                raise WorldError(f"mock-oqs seed failed: {proc.stderr.strip()}")
        world = WorldFiles.open(world_dir)
        if settings.data_dir == ReceptionSettings.model_fields["data_dir"].get_default(
            call_default_factory=True
        ) and not os.environ.get("RECEPTION_DATA_DIR"):
            settings = settings.model_copy(update={"data_dir": world_dir.parent / "reception"})
        url = stack.enter_context(served(world))
        slot = None if loopback or not pcscd_ready("Virtual PCD 00 00") else 0
        services = demo_services(world, url, settings, pcsc_slot=slot)
        app = make_app(services)
        try:
            app.run()
        finally:
            assert services.demo is not None
            services.demo.remove()
    return 0


def run_terminal(settings: ReceptionSettings) -> int:
    """The TUI against the configured reader and service."""
    oqs = settings.oqs
    if oqs.url is None or oqs.client_cert is None or oqs.client_key is None:
        raise WorldError(
            "no service configured: set oqs.url, oqs.client_cert and oqs.client_key in "
            "reception.toml (or RECEPTION_OQS__*), or run `reception demo`"
        )
    terminal = Terminal.load(oqs.client_cert, oqs.client_key, oqs.client_cert.parent /
                             "face-auth.cvc")  # fmt: skip
    services = Services(
        settings=settings,
        store=Store(settings.store_path),
        oqs=oqs,
        terminal=terminal,
        cards=PcscCards(settings.reader.name),
    )
    make_app(services).run()
    return 0
