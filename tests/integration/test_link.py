"""The folder interface (oqs.md §7) through real folders, a real `reception link` process
and the real mock service over TLS: what a レセコン developer points their software at."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from mock_oqs.world import World, persona_ids
from tests.support.link import Running, answer, drop, moved_aside, old, persona_request
from tests.support.oqs import confirm, forget_service_state, make_client, nonce, pin_body
from tests.support.oqsdrug2 import loaded, oqsdrug2_request, reply, request_name
from tests.support.stack import WORLD_TODAY


def test_every_persona_by_number(link: Running) -> None:
    world, folder = link.world, link.folder
    for number, persona in enumerate(persona_ids(WORLD_TODAY), start=1):
        drop(folder, f"OQSsiquc01req_20261124_{number:04d}.xml", persona_request(world, persona))
    for number, persona in enumerate(persona_ids(WORLD_TODAY), start=1):
        root = answer(folder, f"OQSsiquc01req_20261124_{number:04d}.xml")
        assert root.findtext("MessageHeader/SegmentOfResult") == "1", persona
        assert root.findtext("MessageHeader/ReferenceClassification") == "2"
        assert root.findtext("MessageHeader/ArbitraryFileIdentifier") == "id-1"
        expect = world.persona(persona)["expect"]
        query = expect.get("number_query") or {}
        wanted = query.get("current") or ("1" if expect["validity"] == "1" else None)
        if wanted:
            assert root.findtext("MessageBody/QualificationValidity") == wanted, persona
    deadline = time.monotonic() + 15  # each request is moved aside just after its answer
    while len(done := sorted(p.name for p in (folder / "req" / "done").iterdir())) < len(
        persona_ids(WORLD_TODAY)
    ):
        assert time.monotonic() < deadline, done
        time.sleep(0.02)
    assert len(done) == len(persona_ids(WORLD_TODAY))
    assert [p for p in (folder / "req").iterdir() if p.is_file()] == []


def test_shift_jis_in_shift_jis_out(link: Running) -> None:
    request = persona_request(link.world, "kokuho", encoding="Shift_JIS", code="1")
    drop(link.folder, "OQSsiquc01req_sjis_0001.xml", request)
    path = link.folder / "res" / "OQSsiquc01res_sjis_0001.xml"
    root = answer(link.folder, "OQSsiquc01req_sjis_0001.xml")  # well-formed Shift_JIS
    data = path.read_bytes()
    assert data.startswith(b'<?xml version="1.0" encoding="Shift_JIS"')
    assert root.findtext("MessageHeader/CharacterCodeIdentifier") == "1"
    name = root.findtext(".//Name")
    assert name == link.world.persona("kokuho")["name"].replace(" ", "\u3000")
    assert "\u3000".encode("cp932") in data  # really Shift_JIS, not UTF-8


@pytest.mark.parametrize(
    ("name", "data", "code", "says"),
    [
        (
            "OQSsiquc01req_bad_0001.xml",
            b"not xml at all",
            "LINK-E001",
            "XMLの形式が正しくありません: 構文の誤りです（XMLではありません）（1行1列）",
        ),
        (
            "OQSsiquc01req_bad_0002.xml",
            b'<?xml version="1.0" encoding="Shift_JIS"?><XmlMsg>\x81</XmlMsg>',
            "LINK-E001",
            "shift_jis",
        ),
        ("ABCxxxxx01req_bad_0003.xml", b"<XmlMsg/>", "LINK-E002", "ABCxxxxx01req"),
        (
            "OQSsiquc01req_bad_0004.xml",
            b"<XmlMsg><MessageHeader/><MessageBody><QualificationConfirmSearchInfo>"
            b"<InsurerNumber>01130012</InsurerNumber></QualificationConfirmSearchInfo>"
            b"</MessageBody></XmlMsg>",
            "LINK-E003",
            "InsuredIdentificationNumber",
        ),
        ("OQSsiquc01req_bad_0005.xml", b"<XmlMsg>" + b"x" * (5 << 20), "LINK-E004", "4 MiB"),
    ],
    ids=["not-xml", "wrong-encoding", "unknown-prefix", "missing-fields", "huge"],
)
def test_a_bad_file_gets_an_error_answer(
    link: Running, name: str, data: bytes, code: str, says: str
) -> None:
    hidden = link.folder / "req" / f".{name}"
    hidden.write_bytes(data)
    old(hidden)
    os.replace(hidden, link.folder / "req" / name)
    root = answer(link.folder, name)
    assert root.findtext("MessageHeader/SegmentOfResult") == "9"
    assert root.findtext("MessageHeader/ErrorCode") == code
    assert says in (root.findtext("MessageHeader/ErrorMessage") or "")
    assert moved_aside(link.folder, name)  # answered once, moved aside


def test_a_half_written_file_is_answered_once_complete(link: Running) -> None:
    name = "OQSsiquc01req_slow_0001.xml"
    request = persona_request(link.world, "adult-kyokai")
    path = link.folder / "req" / name
    with open(path, "wb") as fh:  # a writer that writes in place, slowly
        fh.write(request[: len(request) // 2])
        fh.flush()
        time.sleep(0.6)
        assert not (link.folder / "res" / name.replace("req", "res")).exists()
        fh.write(request[len(request) // 2 :])
    root = answer(link.folder, name)
    assert root.findtext("MessageHeader/SegmentOfResult") == "1"
    assert root.findtext("MessageBody/QualificationValidity") == "1"


def test_kill_9_mid_batch_loses_nothing_and_answers_nothing_twice(link: Running) -> None:
    folder, world = link.folder, link.world
    names = [f"OQSsiquc01req_batch_{n:04d}.xml" for n in range(40)]
    for name in names:
        drop(folder, name, persona_request(world, "adult-kyokai", file_id=name[-8:-4]))
    deadline = time.monotonic() + 15
    while len(list((folder / "res").glob("OQS*batch*"))) < 5:
        assert time.monotonic() < deadline
        time.sleep(0.005)
    link.stop(signal.SIGKILL)
    before = {p.name: p.stat().st_mtime_ns for p in (folder / "res").glob("OQS*batch*")}
    assert 0 < len(before) < len(names)  # killed mid-batch
    link.start()
    for name in names:
        root = answer(folder, name)
        assert root.findtext("MessageHeader/ArbitraryFileIdentifier") == name[-8:-4]
    after = {p.name: p.stat().st_mtime_ns for p in (folder / "res").glob("OQS*batch*")}
    assert len(after) == len(names)
    assert all(after[n] == t for n, t in before.items())  # none answered a second time
    deadline = time.monotonic() + 15  # each request is moved aside just after its answer
    while list((folder / "req").glob("*.xml")):
        assert time.monotonic() < deadline, list((folder / "req").glob("*.xml"))
        time.sleep(0.02)
    assert not list((folder / "res").glob(".*"))  # no half-written answer left behind


def test_files_waiting_at_start_are_answered(link_world: World, tmp_path: Path) -> None:
    folder = tmp_path / "clinic"
    (folder / "req").mkdir(parents=True)
    drop(folder, "OQSsiquc01req_early_0001.xml", persona_request(link_world, "family"))
    running = Running(link_world, folder, tmp_path)
    running.start()
    try:
        assert (
            answer(folder, "OQSsiquc01req_early_0001.xml").findtext(
                "MessageBody/QualificationValidity"
            )
            == "1"
        )
    finally:
        try:
            assert running.stop(signal.SIGINT) == 0  # Ctrl+C: a clean stop too
        finally:
            running.reap()


def registration(world: World, persona: str, reference: str) -> bytes:
    """OQSsiimm01req as public clinic programs write it (oqs.md §7): the numbers and the
    照会番号 in MessageBody/ReferenceNumberRegistrationInfo, no birth date."""
    n = world.persona(persona)["numbers"]
    return (
        '<?xml version="1.0" encoding="utf-8" standalone="no"?><XmlMsg><MessageHeader>'
        "<MedicalInstitutionCode>1312345678</MedicalInstitutionCode>"
        "<ArbitraryFileIdentifier>id-1</ArbitraryFileIdentifier></MessageHeader><MessageBody>"
        f"<ReferenceNumberRegistrationInfo><ReferenceNumber>{reference}</ReferenceNumber>"
        f"<InsurerNumber>{n['current_insurer_number'].rjust(8)}</InsurerNumber>"
        f"<InsuredCardSymbol>{n['current_symbol']}</InsuredCardSymbol>"
        f"<InsuredIdentificationNumber>{n['current_number']}</InsuredIdentificationNumber>"
        f"<InsuredBranchNumber>{n['current_branch']}</InsuredBranchNumber>"
        "</ReferenceNumberRegistrationInfo></MessageBody></XmlMsg>"
    ).encode()


def test_reference_number_then_a_card_result_carries_it(link: Running) -> None:
    folder, world = link.folder, link.world
    drop(folder, "OQSsiimm01req_20261124_0001.xml", registration(world, "limit-u", "診-4711"))
    root = answer(folder, "OQSsiimm01req_20261124_0001.xml")
    assert root.findtext("MessageHeader/SegmentOfResult") == "1"
    assert root.findtext("MessageBody/ProcessingResultStatus") == "1"
    assert root.findtext("MessageBody/ReferenceNumberRegistrationInfo/ReferenceNumber") == (
        "診-4711"
    )
    client = make_client(world)  # a card check-in at the reader, the same service state
    result = confirm(client, pin_body(world, "limit-u", nonce(client), limit=True)).json()
    entry = result["MessageBody"]["ResultList"]["ResultOfQualificationConfirmation"][0]
    assert entry["ReferenceNumber"] == "診-4711"
    too_long = registration(world, "limit-u", "9" * 51)
    drop(folder, "OQSsiimm01req_20261124_0002.xml", too_long)
    refused = answer(folder, "OQSsiimm01req_20261124_0002.xml")
    assert refused.findtext("MessageHeader/ErrorCode") == "LINK-E003"


def test_records_only_with_the_patients_consent(link: Running) -> None:
    """薬剤情報 / 特定健診情報 as OQSDrug2 asks for them (tests/support/oqsdrug2.py; in
    detail: test_link_records.py): refused without consent, answered with it."""
    folder, world = link.folder, link.world
    forget_service_state(world, "consent_records")  # other tests' consents last 24 h
    drop(folder, request_name("YZK", 2, "1"), oqsdrug2_request(world, "dialysis", "YZK", 2))
    refused = loaded(reply(folder, request_name("YZK", 2, "1")))
    assert refused.findtext("MessageHeader/SegmentOfResult") == "9"
    assert refused.findtext("MessageHeader/ErrorCode") == "LINK-E006"
    assert refused.findtext("MessageHeader/ResultCode") == "9"
    assert "同意" in (refused.findtext("MessageHeader/MessageContents") or "")
    client = make_client(world)
    consented = pin_body(world, "dialysis", nonce(client), medication=True, checkup=True)
    assert confirm(client, consented).status_code == 200
    drop(folder, request_name("YZK", 2, "2"), oqsdrug2_request(world, "dialysis", "YZK", 2))
    drop(folder, request_name("TKK", 2, "2"), oqsdrug2_request(world, "dialysis", "TKK", 2))
    meds = answer(folder, request_name("YZK", 2, "2"))
    assert meds.findtext(".//ResultCode") == "1"
    drugs = meds.findall(".//MeTrMonthInf/DiDateInfs/DiDateInf/DrugInfs/DrugInf")
    drugs += meds.findall(".//CzDiMonthInf/CzDiDateInfs/CzDiDateInf/CzDrugInfs/CzDrugInf")
    assert len(drugs) > 20  # dialysis: a long history
    checkups = answer(folder, request_name("TKK", 2, "2"))
    items = checkups.findall(
        ".//SpecificHealthCheckupInfo/HealthCheckupResultAndQuestionInfos/"
        "HealthCheckupResultAndQuestionInfo"
    )
    assert "HbA1c" in {item.findtext("ItemName") for item in items}


def bulk_upload(world: World, personas: list[str]) -> bytes:
    """OQSmuquc01req: one QualificationConfirmSearchInfo per booked patient."""
    infos = b""
    for persona in personas:
        single = persona_request(world, persona)
        start = single.index(b"<QualificationConfirmSearchInfo>")
        end = single.index(b"</MessageBody>")
        infos += single[start:end]
    head = persona_request(world, personas[0])
    return (
        head[: head.index(b"<QualificationConfirmSearchInfo>")] + infos + b"</MessageBody></XmlMsg>"
    )


def test_bulk_query_of_every_persona(link: Running) -> None:
    """一括照会 in two phases, read as the public clients read them: 01 gives
    ``//ReceptionNumber`` at once; 02 with it gives 2 while the queries run, then one
    ``MessageBody/BulkConfirmUnit`` per patient, in order, with the counts."""
    folder, world = link.folder, link.world
    personas = persona_ids(WORLD_TODAY)
    drop(folder, "OQSmuquc01req_20261124_0001.xml", bulk_upload(world, personas))
    upload = answer(folder, "OQSmuquc01req_20261124_0001.xml")
    number = upload.findtext("MessageBody/ReceptionNumber")
    assert number
    assert len(upload.findtext("MessageBody/ReceptionDateTime") or "") == 14
    fetch = (
        "<XmlMsg><MessageHeader><MedicalInstitutionCode>1312345678</MedicalInstitutionCode>"
        f"</MessageHeader><MessageBody><ReceptionNumber>{number}</ReceptionNumber>"
        "</MessageBody></XmlMsg>"
    ).encode()
    for attempt in range(1, 100):
        name = f"OQSmuquc02req_20261124_{attempt:04d}.xml"
        drop(folder, name, fetch)
        result = answer(folder, name)
        if result.findtext("MessageHeader/SegmentOfResult") == "1":
            break
        assert result.findtext("MessageHeader/SegmentOfResult") == "2"
        time.sleep(0.05)
    each = result.findall("MessageBody/BulkConfirmUnit")
    assert len(each) == len(personas)
    assert result.findtext("MessageHeader/ReceptionNumber") == number
    assert result.findtext("MessageHeader/NumberOfProcessingResult") == str(len(personas))
    normal = sum(1 for u in each if u.findtext("ProcessingResultStatus") == "1")
    assert result.findtext("MessageHeader/NumberOfNormalProcessing") == str(normal)
    assert result.findtext("MessageHeader/NumberOfError") == str(len(personas) - normal)
    for persona, patient in zip(personas, each, strict=True):
        numbers = world.persona(persona)["numbers"]
        assert (
            patient.findtext("QualificationConfirmSearchInfo/InsuredIdentificationNumber")
            == (numbers["current_number"])
        )
        expect = world.persona(persona)["expect"]
        by_number = (expect.get("number_query") or {}).get("current")
        if expect["validity"] == "1":  # by number as by card, unless the persona says
            assert patient.findtext("QualificationValidity") == (by_number or "1"), persona
            assert patient.findtext("ResultOfQualificationConfirmation/Name"), persona
    unknown = fetch.replace(number.encode(), b"FFFFFFFF00000000")
    drop(folder, "OQSmuquc02req_20261124_9999.xml", unknown)
    refused = answer(folder, "OQSmuquc02req_20261124_9999.xml")
    assert refused.findtext("MessageHeader/ErrorCode") == "LINK-E003"


def test_hostile_text_in_a_request_never_reaches_an_answer_raw(link: Running) -> None:
    """A bidi override in a request's identifier and number: the service refuses the
    request (MOCK-E006), the answer is well-formed and carries no such character."""
    request = persona_request(link.world, "adult-kyokai", file_id="ab\u202ecd")
    request = request.replace(
        b"<InsuredIdentificationNumber>", "<InsuredIdentificationNumber>\u202e".encode()
    )
    drop(link.folder, "OQSsiquc01req_evil_0001.xml", request)
    root = answer(link.folder, "OQSsiquc01req_evil_0001.xml")
    assert root.findtext("MessageHeader/SegmentOfResult") == "9"
    assert root.findtext("MessageHeader/ErrorCode") == "LINK-E003"
    data = (link.folder / "res" / "OQSsiquc01res_evil_0001.xml").read_bytes()
    assert "\u202e".encode() not in data
