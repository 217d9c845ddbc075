"""The 連携 pane says when the link is not running: a link that could not start (a
subfolder planted as a symlink, another link on the folder) or whose worker died used to
vanish silently — clinic software got no answers and staff saw nothing."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Static

from mock_oqs.world import World
from reception.link import Link
from reception.tui.app import ReceptionApp
from reception.tui.widgets.link import LinkPane
from tests.support.tui import drive, services, until


def said(pane: LinkPane) -> str:
    """Everything the pane's texts show."""
    return "\n".join(str(static.render()) for static in pane.query(Static))


def test_a_link_that_cannot_start_says_why_in_its_pane(tui_world: World, tmp_path: Path) -> None:
    folder, elsewhere = tmp_path / "clinic", tmp_path / "elsewhere"
    elsewhere.mkdir()
    folder.mkdir()
    os.symlink(elsewhere, folder / "req")
    svc = services(tui_world, tmp_path, link=folder)

    async def scenario(pilot: Pilot[None], app: ReceptionApp) -> None:
        pane = app.query_one(LinkPane)
        await until(pilot, lambda: "連携を開始できません" in said(pane))
        assert "req がシンボリックリンクです" in said(pane)
        assert pane.events[-1].kind == "error"
        assert app.is_running  # the terminal itself goes on

    asyncio.run(drive(svc, scenario))
    assert list(elsewhere.iterdir()) == []


def test_a_link_worker_that_dies_is_shown_in_its_pane(
    tui_world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def dies(self: Link, stop: asyncio.Event) -> None:
        raise RuntimeError("the watcher broke")

    monkeypatch.setattr(Link, "run", dies)
    svc = services(tui_world, tmp_path, link=tmp_path / "clinic")

    async def scenario(pilot: Pilot[None], app: ReceptionApp) -> None:
        pane = app.query_one(LinkPane)
        await until(pilot, lambda: "連携が止まりました" in said(pane))
        assert "the watcher broke" in said(pane) and "再起動" in said(pane)

    asyncio.run(drive(svc, scenario))
