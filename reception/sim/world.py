"""A seeded world as the terminal uses it: its files, and the mock service run for it.

The terminal reads the world's *files* (the index, the card profiles, its own
certificates) and talks to the service over HTTPS only: it starts ``mock-oqs serve``
as a separate program (design.md §1: no imports of mock_oqs).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from reader.children import spawn
from reader.virtual.world import WorldError as WorldError
from reader.virtual.world import WorldFiles as SharedWorldFiles
from reception.settings import FaceSettings, OqsSettings


class WorldFiles(SharedWorldFiles):
    """A world as the terminal's simulator uses it: its files (reader/virtual/world.py),
    and the settings and service that go with them."""

    def served(self, **options: Any) -> contextlib.AbstractContextManager[str]:
        """``mock-oqs serve`` for this world (see :func:`served`)."""
        return served(self, **options)

    def oqs_settings(self, base: OqsSettings, url: str) -> OqsSettings:
        """``base`` with the world's terminal certificate and CA (unless ``base`` has them)."""
        return base.model_copy(
            update={
                "url": url,
                "client_cert": base.client_cert or self.terminal_cert,
                "client_key": base.client_key or self.terminal_key,
                "ca": base.ca or self.facility_ca,
            }
        )

    @property
    def seeded_on(self) -> dt.date:
        """The world's reference day: its service runs on it unless told another."""
        return dt.date.fromisoformat(str(self.index["today"]))

    def serve_options(self, day: dt.date) -> tuple[str, ...]:
        """The options of ``mock-oqs serve`` that serve this world on ``day``."""
        return ("--today", day.isoformat()) if day != self.seeded_on else ()

    def face_settings(self, base: FaceSettings) -> FaceSettings:
        """``base`` with the world's face-path terminal certificate (unless it has one)."""
        return base.model_copy(
            update={"terminal_certificate": base.terminal_certificate or self.face_certificate}
        )


def seed(
    world_dir: Path,
    day: dt.date | None = None,
    generated: list[tuple[str, str]] | None = None,
) -> WorldFiles:
    """The world in ``world_dir``: seeded by ``mock-oqs seed`` (a program: design.md §1)
    on ``day`` the first time — with the ``generated`` persons, (id, persona) — and
    reused as it is after."""
    if not (world_dir / "world.json").exists():
        on_day = ["--today", day.isoformat()] if day is not None else []
        on_day += [f"--generate={new}={persona}" for new, persona in generated or []]
        proc = subprocess.run(
            [*mock_oqs_command(), "seed", "--out", str(world_dir), "--seed", "1", *on_day],
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            raise WorldError(f"mock-oqs seed failed: {proc.stderr.strip()}")
    return WorldFiles.open(world_dir)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def mock_oqs_command() -> list[str]:
    beside = Path(sys.executable).parent / "mock-oqs"
    if beside.exists():
        return [str(beside)]
    found = shutil.which("mock-oqs")
    if found:
        return [found]
    return [sys.executable, "-m", "mock_oqs.cli"]


def change_faults(world_dir: Path, *args: str, facility: str | None = None) -> str:
    """``mock-oqs faults`` on a world (a program, not an import: design.md §1), one
    clinic's alone with ``facility``; RuntimeError with its message when it refuses."""
    scope = ["--facility", facility] if facility is not None else []
    proc = subprocess.run(
        [*mock_oqs_command(), "faults", "--world", str(world_dir), *scope, *args],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr.strip() or f"mock-oqs faults exited {proc.returncode}")
    return proc.stdout


@contextlib.contextmanager
def served(
    world: WorldFiles, *, workers: int = 1, timeout: float = 30.0, options: tuple[str, ...] = ()
) -> Iterator[str]:
    """``mock-oqs serve`` for the world on a free loopback port (with more ``options`` of
    ``serve`` if given); yields its URL."""
    port = _free_port()
    log = open(world.directory / "mock-oqs.log", "ab")  # noqa: SIM115 (closed below)
    proc = spawn(  # ends with this process, even on kill -9
        [
            *mock_oqs_command(),
            "serve",
            "--world",
            str(world.directory),
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--log-level",
            "warning",
            *options,
        ],
        stdout=log,
        stderr=log,
    )
    url = f"https://127.0.0.1:{port}"
    ctx = ssl.create_default_context(cafile=str(world.facility_ca))
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                if httpx.get(f"{url}/health", verify=ctx, timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None:
                raise WorldError(f"mock-oqs serve exited ({proc.returncode}); see {log.name}")
            if time.monotonic() > deadline:
                raise WorldError(f"mock-oqs serve did not answer within {timeout:g} s")
            time.sleep(0.1)
        yield url
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
