"""The world's day of the rules (issue 24): the setting ``today``, ``reception --today``
(global, and ``demo --today``), and a command's day with a ``--world``."""

from __future__ import annotations

import argparse
import datetime as dt
import json
from pathlib import Path

import pytest

from reader.clock import today_jst
from reception.cli import main
from reception.cli.common import Session
from reception.cli.parser import build_parser
from reception.settings import ENV_CONFIG, SettingsError, load_settings


@pytest.fixture(autouse=True)
def no_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_CONFIG, str(tmp_path / "none.toml"))
    monkeypatch.delenv("RECEPTION_TODAY", raising=False)


def test_the_clinics_day_unless_told() -> None:
    assert load_settings().rules_day() == today_jst()
    assert load_settings(today=dt.date(2026, 3, 15)).rules_day() == dt.date(2026, 3, 15)


def test_the_environment_sets_it_and_garbage_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECEPTION_TODAY", "2026-04-01")
    assert load_settings().rules_day() == dt.date(2026, 4, 1)
    monkeypatch.setenv("RECEPTION_TODAY", "2026-02-30")
    with pytest.raises(SettingsError, match="today"):
        load_settings()


def test_the_flag_before_any_command_and_after_demo() -> None:
    parser = build_parser()
    assert parser.parse_args(["--today", "2026-03-15", "list"]).today == dt.date(2026, 3, 15)
    assert parser.parse_args(["--today", "2026-03-15", "demo"]).today == dt.date(2026, 3, 15)
    assert parser.parse_args(["demo", "--today", "2025-12-02"]).today == dt.date(2025, 12, 2)
    assert parser.parse_args(["demo"]).today is None


def test_a_bad_day_is_refused_by_name(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--today", "2026-13-01", "list"])
    assert exited.value.code == 2
    assert "--today" in capsys.readouterr().err


class _World:
    def __init__(self, day: str) -> None:
        self.index = {"today": day}


def test_a_world_gives_its_day_unless_today_is_set(tmp_path: Path) -> None:
    args = argparse.Namespace(world=None, store=None)
    session = Session(args, load_settings())
    session._world, session._world_read = _World("2026-07-31"), True  # type: ignore[assignment]
    assert session.rules_day() == dt.date(2026, 7, 31)
    told = Session(args, load_settings(today=dt.date(2026, 8, 1)))
    told._world, told._world_read = _World("2026-07-31"), True  # type: ignore[assignment]
    assert told.rules_day() == dt.date(2026, 8, 1)
    assert Session(args, load_settings()).rules_day() == today_jst()


def test_list_runs_with_a_day_given(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = tmp_path / "reception.sqlite"
    assert main(["--store", str(store), "--today", "2026-03-15", "list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []
