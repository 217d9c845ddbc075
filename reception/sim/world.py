"""A seeded world as the terminal uses it: its files, and the mock service run for it.

The terminal reads the world's *files* (the index, the card profiles, its own
certificates) and talks to the service over HTTPS only: it starts ``mock-oqs serve``
as a separate program (design.md §1: no imports of mock_oqs).
"""

from __future__ import annotations

import contextlib
import json
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from reception.errors import InputError
from reception.settings import FaceSettings, OqsSettings


class WorldError(InputError):
    title = "ワールドを読めません"


@dataclass(frozen=True)
class WorldFiles:
    directory: Path
    index: dict[str, Any]

    @classmethod
    def open(cls, directory: Path) -> WorldFiles:
        path = directory / "world.json"
        try:
            index = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise WorldError(f"{path} not found: make a world with `mock-oqs seed`") from None
        except (OSError, ValueError) as exc:
            raise WorldError(f"{path}: {exc}") from None
        if not isinstance(index, dict) or not isinstance(index.get("personas"), list):
            raise WorldError(f"{path} is not a world index")
        return cls(directory, index)

    def persona(self, persona_id: str) -> dict[str, Any]:
        for entry in self.index["personas"]:
            if entry.get("id") == persona_id:
                return dict(entry)
        known = ", ".join(str(e.get("id")) for e in self.index["personas"])
        raise WorldError(f"no persona {persona_id!r} in {self.directory} (known: {known})")

    def card(self, persona_id: str) -> Path:
        return self.directory / str(self.persona(persona_id)["card"])

    # The world's layout as the terminal uses it — described here once (mock_oqs.world
    # writes it: terminal/ holds the facility's terminal, facility-ca/ its CA).

    @property
    def terminal_cert(self) -> Path:
        """The terminal's TLS client certificate (its subject carries the 医療機関コード)."""
        return self.directory / "terminal" / "cert.pem"

    @property
    def terminal_key(self) -> Path:
        return self.directory / "terminal" / "key.pem"

    @property
    def face_certificate(self) -> Path:
        """The terminal's card-verifiable certificate for the face path."""
        return self.directory / "terminal" / "face-auth.cvc"

    @property
    def facility_ca(self) -> Path:
        """The CA of the service's TLS certificate and of the terminal certificates."""
        return self.directory / "facility-ca" / "cert.pem"

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

    def face_settings(self, base: FaceSettings) -> FaceSettings:
        """``base`` with the world's face-path terminal certificate (unless it has one)."""
        return base.model_copy(
            update={"terminal_certificate": base.terminal_certificate or self.face_certificate}
        )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _mock_oqs_command() -> list[str]:
    beside = Path(sys.executable).parent / "mock-oqs"
    if beside.exists():
        return [str(beside)]
    found = shutil.which("mock-oqs")
    if found:
        return [found]
    return [sys.executable, "-m", "mock_oqs.cli"]


@contextlib.contextmanager
def served(
    world: WorldFiles, *, workers: int = 1, timeout: float = 30.0, options: tuple[str, ...] = ()
) -> Iterator[str]:
    """``mock-oqs serve`` for the world on a free loopback port (with more ``options`` of
    ``serve`` if given); yields its URL."""
    port = _free_port()
    log = open(world.directory / "mock-oqs.log", "ab")  # noqa: SIM115 (closed below)
    proc = subprocess.Popen(
        [
            *_mock_oqs_command(),
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
