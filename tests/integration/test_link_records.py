"""薬剤情報 (YZKsiquc01) and 特定健診情報 (TKKsiquc01) through a real `reception link`: the
requests byte for byte as YUKI-ENT/OQSDrug2 writes them (``Form1.cs`` ``GenerateXML``: .NET's
XmlWriter, two-space indent, CRLF, ``<X />`` for an empty value, its own declaration line),
the answers read by the element paths its ``ProcessResAsync``, ``ProcessDrugInfoAsync2`` and
``ProcessTKKAsync`` read, the PDF through ``pdftotext``."""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
import subprocess
import xml.etree.ElementTree as ET
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from mock_oqs.world import World, persona_ids
from reader.errors import ReaderError
from tests.support.link import Running, answer_path, drop
from tests.support.oqs import (
    confirm,
    face_body,
    forget_service_state,
    make_client,
    nonce,
    patient_numbers,
    pin_body,
)
from tests.support.oqsdrug2 import loaded, oqsdrug2_request, reply, request_name
from tests.support.stack import WORLD_TODAY


def consent(world: World, persona: str) -> int:
    """A card confirmation with 薬剤・健診 consent, by PIN or (a card without one, a PIN
    blocked) by face: its status."""
    client = make_client(world)
    try:
        body = pin_body(world, persona, nonce(client), medication=True, checkup=True)
    except ReaderError:
        body = face_body(world, persona, nonce(client)) | {
            "consents": {"medication": True, "checkup": True}
        }
    return confirm(client, body).status_code


def service_rows(world: World, persona: str, kind: str) -> tuple[int, list[dict[str, str]]]:
    """What the service itself says of the persona's records (numbers alone, no birth date)."""
    who = {k: v for k, v in patient_numbers(world, persona).items() if k != "birth_date"}
    response = make_client(world).post(f"/v1/records/{kind}", json=who)
    return response.status_code, response.json().get(kind, []) if response.is_success else []


@pytest.fixture(scope="module")
def running(link_world: World, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    tmp = tmp_path_factory.mktemp("records")
    link = Running(link_world, tmp / "clinic", tmp)
    with link.serving():
        yield link


@pytest.fixture(scope="module")
def consented(running: Running) -> dict[str, int]:
    """Every persona's card confirmation at this clinic with 薬剤・健診 consent (status)."""
    forget_service_state(running.world, "consent_records")
    return {persona: consent(running.world, persona) for persona in persona_ids()}


def test_every_persona_as_oqsdrug2_reads_it(running: Running, consented: dict[str, int]) -> None:
    """Each persona's 薬剤情報 and 特定健診情報 XML: what the service has of them (its window
    and the months asked), or the reason in ``MessageContents``."""
    folder, world = running.folder, running.world
    personas = list(enumerate(persona_ids()))
    for first in range(0, len(personas), 10):  # within the clinic's lookups per minute
        forget_service_state(world, "lookup_budget")
        batch = personas[first : first + 10]
        for i, persona in batch:
            for kind in ("YZK", "TKK"):
                drop(
                    folder,
                    request_name(kind, 2, f"{i}1"),
                    oqsdrug2_request(world, persona, kind, 2),
                )
        for i, persona in batch:
            for kind, records in (("YZK", "medications"), ("TKK", "checkups")):
                root = loaded(reply(folder, request_name(kind, 2, f"{i}1")))
                check_persona(root, persona, kind, *service_rows(world, persona, records))
    assert consented["dialysis"] == 200 and consented["kokuho"] == 200


def check_persona(
    root: ET.Element, persona: str, kind: str, status: int, rows: list[dict[str, str]]
) -> None:
    code, contents = root.findtext(".//ResultCode"), root.findtext(".//MessageContents") or ""
    if status == 403:  # no consent here: the reason, in Japanese
        assert code == "9" and "同意" in contents, (persona, kind, contents)
        return
    if status == 404:
        assert code == "9" and "見つかりません" in contents, (persona, kind, contents)
        return
    assert status == 200, (persona, kind, status)
    if kind == "YZK":
        rows = [r for r in rows if "2023-11-01" <= r["dispensed_on"] <= "2026-11-30"]
    if not rows:
        assert code == "2" and "ありません" in contents, (persona, kind)
        return
    assert code == "1", (persona, kind, contents)
    assert root.find(".//MessageContents") is None
    check_yzk(root, rows) if kind == "YZK" else check_tkk(root, rows)


def month_blocks(root: ET.Element) -> list[ET.Element]:
    """The roots ``ProcessDrugInfoAsync2`` walks."""
    return [
        *root.findall("./MessageBody/MeTrMonthInf"),
        *root.findall("./MessageBody/ShPrInf/ShPrMonthInf"),
        *root.findall("./MessageBody/CzDiInf/CzDiMonthInf"),
    ]


def check_yzk(root: ET.Element, rows: list[dict[str, str]]) -> None:
    qua = root.find("./MessageHeader/QuaInf")
    assert qua is not None
    assert "\u3000" in (qua.findtext("Name") or "") and qua.findtext("KanaName")
    assert len(qua.findtext("Birth") or "") == 8 and qua.findtext("AdmGendCode") in ("1", "2")
    drugs = []
    for month in month_blocks(root):
        cz = "Cz" if month.tag == "CzDiMonthInf" else ""
        when = month.findtext(f"{cz}DiMonth" if cz else "MeTrMonth") or ""
        assert len(when) == 6 and when.isdigit()
        assert month.findtext(f"{cz}PrIsOrg" if cz else "PrIsOrg") == "2"  # another's
        days = month.findall(f"{cz}DiDateInfs/{cz}DiDateInf")
        for day in days:
            dispensed = day.findtext(f"{cz}DiDate") or ""
            assert dispensed.startswith(when) and len(dispensed) == 8
            for drug in day.findall(f"{cz}DrugInfs/{cz}DrugInf"):
                code = drug.findtext(f"{cz}DrugC") or ""
                assert len(code) == 9 and code.isdigit()
                assert float(drug.findtext(f"{cz}Qua1") or "x") > 0
                assert drug.findtext(f"{cz}Unit") and drug.findtext(f"{cz}UsageN")
                drugs.append((dispensed, drug.findtext(f"{cz}DrugN"), drug.findtext(f"{cz}Times")))
    expected = [(r["dispensed_on"].replace("-", ""), r["drug"], str(r["days"])) for r in rows]
    assert sorted(drugs) == sorted(expected)


def check_tkk(root: ET.Element, rows: list[dict[str, str]]) -> None:
    info = root.find("./MessageHeader/QualificationsInfo")
    assert info is not None and "\u3000" in (info.findtext("Name") or "")
    assert info.findtext("KanasName") and len(info.findtext("Birthday") or "") == 8
    assert info.findtext("AdministrativeGenderCode") in ("1", "2")
    found = []
    for checkup in root.iter("SpecificHealthCheckupInfo"):
        day = checkup.findtext("EffectiveTime") or ""
        assert len(day) == 8 and day.isdigit()
        path = "HealthCheckupResultAndQuestionInfos/HealthCheckupResultAndQuestionInfo"
        for item in checkup.findall(path):
            assert len(item.findtext("ItemCode") or "") == 17
            assert item.findtext("DataType") == "PQ" and item.findtext("Unit")
            assert float(item.findtext("DataValueName") or "x") == float(
                item.findtext("DataValue") or "y"
            )
            found.append((day, item.findtext("ItemName"), item.findtext("DataValue")))
    expected = [(r["examined_on"].replace("-", ""), r["item"], r["value"]) for r in rows]
    assert sorted(found) == sorted(expected)


def test_receipts_and_dispensing_results_and_treatments(
    running: Running, consented: dict[str, int]
) -> None:
    """dialysis: a month block per month from the レセプト, the last two months as 調剤結果
    (``CzDiInf``), and 診療情報 (``MeTrInfs``) for FileCategory 4; the months asked bound
    them, UTF-8 as well as Shift_JIS."""
    folder, world = running.folder, running.world
    assert consented["dialysis"] == 200
    request = oqsdrug2_request(world, "dialysis", "YZK", 4, start="202609", encoding="UTF-8")
    drop(folder, request_name("YZK", 4, "777"), request)
    root = loaded(reply(folder, request_name("YZK", 4, "777")))
    assert root.findtext(".//ResultCode") == "1"
    receipts = [m for m in root.findall("./MessageBody/MeTrMonthInf") if m.find(".//DrugInf")]
    assert {m.findtext("MeTrMonth") for m in receipts} == {"202609"}  # Oct, Nov: not yet claimed
    assert {m.findtext("DiOrg") for m in receipts} == {"3"}  # dispensed at a pharmacy
    cz = root.findall("./MessageBody/CzDiInf/CzDiMonthInf")
    assert {m.findtext("CzDiMonth") for m in cz} == {"202610", "202611"}
    assert all(m.findtext("CzPrlsHNm") == "ひかり腎クリニック" for m in cz)
    treated = root.findall("./MessageBody/MeTrMonthInf/DiDateInfs/DiDateInf/MeTrInfs/MeTrInf")
    assert treated and all(t.findtext("SinInfN", "").startswith("人工腎臓") for t in treated)
    assert all(t.findtext("MeTrIdCl") == "40" for t in treated)


def pdf_text(data: bytes, tmp_path: Path) -> str:
    assert data.startswith(b"%PDF-")
    path = tmp_path / "answer.pdf"
    path.write_bytes(data)
    pdftotext = shutil.which("pdftotext")
    assert pdftotext, "pdftotext (poppler-utils) is installed by scripts/setup --dev"
    done = subprocess.run([pdftotext, "-layout", str(path), "-"], capture_output=True, check=True)
    return done.stdout.decode()


def test_file_category_1_is_a_pdf_naming_the_patient(
    running: Running, consented: dict[str, int], tmp_path: Path
) -> None:
    folder, world = running.folder, running.world
    assert consented["kokuho"] == 200
    drop(folder, request_name("YZK", 1, "501"), oqsdrug2_request(world, "kokuho", "YZK", 1))
    drop(folder, request_name("TKK", 1, "501"), oqsdrug2_request(world, "kokuho", "TKK", 1))
    name = world.persona("kokuho")["name"]
    drugs = pdf_text(reply(folder, request_name("YZK", 1, "501"), ".pdf"), tmp_path)
    family = name.split()[0]
    assert "薬剤情報" in drugs and family in drugs
    _, rows = service_rows(world, "kokuho", "medications")
    assert rows and all(r["drug"] in drugs for r in rows if r["dispensed_on"] >= "2023-11-01")
    checkups = pdf_text(reply(folder, request_name("TKK", 1, "501"), ".pdf"), tmp_path)
    assert "特定健診情報" in checkups and family in checkups
    assert "HbA1c" in checkups and "LDLコレステロール" in checkups
    assert not answer_path(folder, request_name("YZK", 1, "501")).exists()  # a PDF, no XML


def backdate_consents(world: World, hours: float) -> None:
    with contextlib.closing(sqlite3.connect(world.directory / "service-state.sqlite")) as db:
        db.execute(
            "UPDATE consent_records SET given_at = given_at - ?, valid_until = valid_until - ?",
            (hours * 3600, hours * 3600),
        )
        db.commit()


def test_consent_expired_after_24_hours(running: Running, consented: dict[str, int]) -> None:
    folder, world = running.folder, running.world
    backdate_consents(world, 25)
    try:
        drop(folder, request_name("YZK", 2, "901"), oqsdrug2_request(world, "dialysis", "YZK", 2))
        root = loaded(reply(folder, request_name("YZK", 2, "901")))
        assert root.findtext(".//ResultCode") != "1"
        assert "24時間" in (root.findtext(".//MessageContents") or "")
        assert root.findtext("MessageHeader/ErrorCode") == "LINK-E006"
        # staff read it as an error, not as an answer given
        [said] = running.said(f"error {request_name('YZK', 2, '901')} LINK-E006")
        assert "24時間" in said
    finally:
        backdate_consents(world, -25)


def add_family_member(world: World, persona: str) -> None:
    """A second person on the persona's 保険証 numbers (枝番 02): the numbers without a
    枝番 lead to two persons."""
    with contextlib.closing(sqlite3.connect(world.directory / "registry.sqlite")) as db:
        db.row_factory = sqlite3.Row
        person = dict(db.execute("SELECT * FROM persons WHERE persona = ?", (persona,)).fetchone())
        held = db.execute(
            "SELECT * FROM qualifications WHERE person_id = ?", (person["person_id"],)
        )
        qualification = dict(held.fetchone())
        if db.execute("SELECT 1 FROM persons WHERE person_id = 'twin'").fetchone():
            return
        person |= {"person_id": "twin", "persona": None, "name": "診療 花子"}
        qualification |= {"qualification_id": None, "person_id": "twin", "branch": "02"}
        for table, row in (("persons", person), ("qualifications", qualification)):
            names = ", ".join(row)
            marks = ", ".join("?" for _ in row)
            db.execute(f"INSERT INTO {table} ({names}) VALUES ({marks})", tuple(row.values()))  # noqa: S608
        db.commit()


@pytest.mark.parametrize(
    ("what", "request_of", "said"),
    [
        (
            "no InsurerNumber",
            lambda w: oqsdrug2_request(w, "dialysis", "YZK", 2, drop_header="InsurerNumber"),
            "MessageHeader/InsurerNumber がありません",
        ),
        (
            "a bad month",
            lambda w: oqsdrug2_request(w, "dialysis", "YZK", 2, start="2026-01"),
            "StartDate は年月 YYYYMM",
        ),
        (
            "StartDate after EndDate",
            lambda w: oqsdrug2_request(w, "dialysis", "YZK", 2, start="202611", end="202301"),
            "StartDate（202611）が EndDate（202301）より後です",
        ),
        (
            "an unknown FileCategory",
            lambda w: oqsdrug2_request(w, "dialysis", "TKK", 3),
            "特定健診情報の FileCategory は 1（特定健診PDF）、2（特定健診XML）のいずれかです",
        ),
        (
            "several persons without a 枝番",
            lambda w: oqsdrug2_request(w, "family", "YZK", 2, branch=False),
            "同じ番号の方が複数います",
        ),
    ],
)
def test_bad_requests_get_a_clear_answer(
    running: Running, consented: dict[str, int], what: str, request_of: object, said: str
) -> None:
    folder = running.folder
    assert callable(request_of)
    add_family_member(running.world, "family")
    # a number of its own for each case, the same in every process (hash() of a str is
    # salted per process: two cases met on one name now and then, one read the other's answer)
    number = str(zlib.crc32(what.encode()) % 1000)
    name = request_name("TKK" if "FileCategory" in what else "YZK", 3, number)
    drop(folder, name, request_of(running.world))
    root = loaded(reply(folder, name))
    assert root.findtext("MessageHeader/SegmentOfResult") == "9"
    assert root.findtext(".//ResultCode") != "1"
    assert said in (root.findtext(".//MessageContents") or ""), what
    assert root.findtext("MessageHeader/ErrorCode") == "LINK-E003"


def test_window_of_the_service_still_applies(running: Running, consented: dict[str, int]) -> None:
    """Asked for ten years, dialysis gets 薬剤情報 of three only (the service's window)."""
    folder, world = running.folder, running.world
    request = oqsdrug2_request(world, "dialysis", "YZK", 2, start="201601")
    drop(folder, request_name("YZK", 2, "333"), request)
    root = loaded(reply(folder, request_name("YZK", 2, "333")))
    days = [d.text or "" for d in root.iter() if d.tag in ("DiDate", "CzDiDate")]
    three_years = WORLD_TODAY.replace(year=WORLD_TODAY.year - 3).strftime("%Y%m%d")
    assert days and min(days) >= three_years
