"""Answers as ZIP files (``link.answer_form``): what a clinic program that reads real bulk
answers finds — YUKI-ENT/OQSDrug2's ``FindExpectedResultFile`` looks for the request's
name with ``req`` → ``res`` and ``.xml`` or ``.zip``, and ``ImportResultAsync`` takes the
ZIP's ``.xml`` entry named with the kind's answer prefix. A real `reception link`
process, the real mock service."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import time
import xml.etree.ElementTree as ET
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from mock_oqs.world import World
from reception.link import describe_answer
from reception.link.terms import answer_name
from tests.support.link import RECEPTION, Running, answer, drop, persona_request
from tests.support.link_bulk import bulk_fetch, bulk_upload

PASSWORD = "kusuri-4711"
FORMS = (
    '{"OQSsiquc01req_zip": "zip", "OQSsiquc01req_enc": "zip-encrypted", '
    '"OQSmuquc02": "zip-encrypted", "OQSmuquc02req_plain": "xml", "OQSmuquc02req_zip": "zip"}'
)


@pytest.fixture(scope="module")
def zipping(link_world: World, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    tmp = tmp_path_factory.mktemp("zip")
    secret = tmp / "zip-password"
    secret.write_text(PASSWORD + "\n")
    secret.chmod(0o600)
    running = Running(
        link_world,
        tmp / "clinic",
        tmp,
        RECEPTION_LINK__ANSWER_FORM=FORMS,
        RECEPTION_LINK__ZIP_PASSWORD_FILE=str(secret),
    )
    with running.serving():
        yield running


def unpacked(folder: Path, request: str, password: str | None = None) -> ET.Element:
    """The answer as OQSDrug2 reads a ZIP answer: ``<request, req→res>.zip`` in res/, its
    ``.xml`` entry named with the kind's answer prefix; no ``.xml`` beside it."""
    path = folder / "res" / answer_name(request, ".zip")
    deadline = time.monotonic() + 15
    while not path.exists():
        assert time.monotonic() < deadline, f"no answer {path.name}"
        time.sleep(0.02)
    assert not (folder / "res" / answer_name(request)).exists()
    with zipfile.ZipFile(path) as archive:
        [entry] = archive.infolist()
        kind = request.split("_", 1)[0].replace("req", "res")
        assert entry.filename == answer_name(request)
        assert entry.filename.startswith(kind + "_") and entry.filename.endswith(".xml")
        assert bool(entry.flag_bits & 1) == (password is not None)  # encrypted or not
        data = archive.read(entry, pwd=password.encode() if password else None)
    return parsed(data)


def parsed(data: bytes) -> ET.Element:
    """An answer's tree, in the encoding its declaration names (ElementTree reads no
    Shift_JIS itself)."""
    head, _, rest = data.partition(b"?>")
    text = rest.decode("cp932" if b"Shift_JIS" in head else "utf-8")
    return ET.fromstring(text)  # noqa: S314 (our own answer)


def untimed(root: ET.Element) -> list[tuple[str, str | None]]:
    """Every element and its text, but the times (…Time: when the answer was made)."""
    return [(e.tag, e.text) for e in root.iter() if not e.tag.endswith("Time")]


def test_one_query_in_each_form_holds_the_same_answer(zipping: Running) -> None:
    folder, world = zipping.folder, zipping.world
    request = persona_request(world, "kokuho", encoding="Shift_JIS", code="1")
    for name in ("OQSsiquc01req_plain_0001", "OQSsiquc01req_zip_0001", "OQSsiquc01req_enc_0001"):
        drop(folder, f"{name}.xml", request)
    plain = answer(folder, "OQSsiquc01req_plain_0001.xml")
    zipped = unpacked(folder, "OQSsiquc01req_zip_0001.xml")
    encrypted = unpacked(folder, "OQSsiquc01req_enc_0001.xml", PASSWORD)
    for root in (plain, zipped, encrypted):
        assert root.findtext("MessageHeader/SegmentOfResult") == "1"
        assert root.findtext("MessageHeader/CharacterCodeIdentifier") == "1"
    for root in (zipped, encrypted):  # the same, but for when each was made
        assert untimed(root) == untimed(plain)
    assert plain.findtext(".//Name") == world.persona("kokuho")["name"].replace(" ", "\u3000")
    # the staff console names the file as written, and the 連携 pane shows a plain ZIP's
    assert zipping.said("answer OQSsiquc01res_zip_0001.zip")
    assert zipping.said("answer OQSsiquc01res_enc_0001.zip")
    name = plain.findtext(".//Name") or ""
    assert any(
        name in line for line in describe_answer(folder / "res" / "OQSsiquc01res_zip_0001.zip")
    )
    assert describe_answer(folder / "res" / "OQSsiquc01res_enc_0001.zip") == [
        "ZIP 1件: OQSsiquc01res_enc_0001.xml",
        "暗号化されています（設定のパスワードで開けます）",
    ]
    path = folder / "res" / "OQSsiquc01res_enc_0001.zip"
    # ZipCrypto checks a password by one byte: 1 wrong password in 256 passes that check
    # and then fails as garbage (zlib, or the CRC) — never giving the answer
    refused = (RuntimeError, zlib.error, zipfile.BadZipFile)
    with zipfile.ZipFile(path) as archive, pytest.raises(refused):
        archive.read(archive.infolist()[0], pwd=b"wrong")
    # another implementation of ZipCrypto reads it too (Info-ZIP unzip, where installed)
    if os.path.exists("/usr/bin/unzip"):
        found = subprocess.run(
            ["/usr/bin/unzip", "-p", "-P", PASSWORD, str(path)],
            capture_output=True,
            check=True,
        ).stdout
        assert parsed(found).findtext(".//Name") == plain.findtext(".//Name")


def test_bulk_results_in_each_form_hold_the_same_units(zipping: Running) -> None:
    folder, world = zipping.folder, zipping.world
    personas = ["adult-kyokai", "kokuho", "family", "limit-u"]
    drop(folder, "OQSmuquc01req_20261124_0001.xml", bulk_upload(world, personas))
    number = answer(folder, "OQSmuquc01req_20261124_0001.xml").findtext(
        "MessageBody/ReceptionNumber"
    )
    assert number
    fetch = bulk_fetch(number)
    for attempt in range(1, 100):  # until done, in plain XML
        name = f"OQSmuquc02req_plain_{attempt:04d}.xml"
        drop(folder, name, fetch)
        plain = answer(folder, name)
        if plain.findtext("MessageHeader/SegmentOfResult") == "1":
            break
        time.sleep(0.05)
    drop(folder, "OQSmuquc02req_zip_0001.xml", fetch)
    drop(folder, "OQSmuquc02req_20261124_0001.xml", fetch)  # OQSmuquc02: encrypted
    zipped = unpacked(folder, "OQSmuquc02req_zip_0001.xml")
    encrypted = unpacked(folder, "OQSmuquc02req_20261124_0001.xml", PASSWORD)

    def units(root: ET.Element) -> list[list[tuple[str, str | None]]]:
        return [
            [(e.tag, e.text) for e in u.iter()] for u in root.findall("MessageBody/BulkConfirmUnit")
        ]

    assert len(units(plain)) == len(personas)
    assert units(zipped) == units(plain) and units(encrypted) == units(plain)
    for root in (zipped, encrypted):
        assert root.findtext("MessageHeader/ReceptionNumber") == number
        assert root.findtext("MessageHeader/NumberOfProcessingResult") == str(len(personas))


def test_kill_9_mid_batch_of_zip_answers_loses_and_repeats_nothing(zipping: Running) -> None:
    """The once-only journal holds for ZIP answers: killed between writing an answer and
    moving its request, the restarted link answers each request once, as a ZIP."""
    folder, world = zipping.folder, zipping.world
    names = [f"OQSsiquc01req_enc_batch_{n:04d}.xml" for n in range(30)]
    for name in names:
        drop(folder, name, persona_request(world, "adult-kyokai", file_id=name[-8:-4]))
    deadline = time.monotonic() + 15
    while len(list((folder / "res").glob("*batch*.zip"))) < 4:
        assert time.monotonic() < deadline
        time.sleep(0.005)
    zipping.stop(signal.SIGKILL)
    before = {p.name: p.stat().st_mtime_ns for p in (folder / "res").glob("*batch*")}
    assert 0 < len(before) < len(names)
    zipping.start()
    for name in names:
        root = unpacked(folder, name, PASSWORD)
        assert root.findtext("MessageHeader/ArbitraryFileIdentifier") == name[-8:-4]
    after = {p.name: p.stat().st_mtime_ns for p in (folder / "res").glob("*batch*")}
    assert sorted(after) == sorted(answer_name(n, ".zip") for n in names)
    assert all(after[n] == t for n, t in before.items())  # none answered a second time
    assert not list((folder / "req").glob("*batch*"))
    assert not list((folder / "res").glob(".*"))


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({"RECEPTION_LINK__ANSWER_FORM": '{"OQSmuquc02": "rar"}'}, "zip-encrypted"),
        (
            {"RECEPTION_LINK__ANSWER_FORM": '{"OQSmuquc02": "zip-encrypted"}'},
            "OQSmuquc02 zip-encrypted, but no password",
        ),
        (
            {
                "RECEPTION_LINK__ANSWER_FORM": '{"OQSmutic02": "zip-encrypted"}',
                "RECEPTION_LINK__ZIP_PASSWORD": PASSWORD,
            },
            "OQSmutic02 answers are never encrypted",
        ),
        (
            {
                "RECEPTION_LINK__ANSWER_FORM": '{"OQSmuquc02": "zip-encrypted"}',
                "RECEPTION_LINK__ZIP_PASSWORD_FILE": "/nonexistent/zip-password",
            },
            "zip_password_file /nonexistent/zip-password",
        ),
    ],
    ids=["unknown-form", "no-password", "exempt-prefix", "no-password-file"],
)
def test_a_form_that_cannot_be_served_is_refused_at_start(
    link_world: World, tmp_path: Path, env: dict[str, str], says: str
) -> None:
    """Said at start, before anything is answered — and the password never with it."""
    run = subprocess.run(
        [RECEPTION, "link", "--folder", str(tmp_path / "clinic")],
        env=os.environ
        | {"RECEPTION_CONFIG": str(tmp_path / "none.toml"), "RECEPTION_DATA_DIR": str(tmp_path)}
        | env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode != 0
    assert says in run.stderr, run.stderr
    assert PASSWORD not in run.stderr + run.stdout
    assert not (tmp_path / "clinic" / "res").exists()  # nothing started


def test_send_prints_a_zip_answer(zipping: Running, tmp_path: Path) -> None:
    """`reception link --send` (the developer's tool) waits for the answer in the form the
    link writes it: here a ZIP, printed as it is."""
    request = tmp_path / "OQSsiquc01req_zip_send_0001.xml"
    request.write_bytes(persona_request(zipping.world, "family"))
    run = subprocess.run(
        [RECEPTION, "link", "--folder", str(zipping.folder), "--send", str(request)],
        env=os.environ
        | {"RECEPTION_CONFIG": str(tmp_path / "none.toml"), "RECEPTION_DATA_DIR": str(tmp_path)},
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    with zipfile.ZipFile(io.BytesIO(run.stdout)) as archive:
        assert archive.namelist() == ["OQSsiquc01res_zip_send_0001.xml"]
        assert (
            parsed(archive.read("OQSsiquc01res_zip_send_0001.xml")).findtext(
                "MessageBody/QualificationValidity"
            )
            == "1"
        )
