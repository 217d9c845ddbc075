"""Fixtures of the TUI tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from mock_oqs.world import World


@pytest.fixture
def tui_world(world: World, tmp_path: Path) -> World:
    """A copy: the demo's cards persist their PIN counters; without the service's state
    (consents and nonces other tests left in the session's world)."""
    shutil.copytree(
        world.directory,
        tmp_path / "w",
        ignore=shutil.ignore_patterns("service-state.sqlite*", "mock-oqs.log"),
    )
    return World.load(tmp_path / "w")
