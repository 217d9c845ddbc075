"""The store and the 申立書 PDF on disk: what the program makes is private (0600 files,
0700 directories), and a directory that exists — /tmp, one the user shares — is left
exactly as it is."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from reception.declaration import SelfDeclaration
from reception.pdf import render_declaration
from reception.store import Store
from tests.support.forms import valid


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    yield
    os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("shared_mode", [0o1777, 0o755], ids=["sticky-1777", "plain-0755"])
def test_a_store_or_a_form_in_an_existing_directory_leaves_it_as_it_is(
    tmp_path: Path, shared_mode: int, umask_022: None
) -> None:
    """`--store /tmp/x.sqlite` or `declare --out /tmp/x.pdf` (as root: /tmp itself) once
    turned the directory into 0700."""
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(shared_mode)
    store = Store(shared / "x.sqlite")
    store.begin_reception()
    pdf = render_declaration(SelfDeclaration.parse(valid()), shared / "x.pdf")
    assert mode(shared) == shared_mode
    assert mode(shared / "x.sqlite") == 0o600
    assert mode(shared / "x.sqlite-wal") == 0o600
    assert mode(pdf) == 0o600


def test_directories_the_program_makes_are_private(tmp_path: Path, umask_022: None) -> None:
    Store(tmp_path / "data" / "more" / "reception.sqlite").begin_reception()
    render_declaration(SelfDeclaration.parse(valid()), tmp_path / "forms" / "day" / "x.pdf")
    for made in ("data", "data/more", "forms", "forms/day"):
        assert mode(tmp_path / made) == 0o700, made


def test_a_file_planted_where_the_form_is_written_is_not_followed(tmp_path: Path) -> None:
    """The form is written under a fresh name and renamed: a symlink someone left at the
    name a writer might use does not send the form elsewhere."""
    victim = tmp_path / "victim"
    victim.write_bytes(b"precious")
    out = tmp_path / "x.pdf"
    for planted in (tmp_path / "x.pdf.tmp", tmp_path / ".x.pdf.tmp"):
        planted.symlink_to(victim)
    render_declaration(SelfDeclaration.parse(valid()), out)
    assert victim.read_bytes() == b"precious"
    assert out.read_bytes().startswith(b"%PDF") and mode(out) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".x.pdf.tmp",
        "victim",
        "x.pdf",
        "x.pdf.tmp",
    ]
