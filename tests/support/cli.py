"""The ``reception`` command run in-process by the integration tests: a copy of the
session's world (the CLI persists PIN counters into the cards), the settings through the
environment as a deployment sets them, and one run with its exit code and output."""

from __future__ import annotations

import io
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

from mock_oqs.world import World
from reception.cli import main


def copied_world(
    world: World, factory: pytest.TempPathFactory, name: str, *, ignore: tuple[str, ...] = ()
) -> World:
    """A copy of ``world`` in a new temporary directory named after ``name``."""
    target = factory.mktemp(name) / "w"
    shutil.copytree(
        world.directory, target, ignore=shutil.ignore_patterns(*ignore) if ignore else None
    )
    return World.load(target)


def service_env(world: World, url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The terminal's settings through the environment: no config file, a data directory
    of its own (returned), the service at ``url`` with the world's terminal certificate."""
    monkeypatch.setenv("RECEPTION_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.setenv("RECEPTION_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("RECEPTION_OQS__URL", url)
    monkeypatch.setenv("RECEPTION_OQS__CLIENT_CERT", str(world.terminal_cert))
    monkeypatch.setenv("RECEPTION_OQS__CLIENT_KEY", str(world.terminal_key))
    monkeypatch.setenv("RECEPTION_OQS__CA", str(world.facility_ca))
    return tmp_path / "data"


def run_cli(
    args: list[str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    stdin: str = "",
) -> tuple[int, str, str]:
    """``reception ARGS`` with ``stdin``: its exit code, standard output and error."""
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def number_query(entry: dict[str, Any]) -> list[str]:
    """``confirm-number`` with the numbers of a persona's current qualification (its
    entry in world.json), as staff type them from the 資格確認書."""
    numbers = entry["numbers"]
    return [
        "confirm-number",
        "--insurer-number",
        numbers["current_insurer_number"],
        "--symbol",
        numbers["current_symbol"],
        "--number",
        numbers["current_number"],
        "--branch",
        numbers["current_branch"],
        "--birth-date",
        entry["birth_date"],
    ]
