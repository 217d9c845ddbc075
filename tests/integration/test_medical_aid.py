"""医療扶助 (生活保護) by card (issue 14 §3): the result carries 被保険者証区分 A1 and the
month's 医療券 — in full only for the institution it entrusts — and the ladder's contact
is the 福祉事務所, not an insurer: no 申立書."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from mock_oqs.world import World
from reader.virtual.loopback import LoopbackTransport
from reception.checkin import CheckinRequest, check_in
from reception.declaration import SelfDeclaration
from reception.flow import Method, State
from reception.ladder import MedicalAidCase, file_declaration
from reception.present import qualification_lines
from reception.results import QualificationResult
from reception.store import Store
from tests.support.checkin import card_of, pin_of, terminal_of
from tests.support.forms import valid
from tests.support.oqs import confirm, in_process, make_client, nonce, pin_body
from tests.support.stack import WORLD_TODAY
from tests.support.xmlmsg import check_xmlmsg


def answer(world: World, persona: str, xml: bool = False) -> tuple[dict[str, object], bytes]:
    with make_client(world) as client:
        body = pin_body(world, persona, nonce(client), limit=True)
        data = confirm(client, body).json()
        document = confirm(
            client, pin_body(world, persona, nonce(client)), headers={"accept": "application/xml"}
        ).content
    return data, document


def test_a_recipient_at_the_entrusted_clinic_gets_the_whole_ticket(world: World) -> None:
    data, document = answer(world, "medical-aid")
    body: dict[str, object] = data["MessageBody"]  # type: ignore[assignment]
    entry = body["ResultList"]["ResultOfQualificationConfirmation"][0]  # type: ignore[index]
    assert entry["InsuredCardClassification"] == "A1"
    assert entry["InsurerNumber"].startswith("12")  # 法別 12: 生活保護
    assert "InsuredCardSymbol" not in entry and "InsuredBranchNumber" not in entry
    assert "InsuredPartialContributionRatio" not in entry
    [ticket] = entry["PublicExpenseResultList"]["MedicalTicketInfo"]  # 調剤券: the pharmacy's
    month = WORLD_TODAY.strftime("%Y%m")
    assert ticket["TicketType"] == "1" and ticket["DesignatedMedicalInstitutionFlag"] == "1"
    assert ticket["MedicalTreatmentMonth"] == month
    assert ticket["MedicalTicketValidDate"] == f"{month}01"
    assert ticket["IssueNumber"] and ticket["SelfPayAmount"] == "0"
    assert ticket["DesignatedMedicalInstitutionCode"] == world.index["institution_code"]
    assert "medical-aid" in data["MockNotices"]  # type: ignore[operator]
    # the XML document as clinic software reads it, and back into the terminal's model
    root = check_xmlmsg(document)
    found = root.find(
        "MessageBody/ResultList/ResultOfQualificationConfirmation/"
        "PublicExpenseResultList/MedicalTicketInfo/IssueNumber"
    )
    assert found is not None and found.text == ticket["IssueNumber"]
    parsed = QualificationResult.from_xml(document).entries[0]
    assert parsed.medical_aid and parsed.medical_tickets[0].entrusted
    assert parsed.ratio_code == "000"
    lines = "\n".join(qualification_lines(parsed))
    assert "福祉事務所" in lines and "交付番号" in lines and "本人支払額 0円" in lines


def test_elsewhere_the_result_says_the_clinic_is_not_entrusted(world: World) -> None:
    data, document = answer(world, "medical-aid-elsewhere")
    entry = data["MessageBody"]["ResultList"]["ResultOfQualificationConfirmation"][0]  # type: ignore[index]
    [ticket] = entry["PublicExpenseResultList"]["MedicalTicketInfo"]
    assert ticket["DesignatedMedicalInstitutionFlag"] == "0"
    assert "IssueNumber" not in ticket and "DesignatedMedicalInstitutionName" not in ticket
    assert "medical-aid-not-designated" in data["MockNotices"]  # type: ignore[operator]
    check_xmlmsg(document)
    parsed = QualificationResult.from_xml(document).entries[0]
    assert "medical-aid-not-designated" in parsed.notice_codes()
    lines = "\n".join(qualification_lines(parsed))
    assert "未委託・未登録" in lines and "医療券の発行を依頼" in lines


def test_no_declaration_for_a_medical_aid_recipient(world: World, tmp_path: Path) -> None:
    store = Store(tmp_path / "reception.sqlite")

    async def go() -> str:
        async with in_process(world) as client:
            outcome = await check_in(
                LoopbackTransport(card_of(world, "medical-aid-elsewhere")),
                client,
                store,
                terminal_of(world),
                CheckinRequest(Method.PIN, pin_source=pin_of(world, "medical-aid-elsewhere")),
            )
        assert outcome.state is State.CONFIRMED
        return outcome.reception_id

    reception = asyncio.run(go())
    form = SelfDeclaration.parse(valid(name="伊藤 健", name_kana="イトウ ケン"))
    with pytest.raises(MedicalAidCase, match="福祉事務所"):
        file_declaration(store, form, tmp_path, reception_id=reception)
    assert store.pending() == []  # nothing was stored
