"""照会番号 through the folder interface (oqs.md §7; reception/link/kinds/reference.py): each
request written byte for byte as YUKI-ENT/MynaReception's ReceptionAgent writes it (an
XmlWriter, indented, CRLF, ``standalone="no"``; Shift_JIS, and UTF-8 with its BOM), each
answer read by the element paths its parsers read (``SingleReferenceRegistrationService.
ParseResult``, ``ReferenceNumberResultParser.UploadReception`` / ``Final``), against a real
`reception link` and the real mock service — and the registered number carried by later
results of the patient at this clinic (a 一括照会's ``BulkConfirmUnit``, a face/ file)."""

from __future__ import annotations

import asyncio
import io
import json
import shutil
import sqlite3
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import httpx
import pytest

from mock_oqs.app import ServiceSettings, create_app
from mock_oqs.limits import ServiceLimits
from mock_oqs.world import World, persona_ids
from reception.cli import main
from reception.link import describe_answer
from reception.link.answers import compose
from reception.oqs_client import OqsClient
from reception.results import xml_to_message
from reception.settings import OqsSettings
from tests.support.link import Running, answer_path, drop
from tests.support.oqs import client_for
from tests.support.stack import WORLD_TODAY, mock_oqs_serving

INSTITUTION = "1312345678"
PERSONAS = persona_ids(WORLD_TODAY)
Tree = list[tuple[str, Any]]  # an element's children: (name, text or children)


# -- the requests, as ReceptionAgent writes them ------------------------------------------


def written(children: Tree, encoding: str) -> bytes:
    """``XmlWriter.Create(…, new XmlWriterSettings { Encoding = …, Indent = true })`` and
    ``WriteStartDocument(false)``: the declaration with ``standalone="no"``, two spaces a
    level, CRLF, an empty string as ``<Name />``; UTF-8 with its BOM, Shift_JIS as code
    page 932 (``shift_jis``)."""
    name = "shift_jis" if encoding == "Shift_JIS" else "utf-8"
    lines = [f'<?xml version="1.0" encoding="{name}" standalone="no"?>']

    def emit(tag: str, value: Any, depth: int) -> None:
        pad = "  " * depth
        if isinstance(value, list):
            lines.append(f"{pad}<{tag}>")
            for child, inner in value:
                emit(child, inner, depth + 1)
            lines.append(f"{pad}</{tag}>")
        elif value == "":
            lines.append(f"{pad}<{tag} />")
        else:
            lines.append(f"{pad}<{tag}>{escape(value)}</{tag}>")

    emit("XmlMsg", children, 0)
    text = "\r\n".join(lines)
    return text.encode("cp932") if encoding == "Shift_JIS" else b"\xef\xbb\xbf" + text.encode()


def numbers(world: World, persona: str) -> dict[str, str]:
    n = world.persona(persona)["numbers"]
    return {
        "insurer": n["current_insurer_number"],
        "symbol": n["current_symbol"],
        "number": n["current_number"],
        "branch": n["current_branch"],
    }


def info(reference: str, who: dict[str, str], *, single: bool) -> tuple[str, Tree]:
    """``ReferenceNumberRegistrationInfo``: 保険者番号 ``PadLeft(8, ' ')``; for one
    registration an empty 記号 or 枝番 is left out, for the bulk upload written empty."""
    children: Tree = [("ReferenceNumber", reference), ("InsurerNumber", who["insurer"].rjust(8))]
    if who["symbol"] or not single:
        children.append(("InsuredCardSymbol", who["symbol"]))
    children.append(("InsuredIdentificationNumber", who["number"]))
    if who["branch"] or not single:
        children.append(("InsuredBranchNumber", who["branch"]))
    return ("ReferenceNumberRegistrationInfo", children)


def registration(entries: list[tuple[str, Tree]], afi: str, encoding: str) -> bytes:
    header: Tree = [("MedicalInstitutionCode", INSTITUTION), ("ArbitraryFileIdentifier", afi)]
    return written([("MessageHeader", header), ("MessageBody", entries)], encoding)


def download(number: str) -> bytes:
    """``ReferenceNumberRegistrationService.DownloadRequest``: Shift_JIS, no identifier."""
    return written(
        [
            ("MessageHeader", [("MedicalInstitutionCode", INSTITUTION)]),
            ("MessageBody", [("ReceptionNumber", number)]),
        ],
        "Shift_JIS",
    )


# -- the answers, as its parsers read them --------------------------------------------------


def read(folder: Path, name: str, seconds: float = 15.0) -> ET.Element:
    path = answer_path(folder, name)
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert time.monotonic() < deadline, f"no answer {path.name!r}"
        time.sleep(0.02)
    data = path.read_bytes()
    head, _, rest = data.partition(b"?>")
    if b"shift_jis" in head.lower():
        return ET.fromstring(rest.decode("cp932"))  # noqa: S314 (our own answer)
    return ET.fromstring(data)  # noqa: S314 (our own answer)


def parse_result(root: ET.Element, afi: str, reference: str) -> dict[str, str]:
    """``SingleReferenceRegistrationService.ParseResult``: each name the one descendant of
    that name (two are refused), the institution and identifier required and the same as
    asked, a ``ReferenceNumber`` if any the one registered."""
    assert root.tag == "XmlMsg" and len(root.findall("MessageHeader")) == 1

    def value(name: str, required: bool = False) -> str:
        found = list(root.iter(name))
        assert len(found) <= 1 and (not required or len(found) == 1), name
        return (found[0].text or "").strip() if found else ""

    assert value("MedicalInstitutionCode", True) == INSTITUTION
    assert value("ArbitraryFileIdentifier", True) == afi
    assert value("ReferenceNumber") in ("", reference)
    names = ("SegmentOfResult", "ErrorCode", "ErrorMessage", "ProcessingResultStatus")
    return {n: value(n) for n in (*names, "ProcessingResultCode", "ProcessingResultMessage")}


def child(parent: ET.Element, name: str) -> str:
    """``Value(parent, name)`` of ReferenceNumberResultParser: a direct child, never two."""
    found = parent.findall(name)
    assert len(found) <= 1, name
    return found[0].text or "" if found else ""


def upload_reception(root: ET.Element, afi: str) -> str:
    """``ReferenceNumberResultParser.UploadReception``."""
    header = root.find("MessageHeader")
    body = root.find("MessageBody")
    assert root.tag == "XmlMsg" and header is not None and body is not None
    assert child(header, "MedicalInstitutionCode") == INSTITUTION
    assert child(header, "ArbitraryFileIdentifier") == afi
    assert child(header, "ErrorCode") == "" and child(body, "ProcessingResultStatus") in ("", "1")
    number = child(body, "ReceptionNumber")
    assert number.strip() and len(number) <= 100
    return number


def final(root: ET.Element, afi: str, number: str) -> list[ET.Element]:
    """``ReferenceNumberResultParser.Final``'s header checks; the units."""
    header = root.find("MessageHeader")
    assert root.tag == "XmlMsg" and header is not None
    assert child(header, "MedicalInstitutionCode") == INSTITUTION
    assert child(header, "ArbitraryFileIdentifier") == afi  # the upload's
    assert child(header, "ReceptionNumber") == number and child(header, "ErrorCode") == ""
    return root.findall("MessageBody/BulkRegistrationUnit")


def fingerprint(unit: ET.Element) -> tuple[str, ...]:
    """What ``Final`` compares with the request: the five, 保険者番号 trimmed."""
    got = unit.find("ReferenceNumberRegistrationInfo")
    assert got is not None
    values = [child(got, n) for n in ("ReferenceNumber", "InsurerNumber", "InsuredCardSymbol")]
    values += [child(got, n) for n in ("InsuredIdentificationNumber", "InsuredBranchNumber")]
    values[1] = values[1].strip()
    return tuple(values)


# -- the clinic ------------------------------------------------------------------------------


def add_family_head(world: World) -> None:
    """The 被保険者 of the ``family`` persona (a dependant, 枝番 01): 記号・番号 shared, 枝番
    00 — the numbers without 枝番 then name two persons."""
    with sqlite3.connect(world.registry_path) as db:
        db.row_factory = sqlite3.Row
        person = dict(db.execute("SELECT * FROM persons WHERE persona = 'family'").fetchone())
        held = dict(
            db.execute(
                "SELECT * FROM qualifications WHERE person_id = ?", (person["person_id"],)
            ).fetchone()
        )
        head = "family-head"
        person |= {"person_id": head, "persona": None, "birth_date": "1960-05-05"}
        held |= {"person_id": head, "branch": "00", "personal_family": "1"}
        held.pop("qualification_id")
        for table, row in (("persons", person), ("qualifications", held)):
            marks = ", ".join("?" for _ in row)
            sql = f"INSERT INTO {table} ({', '.join(row)}) VALUES ({marks})"  # noqa: S608
            db.execute(sql, tuple(row.values()))


class Linked(Running):
    """`reception link --folder …` on the service the settings name (no ``--world``: this
    module's service is one without lookup limits, shared with its check-in)."""

    with_world = False


def service_env(world: World, url: str) -> dict[str, str]:
    return {
        "RECEPTION_OQS__URL": url,
        "RECEPTION_OQS__CLIENT_CERT": str(world.terminal_cert),
        "RECEPTION_OQS__CLIENT_KEY": str(world.terminal_key),
        "RECEPTION_OQS__CA": str(world.facility_ca),
    }


@pytest.fixture(scope="module")
def clinic(world: World, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """One link and one service for the module, on a world of its own (a family head
    added); ``running.env`` names the service."""
    tmp = tmp_path_factory.mktemp("reference")
    shutil.copytree(world.directory, tmp / "w")
    own = World.load(tmp / "w")
    add_family_head(own)
    with mock_oqs_serving(own) as (_, url):
        running = Linked(own, tmp / "clinic", tmp, **service_env(own, url))
        with running.serving():
            yield running


def reference_of(persona: str, round_: int) -> str:
    """The clinic's patient id (ReceptionAgent sends digits: Dynamics' chart number)."""
    return f"{round_}{PERSONAS.index(persona) + 1:04d}"


def one_person(world: World, persona: str) -> bool:
    """The world's promise: a persona the service finds no qualification of by its numbers
    (validity 4, 該当資格なし) is the one whose numbers name no one."""
    return bool(world.persona(persona)["expect"]["validity"] != "4")


def bulk_query(folder: Path, world: World, personas: list[str], tag: str) -> list[ET.Element]:
    """OQSmuquc01 / 02 of these personas (by number, with birth dates): the units."""
    infos = ""
    for persona in personas:
        n, birth = numbers(world, persona), world.persona(persona)["birth_date"]
        infos += (
            f"<QualificationConfirmSearchInfo><InsurerNumber>{n['insurer'].rjust(8)}"
            f"</InsurerNumber><InsuredCardSymbol>{n['symbol']}</InsuredCardSymbol>"
            f"<InsuredIdentificationNumber>{n['number']}</InsuredIdentificationNumber>"
            f"<InsuredBranchNumber>{n['branch']}</InsuredBranchNumber>"
            f"<Birthdate>{birth.replace('-', '')}</Birthdate></QualificationConfirmSearchInfo>"
        )
    upload = (
        f"<XmlMsg><MessageHeader><MedicalInstitutionCode>{INSTITUTION}</MedicalInstitutionCode>"
        f"</MessageHeader><MessageBody>{infos}</MessageBody></XmlMsg>"
    )
    drop(folder, f"OQSmuquc01req_{tag}.xml", upload.encode())
    number = read(folder, f"OQSmuquc01req_{tag}.xml").findtext("MessageBody/ReceptionNumber")
    assert number
    return poll(folder, f"OQSmuquc02req_{tag}", download(number)).findall(
        "MessageBody/BulkConfirmUnit"
    )


def poll(folder: Path, stem: str, request: bytes) -> ET.Element:
    """Phase 02 asked again while it answers 2 (処理中), as the clinic software does."""
    for attempt in range(1, 200):
        name = f"{stem}{attempt:04d}.xml"
        drop(folder, name, request)
        result = read(folder, name)
        if result.findtext("MessageHeader/SegmentOfResult") != "2":
            return result
        assert not result.findall("MessageBody/*")  # no unit while it runs
        time.sleep(0.05)
    raise AssertionError("phase 02 never finished")


def last_answer(folder: Path, stem: str) -> Path:
    """The answer to the last request of :func:`poll` with this stem: the one that is 1."""
    return max((folder / "res").glob(f"{stem.replace('req', 'res', 1)}*.xml"))


def refused(root: ET.Element, says: str) -> None:
    assert root.findtext("MessageHeader/SegmentOfResult") == "9"
    assert root.findtext("MessageHeader/ErrorCode") == "LINK-E003"
    assert says in (root.findtext("MessageHeader/ErrorMessage") or "")


# -- one registration --------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["Shift_JIS", "UTF-8"])
def test_every_persona_registered_by_the_request_clinic_programs_write(
    clinic: Running, encoding: str
) -> None:
    """OQSsiimm01 of every persona: registered where the numbers name one person, else
    ProcessingResultStatus 2 with a code and a message — read as ParseResult reads it; a
    later 一括照会 of them carries each number registered."""
    folder, world = clinic.folder, clinic.world
    round_ = 1 if encoding == "Shift_JIS" else 2
    for persona in PERSONAS:
        who = numbers(world, persona)
        entry = info(reference_of(persona, round_), who, single=True)
        request = registration([entry], f"afi-{round_}-{persona}", encoding)
        drop(folder, f"OQSsiimm01req_2026112{round_}{PERSONAS.index(persona):04d}.xml", request)
    for persona in PERSONAS:
        reference = reference_of(persona, round_)
        name = f"OQSsiimm01req_2026112{round_}{PERSONAS.index(persona):04d}.xml"
        root = read(folder, name)
        got = parse_result(root, f"afi-{round_}-{persona}", reference)
        assert (got["SegmentOfResult"], got["ErrorCode"]) == ("1", ""), (persona, got)
        registered = root.find("MessageBody/ReferenceNumberRegistrationInfo")
        assert registered is not None
        assert registered.findtext("InsurerNumber") == numbers(world, persona)["insurer"].rjust(8)
        if one_person(world, persona):
            assert got["ProcessingResultStatus"] == "1", (persona, got)
            assert registered.findtext("ReferenceNumber") == reference
        else:
            assert got["ProcessingResultStatus"] == "2", persona
            assert (
                got["ProcessingResultCode"] and "資格はありません" in got["ProcessingResultMessage"]
            )
    units = bulk_query(folder, world, PERSONAS, f"later{round_}")
    for persona, unit in zip(PERSONAS, units, strict=True):
        if unit.findtext("QualificationValidity") in ("1", "2", "3"):
            assert unit.findtext("ReferenceNumber") == reference_of(persona, round_), persona


def test_the_real_answers_shape(clinic: Running) -> None:
    """The header and body of the real OQSsiimm01res, element for element, in order."""
    who = numbers(clinic.world, "kokuho")  # 国保: 6 digits, padded
    request = registration([info("24434", who, single=True)], "afi-shape", "Shift_JIS")
    drop(clinic.folder, "OQSsiimm01req_202611240100.xml", request)
    root = read(clinic.folder, "OQSsiimm01req_202611240100.xml")
    header, body = root.find("MessageHeader"), root.find("MessageBody")
    assert header is not None and body is not None
    assert [e.tag for e in header] == [
        "ProcessExecutionTime",
        "CharacterCodeIdentifier",
        "SegmentOfResult",
        "ArbitraryFileIdentifier",
        "MedicalInstitutionCode",
    ]
    assert [e.tag for e in body] == ["ReferenceNumberRegistrationInfo", "ProcessingResultStatus"]
    assert [(e.tag, e.text or "") for e in body[0]] == [
        ("InsurerNumber", who["insurer"].rjust(8)),
        ("InsuredIdentificationNumber", who["number"]),
        ("ReferenceNumber", "24434"),
        ("InsuredCardSymbol", who["symbol"]),
        ("InsuredBranchNumber", who["branch"]),
    ]


def test_a_family_is_named_by_its_branch_number(clinic: Running) -> None:
    """記号・番号 shared by a family: without the 枝番 no one person, said per request;
    with it, the dependant is registered."""
    folder, world = clinic.folder, clinic.world
    who = numbers(world, "family") | {"branch": ""}
    drop(
        folder,
        "OQSsiimm01req_202611240200.xml",
        registration([info("777", who, single=True)], "afi-family-1", "Shift_JIS"),
    )
    got = parse_result(read(folder, "OQSsiimm01req_202611240200.xml"), "afi-family-1", "777")
    assert (got["SegmentOfResult"], got["ProcessingResultStatus"]) == ("1", "2")
    assert "2人" in got["ProcessingResultMessage"] and "枝番" in got["ProcessingResultMessage"]
    # staff read it so in the 連携 pane
    [line] = describe_answer(answer_path(folder, "OQSsiimm01req_202611240200.xml"))
    assert line.startswith("照会番号 777  番号 ") and "登録できません" in line and "枝番" in line
    who["branch"] = numbers(world, "family")["branch"]
    drop(
        folder,
        "OQSsiimm01req_202611240201.xml",
        registration([info("778", who, single=True)], "afi-family-2", "Shift_JIS"),
    )
    got = parse_result(read(folder, "OQSsiimm01req_202611240201.xml"), "afi-family-2", "778")
    assert got["ProcessingResultStatus"] == "1"
    [unit] = bulk_query(folder, world, ["family"], "family")
    assert unit.findtext("ReferenceNumber") == "778"


def test_a_face_file_carries_the_number_registered(
    clinic: Running,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The fast path the public reception program is built on: register by OQSsiimm01, and
    the next card check-in's face/ file names the patient by ``ReferenceNumber``."""
    folder, world = clinic.folder, clinic.world
    who = numbers(world, "elderly-70-2wari")
    drop(
        folder,
        "OQSsiimm01req_202611240300.xml",
        registration([info("5150", who, single=True)], "afi-face", "Shift_JIS"),
    )
    got = parse_result(read(folder, "OQSsiimm01req_202611240300.xml"), "afi-face", "5150")
    assert got["ProcessingResultStatus"] == "1"
    with mock_oqs_serving(world) as (_, url):
        for key, value in {
            "RECEPTION_CONFIG": str(tmp_path / "none.toml"),
            "RECEPTION_DATA_DIR": str(tmp_path / "data"),
            "RECEPTION_OQS__URL": url,
            "RECEPTION_OQS__CLIENT_CERT": str(world.terminal_cert),
            "RECEPTION_OQS__CLIENT_KEY": str(world.terminal_key),
            "RECEPTION_OQS__CA": str(world.facility_ca),
            "RECEPTION_LINK__FOLDER": str(folder),
        }.items():
            monkeypatch.setenv(key, value)
        before = set((folder / "face").iterdir()) if (folder / "face").exists() else set()
        monkeypatch.setattr(
            sys, "stdin", io.StringIO(f"{world.persona('elderly-70-2wari')['pin']}\n")
        )
        args = ["checkin", "--world", str(world.directory), "--persona", "elderly-70-2wari"]
        args += ["--transport", "loopback", "--method", "pin", "--pin-stdin", "--json"]
        code = main(args)
        out, err = capsys.readouterr()
        assert code == 0, err
        assert json.loads(out)["outcome"] == "confirmed"
    [face] = set((folder / "face").iterdir()) - before
    # as ReceptionAgent's FaceXmlParser.Parse reads it: one of each on the way, the number
    # a direct child of the one ResultOfQualificationConfirmation
    root = ET.fromstring(face.read_bytes())  # noqa: S314 (our own file)
    header, body = root.findall("MessageHeader"), root.findall("MessageBody")
    assert root.tag == "XmlMsg" and len(header) == len(body) == 1
    assert child(header[0], "SegmentOfResult") == child(body[0], "ProcessingResultStatus") == "1"
    [found] = root.findall("MessageBody/ResultList/ResultOfQualificationConfirmation")
    assert child(found, "ReferenceNumber") == "5150"


# -- many registrations ------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["Shift_JIS", "UTF-8"])
def test_bulk_registration_of_every_persona(clinic: Running, encoding: str) -> None:
    """OQSmuimm01 (every persona, the bulk builder's shape) → a ReceptionNumber at once;
    OQSmuimm02 → 2 while it runs, then one BulkRegistrationUnit per entry in order, under
    the upload's identifier, with the counts; a later 一括照会 carries each number."""
    folder, world = clinic.folder, clinic.world
    round_ = 3 if encoding == "Shift_JIS" else 4
    entries = [info(reference_of(p, round_), numbers(world, p), single=False) for p in PERSONAS]
    afi = f"20261124093000{round_}-ab12cd34"
    drop(folder, f"OQSmuimm01req_2026112{round_}0001.xml", registration(entries, afi, encoding))
    number = upload_reception(read(folder, f"OQSmuimm01req_2026112{round_}0001.xml"), afi)
    result = poll(folder, f"OQSmuimm02req_2026112{round_}", download(number))
    units = final(result, afi, number)
    assert len(units) == len(PERSONAS)
    header = result.find("MessageHeader")
    assert header is not None and child(header, "SegmentOfResult") == "1"
    made = [p for p in PERSONAS if one_person(world, p)]
    assert child(header, "NumberOfProcessingResult") == str(len(PERSONAS))
    assert child(header, "NumberOfNormalProcessing") == str(len(made))
    assert child(header, "NumberOfError") == str(len(PERSONAS) - len(made))
    shown = describe_answer(last_answer(folder, f"OQSmuimm02req_2026112{round_}"))
    assert shown[0] == f"{len(PERSONAS)}件" and len(shown) == len(PERSONAS) + 1
    assert sum(line.endswith("  登録") for line in shown) == len(made)
    for persona, unit in zip(PERSONAS, units, strict=True):
        who = numbers(world, persona)
        sent = (reference_of(persona, round_), who["insurer"], who["symbol"], who["number"])
        assert fingerprint(unit) == (*sent, who["branch"]), persona
        status = child(unit, "ProcessingResultStatus")
        assert status == ("1" if persona in made else "2"), persona
        if status == "2":
            assert child(unit, "ProcessingResultCode") and child(unit, "ProcessingResultMessage")
    later = bulk_query(folder, world, PERSONAS, f"b{round_}")
    for persona, unit in zip(PERSONAS, later, strict=True):
        if unit.findtext("QualificationValidity") in ("1", "2", "3"):
            assert unit.findtext("ReferenceNumber") == reference_of(persona, round_), persona


def test_reception_numbers_of_one_kind_are_not_the_others(clinic: Running) -> None:
    """A 一括照会's ReceptionNumber asked with OQSmuimm02, and a registration's with
    OQSmuquc02: each refused as unknown, named as what it is not."""
    folder, world = clinic.folder, clinic.world
    entries = [info("42", numbers(world, "adult-kyokai"), single=False)]
    drop(folder, "OQSmuimm01req_202611240401.xml", registration(entries, "afi-k", "Shift_JIS"))
    ours = upload_reception(read(folder, "OQSmuimm01req_202611240401.xml"), "afi-k")
    query = (
        f"<XmlMsg><MessageHeader><MedicalInstitutionCode>{INSTITUTION}</MedicalInstitutionCode>"
        "</MessageHeader><MessageBody><QualificationConfirmSearchInfo><InsurerNumber>01130012"
        "</InsurerNumber><InsuredIdentificationNumber>1</InsuredIdentificationNumber>"
        "<Birthdate>19800101</Birthdate></QualificationConfirmSearchInfo></MessageBody></XmlMsg>"
    )
    drop(folder, "OQSmuquc01req_202611240401.xml", query.encode())
    theirs = read(folder, "OQSmuquc01req_202611240401.xml").findtext("MessageBody/ReceptionNumber")
    assert theirs
    drop(folder, "OQSmuimm02req_202611240401.xml", download(theirs))
    refused(read(folder, "OQSmuimm02req_202611240401.xml"), "照会番号一括登録はありません")
    drop(folder, "OQSmuquc02req_202611240401.xml", download(ours))
    refused(read(folder, "OQSmuquc02req_202611240401.xml"), "一括照会はありません")
    drop(folder, "OQSmuimm02req_202611240402.xml", download("FFFFFFFF00000000"))
    refused(read(folder, "OQSmuimm02req_202611240402.xml"), "FFFFFFFF00000000")
    # asked the right way, each is answered
    assert final(poll(folder, "OQSmuimm02req_2026112405", download(ours)), "afi-k", ours)


# -- bad input -------------------------------------------------------------------------------


def earlier_dialect(world: World) -> bytes:
    """What this simulator read before: MessageBody/ReferenceNumber beside a
    QualificationConfirmSearchInfo with a birth date — no public program writes it."""
    n, birth = numbers(world, "limit-u"), world.persona("limit-u")["birth_date"]
    return (
        f"<XmlMsg><MessageHeader><MedicalInstitutionCode>{INSTITUTION}</MedicalInstitutionCode>"
        "<ArbitraryFileIdentifier>old</ArbitraryFileIdentifier></MessageHeader><MessageBody>"
        "<ReferenceNumber>診-4711</ReferenceNumber><QualificationConfirmSearchInfo>"
        f"<InsurerNumber>{n['insurer']}</InsurerNumber><InsuredCardSymbol>{n['symbol']}"
        f"</InsuredCardSymbol><InsuredIdentificationNumber>{n['number']}"
        f"</InsuredIdentificationNumber><InsuredBranchNumber>{n['branch']}"
        f"</InsuredBranchNumber><Birthdate>{birth.replace('-', '')}</Birthdate>"
        "</QualificationConfirmSearchInfo></MessageBody></XmlMsg>"
    ).encode()


def bad_request(world: World, case: str) -> tuple[str, bytes]:
    who = numbers(world, "limit-u")
    base = dict(info("9000", who, single=True)[1])

    def one(encoding: str = "Shift_JIS", **change: str) -> bytes:
        children = [(k, change.get(k, v)) for k, v in base.items() if change.get(k) != "-"]
        return registration([("ReferenceNumberRegistrationInfo", children)], "afi-bad", encoding)

    if case == "no-reference-number":
        return "OQSsiimm01req", one(ReferenceNumber="-")
    if case == "no-insurer":
        return "OQSsiimm01req", one(InsurerNumber="-")
    if case == "51-characters":
        return "OQSsiimm01req", one(ReferenceNumber="9" * 51)
    if case == "control-character":
        return "OQSsiimm01req", one("UTF-8", ReferenceNumber="90\u009b2J01")  # CSI
    if case == "bidi-override":
        return "OQSsiimm01req", one("UTF-8", InsuredIdentificationNumber="\u202e" + who["number"])
    if case == "earlier-dialect":
        return "OQSsiimm01req", earlier_dialect(world)
    if case == "no-body":
        return "OQSsiimm01req", registration([], "afi-bad", "Shift_JIS")
    entries = [info(f"8{i:05d}", who, single=False) for i in range(10_001)]
    if case == "10001-entries":
        return "OQSmuimm01req", registration(entries, "afi-bad", "Shift_JIS")
    # a bad entry among good ones: the whole upload is refused, naming it
    entries = entries[:3]
    entries[1] = info("8x", who | {"branch": "1"}, single=False)
    return "OQSmuimm01req", registration(entries, "afi-bad", "Shift_JIS")


BAD = {
    "no-reference-number": "ReferenceNumberRegistrationInfo/ReferenceNumber がありません",
    "no-insurer": "ReferenceNumberRegistrationInfo/InsurerNumber がありません",
    "51-characters": "ReferenceNumber は50文字までです（51文字）",
    "control-character": "ReferenceNumber に制御文字",
    "bidi-override": "InsuredIdentificationNumber に制御文字",
    "earlier-dialect": "MessageBody/ReferenceNumberRegistrationInfo がありません（",
    "no-body": "MessageBody/ReferenceNumberRegistrationInfo がありません",
    "10001-entries": "10000件までです（10001件）",
    "bad-entry": "2件目: ReferenceNumberRegistrationInfo/InsuredBranchNumber は2桁",
}


@pytest.mark.parametrize("case", list(BAD))
def test_a_bad_request_is_answered_clearly_and_registers_nothing(
    clinic: Running, case: str
) -> None:
    folder, world = clinic.folder, clinic.world
    prefix, data = bad_request(world, case)
    name = f"{prefix}_bad_{case}.xml"
    drop(folder, name, data)
    refused(read(folder, name), BAD[case])
    deadline = time.monotonic() + 10
    while not (folder / "req" / "done" / name).exists():  # answered once, moved aside
        assert time.monotonic() < deadline
        time.sleep(0.02)
    [unit] = bulk_query(folder, world, ["limit-u"], f"bad-{case}")
    assert not (unit.findtext("ReferenceNumber") or "").startswith(("8", "9"))


# -- the service --------------------------------------------------------------------------


def test_each_entry_counts_against_the_facilitys_lookups(own_world: World) -> None:
    """A bulk registration of n entries costs n lookups of the day, as a 一括照会's do: the
    facility's budget refuses the upload that would pass it (MOCK-E018), nothing made."""
    limits = ServiceLimits(lookups_per_minute=None, lookups_per_day=5)
    app = create_app(ServiceSettings(world=own_world.directory, today=WORLD_TODAY, limits=limits))
    n = numbers(own_world, "adult-kyokai")
    one = {"insurer_number": n["insurer"], "symbol": n["symbol"], "number": n["number"]}
    with client_for(app, own_world.terminal_cert.read_text()) as client:
        upload = {"registrations": [one | {"reference_number": f"R{i}"} for i in range(4)]}
        assert client.post("/v1/bulk-reference-numbers", json=upload).status_code == 202
        single = client.post("/v1/reference-numbers", json=one | {"reference_number": "S1"})
        assert single.status_code == 200, single.text
        again = client.post("/v1/bulk-reference-numbers", json=upload)
        assert again.status_code == 429 and again.json()["error"]["code"] == "MOCK-E018"
        assert (
            client.post("/v1/reference-numbers", json=one | {"reference_number": "S2"}).status_code
            == 429
        )


def test_phase_02_while_the_registrations_run() -> None:
    """SegmentOfResult 2 with the ReceptionNumber under the upload's identifier, no unit
    and no counts: the clinic software asks again (as 一括照会's phase 02 does)."""

    def service(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/v1/bulk-reference-numbers/ABC123"
        running = {"ReceptionNumber": "ABC123", "SegmentOfResult": "2", "total": 3, "done": 1}
        return httpx.Response(200, json=running | {"ArbitraryFileIdentifier": "up", "results": []})

    client = OqsClient(OqsSettings(retries=0), transport=httpx.MockTransport(service))
    name, request = "OQSmuimm02req_202611240001.xml", xml_to_message(download("ABC123"))
    reply = asyncio.run(compose(client, INSTITUTION, name, request, None, lambda *_: None))
    root = ET.fromstring(reply.data)  # noqa: S314 (our own answer)
    header = root.find("MessageHeader")
    assert header is not None
    assert child(header, "SegmentOfResult") == "2" and child(header, "ReceptionNumber") == "ABC123"
    assert child(header, "ArbitraryFileIdentifier") == "up" and child(header, "ErrorCode") == ""
    assert header.find("NumberOfProcessingResult") is None
    assert not root.findall("MessageBody/*")


def test_an_entry_the_service_refuses_is_answered_in_its_unit(clinic: Running) -> None:
    """A 保険者番号 whose check digit is wrong: one registration gets LINK-E003 saying so;
    in a bulk upload that entry's unit says it (ProcessingResultStatus 2) and the others
    are registered."""
    folder, world = clinic.folder, clinic.world
    good = numbers(world, "dialysis")
    typo = good | {"insurer": good["insurer"][:-1] + str((int(good["insurer"][-1]) + 1) % 10)}
    drop(
        folder,
        "OQSsiimm01req_202611240600.xml",
        registration([info("600", typo, single=True)], "afi-typo", "Shift_JIS"),
    )
    refused(read(folder, "OQSsiimm01req_202611240600.xml"), "check digit")
    entries = [info("601", good, single=False), info("602", typo, single=False)]
    drop(folder, "OQSmuimm01req_202611240601.xml", registration(entries, "afi-t", "UTF-8"))
    number = upload_reception(read(folder, "OQSmuimm01req_202611240601.xml"), "afi-t")
    units = final(poll(folder, "OQSmuimm02req_2026112406", download(number)), "afi-t", number)
    assert [child(u, "ProcessingResultStatus") for u in units] == ["1", "2"]
    assert "check digit" in child(units[1], "ProcessingResultMessage")
    [unit] = bulk_query(folder, world, ["dialysis"], "typo")
    assert unit.findtext("ReferenceNumber") == "601"
