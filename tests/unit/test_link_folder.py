"""Files in the shared folder and exports: private under umask 022, never written through
a symlink (design.md §6.8)."""

from __future__ import annotations

import datetime as dt
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from reception.checkin import write_face_result
from reception.export import export_csv, export_xml
from reception.results import QualificationResult
from reception.settings import ENV_CONFIG, SettingsError, load_settings
from reception.shared_folder import FilePrivacy
from reception.store import Store


def result(file_id: str | None = None) -> QualificationResult:
    return QualificationResult.parse(
        {
            "MessageHeader": {
                "ProcessExecutionTime": "20261124090000",
                "SegmentOfResult": "1",
                "ArbitraryFileIdentifier": file_id,
            },
            "MessageBody": {
                "ProcessingResultStatus": "1",
                "QualificationValidity": "1",
                "ResultList": {"ResultOfQualificationConfirmation": [{"Name": "山田 太郎"}]},
            },
        }
    )


@pytest.fixture
def folder(tmp_path: Path) -> Iterator[Path]:
    before = os.umask(0o022)  # what most systems give
    yield tmp_path / "clinic"
    os.umask(before)


def mode_of(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.parametrize("group", [None, os.getegid()], ids=["owner", "group"])
def test_personal_data_is_private_under_umask_022(
    folder: Path, tmp_path: Path, group: int | None
) -> None:
    """face/ files and exports were 0644 under umask 022."""
    privacy = FilePrivacy(group)
    expected = 0o600 if group is None else 0o640
    extra = [] if group is None else [privacy]  # the default: the owner only

    face = write_face_result(folder / "face", "R1", result(), *extra)
    store = Store(tmp_path / "data" / "store.sqlite")
    rid = store.begin_reception()
    store.finish_reception(rid, status="confirmed", method="pin", result=result())
    day = dt.date.fromisoformat(store.reception(rid).started_at[:10])
    files = [
        *([face] if face is not None else []),
        *export_xml(store, day, tmp_path / "export", *extra),
        export_csv(store, day, tmp_path / "export", *extra),
    ]
    assert len(files) == 3
    assert {path.name: mode_of(path) for path in files} == {path.name: expected for path in files}
    if group is not None:
        assert {os.stat(path).st_gid for path in files} == {group}


def test_the_face_writer_never_writes_through_a_symlink(folder: Path, tmp_path: Path) -> None:
    """face/ is written by every check-in: a symlink there (or a symlinked face/) took the
    card confirmation anywhere."""
    victim = tmp_path / "victim"
    victim.write_bytes(b"precious")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    folder.mkdir()
    os.symlink(elsewhere, folder / "face")
    assert write_face_result(folder / "face", "R1", result()) is None  # logged, check-in kept
    assert list(elsewhere.iterdir()) == []
    os.unlink(folder / "face")
    (folder / "face").mkdir()
    name = "OQSsiquc01res_face_R1_20261124090000.xml"
    os.symlink(victim, folder / "face" / f".{name}.tmp")  # where the old writer wrote
    written = write_face_result(folder / "face", "R1", result())
    assert written == folder / "face" / name and stat.S_ISREG(os.lstat(written).st_mode)
    assert victim.read_bytes() == b"precious"


def test_the_link_group_is_a_group_this_user_can_give(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """RECEPTION_LINK__GROUP: a group that does not exist is refused when the settings
    load, naming it (not when the first patient's file cannot be written)."""
    monkeypatch.setenv(ENV_CONFIG, str(tmp_path / "none.toml"))
    monkeypatch.setenv("RECEPTION_LINK__GROUP", "no-such-group-here")
    with pytest.raises(SettingsError, match=r"link\.group: .*no-such-group-here"):
        load_settings()
    monkeypatch.setenv("RECEPTION_LINK__GROUP", str(os.getegid()))
    assert load_settings().link.privacy == FilePrivacy(os.getegid())
    monkeypatch.delenv("RECEPTION_LINK__GROUP")
    assert load_settings().link.privacy == FilePrivacy(None)
