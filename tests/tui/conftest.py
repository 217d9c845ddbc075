"""Fixtures of the TUI tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from mock_oqs.world import World


@pytest.fixture
def tui_world(world: World, tmp_path: Path) -> World:
    """A copy: the demo's cards persist their PIN counters."""
    shutil.copytree(world.directory, tmp_path / "w")
    return World.load(tmp_path / "w")
