"""The reader's flow as it is since 2024-10-07 (oqs.md §5): まとめて同意 or item by item,
no 限度額 question (provided by law), the 処方箋 choice where the clinic issues electronic
prescriptions, the patient's certificate notices — and the pre-2024 flow as an option."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Button, DataTable, Input, Select, TabbedContent

from mock_oqs.world import World
from reception.flow import ConsentFlow
from reception.results import QualificationEntry
from reception.settings import ReaderSettings
from reception.store import now_jst
from reception.tui.app import ReceptionApp
from reception.tui.screens.counter import CounterScreen
from reception.tui.services import Services
from reception.tui.widgets.demo import DemoPanel
from reception.tui.widgets.link import LinkPane
from tests.support.tui import at_view, drive, pin_to, services, shown, text, until
from tests.support.xmlmsg import check_xmlmsg


def last_entry(svc: Services) -> QualificationEntry:
    [reception] = svc.store.receptions_on(now_jst().date())
    assert reception.status == "confirmed", reception.reason
    return svc.store.results_of(reception.reception_id)[-1].entries[0]


def test_bundle_consent_by_keyboard_and_limit_without_a_question(
    tui_world: World, tmp_path: Path
) -> None:
    svc = services(tui_world, tmp_path)
    pin = tui_world.persona("limit-u")["pin"]

    async def scenario(pilot: Pilot[None], app: ReceptionApp) -> None:
        await pin_to(pilot, app, "limit-u", pin, "consents")
        assert shown(app, "#consent-bundle") and shown(app, "#consent-each")
        assert not shown(app, "#limit-title") and not shown(app, "#consent-limit")
        await pilot.press("y")  # まとめて同意
        await at_view(pilot, app, "done")

    asyncio.run(drive(svc, scenario))
    entry = last_entry(svc)
    flags = (
        entry.pharmacists_info_cons_flg,
        entry.specific_health_checkups_info_cons_flg,
        entry.operation_info_cons_flg,
        entry.limit_application_certificate_related_cons_flg,
    )
    assert flags == ("1", "1", "1", "1")
    assert entry.limit_application_certificate_related_info is not None  # 区分ウ, unasked


def test_item_by_item(tui_world: World, tmp_path: Path) -> None:
    svc = services(tui_world, tmp_path)
    pin = tui_world.persona("adult-kyokai")["pin"]

    async def scenario(pilot: Pilot[None], app: ReceptionApp) -> None:
        await pin_to(pilot, app, "adult-kyokai", pin, "consents")
        assert not shown(app, "#consent-checkup")
        await pilot.click("#consent-each")
        await until(pilot, lambda: shown(app, "#consent-checkup"))
        assert not shown(app, "#consent-all") and not shown(app, "#limit-title")
        await pilot.click("#consent-checkup")
        await pilot.click("#consent-ok")
        await at_view(pilot, app, "done")

    asyncio.run(drive(svc, scenario))
    entry = last_entry(svc)
    assert entry.specific_health_checkups_info_cons_flg == "1"
    assert entry.pharmacists_info_cons_flg == "0" and entry.operation_info_cons_flg == "0"
    assert entry.limit_application_certificate_related_cons_flg == "1"


def test_the_patient_chooses_the_prescription_form(tui_world: World, tmp_path: Path) -> None:
    svc = services(tui_world, tmp_path, reader=ReaderSettings(electronic_prescriptions=True))
    pin = tui_world.persona("adult-kyokai")["pin"]

    async def scenario(pilot: Pilot[None], app: ReceptionApp) -> None:
        await pin_to(pilot, app, "adult-kyokai", pin, "consents")
        await pilot.press("n")
        await at_view(pilot, app, "prescription")
        assert "処方箋" in text(app, "#prescription-title")
        await pilot.press("2")  # 紙の処方箋
        await at_view(pilot, app, "done")
        await until(pilot, lambda: "処方箋 紙の処方箋" in text(app, "#detail"))

    asyncio.run(drive(svc, scenario))
    assert last_entry(svc).prescription_issue_select == "2"


def test_no_prescription_question_where_the_clinic_issues_paper_only(
    tui_world: World, tmp_path: Path
) -> None:
    svc = services(tui_world, tmp_path)
    pin = tui_world.persona("adult-kyokai")["pin"]

    async def scenario(pilot: Pilot[None], app: ReceptionApp) -> None:
        await pin_to(pilot, app, "adult-kyokai", pin, "consents")
        await pilot.click("#consent-bundle")
        await at_view(pilot, app, "done")

    asyncio.run(drive(svc, scenario))
    assert last_entry(svc).prescription_issue_select is None


def test_the_patient_reads_the_certificate_notices(tui_world: World, tmp_path: Path) -> None:
    svc = services(tui_world, tmp_path)

    async def scenario(pilot: Pilot[None], app: ReceptionApp) -> None:
        for persona, says in (
            ("cert-renewal-due", "有効期限が近づいています"),
            ("cert-grace", "今すぐ"),
            ("cert-lapsed", "猶予期間も過ぎています"),
        ):
            pin = tui_world.persona(persona)["pin"]
            if persona != "cert-renewal-due":
                # lapsed: refused right after identity; grace: the qualification only, no
                # record to consent to — neither is asked for consents
                await pin_to(pilot, app, persona, pin, "done")
            else:
                await pin_to(pilot, app, persona, pin, "consents")
                await pilot.press("y")
                await at_view(pilot, app, "done")
            assert says in text(app, "#done-notice"), persona
            assert "市区町村の窓口" in text(app, "#done-notice")
            app.remove_card()
            await at_view(pilot, app, "wait")
        app.place_card("adult-kyokai")  # and nothing for a valid certificate
        await at_view(pilot, app, "method")
        await pilot.press("escape")
        await at_view(pilot, app, "done")
        assert text(app, "#done-notice") == ""

    asyncio.run(drive(svc, scenario))


def test_registration_at_the_reader_then_the_check_in_goes_on(
    tui_world: World, tmp_path: Path
) -> None:
    """保険証利用登録 offered on the spot (issue 14 §2), right after identity (issue 22 §3):
    n → the ladder as 未登録, no consents asked; y → the card is registered, the consents
    follow and the reception is confirmed; next time no question but the consents."""
    svc = services(tui_world, tmp_path)
    pin = tui_world.persona("not-registered")["pin"]

    async def scenario(pilot: Pilot[None], app: ReceptionApp) -> None:
        for answer in ("n", "y"):
            await pin_to(pilot, app, "not-registered", pin, "register")
            assert "保険証利用登録" in text(app, "#register-title")
            await pilot.press(answer)
            if answer == "y":
                await at_view(pilot, app, "consents")
                await pilot.press("y")
            await at_view(pilot, app, "done")
            registered = "保険証利用登録をしました" in text(app, "#done-detail")
            assert registered == (answer == "y")
            app.remove_card()
            await at_view(pilot, app, "wait")
        await pin_to(pilot, app, "not-registered", pin, "consents")
        await pilot.press("y")
        await at_view(pilot, app, "done")

    asyncio.run(drive(svc, scenario))
    receptions = sorted(svc.store.receptions_on(now_jst().date()), key=lambda r: r.started_at)
    assert [r.status for r in receptions] == ["fallback", "confirmed", "confirmed"]
    assert receptions[0].fallback_reason == "not-registered"
    actions = [row["action"] for row in svc.store.audit_trail()]
    assert actions.count("registration") == 1


def test_after_visual_at_the_reader_no_registration_is_asked(
    tui_world: World, tmp_path: Path
) -> None:
    """Issue 19 (design.md §6.9): staff's 目視 alone never leads to 保険証利用登録 — the
    patient is not asked, the reception goes to the ladder as 未登録, the card stays
    未登録; nor is the 受給者証 by card asked in a pilot area."""
    svc = services(tui_world, tmp_path, reader=ReaderSettings(public_expense_pilot=True))
    views: list[str] = []

    async def scenario(pilot: Pilot[None], app: ReceptionApp) -> None:
        app.place_card("not-registered")
        await at_view(pilot, app, "method")
        await pilot.press("3")  # 目視確認
        await until(pilot, lambda: app.screen.__class__.__name__ == "VisualCheckScreen")
        await pilot.click("#visual-ok")
        # the service refuses a 未登録 card proven by 目視 alone: to the desk, unasked
        for _ in range(200):
            views.append(app.panel.view)
            if app.panel.view == "done":
                break
            await pilot.pause(0.02)
        await at_view(pilot, app, "done")
        assert "目視確認では登録できません" in text(app, "#detail")

    asyncio.run(drive(svc, scenario))
    assert "register" not in views and "subsidy" not in views and "consents" not in views
    [reception] = svc.store.receptions_on(now_jst().date())
    assert reception.status == "fallback" and reception.fallback_reason == "not-registered"
    assert "registration" not in [row["action"] for row in svc.store.audit_trail()]


def test_the_counter_route_asks_what_it_offers(tui_world: World, tmp_path: Path) -> None:
    """The 居宅同意取得型 route (design.md §6.9): まとめて同意 is 診療・薬剤 and 特定健診 —
    no 手術情報, no 受給者証 by card even in a pilot area."""
    svc = services(tui_world, tmp_path, reader=ReaderSettings(public_expense_pilot=True))

    async def scenario(pilot: Pilot[None], app: ReceptionApp) -> None:
        await until(pilot, lambda: app.panel.warmed)
        app.query_one(DemoPanel).toggle_reader()  # the face-recognition reader fails
        app.query_one(DemoPanel).query_one("#persona", Select).value = "family"
        app.place_card("family")
        await until(pilot, lambda: "保留" in text(app, "#detail"))
        app.query_one("#ladder-counter", Button).press()
        await until(pilot, lambda: isinstance(app.screen, CounterScreen))
        screen = app.screen
        screen.query_one("#counter-place", Button).press()
        await until(pilot, lambda: shown(screen, "#counter-bundle"))
        assert "手術" not in text(screen, "#counter-status")
        screen.query_one("#counter-bundle", Button).press()
        await until(pilot, lambda: shown(screen, "#counter-method-visual"))
        screen.query_one("#counter-method-visual", Button).press()
        await until(pilot, lambda: shown(screen, "#counter-visual-ok"))
        screen.query_one("#counter-visual-ok", Button).press()
        await until(pilot, lambda: "資格確認できました" in text(screen, "#counter-status"))
        assert not screen.query("#counter-subsidy")
        screen.query_one("#counter-close", Button).press()

    asyncio.run(drive(svc, scenario))
    [reception] = svc.store.receptions_on(now_jst().date())
    assert reception.status == "confirmed" and reception.route == "counter"
    entry = svc.store.results_of(reception.reception_id)[-1].entries[0]
    assert entry.pharmacists_info_cons_flg == entry.specific_health_checkups_info_cons_flg
    assert entry.pharmacists_info_cons_flg == "1" and entry.operation_info_cons_flg == "0"


def test_medical_aid_shows_the_ticket_and_sends_staff_to_the_welfare_office(
    tui_world: World, tmp_path: Path
) -> None:
    """医療扶助 (issue 14 §3): the staff detail shows 未委託 and whom to call; the 申立書
    is not offered — the 福祉事務所 is the contact."""
    svc = services(tui_world, tmp_path)
    persona = "medical-aid-elsewhere"

    async def scenario(pilot: Pilot[None], app: ReceptionApp) -> None:
        await pin_to(pilot, app, persona, tui_world.persona(persona)["pin"], "consents")
        await pilot.press("y")
        await at_view(pilot, app, "done")
        await until(pilot, lambda: "未委託" in text(app, "#detail"))
        assert "福祉事務所" in text(app, "#detail")
        app.query_one("#staff", TabbedContent).active = "tab-detail"
        await pilot.pause()
        # no 申立書 offered (issue 22 §1: only what fits), and the line says whom to call
        assert not app.query_one("#ladder-declare", Button).display
        assert "福祉事務所" in text(app, "#ladder-hint")

    asyncio.run(drive(svc, scenario))


def test_where_the_pilot_runs_the_reader_asks_about_subsidy_certificates(
    tui_world: World, tmp_path: Path
) -> None:
    """公費 by card (issue 14 §4): 「医療費助成の各種受給者証を利用しますか」 after the
    consents; yes brings the 受給者証 into the staff detail. Off, the question never comes."""
    pilot = services(tui_world, tmp_path, reader=ReaderSettings(public_expense_pilot=True))
    pin = tui_world.persona("kodomo-iryo")["pin"]

    async def asked(pilot_: Pilot[None], app: ReceptionApp) -> None:
        await pin_to(pilot_, app, "kodomo-iryo", pin, "consents")
        await pilot_.press("y")
        await at_view(pilot_, app, "subsidy")
        assert "医療費助成" in text(app, "#subsidy-title")
        await pilot_.press("y")
        await at_view(pilot_, app, "done")
        await until(pilot_, lambda: "子ども医療費受給者証" in text(app, "#detail"))
        assert "公費負担者番号 88" in text(app, "#detail")

    asyncio.run(drive(pilot, asked))
    plain = services(tui_world, tmp_path / "plain")

    async def not_asked(pilot_: Pilot[None], app: ReceptionApp) -> None:
        await pin_to(pilot_, app, "kodomo-iryo", pin, "consents")
        await pilot_.press("y")
        await at_view(pilot_, app, "done")
        await until(pilot_, lambda: "紙での提示" in text(app, "#detail"))

    asyncio.run(drive(plain, not_asked))


@pytest.mark.parametrize(
    ("persona", "says"),
    [
        ("medical-aid", "交付番号"),
        ("medical-aid-elsewhere", "未委託・未登録"),
        ("kodomo-iryo", "紙での提示"),  # outside the pilot: paper
        ("nanbyo", "紙での提示"),
    ],
)
def test_every_new_persona_keeps_its_promise_at_the_reader(
    tui_world: World, tmp_path: Path, persona: str, says: str
) -> None:
    svc = services(tui_world, tmp_path)
    expect = tui_world.persona(persona)["expect"]

    async def scenario(pilot: Pilot[None], app: ReceptionApp) -> None:
        await pin_to(pilot, app, persona, tui_world.persona(persona)["pin"], "consents")
        await pilot.press("y")
        await at_view(pilot, app, "done")
        await until(pilot, lambda: says in text(app, "#detail"))

    asyncio.run(drive(svc, scenario))
    [reception] = svc.store.receptions_on(now_jst().date())
    assert reception.status == expect["outcome"]


TITLE = "#records-medications-title"


def test_the_doctor_sees_what_the_patient_agreed_to_share(tui_world: World, tmp_path: Path) -> None:
    """The 診療情報 tab (issue 14 §1): after まとめて同意 each kind in its own table; after
    同意しない a plain 「同意なし」 per kind; the looks are audited."""
    svc = services(tui_world, tmp_path)

    async def scenario(pilot: Pilot[None], app: ReceptionApp) -> None:
        tabs = app.query_one("#staff", TabbedContent)
        for persona, key in (("dialysis", "y"), ("kokuho", "n")):
            await pin_to(pilot, app, persona, tui_world.persona(persona)["pin"], "consents")
            await pilot.press(key)
            await at_view(pilot, app, "done")
            app.remove_card()
            await at_view(pilot, app, "wait")
            tabs.active = "tab-records"
            await until(pilot, lambda: "件" in text(app, TITLE) or "同意" in text(app, TITLE))
            medications = app.query_one("#records-medications", DataTable)
            checkups = app.query_one("#records-checkups", DataTable)
            if key == "y":
                assert medications.row_count > 20 and "件" in text(app, TITLE)
                assert checkups.row_count > 0  # 61: a 特定健診 every year
                assert "シャント" in str(
                    app.query_one("#records-operations", DataTable).get_row_at(0)
                )
            else:
                assert medications.row_count == 0
                for kind in ("medications", "diagnoses", "operations", "checkups"):
                    assert "同意なし" in text(app, f"#records-{kind}-title"), kind
            tabs.active = "tab-list"

    asyncio.run(drive(svc, scenario))
    looks = [r for r in svc.store.audit_trail() if r["action"] == "records-view"]
    assert len(looks) >= 8


def test_the_pre_2024_flow_stays_available(tui_world: World, tmp_path: Path) -> None:
    svc = services(tui_world, tmp_path, reader=ReaderSettings(consent_flow=ConsentFlow.PRE_2024))
    pin = tui_world.persona("limit-u")["pin"]

    async def scenario(pilot: Pilot[None], app: ReceptionApp) -> None:
        await pin_to(pilot, app, "limit-u", pin, "consents")
        assert shown(app, "#limit-title") and "限度額" in text(app, "#limit-title")
        assert not shown(app, "#consent-bundle")
        await pilot.press("y")  # every item; 限度額 left at 提供しない
        await at_view(pilot, app, "done")

    asyncio.run(drive(svc, scenario))
    entry = last_entry(svc)
    assert entry.pharmacists_info_cons_flg == "1"
    assert entry.limit_application_certificate_related_cons_flg == "0"
    assert entry.limit_application_certificate_related_info is None


def test_a_broken_reader_then_the_counter_route(tui_world: World, tmp_path: Path) -> None:
    """oqs.md §6: the reader fails → pending with the rungs; staff read the card on their
    own reader (居宅同意取得型): consent first, then the patient's PIN; confirmed as that
    route on the same reception."""
    svc = services(tui_world, tmp_path)
    pin = tui_world.persona("adult-kyokai")["pin"]

    async def scenario(pilot: Pilot[None], app: ReceptionApp) -> None:
        await until(pilot, lambda: app.panel.warmed)
        app.query_one(DemoPanel).toggle_reader()  # the face-recognition reader fails
        app.query_one(DemoPanel).query_one("#persona", Select).value = "adult-kyokai"
        app.place_card("adult-kyokai")
        await until(pilot, lambda: "保留" in text(app, "#detail"))
        assert "居宅同意取得型" in text(app, "#detail")
        app.query_one("#ladder-counter", Button).press()
        await until(pilot, lambda: isinstance(app.screen, CounterScreen))
        screen = app.screen
        screen.query_one("#counter-place", Button).press()  # (demo) the card on their reader
        await until(pilot, lambda: shown(screen, "#counter-bundle"))
        assert not shown(screen, "#counter-pin")  # the consent comes before identity
        screen.query_one("#counter-bundle", Button).press()
        await until(pilot, lambda: shown(screen, "#counter-method-pin"))
        screen.query_one("#counter-method-pin", Button).press()
        await until(pilot, lambda: shown(screen, "#counter-pin-input"))
        screen.query_one("#counter-pin-input", Input).value = "12"
        screen.query_one("#counter-pin-ok", Button).press()
        await until(pilot, lambda: "4桁" in text(screen, "#counter-status"))
        screen.query_one("#counter-pin-input", Input).value = pin
        screen.query_one("#counter-pin-ok", Button).press()
        await until(pilot, lambda: "資格確認できました" in text(screen, "#counter-status"))
        screen.query_one("#counter-close", Button).press()
        await until(pilot, lambda: "暗証番号（居宅同意取得型）" in text(app, "#detail"))

    asyncio.run(drive(svc, scenario))
    [reception] = svc.store.receptions_on(now_jst().date())
    assert reception.status == "confirmed" and reception.route == "counter"
    entry = svc.store.results_of(reception.reception_id)[-1].entries[0]
    assert entry.pharmacists_info_cons_flg == "1"


def send(folder: Path, name: str, text: str) -> None:
    """As clinic software writes a request: under a hidden name, then renamed."""
    hidden = folder / "req" / f".{name}"
    hidden.write_text(text, encoding="utf-8")
    hidden.rename(folder / "req" / name)


def test_with_a_link_folder_the_terminal_answers_clinic_software(
    tui_world: World, tmp_path: Path
) -> None:
    """oqs.md §7: card confirmations land in face/ as they complete; requests in req/ are
    answered into res/ while the terminal runs, and staff see the activity."""
    folder = tmp_path / "clinic"
    svc = services(tui_world, tmp_path, link=folder)
    pin = tui_world.persona("adult-kyokai")["pin"]
    entry = tui_world.persona("family")
    n = entry["numbers"]
    request = (
        "<XmlMsg><MessageHeader><ArbitraryFileIdentifier>tui-1</ArbitraryFileIdentifier>"
        "</MessageHeader><MessageBody><QualificationConfirmSearchInfo>"
        f"<InsurerNumber>{n['current_insurer_number']}</InsurerNumber>"
        f"<InsuredCardSymbol>{n['current_symbol']}</InsuredCardSymbol>"
        f"<InsuredIdentificationNumber>{n['current_number']}</InsuredIdentificationNumber>"
        f"<Birthdate>{entry['birth_date'].replace('-', '')}</Birthdate>"
        "</QualificationConfirmSearchInfo></MessageBody></XmlMsg>"
    )

    async def scenario(pilot: Pilot[None], app: ReceptionApp) -> None:
        assert str(folder) in app.sub_title
        await pin_to(pilot, app, "adult-kyokai", pin, "consents")
        await pilot.press("y")
        await at_view(pilot, app, "done")
        await until(pilot, lambda: any((folder / "face").glob("OQSsiquc01res_face_*.xml")))
        send(folder, "OQSsiquc01req_tui_0001.xml", request)
        answer = folder / "res" / "OQSsiquc01res_tui_0001.xml"
        await until(pilot, answer.exists)
        pane = app.query_one(LinkPane)
        await until(pilot, lambda: any(e.kind == "answer" for e in pane.events))
        assert pane.events[0].kind == "face"  # the check-in's face/ file, first
        # a 一括照会 of two patients, then its results opened from the list
        start = request.index("<QualificationConfirmSearchInfo>")
        info = request[start : request.index("</MessageBody>")]
        send(folder, "OQSmuquc01req_tui_0001.xml", request.replace(info, info * 2))
        first = folder / "res" / "OQSmuquc01res_tui_0001.xml"
        await until(pilot, first.exists)
        number = first.read_text(encoding="utf-8").split("<ReceptionNumber>")[1].split("<")[0]
        fetch = (
            "<XmlMsg><MessageBody>"
            f"<ReceptionNumber>{number}</ReceptionNumber></MessageBody></XmlMsg>"
        )
        for attempt in range(1, 50):
            name = f"OQSmuquc02req_tui_{attempt:04d}.xml"
            send(folder, name, fetch)
            done = folder / "res" / name.replace("req", "res", 1)
            await until(pilot, done.exists)
            if "<SegmentOfResult>1<" in done.read_text(encoding="utf-8"):
                break
        app.query_one("#staff", TabbedContent).active = "tab-link"
        await pilot.pause()
        table = pane.query_one(DataTable)
        table.move_cursor(row=len(pane.events) - 1)
        table.action_select_cursor()
        await until(pilot, lambda: "2件" in text(pane, "#link-answer"))
        assert text(pane, "#link-answer").count("有効") == 2

    asyncio.run(drive(svc, scenario))
    [face] = (folder / "face").glob("OQSsiquc01res_face_*.xml")
    [reception] = svc.store.receptions_on(now_jst().date())
    assert face.name.startswith("OQSsiquc01res_face_1")  # the 医療機関コード first
    assert svc.store.reception_of_file(face.name) == reception.reception_id
    root = check_xmlmsg(face.read_bytes())
    assert root.findtext("MessageHeader/ReferenceClassification") == "1"
    answered = check_xmlmsg((folder / "res" / "OQSsiquc01res_tui_0001.xml").read_bytes())
    assert answered.findtext("MessageHeader/ArbitraryFileIdentifier") == "tui-1"
    assert answered.findtext("MessageBody/QualificationValidity") == "1"
