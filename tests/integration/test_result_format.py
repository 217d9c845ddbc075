"""Every persona's result, by card and by number, as real result files are (oqs.md §2):
read back with the standard library's parser and checked element by element against
the format table, then read by the terminal into the same model as the JSON answer."""

from __future__ import annotations

import unicodedata
import xml.etree.ElementTree as ET
from typing import Any

import httpx
import pytest

from mock_oqs.world import World, persona_ids
from mock_oqs.xml import render_xml
from reception.results import QualificationResult
from tests.support.oqs import confirm, face_body, make_client, nonce, patient_numbers, pin_body
from tests.support.stack import WORLD_TODAY
from tests.support.xmlmsg import CONSENT_FLAGS, check_xmlmsg, entries

XML = {"accept": "application/xml"}


@pytest.fixture(scope="module")
def client(world: World) -> httpx.Client:
    return make_client(world)


def card_request(world: World, client: httpx.Client, persona: str) -> dict[str, Any]:
    """Today's reader flow: 限度額 without a question, everything shared, 電子処方箋."""
    expect = world.persona(persona)["expect"]
    value = nonce(client)
    consents = {"medication": True, "checkup": True, "operation": True, "limit": True}
    if "pin" in expect["methods"]:
        body = pin_body(world, persona, value, **consents)
    else:
        body = face_body(world, persona, value) | {"consents": consents}
    return body | {"prescription_issue": "1"}


def check_person(entry: ET.Element, person: dict[str, Any]) -> None:
    family, given = person["name"].split(" ")
    assert entry.findtext("Name") == f"{family}\u3000{given}"
    # a 通称名 and the card's sex where the person reported them (persona tsushomei)
    other = person.get("name_of_other")
    assert entry.findtext("NameOfOther") == (other.replace(" ", "\u3000") if other else None)
    other_kana = entry.findtext("NameOfOtherKana")
    assert (other_kana is not None) == bool(other)
    if other_kana is not None:
        assert unicodedata.normalize("NFKC", other_kana) == person["name_of_other_kana"]
    assert entry.findtext("Sex2") == person.get("sex2")
    if person.get("sex2"):
        assert entry.findtext("Sex2") != entry.findtext("Sex1")
    insured = entry.findtext("InsuredName", "")
    assert insured.count("\u3000") == 1 and insured.startswith(family + "\u3000")
    # a dependant (家族) is not the insured person (被保険者)
    assert (insured == f"{family}\u3000{given}") == (
        entry.findtext("PersonalFamilyClassification") == "1"
    )
    kana = entry.findtext("NameKana", "")
    assert all(0xFF61 <= ord(c) <= 0xFF9F or c == " " for c in kana), kana
    assert unicodedata.normalize("NFKC", kana) == person["name_kana"]
    post = entry.findtext("PostNumber", "")
    assert len(post) == 8 and post[3] == "-", post


def check_rules(root: ET.Element, *, chosen: str | None) -> None:
    valid = root.findtext("MessageBody/QualificationValidity") == "1"
    by_card = root.findtext("MessageHeader/ReferenceClassification") == "1"
    today = root.findtext("MessageHeader/QualificationConfirmationDate", "")
    for entry in entries(root):
        # a 喪失日 is a past event: none on a 有効 result, none in the future (issue 20)
        lost = entry.findtext("DisqualificationDate")
        if valid:
            assert lost is None and entry.find("ReasonOfLoss") is None, lost
        assert lost is None or lost <= today, (lost, today)
        assert (lost is None) == (entry.find("ReasonOfLoss") is None)
        # seen in real card results only: a new key for every confirmation
        key = entry.findtext("QualificationConfirmationKey")
        assert (key is not None) == by_card, key
        insurer = entry.findtext("InsurerNumber", "")
        ratio = entry.find("InsuredPartialContributionRatio")
        assert (ratio is not None) == insurer.startswith("39"), insurer  # 後期 only
        for flag in CONSENT_FLAGS:
            assert entry.findtext(flag) in ("0", "1"), flag
        assert entry.findtext("InsuredCertificateIssuanceDate")
        assert entry.findtext("InsuredCardValidDate")
        assert entry.findtext("PrescriptionIssueSelect") == (chosen if valid else None)
    assert root.find(".//MockNotices") is None and root.find(".//Notice") is None


@pytest.mark.parametrize("persona", persona_ids(WORLD_TODAY))
def test_card_results_are_real_result_files(
    world: World, client: httpx.Client, persona: str
) -> None:
    response = confirm(client, card_request(world, client, persona), headers=XML)
    assert response.status_code == 200, response.text
    root = check_xmlmsg(response.content)
    assert root.findtext("MessageHeader/ReferenceClassification") == "1"
    check_rules(root, chosen="1")
    for entry in entries(root):
        check_person(entry, world.persona(persona))
    if root.findtext("MessageBody/QualificationValidity") == "1":
        (entry,) = entries(root)
        assert entry.findtext("LimitApplicationCertificateRelatedConsFlg") == "1"
        # in a certificate's grace period only the qualification is given (oqs.md §4)
        shared = "certificate-grace" not in world.persona(persona)["expect"]["notices"]
        assert entry.findtext("PharmacistsInfoConsFlg") == ("1" if shared else "0")
        assert bool(entry.findtext("PharmacistsInfoAvailableTime")) == shared


@pytest.mark.parametrize("persona", persona_ids(WORLD_TODAY))
def test_number_results_are_real_result_files(
    world: World, client: httpx.Client, persona: str
) -> None:
    body = patient_numbers(world, persona) | {"limit_consent": True}
    response = client.post("/v1/confirmations/number", json=body, headers=XML)
    assert response.status_code == 200, response.text
    root = check_xmlmsg(response.content)
    assert root.findtext("MessageHeader/ReferenceClassification") == "2"
    search = root.find("MessageBody/QualificationConfirmSearchInfo")
    assert search is not None and len(search.findtext("InsurerNumber", "")) == 8
    check_rules(root, chosen=None)
    for entry in entries(root):
        check_person(entry, world.persona(persona))


@pytest.mark.parametrize("persona", ["adult-kyokai", "elderly-70-2wari", "limit-u", "dialysis"])
def test_the_terminal_reads_the_xml_into_the_same_model_as_the_json(
    world: World, client: httpx.Client, persona: str
) -> None:
    answer = confirm(client, card_request(world, client, persona)).json()
    notices = answer.pop("MockNotices")
    from_json = QualificationResult.parse(answer)
    from_xml = QualificationResult.from_xml(render_xml(answer))
    assert from_xml == from_json.model_copy(update={"mock_notices": []})
    # without the simulator's notices, the entries themselves say what staff must know
    assert set(from_xml.notice_codes()) == {n for n in notices if not n.startswith("public-")}


def test_the_service_dates_every_certificate(world: World, client: httpx.Client) -> None:
    def entry_of(persona: str) -> ET.Element:
        response = confirm(client, card_request(world, client, persona), headers=XML)
        (entry,) = entries(check_xmlmsg(response.content))
        return entry

    elderly = entry_of("elderly-70-2wari").find("ElderlyRecipientCertificateInfo")
    assert elderly is not None
    assert elderly.findtext("ElderlyRecipientContributionRatio") == "020"
    start = elderly.findtext("ElderlyRecipientValidStartDate", "")
    end = elderly.findtext("ElderlyRecipientValidEndDate", "")
    assert start.endswith("01") and start < WORLD_TODAY.strftime("%Y%m%d") < end
    limit = entry_of("limit-u").find("LimitApplicationCertificateRelatedInfo")
    assert limit is not None and limit.findtext("LimitApplicationCertificateClassificationFlag")
    assert limit.findtext("LimitApplicationCertificateValidStartDate", "").endswith("0801")
    assert limit.findtext("LimitApplicationCertificateValidEndDate", "").endswith("0731")
    disease = entry_of("dialysis").find(
        "SpecificDiseasesCertificateList/SpecificDiseasesCertificateInfo"
    )
    assert disease is not None
    assert disease.findtext("SpecificDiseasesDiseaseCategory") == "1"
    assert disease.findtext("SpecificDiseasesSelfPay") == "10000"
    assert disease.findtext("SpecificDiseasesValidStartDate")


# A face-folder file as published samples show it: elements in no fixed order, U+3000
# in the name, half-width kana, a 6-digit 国保 number padded with spaces, no ratio.
REAL_SAMPLE = """<?xml version="1.0" encoding="{encoding}" standalone="no"?>
<XmlMsg>
  <MessageHeader>
    <ProcessExecutionTime>20261125093000</ProcessExecutionTime>
    <CharacterCodeIdentifier>{code}</CharacterCodeIdentifier>
    <SegmentOfResult>1</SegmentOfResult>
    <QualificationConfirmationDate>20261125</QualificationConfirmationDate>
    <ReferenceClassification>1</ReferenceClassification>
    <MedicalInstitutionCode>1311111111</MedicalInstitutionCode>
  </MessageHeader>
  <MessageBody>
    <ResultList>
      <ResultOfQualificationConfirmation>
        <Address>東京都</Address>
        <PersonalFamilyClassification>1</PersonalFamilyClassification>
        <Sex1>1</Sex1>
        <SpecificDiseasesCertificateRelatedConsFlg>1</SpecificDiseasesCertificateRelatedConsFlg>
        <Name>診療　太郎</Name>
        <InsurerNumber>  138016</InsurerNumber>
        <InsuredCardSymbol>12-34</InsuredCardSymbol>
        <NameKana>ｼﾝﾘｮｳ ﾀﾛｳ</NameKana>
        <InsuredCardValidDate>20191001</InsuredCardValidDate>
        <LimitApplicationCertificateRelatedConsFlg>1</LimitApplicationCertificateRelatedConsFlg>
        <InsuredCardClassification>01</InsuredCardClassification>
        <Birthdate>19810327</Birthdate>
        <InsuredCertificateIssuanceDate>20191001</InsuredCertificateIssuanceDate>
        <InsuredIdentificationNumber>4260</InsuredIdentificationNumber>
        <PharmacistsInfoConsFlg>1</PharmacistsInfoConsFlg>
        <InsurerName>千代田区</InsurerName>
        <PostNumber>123-4567</PostNumber>
        <QualificationDate>20191001</QualificationDate>
        <PrescriptionIssueSelect>2</PrescriptionIssueSelect>
      </ResultOfQualificationConfirmation>
    </ResultList>
    <ProcessingResultStatus>1</ProcessingResultStatus>
    <QualificationValidity>1</QualificationValidity>
  </MessageBody>
</XmlMsg>
"""


@pytest.mark.parametrize(("encoding", "code"), [("UTF-8", "0"), ("Shift_JIS", "1")])
def test_the_terminal_reads_a_real_result_file(encoding: str, code: str) -> None:
    data = REAL_SAMPLE.format(encoding=encoding, code=code).encode(encoding.lower())
    result = QualificationResult.from_xml(data)
    assert result.confirmed
    (entry,) = result.entries
    assert entry.name == "診療　太郎" and entry.name_kana == "ｼﾝﾘｮｳ ﾀﾛｳ"
    assert entry.insurer_number == "  138016" and entry.ratio == "3割"
    assert entry.prescription_label == "紙の処方箋"
    assert result.notices == []


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (b"not xml", "XMLの形式が正しくありません: 構文の誤り"),
        (b"<Other/>", "ルート要素が Other です"),
        (b'<!DOCTYPE x [<!ENTITY a "aaaa">]><XmlMsg>&a;</XmlMsg>', "DTD・実体宣言は使えません"),
        (b"<XmlMsg><MessageHeader/></XmlMsg>", "MessageHeader"),
        (b'<?xml version="1.0" encoding="Shift_JIS"?><XmlMsg>\x81</XmlMsg>', "shift_jis"),
        (b'<?xml version="1.0" encoding="klingon"?><XmlMsg/>', "「klingon」は読めません"),
    ],
)
def test_a_broken_result_file_is_refused_with_the_reason(data: bytes, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        QualificationResult.from_xml(data)


def test_nothing_outside_the_format_reaches_a_document() -> None:
    with pytest.raises(ValueError, match="MockNotices"):
        render_xml({"MessageHeader": {}, "MessageBody": {}, "MockNotices": ["x"]})
    with pytest.raises(ValueError, match="Scenario"):
        entry = {"Name": "a", "Scenario": "x"}
        render_xml({"MessageBody": {"ResultList": {"ResultOfQualificationConfirmation": [entry]}}})


def test_every_card_confirmation_has_its_own_key(world: World, client: httpx.Client) -> None:
    keys = set()
    for _ in range(2):
        response = confirm(client, card_request(world, client, "adult-kyokai"), headers=XML)
        (entry,) = entries(check_xmlmsg(response.content))
        keys.add(entry.findtext("QualificationConfirmationKey"))
    assert len(keys) == 2 and None not in keys


def test_staff_see_the_name_the_patient_goes_by_and_the_card_sex(
    world: World, client: httpx.Client
) -> None:
    from reception.present import qualification_lines

    answer = confirm(client, card_request(world, client, "tsushomei")).json()
    (entry,) = QualificationResult.parse(answer).entries
    person = world.persona("tsushomei")
    lines = "\n".join(qualification_lines(entry))
    assert f"通称名 {person['name_of_other'].replace(' ', '　')}" in lines
    assert "性別 男（券面 女）" in lines
