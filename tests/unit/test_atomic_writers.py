"""Every file the project keeps is written the same way (reader/files.py): a temporary file
created exclusively beside it, synced, renamed, the directory synced, 0600 whatever the
umask — a card's PIN counter, a world's keys, the fault plan, the reader's memory, an
export and the 申立書 alike. Before issue 21 each writer had its own subset of these."""

from __future__ import annotations

import asyncio
import os
import stat
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import cast

import pytest

from mock_oqs.faults import FaultPlan, save_plan
from reader.jpki import ExtendedLengthMemory
from reader.virtual.profile import CardProfile, load_profile, save_profile
from reception.declaration import SelfDeclaration
from reception.export import write_atomically
from reception.link import Link
from reception.oqs_client import NumberQuery, OqsClient
from reception.pdf import render_declaration
from reception.results import QualificationResult
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


class _Service:
    """A stand-in for the service: every query by number is answered 有効."""

    async def confirm_number(self, query: NumberQuery) -> QualificationResult:
        return QualificationResult.parse(
            {
                "MessageHeader": {
                    "ProcessExecutionTime": "20261124090000",
                    "SegmentOfResult": "1",
                    "ArbitraryFileIdentifier": query.arbitrary_file_identifier,
                },
                "MessageBody": {
                    "ProcessingResultStatus": "1",
                    "QualificationValidity": "1",
                    "ResultList": {"ResultOfQualificationConfirmation": [{"Name": "山田 太郎"}]},
                },
            }
        )


def test_a_link_answer_is_synced_with_its_folder_once_the_request_left(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The clinic software sees the answer and the request moved aside at once (as before);
    the answer's name is then made durable, before the link's journal forgets it."""
    folder = tmp_path / "clinic"
    link = Link(
        folder,
        cast(OqsClient, _Service()),
        institution_code="1312345678",
        private_dir=tmp_path / "data",
    )
    link.prepare()
    seen: list[tuple[str, bool, bool]] = []
    real = os.fsync

    def fsync(fd: int) -> None:
        if stat.S_ISDIR(os.fstat(fd).st_mode) and os.fstat(fd).st_ino == res.stat().st_ino:
            seen.append(("res", answer.exists(), (folder / "req" / name).exists()))
        real(fd)

    name = "OQSsiquc01req_sync_0001.xml"
    res, answer = folder / "res", folder / "res" / "OQSsiquc01res_sync_0001.xml"
    (folder / "req" / name).write_bytes(
        b"<XmlMsg><MessageHeader><ArbitraryFileIdentifier>x</ArbitraryFileIdentifier>"
        b"</MessageHeader><MessageBody><QualificationConfirmSearchInfo><InsurerNumber>06130012"
        b"</InsurerNumber><InsuredIdentificationNumber>1</InsuredIdentificationNumber>"
        b"<Birthdate>19800615</Birthdate></QualificationConfirmSearchInfo></MessageBody></XmlMsg>"
    )
    past = time.time() - 60
    os.utime(folder / "req" / name, (past, past))
    monkeypatch.setattr(os, "fsync", fsync)
    asyncio.run(link.sweep())
    link.close(wait=True)
    assert seen == [("res", True, False)]  # answered, moved aside, then synced
