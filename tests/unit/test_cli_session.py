"""The commands of one ``reception`` run share one session (reception/cli/common.py): the
store a command needs is opened once, by the session, and closed when the run ends —
whichever command it was and however it ended."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from reception.cli import main
from reception.store import Store


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[list[str]]:
    """What happened to stores during the run: "open" and "close", in order."""
    monkeypatch.setenv("RECEPTION_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.setenv("RECEPTION_DATA_DIR", str(tmp_path / "data"))
    events: list[str] = []
    real_init, real_close = Store.__init__, Store.close

    def init(self: Store, path: Path) -> None:
        events.append("open")
        real_init(self, path)

    def close(self: Store) -> None:
        if getattr(self._local, "conn", None) is not None:
            events.append("close")
        real_close(self)

    monkeypatch.setattr(Store, "__init__", init)
    monkeypatch.setattr(Store, "close", close)
    yield events


@pytest.mark.parametrize(
    "command",
    [
        ["pending"],
        ["export", "--date", dt.date.today().isoformat(), "--format", "csv", "--out", "OUT"],
        ["no-card"],
        ["result-file", "OQSsiquc01res_face_1312345678" + "0" * 20 + "_20261124093000.xml"],
        ["step", "R-none", "notice", "--detail", "お知らせを確認"],
    ],
    ids=lambda c: c[0],
)
def test_a_command_opens_the_store_once_and_the_run_closes_it(
    command: list[str], opened: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [str(tmp_path / "out") if part == "OUT" else part for part in command]
    main(["--store", str(tmp_path / "reception.sqlite"), *argv])
    assert opened == ["open", "close"]
