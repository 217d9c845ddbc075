"""Every file the project keeps is written the same way (reader/files.py): a temporary file
created exclusively beside it, synced, renamed, the directory synced, 0600 whatever the
umask — a card's PIN counter, a world's keys, the fault plan, the reader's memory, an
export and the 申立書 alike. Before issue 21 each writer had its own subset of these."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mock_oqs.faults import FaultPlan, save_plan
from reader.jpki import ExtendedLengthMemory
from reader.virtual.profile import CardProfile, load_profile, save_profile
from reception.declaration import SelfDeclaration
from reception.export import write_atomically
from reception.pdf import render_declaration
from tests.support.forms import valid

Writer = Callable[[Path], object]


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    yield
    os.umask(old)


@pytest.fixture
def synced(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What was fsynced: "file" or "directory", in order."""
    seen: list[str] = []
    real = os.fsync

    def fsync(fd: int) -> None:
        seen.append("directory" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file")
        real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    return seen


def writers(profile: CardProfile) -> dict[str, Writer]:
    return {
        "card profile": lambda path: save_profile(profile, path),
        "fault plan": lambda path: save_plan(FaultPlan(), path),
        "extended-length memory": lambda path: ExtendedLengthMemory(path).remember("r", True),
        "export": lambda path: write_atomically(path, b"<x/>"),
        "declaration form": lambda path: render_declaration(SelfDeclaration.parse(valid()), path),
    }


NAMES = ["card profile", "fault plan", "extended-length memory", "export", "declaration form"]


@pytest.mark.parametrize("name", NAMES)
def test_each_writer_syncs_the_file_then_its_directory_and_keeps_it_private(
    name: str, tmp_path: Path, physical_profile: CardProfile, synced: list[str], umask_022: None
) -> None:
    target = tmp_path / "kept"
    writers(physical_profile)[name](target)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert synced[-2:] == ["file", "directory"]
    assert [p.name for p in tmp_path.iterdir()] == ["kept"]  # no temporary file left


@pytest.mark.parametrize("name", NAMES)
def test_a_symlink_planted_at_a_temporary_name_is_never_followed(
    name: str, tmp_path: Path, physical_profile: CardProfile
) -> None:
    """Names the writers once used for their temporary files (``F.tmp``, ``F`` with its
    suffix ``.tmp``): someone who can write the directory plants a symlink there."""
    victim = tmp_path / "victim"
    victim.write_bytes(b"precious")
    target = tmp_path / "kept.json"
    for planted in ("kept.json.tmp", "kept.tmp"):
        (tmp_path / planted).symlink_to(victim)
    writers(physical_profile)[name](target)
    assert victim.read_bytes() == b"precious"
    assert target.is_file() and not target.is_symlink()


def test_a_saved_profile_reads_back(tmp_path: Path, physical_profile: CardProfile) -> None:
    save_profile(physical_profile, tmp_path / "card.json")
    assert load_profile(tmp_path / "card.json") == physical_profile
