"""The 連携 pane's view of an answer (describe_answer): a 一括照会's BulkConfirmUnit per
patient, a PDF by its size, a ZIP by its entries and the XML inside."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from reception.link import describe_answer

BULK = (
    "<XmlMsg><MessageHeader><ReceptionNumber>AB12</ReceptionNumber>"
    "<SegmentOfResult>1</SegmentOfResult></MessageHeader><MessageBody>"
    + "".join(
        "<BulkConfirmUnit><QualificationConfirmSearchInfo>"
        f"<InsuredIdentificationNumber>{n}</InsuredIdentificationNumber>"
        "</QualificationConfirmSearchInfo><ProcessingResultStatus>1</ProcessingResultStatus>"
        "<QualificationValidity>1</QualificationValidity>"
        f"<ResultOfQualificationConfirmation><Name>{name}</Name>"
        "</ResultOfQualificationConfirmation></BulkConfirmUnit>"
        for n, name in (("101", "山田　太郎"), ("102", "佐藤　花子"))
    )
    + "</MessageBody></XmlMsg>"
).encode()
PATIENTS = ["2件", "番号 101  有効  山田　太郎", "番号 102  有効  佐藤　花子"]


def test_bulk_units_are_read_patient_by_patient(tmp_path: Path) -> None:
    path = tmp_path / "OQSmuquc02res_0001.xml"
    path.write_bytes(BULK)
    assert describe_answer(path) == [
        "2件",
        "番号 101  有効  山田　太郎",
        "番号 102  有効  佐藤　花子",
    ]


def test_a_bulk_still_running_says_so(tmp_path: Path) -> None:
    path = tmp_path / "OQSmuquc01res_0001.xml"
    path.write_bytes(
        b"<XmlMsg><MessageHeader><MedicalInstitutionCode>1</MedicalInstitutionCode>"
        b"</MessageHeader><MessageBody><ReceptionNumber>AB12</ReceptionNumber>"
        b"<ReceptionDateTime>20261207100000</ReceptionDateTime></MessageBody></XmlMsg>"
    )
    assert describe_answer(path) == ["処理中（ReceptionNumber AB12）"]


def test_a_pdf_answer_is_named_not_parsed(tmp_path: Path) -> None:
    path = tmp_path / "YZKsiquc01res_01.pdf"
    path.write_bytes(b"%PDF-1.7\n" + b"0" * 2000)
    [line] = describe_answer(path)
    assert line.startswith("PDF 2,009 バイト")


def test_a_zip_answer_lists_its_entries_and_reads_the_xml_inside(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("OQSmuquc02res_0001.xml", BULK)
    path = tmp_path / "OQSmuquc02res_0001.zip"
    path.write_bytes(buffer.getvalue())
    lines = describe_answer(path)
    assert lines[0] == "ZIP 1件: OQSmuquc02res_0001.xml"
    assert lines[1:] == PATIENTS


def test_a_broken_zip_says_it_cannot_be_opened(tmp_path: Path) -> None:
    path = tmp_path / "OQSmuquc02res_0001.zip"
    path.write_bytes(b"PK\x03\x04" + b"\0" * 40)
    [line] = describe_answer(path)
    assert line.startswith("読めません: ZIP として開けません")
