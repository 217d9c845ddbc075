"""公費 by card where the pilot runs (issue 14 §4): the reader asks 「医療費助成の各種受給者証を
利用しますか」 only when the clinic's area runs it; yes brings the 受給者証 with the result
(公費負担者番号, 受給者番号, validity, 自己負担上限); otherwise paper stays the rule."""

from __future__ import annotations

import asyncio
from pathlib import Path

from mock_oqs.world import World
from reader.virtual.loopback import LoopbackTransport
from reception.checkin import CheckinOutcome, CheckinRequest, check_in
from reception.flow import ConsentsGiven, CounterRules, Method, State
from reception.present import qualification_lines
from reception.results import QualificationResult
from reception.store import Store
from tests.support.checkin import card_of, pin_of, terminal_of
from tests.support.oqs import confirm, in_process, make_client, nonce, pin_body
from tests.support.xmlmsg import check_xmlmsg


def entry_of(answer: dict[str, object]) -> dict[str, object]:
    body: dict[str, object] = answer["MessageBody"]  # type: ignore[assignment]
    found: dict[str, object] = body["ResultList"]["ResultOfQualificationConfirmation"][0]  # type: ignore[index]
    return found


def test_the_service_brings_the_certificates_only_when_asked(world: World) -> None:
    with make_client(world) as client:
        plain = confirm(client, pin_body(world, "nanbyo", nonce(client), limit=True)).json()
        assert "MedicalSubsidyList" not in entry_of(plain)
        assert plain["MockNotices"] == ["public-expense-paper"]  # paper stays the rule
        body = pin_body(world, "nanbyo", nonce(client), limit=True, subsidies=True)
        asked = confirm(client, body).json()
        [info] = entry_of(asked)["MedicalSubsidyList"]["MedicalSubsidyInfo"]  # type: ignore[index]
        assert info["MedicalSubsidyInsurerNumber"].startswith("54")  # 法別 54: 指定難病
        assert info["CertificationName"] == "特定医療費（指定難病）受給者証"
        assert info["MaxCopaymentAmount"] == "10000" and info["IsAlwaysReimbursement"] == "0"
        assert asked["MockNotices"] == ["public-expense-card"]
        # nobody else has any: the question costs nothing for them
        other = pin_body(world, "adult-kyokai", nonce(client), limit=True, subsidies=True)
        assert "MedicalSubsidyList" not in entry_of(confirm(client, other).json())
        document = confirm(
            client,
            pin_body(world, "kodomo-iryo", nonce(client), subsidies=True),
            headers={"accept": "application/xml"},
        ).content
    check_xmlmsg(document)
    parsed = QualificationResult.from_xml(document).entries[0]
    [subsidy] = parsed.medical_subsidies
    assert (
        subsidy.medical_subsidy_insurer_number
        and subsidy.medical_subsidy_insurer_number[:2] == "88"
    )
    lines = "\n".join(qualification_lines(parsed))
    assert "子ども医療費受給者証" in lines and "自己負担上限 0円/月" in lines


def visit(world: World, tmp_path: Path, pilot: bool, use: bool) -> CheckinOutcome:
    store = Store(tmp_path / f"r-{pilot}-{use}.sqlite")

    async def go() -> CheckinOutcome:
        async with in_process(world) as client:
            return await check_in(
                LoopbackTransport(card_of(world, "kodomo-iryo")),
                client,
                store,
                terminal_of(world),
                CheckinRequest(
                    Method.PIN,
                    pin_source=pin_of(world, "kodomo-iryo"),
                    consents=ConsentsGiven(medication=True),
                    subsidies=use,
                ),
                rules=CounterRules(public_expense_pilot=pilot),
            )

    return asyncio.run(go())


def test_the_clinics_area_decides_whether_the_reader_asks(world: World, tmp_path: Path) -> None:
    used = visit(world, tmp_path, pilot=True, use=True)
    assert used.state is State.CONFIRMED and used.result is not None
    assert used.result.entries[0].medical_subsidies
    assert (
        "医療費助成の受給者証の情報をカードで受け取りました（公費の実証事業）"
        in used.result.notices
    )
    declined = visit(world, tmp_path, pilot=True, use=False)
    assert declined.result is not None and not declined.result.entries[0].medical_subsidies
    # outside the pilot the answer is never asked for, whatever the request says
    outside = visit(world, tmp_path, pilot=False, use=True)
    assert outside.result is not None and not outside.result.entries[0].medical_subsidies
    assert "公費負担医療・助成の受給者証は紙での提示が必要です" in outside.result.notices
