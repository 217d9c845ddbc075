"""The bulk kinds by period through a real `reception link` and the mock service:
OQSmuhvq (訪問診療), OQSmuonq (オンライン診療), OQSmutic (医療扶助). Requests are written
byte for byte as YUKI-ENT/OQSDrug2 writes them (``BulkQualificationService.cs``
CreateRequestAsync / CreateDownloadRequestAsync: XmlWriter, Shift_JIS, standalone="no",
two-space indent, CRLF), and answers are read as its ``QualificationImportParser`` reads
them (``QualificationImportModels.cs``): every ``MessageBody/BulkConfirmUnit``, the
``ResultOfQualificationConfirmation`` below it, each element by name wherever it is."""

from __future__ import annotations

import contextlib
import datetime as dt
import shutil
import sqlite3
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from itertools import count
from pathlib import Path

import pytest

from mock_oqs.app import ServiceSettings, create_app
from mock_oqs.limits import ServiceLimits
from mock_oqs.world import World
from tests.support.link import Running, answer, drop
from tests.support.oqs import (
    client_for,
    forget_service_state,
    make_client,
    nonce,
    patient_numbers,
    pin_body,
    stranger_pem,
)
from tests.support.stack import WORLD_TODAY

CODE = "1312345678"
NUMBERS = count(1)


@pytest.fixture(scope="module")
def running(link_world: World, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    tmp = tmp_path_factory.mktemp("period")
    for table in ("bulk_jobs", "visit_consents", "online_examinations"):
        forget_jobs(link_world, table)  # other tests' jobs, counter-route confirmations …
    link = Running(link_world, tmp / "clinic", tmp)
    with link.serving():
        yield link


def forget_jobs(world: World, table: str = "bulk_jobs") -> None:
    """What the session's world holds from other tests: jobs (kept 24 h, 20 a facility),
    counter-route confirmations and online examinations they made."""
    with contextlib.suppress(sqlite3.OperationalError):  # no state file, or no job yet
        forget_service_state(world, table)


def day(offset: int) -> str:
    return (WORLD_TODAY + dt.timedelta(days=offset)).strftime("%Y%m%d")


def oqsdrug2(fields: list[tuple[str, str]], encoding: str = "Shift_JIS", phase: str = "") -> bytes:
    """A request as OQSDrug2's XmlWriter writes it: its raw declaration, then the document
    indented by two spaces with CRLF; ``phase`` "02" for the download request."""
    head = f'<?xml version="1.0" encoding="{encoding}" standalone="no"?>\r\n'
    lines = [
        "<XmlMsg>",
        "  <MessageHeader>",
        f"    <MedicalInstitutionCode>{CODE}</MedicalInstitutionCode>",
    ]
    if phase != "02":
        lines.append("    <ArbitraryFileIdentifier>20261124103015123ENT</ArbitraryFileIdentifier>")
    lines += ["  </MessageHeader>", "  <MessageBody>"]
    if phase == "02":
        lines += [f"    <{name}>{value}</{name}>" for name, value in fields]
    else:
        lines.append("    <QualificationConfirmSearchInfo>")
        lines += [f"      <{name}>{value}</{name}>" for name, value in fields]
        lines.append("    </QualificationConfirmSearchInfo>")
    lines += ["  </MessageBody>", "</XmlMsg>"]
    text = head + "\r\n".join(lines)
    return text.encode("cp932" if encoding == "Shift_JIS" else "utf-8")


def name(prefix: str) -> str:
    """BuildFileName: <prefix><yyyyMMdd><4-digit number of the day>.xml."""
    return f"{prefix}20261124{next(NUMBERS):04d}.xml"


def run(link: Running, prefix: str, fields: list[tuple[str, str]], encoding: str) -> ET.Element:
    """Phase 01, then 02 until SegmentOfResult 1 (as the program polls): the result."""
    first = name(f"{prefix}01req_")
    drop(link.folder, first, oqsdrug2(fields, encoding))
    accepted = answer(link.folder, first)
    assert accepted.findtext("MessageHeader/ErrorCode") is None, ET.tostring(accepted)
    number = accepted.findtext(".//ReceptionNumber")  # ReadUploadResultAsync: //ReceptionNumber
    assert number
    for _ in range(100):
        second = name(f"{prefix}02req_")
        drop(link.folder, second, oqsdrug2([("ReceptionNumber", number)], encoding, "02"))
        result = answer(link.folder, second)
        if result.findtext(".//SegmentOfResult") == "1":
            return result
        time.sleep(0.05)
    raise AssertionError("the bulk never finished")


def find(node: ET.Element, tag: str) -> str:
    """OQSDrug2's FindValue: the first element of that name, the node itself or below."""
    found = next((e for e in node.iter() if e.tag == tag), None)
    return (found.text or "").strip() if found is not None else ""


def imported(root: ET.Element) -> list[dict[str, str]]:
    """What QualificationImportParser makes of an answer: one record per
    ResultOfQualificationConfirmation of each MessageBody/BulkConfirmUnit."""
    body = root.find("MessageBody")
    assert body is not None
    records = []
    for unit in (c for c in body if c.tag == "BulkConfirmUnit"):
        refs = [(c.text or "").strip() for c in unit if c.tag == "ReferenceNumber"]
        for result in (e for e in unit.iter() if e.tag == "ResultOfQualificationConfirmation"):
            tickets = [e for e in result.iter() if e.tag == "MedicalTicketInfo"]
            record = {
                "QualificationValidity": find(unit, "QualificationValidity"),
                "ProcessingResultStatus": find(unit, "ProcessingResultStatus"),
                "ReferenceNumber": refs[0] if refs else "",
                "INSCC": find(result, "InsuredCardClassification"),
                "INSN": find(result, "InsurerNumber") or find(result, "PublicExpenseNumber"),
                "INSIN": find(result, "InsuredIdentificationNumber")
                or find(result, "BeneficiaryNumber"),
                "IERN": find(result, "InsurerName") or find(result, "WelfareOfficeName"),
                "Name": find(result, "Name"),
                "Birthdate": find(result, "Birthdate"),
                "Sex": find(result, "Sex1") or find(result, "Sex2"),
                "NOO": find(result, "NameOfOther"),
                "MTM": " / ".join(find(t, "MedicalTreatmentMonth") for t in tickets),
                "DMIC": " / ".join(find(t, "DesignatedMedicalInstitutionCode") for t in tickets),
                "DMIF": " / ".join(find(t, "DesignatedMedicalInstitutionFlag") for t in tickets),
                "MTIN": " / ".join(find(t, "IssueNumber") for t in tickets),
                "ERCR": find(result, "ElderlyRecipientContributionRatio"),
            }
            records.append(record)
    return records


def promised(world: World, kind: str, first: int, last: int) -> set[str]:
    """The personas whose promise in world.json (``expect.period``) falls in the days (or,
    for ``aid``, months) from ``first`` to ``last`` relative to the world's."""
    return {
        e["id"]
        for e in world.index["personas"]
        if any(first <= d <= last for d in (e["expect"].get("period") or {}).get(kind, []))
    }


def patients(world: World, records: list[dict[str, str]]) -> set[str]:
    """The personas (and only personas) the records name, by name and birth date."""
    by_key = {
        (e["name"].replace(" ", "\u3000"), e["birth_date"].replace("-", "")): e["id"]
        for e in world.index["personas"]
    }
    return {by_key.get((r["Name"], r["Birthdate"]), r["Name"]) for r in records}


@pytest.mark.parametrize("encoding", ["Shift_JIS", "UTF-8"])
def test_visits_list_the_home_patients_consented_in_the_period(
    running: Running, encoding: str
) -> None:
    world = running.world
    week = [("ConsentDateFrom", day(-7)), ("ConsentDateTo", day(0)), ("MedicalTreatmentFlag", "2")]
    records = imported(run(running, "OQSmuhvq", week, encoding))
    assert patients(world, records) == {"late-elderly-1wari"}  # consented 3 days ago
    assert promised(world, "visit", -7, 0) == {"late-elderly-1wari"}
    record = records[0]
    assert record["QualificationValidity"] == "1" and record["ProcessingResultStatus"] == "1"
    assert (
        record["INSN"] == world.persona("late-elderly-1wari")["numbers"]["current_insurer_number"]
    )
    fortnight = [
        ("ConsentDateFrom", day(-14)),
        ("ConsentDateTo", day(-1)),
        ("MedicalTreatmentFlag", "2"),
    ]
    records = imported(run(running, "OQSmuhvq", fortnight, encoding))
    # face-only consented 10 days ago; elderly-70-2wari 40 days ago is outside both
    assert patients(world, records) == {"late-elderly-1wari", "face-only"}
    assert promised(world, "visit", -14, -1) == {"late-elderly-1wari", "face-only"}


def test_a_counter_confirmation_is_listed_from_then_on(running: Running) -> None:
    world = running.world
    today = [("ConsentDateFrom", day(0)), ("ConsentDateTo", day(0)), ("MedicalTreatmentFlag", "2")]
    assert "elderly-70-active" not in patients(
        world, imported(run(running, "OQSmuhvq", today, "Shift_JIS"))
    )
    client = make_client(world)
    at_counter = pin_body(world, "elderly-70-active", nonce(client), limit=True) | {
        "route": "counter"
    }
    confirmed = client.post("/v1/confirmations/card", json=at_counter)
    assert confirmed.json()["MessageBody"]["QualificationValidity"] == "1"
    at_reader = pin_body(world, "kokuho", nonce(client), limit=True)  # the reader: not a visit
    assert client.post("/v1/confirmations/card", json=at_reader).status_code == 200
    records = imported(run(running, "OQSmuhvq", today, "Shift_JIS"))
    assert patients(world, records) == {"elderly-70-active"}
    assert records[0]["ERCR"] == "030"  # 70–74 現役並み: the 高齢受給者 block, as imported


@pytest.mark.parametrize("encoding", ["Shift_JIS", "UTF-8"])
def test_online_by_examination_or_consent_days(running: Running, encoding: str) -> None:
    world = running.world
    week = [
        ("ExaminationDateFrom", day(-7)),
        ("ExaminationDateTo", day(0)),
        ("MedicalTreatmentFlag", "3"),
    ]
    assert patients(world, imported(run(running, "OQSmuonq", week, encoding))) == {"iphone"}
    assert promised(world, "online", -7, 0) == {"iphone"}
    if encoding != "Shift_JIS":
        return
    month = [
        ("ExaminationDateFrom", day(-30)),
        ("ExaminationDateTo", day(-10)),
        ("MedicalTreatmentFlag", "3"),
    ]
    assert patients(world, imported(run(running, "OQSmuonq", month, encoding))) == {"android"}
    # the iPhone patient consented on the phone the day before the examination (day -3)
    consent = [
        ("ConsentDateFrom", day(-3)),
        ("ConsentDateTo", day(-3)),
        ("MedicalTreatmentFlag", "3"),
    ]
    assert patients(world, imported(run(running, "OQSmuonq", consent, encoding))) == {"iphone"}


def test_the_patients_phone_records_an_online_examination(running: Running) -> None:
    world = running.world
    client = make_client(world)
    numbers = patient_numbers(world, "dialysis")
    recorded = client.post("/v1/online-examinations", json=numbers | {"examination_date": day(1)})
    assert recorded.status_code == 201, recorded.text
    tomorrow = [
        ("ExaminationDateFrom", day(1)),
        ("ExaminationDateTo", day(1)),
        ("MedicalTreatmentFlag", "3"),
    ]
    assert patients(world, imported(run(running, "OQSmuonq", tomorrow, "Shift_JIS"))) == {
        "dialysis"
    }
    nobody = client.post("/v1/online-examinations", json=numbers | {"number": "0000000"})
    assert nobody.status_code == 404 and nobody.json()["error"]["code"] == "MOCK-E007"


@pytest.mark.parametrize("encoding", ["Shift_JIS", "UTF-8"])
def test_medical_aid_tickets_of_the_month_entrusting_this_clinic(
    running: Running, encoding: str
) -> None:
    world = running.world
    entry = world.persona("medical-aid")
    for month in ("202611", "202610") if encoding == "Shift_JIS" else ("202611",):
        records = imported(run(running, "OQSmutic", [("MedicalTreatmentMonth", month)], encoding))
        # medical-aid-elsewhere's 医療券 entrusts another clinic: never listed here
        assert patients(world, records) == {"medical-aid"}, month
        assert promised(world, "aid", int(month) - 202611, int(month) - 202611) == {"medical-aid"}
        record = records[0]
        assert record["INSCC"] == "A1"
        assert record["INSN"] == entry["numbers"]["current_insurer_number"]  # 公費負担者番号
        assert record["INSN"].startswith("12")
        assert record["INSIN"] == entry["numbers"]["current_number"]  # 受給者番号
        assert record["IERN"] == "千代田区福祉事務所"
        assert record["MTM"] == month  # the month's 医療券 only, not the 調剤券
        assert record["DMIC"] == CODE and record["DMIF"] == "1"
        assert record["MTIN"].isdigit()
        assert record["Sex"] in ("1", "2")
    empty = run(running, "OQSmutic", [("MedicalTreatmentMonth", "202612")], encoding)
    assert imported(empty) == []
    assert empty.findtext("MessageHeader/NumberOfProcessingResult") == "0"


@pytest.mark.parametrize(
    ("prefix", "fields", "says"),
    [
        (
            "OQSmuhvq",
            [
                ("ConsentDateFrom", "20261124"),
                ("ConsentDateTo", "20261101"),
                ("MedicalTreatmentFlag", "2"),
            ],
            "より後",
        ),
        (
            "OQSmuhvq",
            [("ConsentDateFrom", "20261101"), ("ConsentDateTo", "20261124")],
            "MedicalTreatmentFlag がありません",
        ),
        (
            "OQSmuhvq",
            [
                ("ConsentDateFrom", "20261301"),
                ("ConsentDateTo", "20261124"),
                ("MedicalTreatmentFlag", "2"),
            ],
            "YYYYMMDD",
        ),
        (
            "OQSmuonq",
            [("ExaminationDateFrom", "20261101"), ("ExaminationDateTo", "20261124")],
            "MedicalTreatmentFlag",
        ),
        ("OQSmuonq", [("MedicalTreatmentFlag", "3")], "どちらか一方"),
        ("OQSmutic", [("MedicalTreatmentMonth", "2026-11")], "YYYYMM"),
        ("OQSmutic", [("MedicalTreatmentMonth", "202613")], "YYYYMM"),
    ],
    ids=[
        "from-after-to",
        "no-flag",
        "not-a-day",
        "online-no-flag",
        "no-dates",
        "month-dash",
        "month-13",
    ],
)
def test_a_bad_period_is_refused_clearly(
    running: Running, prefix: str, fields: list[tuple[str, str]], says: str
) -> None:
    request = name(f"{prefix}01req_")
    drop(running.folder, request, oqsdrug2(fields))
    refused = answer(running.folder, request)
    assert refused.findtext("MessageHeader/SegmentOfResult") == "9"
    assert refused.findtext("MessageHeader/ErrorCode") == "LINK-E003"
    assert says in (refused.findtext("MessageHeader/ErrorMessage") or "")


def test_a_number_is_fetched_only_as_its_own_kind(running: Running) -> None:
    first = name("OQSmutic01req_")
    drop(running.folder, first, oqsdrug2([("MedicalTreatmentMonth", "202611")]))
    number = answer(running.folder, first).findtext(".//ReceptionNumber")
    assert number
    for prefix in ("OQSmuhvq", "OQSmuonq", "OQSmuquc"):
        other = name(f"{prefix}02req_")
        drop(running.folder, other, oqsdrug2([("ReceptionNumber", number)], phase="02"))
        refused = answer(running.folder, other)
        assert refused.findtext("MessageHeader/SegmentOfResult") == "9", prefix
        assert imported(refused) == []


def test_the_facilitys_limits_and_its_own_jobs_only(link_world: World, tmp_path: Path) -> None:
    """As 一括照会's: every patient listed counts against the lookups of a day, jobs kept
    are capped; another clinic neither lists this one's patients nor fetches its jobs."""
    shutil.copytree(link_world.directory, tmp_path / "w")
    world = World.load(tmp_path / "w")
    forget_jobs(world)
    forget_jobs(world, "lookup_budget")  # the other tests' patients of the day
    limits = ServiceLimits(lookups_per_day=2, bulk_stored=2)
    app = create_app(ServiceSettings(world=world.directory, today=WORLD_TODAY, limits=limits))
    ours = client_for(app, world.terminal_cert.read_text())
    fortnight = {"consent_date_from": day(-14), "consent_date_to": day(-1)}
    started = ours.post("/v1/bulk-visits", json=fortnight)  # 2 patients: the day's 2
    assert started.status_code == 202 and started.json()["total"] == 2, started.text
    number = started.json()["ReceptionNumber"]
    over = ours.post(
        "/v1/bulk-visits", json={"consent_date_from": day(-3), "consent_date_to": day(-3)}
    )
    assert over.status_code == 429 and over.json()["error"]["code"] == "MOCK-E018"
    month = {"medical_treatment_month": "202612"}  # nobody: nothing charged
    assert ours.post("/v1/bulk-medical-aid", json=month).status_code == 202
    kept = ours.post("/v1/bulk-medical-aid", json=month)
    assert kept.status_code == 429 and kept.json()["error"]["code"] == "MOCK-E019"
    backwards = ours.post(
        "/v1/bulk-online", json={"examination_date_from": day(0), "examination_date_to": day(-1)}
    )
    assert backwards.status_code == 422 and "after" in backwards.json()["error"]["message"]
    theirs = client_for(app, stranger_pem())
    assert theirs.get(f"/v1/bulk-visits/{number}").json()["error"]["code"] == "MOCK-E014"
    assert ours.get(f"/v1/bulk-online/{number}").json()["error"]["code"] == "MOCK-E014"
    assert ours.get(f"/v1/bulk-confirmations/{number}").status_code == 404
    for _ in range(100):
        done = ours.get(f"/v1/bulk-visits/{number}").json()
        if done["SegmentOfResult"] == "1":
            break
        time.sleep(0.02)
    assert len(done["results"]) == 2
