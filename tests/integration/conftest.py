"""Fixtures of the folder interface's tests (test_link*.py): a world of their own and a
running `reception link`."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from mock_oqs.world import World
from tests.support.link import Running


@pytest.fixture(scope="module")
def link_world(world: World, tmp_path_factory: pytest.TempPathFactory) -> World:
    directory = tmp_path_factory.mktemp("link") / "w"
    shutil.copytree(world.directory, directory)
    return World.load(directory)


@pytest.fixture
def link(link_world: World, tmp_path: Path) -> Iterator[Running]:
    running = Running(link_world, tmp_path / "clinic", tmp_path)
    with running.serving():
        yield running
